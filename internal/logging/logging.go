// Package logging holds what every package of pysumdb does the same way
// with a *slog.Logger it is given.
package logging

import "log/slog"

// OrDiscard returns logger, or a logger that discards everything when it
// is nil: every Config's Logger field may be left unset.
func OrDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
