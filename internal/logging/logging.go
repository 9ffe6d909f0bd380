// Package logging holds what every package of pysumdb does the same way
// with a *slog.Logger it is given.
package logging

import (
	"io"
	"log/slog"
)

// OrDiscard returns logger, or a logger that discards everything when it
// is nil: every Config's Logger field may be left unset.
func OrDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}

// NewCloudJSONHandler returns a handler that writes one JSON object per
// record, in the structured form Google Cloud Logging reads from a
// container's output: the level as "severity" with Cloud Logging's names
// (DEBUG, INFO, WARNING, ERROR), the message as "message", the time as
// "time" (RFC 3339), and every attribute as a field of its own.
func NewCloudJSONHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: cloudAttr})
}

// cloudAttr renames the record's level and message for Cloud Logging.
func cloudAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		return slog.String("severity", severity(a.Value.Any().(slog.Level)))
	case slog.MessageKey:
		a.Key = "message"
	}
	return a
}

// severity is Cloud Logging's name of a slog level: levels between two
// named ones take the lower name, as slog's own names do.
func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}
