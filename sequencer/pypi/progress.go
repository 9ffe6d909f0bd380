package pypi

import (
	"sync"
	"time"
)

// Progress is how far the backfill of a Source has got in this process,
// as reported to Config.Progress. A Source reports it when it starts the
// backfill (or resumes it from a cursor), with Done 0; after each project
// of the list is read; and once more, with Finished, when the last one
// is. Reports of one backfill have the same Started, and Done never
// decreases from one to the next. Following the changelog is not
// reported.
type Progress struct {
	// Started is when this process started (or resumed) the backfill.
	Started time.Time
	// Total is the number of projects of the list the backfill had left
	// then.
	Total int
	// Done counts the projects of the list read since.
	Done int
	// Finished is set on the last report, once every project of the list
	// is read.
	Finished bool
}

// progress reports a backfill's progress to Config.Progress. Its methods
// do nothing on a nil *progress (no callback), so that following needs no
// checks.
type progress struct {
	report func(Progress)
	// mu serializes reports, made from the goroutines reading projects.
	mu    sync.Mutex
	state Progress
}

// newProgress reports the start of a backfill of total projects to
// report, and returns nil when report is nil.
func newProgress(report func(Progress), total int) *progress {
	if report == nil {
		return nil
	}
	p := &progress{report: report, state: Progress{Started: time.Now(), Total: total}}
	report(p.state)
	return p
}

// step reports one more project read.
func (p *progress) step() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.Done++
	p.report(p.state)
}

// finish reports the end of the backfill.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.Finished = true
	p.report(p.state)
}
