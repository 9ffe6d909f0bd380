package pypi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/tiles"
)

// Cursor phases.
const (
	// PhaseBackfill: reading every project of the list in name order.
	PhaseBackfill = "backfill"
	// PhaseFollow: reading the projects changed since Cursor.Serial.
	PhaseFollow = "follow"
)

// abortAfterFailures is how many project fetches may fail in a row, for
// reasons other than bad data or a stale page, before a batch is abandoned
// with ErrUnavailable: past that PyPI is down or refusing us, and putting
// every project into Cursor.Pending would only make the next run slower.
const abortAfterFailures = 10

// Cursor is how far a Source has read an index. It is opaque to the
// sequencer, which stores it (as JSON) with its state once the batch that
// returned it is published, and passes it to the next call of Next. The
// zero Cursor starts from scratch with a backfill.
//
// Guarantee: once the files of every batch up to the one that returned a
// cursor are logged, every file that the index served at some time after
// the project list of the backfill was read and up to Serial (as the
// changelog numbers changes), and that was still listed when its project
// was read, has been returned, except for the projects in Pending, which
// the following calls fetch again. Nothing is left out without being in
// Pending or counted in Stats.Skipped (projects PyPI reports deleted).
type Cursor struct {
	// URL is the index's base URL (Config.BaseURL) the cursor belongs to.
	URL string `json:"url"`
	// Phase is PhaseBackfill or PhaseFollow.
	Phase string `json:"phase"`
	// Serial, when following, is the changelog serial up to which every
	// change is covered (except Pending). During the backfill it is the
	// serial of the project list the backfill started from: following
	// continues from there once every project is read.
	Serial int64 `json:"serial"`
	// NextProject, during the backfill, is the first project (normalized;
	// projects are read in byte order of their names) not read yet: every
	// project of the list sorted before it is covered. "" at the start.
	NextProject string `json:"next_project,omitempty"`
	// Pending are projects to read again: their page failed validation or
	// could not be fetched, or it kept showing a serial older than the
	// change announced for it. The value is the serial the page must show
	// at least. Usually empty; a few entries in a bad run.
	Pending map[string]int64 `json:"pending,omitempty"`
}

func (cur Cursor) isZero() bool {
	return cur.URL == "" && cur.Phase == "" && cur.Serial == 0 && cur.NextProject == "" && len(cur.Pending) == 0
}

// check validates a stored cursor against the index URL.
func (cur Cursor) check(baseURL string) error {
	if cur.URL != baseURL {
		return fmt.Errorf("%w: cursor of %q, configured %q", ErrCursorMismatch, cur.URL, baseURL)
	}
	switch {
	case cur.Phase != PhaseBackfill && cur.Phase != PhaseFollow:
		return fmt.Errorf("%w: phase %q", ErrInvalidCursor, cur.Phase)
	case cur.Serial < 0:
		return fmt.Errorf("%w: serial %d", ErrInvalidCursor, cur.Serial)
	case cur.NextProject != "" && (cur.Phase != PhaseBackfill || !tiles.IsNormalizedProject(cur.NextProject)):
		return fmt.Errorf("%w: next project %q in phase %s", ErrInvalidCursor, cur.NextProject, cur.Phase)
	}
	for name, serial := range cur.Pending {
		if !tiles.IsNormalizedProject(name) || serial < 0 {
			return fmt.Errorf("%w: pending project %q at serial %d", ErrInvalidCursor, name, serial)
		}
	}
	return nil
}

// Batch is what one call of Source.Next fetched.
type Batch struct {
	// Files are all the current files of every project read, deleted
	// files excluded. Projects read before may be read again, so files
	// already logged come back: the sequencer dedupes them by filename
	// (and raises the alarm if the digest or size changed).
	Files []File
	// Next is the cursor to store once Files are published.
	Next Cursor
	// More reports that more work is available right now: call Next again
	// with Next. False when caught up, even if Pending is not empty
	// (those are for the next run).
	More bool
	// Failures are the projects left in Next.Pending by this batch, with
	// why.
	Failures []ProjectError
	// Stats counts what the batch did.
	Stats Stats
}

// ProjectError is a project left in Cursor.Pending, and why.
type ProjectError struct {
	// Project is the normalized project name.
	Project string
	// Err matches ErrStale, ErrMalformed, or is a fetch error.
	Err error
}

// Stats counts the work of a batch.
type Stats struct {
	// Projects is the number of project pages read and returned.
	Projects int
	// Files is len(Batch.Files).
	Files int
	// Skipped counts projects that are gone: 404, or deleted according to
	// the changelog. Their files were logged when they existed, or never.
	Skipped int
	// Stale counts projects left in Pending because their page stayed
	// older than their change.
	Stale int
	// Failed counts projects left in Pending after an error.
	Failed int
	// Pending is the size of Next.Pending.
	Pending int
	// Requests is the number of HTTP requests sent (retries included) by
	// the client during the batch; concurrent users of the same Client
	// are counted too.
	Requests int64
	// Elapsed is the batch's duration.
	Elapsed time.Duration
}

func (s *Stats) add(o Stats) {
	s.Projects += o.Projects
	s.Files += o.Files
	s.Skipped += o.Skipped
	s.Stale += o.Stale
	s.Failed += o.Failed
	s.Requests += o.Requests
	s.Elapsed += o.Elapsed
}

// Source turns an index into batches of files for the sequencer. Calls of
// Next are serialized.
type Source struct {
	client *Client
	log    *slog.Logger

	mu sync.Mutex
	// xmlrpcRefused is set once XML-RPC refused a call, so that the rest
	// of the process uses the Simple API fallback directly.
	xmlrpcRefused bool
	// list is the project list the backfill of this process reads: the
	// list is ~50 MB on PyPI, and any list at or after the cursor's serial
	// serves as well as a fresh one (see Next).
	list *ProjectList
	// progress reports the backfill of this process; nil without
	// Config.Progress, or when not backfilling.
	progress *progress
	// backfillTotals sums the stats of the backfill batches of this
	// process, for the summary at its end.
	backfillTotals Stats
}

// NewSource returns a Source reading through client.
func NewSource(client *Client) *Source {
	return &Source{client: client, log: client.cfg.Logger}
}

// workItem is a project to read.
type workItem struct {
	project string
	// minSerial is the serial its page must show at least.
	minSerial int64
	// pending: the project came from Cursor.Pending.
	pending bool
	// removed: the changelog's last word on the project is "remove
	// project"; there is nothing to read.
	removed bool
}

type outcome int

const (
	outcomeFetched outcome = iota
	outcomeSkipped
	outcomeStale
	outcomeFailed
)

type itemResult struct {
	outcome outcome
	files   []File
	err     error
}

// Next fetches the next batch of at most about maxFiles files from the
// position cur (the zero Cursor to start).
//
// During the backfill, it reads the projects of the list in name order
// from cur.NextProject; the serial of the list used at the start is kept,
// so that following catches every change made while the backfill ran.
// Then it reads the projects changed since cur.Serial: from the XML-RPC
// changelog (changelog_last_serial, then changelog_since_serial until
// caught up), or, if XML-RPC is refused, from the projects whose
// _last-serial in the project list is above cur.Serial. In both phases the
// projects of cur.Pending are read first.
//
// maxFiles bounds the batch softly: no new project is started once
// maxFiles files are gathered, and projects are never split, so a batch
// can be larger by the files of the projects being read at that moment
// (at most Config.Concurrency of them). A batch also reads at most
// maxFiles projects besides the pending ones: during the backfill, of the
// list; when following, the changelog is read until about maxFiles
// projects changed.
//
// A project that fails is put in Next.Pending (and Failures) and the
// batch goes on; the cursor never passes a change of which it doesn't
// hold the files or a Pending entry. Next returns an error, and no batch,
// when the context ends, the project list or changelog can't be read, or
// abortAfterFailures project fetches fail in a row (ErrUnavailable); the
// stored cursor then stays as it was.
func (s *Source) Next(ctx context.Context, cur Cursor, maxFiles int) (Batch, error) {
	if maxFiles < 1 {
		return Batch{}, fmt.Errorf("maxFiles is %d, want at least 1", maxFiles)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start, requestsBefore := time.Now(), s.client.Requests()

	fresh := cur.isZero()
	if fresh {
		cur = Cursor{URL: s.client.BaseURL(), Phase: PhaseBackfill}
	} else if err := cur.check(s.client.BaseURL()); err != nil {
		return Batch{}, err
	}
	cur.Pending = maps.Clone(cur.Pending)
	if cur.Pending == nil {
		cur.Pending = make(map[string]int64)
	}

	var b Batch
	var err error
	if cur.Phase == PhaseBackfill {
		b, err = s.backfill(ctx, cur, fresh, maxFiles)
	} else {
		b, err = s.follow(ctx, cur, maxFiles)
	}
	if err != nil {
		return Batch{}, err
	}
	b.Stats.Files = len(b.Files)
	b.Stats.Pending = len(b.Next.Pending)
	b.Stats.Requests = s.client.Requests() - requestsBefore
	b.Stats.Elapsed = time.Since(start)
	if len(b.Next.Pending) == 0 {
		b.Next.Pending = nil
	}
	s.log.Info("PyPI batch fetched", "phase", cur.Phase, "serial", b.Next.Serial, "next_project", b.Next.NextProject,
		"projects", b.Stats.Projects, "files", b.Stats.Files, "skipped", b.Stats.Skipped, "stale", b.Stats.Stale,
		"failed", b.Stats.Failed, "pending", b.Stats.Pending, "requests", b.Stats.Requests, "elapsed", b.Stats.Elapsed, "more", b.More)
	if cur.Phase == PhaseBackfill {
		s.backfillTotals.add(b.Stats)
		if b.Next.Phase == PhaseFollow {
			t := s.backfillTotals
			s.log.Info("backfill finished", "serial", b.Next.Serial, "projects", t.Projects, "files", t.Files,
				"skipped", t.Skipped, "errors", t.Stale+t.Failed, "pending", b.Stats.Pending,
				"requests", t.Requests, "elapsed", t.Elapsed)
			s.backfillTotals = Stats{}
		}
	}
	return b, nil
}

func (s *Source) backfill(ctx context.Context, cur Cursor, fresh bool, maxFiles int) (Batch, error) {
	// Any list at or after the backfill's starting serial will do: a
	// project it lacks was deleted, or created after the start and then
	// caught by following from cur.Serial.
	if s.list == nil || s.list.Serial < cur.Serial {
		list, err := s.client.ProjectList(ctx)
		if err != nil {
			return Batch{}, err
		}
		s.list = list
	}
	if fresh {
		cur.Serial = s.list.Serial
		s.log.Info("backfill started", "serial", cur.Serial, "count", len(s.list.Projects))
	}
	first, _ := slices.BinarySearchFunc(s.list.Projects, cur.NextProject, func(p ListedProject, name string) int {
		return strings.Compare(p.Name, name)
	})
	// A batch reads at most maxFiles projects of the list: a run of empty
	// projects must not make it read the whole list.
	end := min(len(s.list.Projects), first+maxFiles)
	items := make([]workItem, 0, end-first)
	for _, p := range s.list.Projects[first:end] {
		items = append(items, workItem{project: p.Name, minSerial: p.Serial})
	}
	work := withPending(cur.Pending, items)

	if s.progress == nil {
		s.progress = newProgress(s.client.cfg.Progress, len(s.list.Projects)-first)
	}
	results, err := s.fetch(ctx, work, maxFiles, s.progress)
	if err != nil {
		return Batch{}, err
	}
	b := s.collect(cur, work, results)
	b.More = true
	if i := firstUndone(work, len(results)); i >= 0 {
		b.Next.NextProject = work[i].project
	} else if end < len(s.list.Projects) {
		b.Next.NextProject = s.list.Projects[end].Name
	} else {
		b.Next.Phase = PhaseFollow
		b.Next.NextProject = ""
		s.progress.finish()
		s.progress = nil
		s.list = nil
	}
	return b, nil
}

func (s *Source) follow(ctx context.Context, cur Cursor, maxFiles int) (Batch, error) {
	var items []workItem
	var upTo int64
	complete := true
	var err error
	if !s.xmlrpcRefused {
		items, upTo, complete, err = s.changelogWork(ctx, cur.Serial, maxFiles)
		if errors.Is(err, ErrXMLRPCUnavailable) {
			s.log.Warn("XML-RPC changelog refused; following the project list's serials instead", "err", err)
			s.xmlrpcRefused = true
		} else if err != nil {
			return Batch{}, err
		}
	}
	if s.xmlrpcRefused {
		if items, upTo, err = s.projectListWork(ctx, cur.Serial); err != nil {
			return Batch{}, err
		}
		complete = true // the list shows every change up to upTo
	}
	work := withPending(cur.Pending, items)
	results, err := s.fetch(ctx, work, maxFiles, nil)
	if err != nil {
		return Batch{}, err
	}
	b := s.collect(cur, work, results)
	if i := firstUndone(work, len(results)); i >= 0 {
		// Changes of the projects sorted before work[i] are covered;
		// keys are the projects' last serials, so every change below
		// work[i]'s is.
		b.Next.Serial = work[i].minSerial - 1
		b.More = true
	} else {
		b.Next.Serial = max(cur.Serial, upTo)
		b.More = !complete || len(results) < len(work)
	}
	return b, nil
}

// changelogWork reads the changelog after since, page by page, until
// caught up or until limit projects are gathered. It returns the changed
// projects sorted by their last serial, the serial read up to, and whether
// that is the end of the changelog for now.
func (s *Source) changelogWork(ctx context.Context, since int64, limit int) ([]workItem, int64, bool, error) {
	last, err := s.client.LastSerial(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	changed := make(map[string]workItem)
	upTo, complete := since, true
	for upTo < last {
		if len(changed) >= limit {
			complete = false
			break
		}
		changes, err := s.client.ChangelogSince(ctx, upTo)
		if err != nil {
			return nil, 0, false, err
		}
		if len(changes) == 0 {
			break
		}
		for _, ch := range changes {
			changed[ch.Project] = workItem{project: ch.Project, minSerial: ch.Serial, removed: ch.Action == actionRemoveProject}
		}
		upTo = changes[len(changes)-1].Serial
	}
	s.log.Debug("changelog read", "serial", upTo, "last_serial", last, "count", len(changed))
	return sortedBySerial(changed), upTo, complete, nil
}

// projectListWork is the fallback without XML-RPC: the projects of the
// list whose last serial is above since.
func (s *Source) projectListWork(ctx context.Context, since int64) ([]workItem, int64, error) {
	list, err := s.client.ProjectList(ctx)
	if err != nil {
		return nil, 0, err
	}
	changed := make(map[string]workItem)
	for _, p := range list.Projects {
		if p.Serial > since {
			changed[p.Name] = workItem{project: p.Name, minSerial: p.Serial}
		}
	}
	return sortedBySerial(changed), list.Serial, nil
}

func sortedBySerial(items map[string]workItem) []workItem {
	return slices.SortedFunc(maps.Values(items), func(a, b workItem) int {
		return cmp.Or(cmp.Compare(a.minSerial, b.minSerial), strings.Compare(a.project, b.project))
	})
}

// withPending puts the pending projects, by name, before items. A project
// in both is read once, as pending, at the larger serial.
func withPending(pending map[string]int64, items []workItem) []workItem {
	work := make([]workItem, 0, len(pending)+len(items))
	for _, name := range slices.Sorted(maps.Keys(pending)) {
		work = append(work, workItem{project: name, minSerial: pending[name], pending: true})
	}
	for _, it := range items {
		if serial, ok := pending[it.project]; ok {
			i, _ := slices.BinarySearchFunc(work[:len(pending)], it.project, func(w workItem, name string) int {
				return strings.Compare(w.project, name)
			})
			work[i].minSerial = max(serial, it.minSerial)
			work[i].removed = it.removed
			continue
		}
		work = append(work, it)
	}
	return work
}

// firstUndone returns the index of the first work item that is not pending
// and was not read (beyond the first done ones), or -1.
func firstUndone(work []workItem, done int) int {
	for i := done; i < len(work); i++ {
		if !work[i].pending {
			return i
		}
	}
	return -1
}

// collect builds the batch and the next cursor from the results of the
// first len(results) work items.
func (s *Source) collect(cur Cursor, work []workItem, results []itemResult) Batch {
	b := Batch{Next: cur}
	for i, r := range results {
		it := work[i]
		delete(b.Next.Pending, it.project)
		switch r.outcome {
		case outcomeFetched:
			b.Files = append(b.Files, r.files...)
			b.Stats.Projects++
		case outcomeSkipped:
			b.Stats.Skipped++
		case outcomeStale, outcomeFailed:
			b.Next.Pending[it.project] = it.minSerial
			b.Failures = append(b.Failures, ProjectError{Project: it.project, Err: r.err})
			if r.outcome == outcomeStale {
				b.Stats.Stale++
			} else {
				b.Stats.Failed++
			}
		}
	}
	return b
}

// fetch reads work items in order with bounded concurrency until maxFiles
// files are gathered, and returns the results of the items started (a
// prefix of work). A project in flight counts as one file until it is
// read, so that small batches don't start Concurrency projects at once.
func (s *Source) fetch(ctx context.Context, work []workItem, maxFiles int, prog *progress) ([]itemResult, error) {
	results := make([]itemResult, len(work))
	var (
		mu       sync.Mutex
		finished = sync.NewCond(&mu)
		inFlight int
		files    int
		breaker  failureBreaker
	)
	g, gctx := errgroup.WithContext(ctx)
	started := 0
	for i, it := range work {
		mu.Lock()
		for inFlight > 0 && (inFlight >= s.client.cfg.Concurrency || files+inFlight >= maxFiles) {
			finished.Wait() // workers always finish, promptly once gctx ends
		}
		stop := files >= maxFiles || gctx.Err() != nil
		if !stop {
			inFlight++
		}
		mu.Unlock()
		if stop {
			break
		}
		started++
		g.Go(func() error {
			r, err := s.fetchItem(gctx, it)
			mu.Lock()
			inFlight--
			results[i] = r
			files += len(r.files)
			finished.Broadcast()
			mu.Unlock()
			if err != nil {
				return err
			}
			if !it.pending {
				prog.step()
			}
			return breaker.record(r)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		// Ended between two projects: no worker saw it.
		return nil, context.Cause(ctx)
	}
	return results[:started], nil
}

// failureBreaker counts project fetches that failed in a row for other
// reasons than their data.
type failureBreaker struct {
	mu       sync.Mutex
	failures int
}

func (fb *failureBreaker) record(r itemResult) error {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if r.outcome != outcomeFailed || errors.Is(r.err, ErrMalformed) {
		fb.failures = 0
		return nil
	}
	fb.failures++
	if fb.failures >= abortAfterFailures {
		return fmt.Errorf("%w: %d project fetches failed in a row, the last: %w", ErrUnavailable, fb.failures, r.err)
	}
	return nil
}

// fetchItem reads one project. Only the end of ctx is an error; every
// other problem is an outcome.
func (s *Source) fetchItem(ctx context.Context, it workItem) (itemResult, error) {
	if it.removed {
		return itemResult{outcome: outcomeSkipped}, nil
	}
	page, err := backoff.Retry(ctx, func() (*ProjectPage, error) {
		page, err := s.client.Project(ctx, it.project)
		if err != nil {
			return nil, backoff.Permanent(err)
		}
		if page.Serial < it.minSerial {
			return nil, fmt.Errorf("%w: %s at serial %d, changed at %d", ErrStale, it.project, page.Serial, it.minSerial)
		}
		return page, nil
	},
		backoff.WithBackOff(s.client.newBackoff()),
		backoff.WithMaxTries(uint(s.client.cfg.StaleRetries)+1),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, wait time.Duration) {
			s.log.Debug("project page stale, retrying", "project", it.project, "serial", it.minSerial, "wait", wait)
		}))
	switch {
	case err == nil:
		return itemResult{outcome: outcomeFetched, files: page.Files}, nil
	case ctx.Err() != nil:
		return itemResult{}, context.Cause(ctx)
	case errors.Is(err, ErrNotFound):
		s.log.Warn("project gone from PyPI, skipped", "project", it.project, "serial", it.minSerial)
		return itemResult{outcome: outcomeSkipped}, nil
	case errors.Is(err, ErrStale):
		s.log.Warn("project page stale, left for the next run", "project", it.project, "serial", it.minSerial, "err", err)
		return itemResult{outcome: outcomeStale, err: err}, nil
	default:
		s.log.Error("couldn't read project, left for the next run", "project", it.project, "serial", it.minSerial, "err", err)
		return itemResult{outcome: outcomeFailed, err: err}, nil
	}
}
