//go:build !pysumdb_client

package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/pysumdb/pysumdb/sequencer/pypi"
)

// progressInterval is the period of the backfill's progress log lines
// when there is no terminal to draw a bar on.
const progressInterval = 30 * time.Second

// backfillProgress shows the progress a pypi.Source reports of its
// backfill (pypi.Config.Progress): as a bar with rate and ETA on a
// terminal, or otherwise as a log line at most every interval while
// projects are read, and a last one when the backfill ends.
type backfillProgress struct {
	terminal io.Writer // where the bar is drawn; nil logs lines instead
	log      *slog.Logger
	interval time.Duration

	mu sync.Mutex
	// started identifies the backfill shown (pypi.Progress.Started): a
	// process that runs several ingests shows each backfill anew.
	started  time.Time
	bar      *progressbar.ProgressBar
	shown    int       // projects the bar shows
	lastLine time.Time // when the last line was logged, or started
}

// newBackfillProgress returns a pypi.Config.Progress callback that draws
// a bar on w if w is a terminal, and logs to logger otherwise.
func newBackfillProgress(w io.Writer, logger *slog.Logger) func(pypi.Progress) {
	p := &backfillProgress{log: logger, interval: progressInterval}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.terminal = w
	}
	return p.report
}

// report shows one report of the source.
func (p *backfillProgress) report(r pypi.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !r.Started.Equal(p.started) {
		p.start(r)
	}
	if p.bar != nil {
		if r.Done > p.shown {
			p.bar.Add(r.Done - p.shown)
			p.shown = r.Done
		}
		if r.Finished {
			p.bar.Finish()
		}
		return
	}
	if now := time.Now(); r.Finished || now.Sub(p.lastLine) >= p.interval {
		p.logLine(r, now)
		p.lastLine = now
	}
}

// start begins showing a new backfill.
func (p *backfillProgress) start(r pypi.Progress) {
	p.started, p.lastLine, p.shown, p.bar = r.Started, r.Started, 0, nil
	if p.terminal == nil {
		return
	}
	out := p.terminal
	p.bar = progressbar.NewOptions(r.Total,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription("backfill"),
		progressbar.OptionSetItsString("projects"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
	)
}

// logLine logs how far the backfill has got, with its rate and, once
// there is one, the time left at that rate.
func (p *backfillProgress) logLine(r pypi.Progress, now time.Time) {
	elapsed := now.Sub(r.Started)
	rate := float64(r.Done) / elapsed.Seconds()
	attrs := []any{"count", r.Done, "total", r.Total, "rate_per_s", fmt.Sprintf("%.1f", rate), "elapsed", elapsed.Round(time.Second)}
	if rate > 0 {
		eta := time.Duration(float64(r.Total-r.Done) / rate * float64(time.Second))
		attrs = append(attrs, "eta", eta.Round(time.Second))
	}
	p.log.Info("backfill progress", attrs...)
}
