package pypi

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports a backfill's progress, in projects: as a bar with rate
// and ETA on a terminal, or as periodic log lines otherwise. Its methods
// do nothing on a nil *progress, so that following needs no checks.
type progress struct {
	bar      *progressbar.ProgressBar // nil without a terminal
	log      *slog.Logger
	interval time.Duration
	total    int64 // projects left when this process started the backfill
	done     atomic.Int64
	started  time.Time
}

func newProgress(cfg Config, total int) *progress {
	p := &progress{log: cfg.Logger, interval: cfg.ProgressInterval, total: int64(total), started: time.Now()}
	out := cfg.ProgressOutput
	if out == nil && term.IsTerminal(int(os.Stderr.Fd())) {
		out = os.Stderr
	}
	if out != nil {
		p.bar = progressbar.NewOptions(total,
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
	return p
}

// step records one more project read.
func (p *progress) step() {
	if p == nil {
		return
	}
	p.done.Add(1)
	if p.bar != nil {
		p.bar.Add(1)
	}
}

// run logs progress every interval until ctx ends or the returned stop is
// called, when there is no bar.
func (p *progress) run(ctx context.Context) (stop func()) {
	if p == nil || p.bar != nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		ticker := time.NewTicker(p.interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				p.logLine()
			}
		}
	}()
	return func() {
		cancel()
		<-finished
	}
}

func (p *progress) logLine() {
	done := p.done.Load()
	elapsed := time.Since(p.started)
	rate := float64(done) / elapsed.Seconds()
	attrs := []any{"count", done, "total", p.total, "rate_per_s", fmt.Sprintf("%.1f", rate), "elapsed", elapsed.Round(time.Second)}
	if rate > 0 {
		eta := time.Duration(float64(p.total-done) / rate * float64(time.Second))
		attrs = append(attrs, "eta", eta.Round(time.Second))
	}
	p.log.Info("backfill progress", attrs...)
}

// finish completes the bar, or logs a last line.
func (p *progress) finish() {
	switch {
	case p == nil:
	case p.bar != nil:
		p.bar.Finish()
	default:
		p.logLine()
	}
}
