// Package monitor follows pysumdb logs from their static files, with its
// own state on disk, and reports every misbehaviour it can prove: a
// checkpoint inconsistent with the last one verified (a fork), entries
// that don't give the signed tree, an entry that is not
// pypi-transparency/v1, a filename logged twice, a project index that
// omits, adds or misstates a file, a logged file that PyPI now serves with
// another sha256, and two logs that disagree on a file.
//
// It is the incremental, bounded-memory sibling of client.Log.Audit: each
// run reads only what the log appended since the last one, in chunks, and
// keeps what later runs need in a bbolt database (about 250 bytes an
// entry on disk; memory does not grow with the log). A chunk is verified
// against the signed checkpoint before anything of it is stored, so the
// state only ever holds what a signed tree proves.
//
// A finding is reported only with evidence: the signed checkpoints, notes
// and entries (with their inclusion proofs) that show what the log did
// wrong. What can't be checked (the network, a stale copy of an index) is
// an error, and the next run tries again.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/tiles"
)

// Log is one log the monitor follows.
type Log struct {
	// Log verifies the log's checkpoint: its signature and the witness
	// policy it was given.
	Log *client.Log
	// VKey is the log's verifier key, which verifies its project indexes
	// and filename notes (client.Log does not export it). Its name must
	// be Log's origin.
	VKey string
	// Fetch reads the log's objects (tiles, entry bundles, indexes,
	// notes) without a cache: the monitor verifies everything it reads.
	Fetch client.Fetcher
	// Location says where the log is read from, for messages.
	Location string
}

// Config configures a Monitor.
type Config struct {
	// Logs are the logs to follow. Each is the peer of the others: a
	// filename that two of them hold must have the same sha256 and
	// publisher in both. Two logs can't have the same origin.
	Logs []Log
	// StateDir holds the monitor's state: monitor.db (bbolt, locked
	// while a Monitor has it open) and findings/<id>.json.
	StateDir string
	// PyPI, when not nil, is asked for the current files of the projects
	// of each chunk, which must have the sha256 the log holds.
	PyPI *pypi.Client
	// Notify, when not empty, is the URL of a webhook to which every new
	// finding is POSTed as JSON; a failed POST is retried at the next run.
	Notify string
	// HTTPClient sends the webhook requests; nil means a client with
	// NotifyTimeout.
	HTTPClient *http.Client
	// Logger receives progress (Info), findings ("SECURITY ERROR", Error)
	// and retries; nil discards.
	Logger *slog.Logger
	// Now gives the time of findings; nil means time.Now.
	Now func() time.Time
	// ChunkEntries is how many entries are checked and committed at once,
	// rounded up to a multiple of 256: DefaultChunkEntries when 0. Memory
	// grows with it (about 200 bytes an entry).
	ChunkEntries int
	// Stop, when closed, asks a run to stop after the chunk in progress
	// is committed; RunOnce then returns ErrStopped.
	Stop <-chan struct{}
}

// DefaultChunkEntries is the default Config.ChunkEntries.
const DefaultChunkEntries = 1 << 16

// NotifyTimeout bounds one webhook request.
const NotifyTimeout = 10 * time.Second

// lockTimeout is how long Open waits for another monitor to release the
// state.
const lockTimeout = time.Second

// ErrStopped is returned by RunOnce when Config.Stop asked it to stop
// before every log was caught up: what was checked is committed.
var ErrStopped = errors.New("stopped before the logs were caught up")

// Monitor follows logs with its state in a directory. Its methods must not
// be called concurrently.
type Monitor struct {
	cfg    Config
	logger *slog.Logger
	db     *bolt.DB
	logs   []*monitoredLog
}

// monitoredLog is one log of the Config, with what verifies its notes.
type monitoredLog struct {
	client   *client.Log
	fetch    client.Fetcher
	location string
	origin   string
	vkey     string
	verifier note.Verifier
}

// Open opens (creating it if needed) the state in cfg.StateDir. A state
// that another monitor holds open is an error wrapping publish.ErrBusy.
func Open(cfg Config) (*Monitor, error) {
	if len(cfg.Logs) == 0 {
		return nil, errors.New("no log to monitor")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("no state directory")
	}
	if cfg.ChunkEntries <= 0 {
		cfg.ChunkEntries = DefaultChunkEntries
	}
	cfg.ChunkEntries = (cfg.ChunkEntries + tiles.TileWidth - 1) / tiles.TileWidth * tiles.TileWidth
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: NotifyTimeout}
	}
	m := &Monitor{cfg: cfg, logger: logging.OrDiscard(cfg.Logger)}
	seen := map[string]bool{}
	for i, l := range cfg.Logs {
		if l.Log == nil || l.Fetch == nil {
			return nil, fmt.Errorf("log %d (%s): no client.Log or Fetcher", i+1, l.Location)
		}
		v, err := note.NewVerifier(l.VKey)
		if err != nil {
			return nil, fmt.Errorf("log %d (%s): verifier key: %w", i+1, l.Location, err)
		}
		if v.Name() != l.Log.Origin() {
			return nil, fmt.Errorf("log %d (%s): verifier key of %s for the log of %s", i+1, l.Location, v.Name(), l.Log.Origin())
		}
		if seen[v.Name()] {
			return nil, fmt.Errorf("log %d (%s): two logs with the origin %s", i+1, l.Location, v.Name())
		}
		seen[v.Name()] = true
		m.logs = append(m.logs, &monitoredLog{client: l.Log, fetch: l.Fetch, location: l.Location, origin: v.Name(), vkey: l.VKey, verifier: v})
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, findingsDir), 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create the state directory: %w", err)
	}
	path := filepath.Join(cfg.StateDir, dbFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("the monitor state %s is in use by another monitor (%w)", path, publish.ErrBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't open the monitor state %s: %w", path, err)
	}
	m.db = db
	if err := m.initState(); err != nil {
		db.Close()
		return nil, err
	}
	return m, nil
}

// Close releases the state.
func (m *Monitor) Close() error {
	return m.db.Close()
}

// Report is what one run checked and found.
type Report struct {
	// Logs has one report per log, in the order of Config.Logs.
	Logs []LogReport
	// Findings are the misbehaviours this run found, new or found again
	// (the same finding is written and notified once).
	Findings []Finding
	// Suppressed counts findings beyond the bound of one run, not
	// recorded (see MaxFindingsPerRun).
	Suppressed int
	// Notified counts the findings POSTed to the webhook by this run;
	// NotifyFailed those whose POST failed (retried at the next run).
	Notified, NotifyFailed int

	// ids are those of Findings.
	ids map[string]bool
}

// LogReport is what one run did with one log.
type LogReport struct {
	// Origin and Location name the log.
	Origin, Location string
	// Checkpoint is the checkpoint the run verified and caught up to
	// (zero if it couldn't read one).
	Checkpoint tiles.Checkpoint
	// Verified is the tree size up to which the state holds verified
	// entries after the run.
	Verified int64
	// Entries counts the entries checked by this run.
	Entries int64
	// Elapsed is how long the run of this log took.
	Elapsed time.Duration
	// Findings counts the findings of this log.
	Findings int
	// Err says why the run couldn't finish with this log; nil if it
	// did. A finding is not an error.
	Err error
}

// RunOnce runs every log once: it verifies the log's checkpoint and its
// consistency with the last one verified, then checks every entry
// appended since, and finally POSTs the findings not yet notified. The
// error joins those of the logs that couldn't be checked (their
// LogReport.Err), or is ErrStopped; findings are not errors.
func (m *Monitor) RunOnce(ctx context.Context) (*Report, error) {
	rep := &Report{}
	var errs []error
	stopped := false
	for _, l := range m.logs {
		if m.stopRequested() {
			stopped = true
			break
		}
		start := time.Now()
		r := &run{m: m, log: l, rep: rep, lr: &LogReport{Origin: l.origin, Location: l.location}}
		err := r.run(ctx)
		r.lr.Elapsed = time.Since(start)
		switch {
		case errors.Is(err, ErrStopped):
			stopped = true
		case err != nil:
			r.lr.Err = err
			errs = append(errs, fmt.Errorf("%s: %w", l.origin, err))
			m.logger.Error("monitor run failed", "origin", l.origin, "location", l.location, "err", err)
		}
		rep.Logs = append(rep.Logs, *r.lr)
		if stopped {
			break
		}
	}
	m.notifyPending(ctx, rep)
	if stopped {
		errs = append(errs, ErrStopped)
	}
	return rep, errors.Join(errs...)
}

func (m *Monitor) stopRequested() bool {
	select {
	case <-m.cfg.Stop:
		return true
	default:
		return false
	}
}
