// Package ingest logs PyPI: it runs the sequencer on batches from a
// pypi.Source, verifying the PEP 740 attestations of new files on the way,
// until the log has caught up with the index (or it is told to stop).
//
// Each batch is appended with the source's next cursor, which the
// sequencer stores only once the batch is published: a run killed anywhere
// resumes from the last published batch, and the sequencer's dedupe makes
// reading a project again harmless.
package ingest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/attest"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/tiles"
)

// ErrCursorMismatch: the log follows another index than the one given.
var ErrCursorMismatch = errors.New("the log's cursor belongs to another index")

// ErrExportUnfinished: the log is in the middle of logging an export
// (RunExport), which must be finished first.
var ErrExportUnfinished = errors.New("an export is being logged")

// ErrProjectsFailed: some projects couldn't be read; they stay pending in
// the cursor and are read again by the next run.
var ErrProjectsFailed = errors.New("some projects could not be read")

// DefaultMaxFiles is the default soft size of a batch.
const DefaultMaxFiles = 100_000

// Config configures Run.
type Config struct {
	// Sequencer configures the log's sequencer: its store, key, logger
	// (which Run logs to as well), witnesses and claims.
	Sequencer sequencer.Config
	// PyPI reads the index.
	PyPI *pypi.Client
	// Attestations verifies PEP 740 provenance of new files; nil logs
	// every file without a publisher.
	Attestations *attest.Verifier
	// MaxFiles is the soft size of a batch: DefaultMaxFiles when 0.
	MaxFiles int
	// ResetCursor starts over (a backfill, deduped against the log) when
	// the stored cursor belongs to another index URL, instead of refusing.
	ResetCursor bool
	// Recheck reads every project of the index again (a new backfill,
	// deduped against the log), then follows from there: it catches files
	// whose bytes changed without PyPI announcing a change.
	Recheck bool
	// Stop, when closed, makes Run return after the batch in progress is
	// published (a graceful shutdown); cancelling ctx aborts at once.
	Stop <-chan struct{}
}

// Summary is what Run did.
type Summary struct {
	// Batches published, files appended and files already logged.
	Batches, Appended, Duplicates int
	// Alarms raised by this run.
	Alarms []sequencer.Alarm
	// Unacknowledged counts the alarms in the store nobody has
	// acknowledged yet (`pysumdb alarms ack`), this run's included.
	Unacknowledged int
	// Failures are the projects left pending for the next run.
	Failures []pypi.ProjectError
	// Attested counts new files logged with a verified publisher.
	Attested int
	// TreeSize is the log's size at the end.
	TreeSize int64
	// Phase is the cursor's phase at the end (backfill or follow).
	Phase string
}

// releaseTimeout bounds the release of the lease at the end of a run,
// which must happen even when the run was cancelled.
const releaseTimeout = 30 * time.Second

// Run appends batches from PyPI until caught up or stopped. Whatever
// happened, unless ctx was cancelled, it ends with the sequencer's alarm
// policy: the error wraps sequencer.ErrAlarm while alarms in the store are
// unacknowledged (Summary.Unacknowledged counts them), joined with any
// other failure of the run.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = DefaultMaxFiles
	}
	return withSequencer(ctx, cfg.Sequencer, "", func(seq *sequencer.Sequencer, logger *slog.Logger, sum *Summary) error {
		return run(ctx, cfg, seq, logger, sum)
	})
}

// withSequencer opens the log's sequencer, runs work with it (the summary
// starting at the log's size, in phase), and ends the run with the
// sequencer's alarm policy, unless ctx was cancelled: the error wraps
// sequencer.ErrAlarm while alarms in the store are unacknowledged, joined
// with work's.
func withSequencer(ctx context.Context, cfg sequencer.Config, phase string, work func(*sequencer.Sequencer, *slog.Logger, *Summary) error) (Summary, error) {
	logger := logging.OrDiscard(cfg.Logger)
	cfg.Logger = logger
	var sum Summary
	seq, err := sequencer.Open(ctx, cfg)
	if err != nil {
		return sum, err
	}
	defer func() {
		// The lease must be released even after ctx is cancelled, or a
		// lease object (GCS) stays held until it expires.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := seq.Close(rctx); err != nil {
			logger.Warn("couldn't release the lease", "err", err)
		}
	}()
	sum.TreeSize, sum.Phase = seq.TreeSize(), phase
	err = work(seq, logger, &sum)
	if ctx.Err() == nil {
		open, aerr := seq.CheckAlarms(ctx)
		sum.Unacknowledged = len(open)
		err = errors.Join(err, aerr)
	}
	return sum, err
}

func run(ctx context.Context, cfg Config, seq *sequencer.Sequencer, logger *slog.Logger, sum *Summary) error {
	cur, err := loadCursor(seq.Cursor(), cfg.PyPI.BaseURL(), cfg.ResetCursor, logger)
	if err != nil {
		return err
	}
	if cfg.Recheck {
		logger.Info("re-checking every project of the index against the log")
		cur = pypi.Cursor{}
	}
	source := pypi.NewSource(cfg.PyPI)
	for {
		select {
		case <-cfg.Stop:
			logger.Info("stopping after the last published batch", "size", sum.TreeSize)
			return nil
		default:
		}
		batch, err := source.Next(ctx, cur, cfg.MaxFiles)
		if err != nil {
			return fmt.Errorf("couldn't read PyPI: %w", err)
		}
		records, attested, err := toRecords(ctx, cfg, seq, batch.Files, logger)
		if err != nil {
			return err
		}
		next, err := json.Marshal(batch.Next)
		if err != nil {
			return err
		}
		res, err := seq.Append(ctx, records, next)
		if err != nil {
			return err
		}
		cur = batch.Next
		sum.Batches++
		sum.Appended += res.Appended
		sum.Duplicates += res.Duplicates
		sum.Alarms = append(sum.Alarms, res.Alarms...)
		sum.Attested += attested
		sum.Failures = batch.Failures
		sum.TreeSize, sum.Phase = res.TreeSize, batch.Next.Phase
		logger.Info("batch logged", "phase", batch.Next.Phase, "files", len(batch.Files), "appended", res.Appended,
			"duplicates", res.Duplicates, "attested", attested, "alarms", len(res.Alarms),
			"pending", len(batch.Next.Pending), "serial", batch.Next.Serial, "size", res.TreeSize)
		if !batch.More {
			break
		}
	}
	if len(sum.Failures) > 0 {
		for _, f := range sum.Failures {
			logger.Warn("project left for the next run", "project", f.Project, "err", f.Err)
		}
		return fmt.Errorf("%w: %d projects left pending for the next run", ErrProjectsFailed, len(sum.Failures))
	}
	return nil
}

func loadCursor(stored json.RawMessage, baseURL string, reset bool, logger *slog.Logger) (pypi.Cursor, error) {
	var cur pypi.Cursor
	if len(stored) > 0 && string(stored) != "null" {
		if err := json.Unmarshal(stored, &cur); err != nil {
			return cur, fmt.Errorf("couldn't parse the stored cursor: %w", err)
		}
	}
	if cur.Phase == PhaseExport && !reset {
		return cur, fmt.Errorf("%w: the log is in the middle of logging an export: finish it with 'sequence --from-export' and the same files, or use --reset-cursor to backfill %s instead (deduped against the log)",
			ErrExportUnfinished, baseURL)
	}
	if cur.Phase == PhaseExport {
		logger.Warn("abandoning the export being logged: backfilling, deduped against the log", "index", baseURL)
		cur = pypi.Cursor{}
	}
	if cur.URL != "" && cur.URL != baseURL {
		if !reset {
			return cur, fmt.Errorf("%w: it follows %s, not %s (use --reset-cursor to backfill from %s, deduped against the log)",
				ErrCursorMismatch, cur.URL, baseURL, baseURL)
		}
		logger.Warn("resetting the cursor: backfilling another index", "was", cur.URL, "now", baseURL)
		cur = pypi.Cursor{}
	}
	if cur.URL == "" && len(stored) > 0 && string(stored) != "null" {
		logger.Info("the log has no PyPI cursor: backfilling, deduped against the log")
	}
	return cur, nil
}

// toRecords turns PyPI files into records, attaching the publisher a
// verified attestation proves to each file not logged yet.
func toRecords(ctx context.Context, cfg Config, seq *sequencer.Sequencer, files []pypi.File, logger *slog.Logger) ([]sequencer.Record, int, error) {
	records := make([]sequencer.Record, len(files))
	projects := make([]string, len(files))
	for i, f := range files {
		records[i] = sequencer.Record{
			Project: f.Project, Filename: f.Filename, SHA256: f.SHA256,
			Size: f.Size, UploadTime: f.UploadTime,
		}
		projects[i] = f.Project
	}
	if cfg.Attestations == nil {
		return records, 0, nil
	}
	logged, err := seq.Logged(ctx, projects)
	if err != nil {
		return nil, 0, err
	}
	// Fetch and verify in parallel: verification costs milliseconds of
	// CPU a file, fetching a round trip.
	publishers := make([]*tiles.Publisher, len(files))
	failures := make([]error, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(runtime.NumCPU(), 4))
	for i, f := range files {
		if _, ok := logged[f.Filename]; ok || f.ProvenanceURL == "" {
			continue
		}
		g.Go(func() error {
			p, err := verifyProvenance(gctx, cfg, f)
			switch {
			case errors.Is(err, pypi.ErrNotFound):
				// Listed but gone: as if there were none, which is normal.
				logger.Warn("provenance listed but not found", "filename", f.Filename)
			case errors.Is(err, attest.ErrInvalidAttestation):
				failures[i] = err
			case err != nil:
				// Logging the file now would record it without its
				// publisher for ever: leave the whole batch for next run.
				return fmt.Errorf("couldn't fetch the provenance of %s: %w", f.Filename, err)
			default:
				publishers[i] = &p
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	attested := 0
	for i, f := range files {
		switch {
		case publishers[i] != nil:
			records[i].Publisher = publishers[i]
			attested++
		case failures[i] != nil:
			alarm := sequencer.Alarm{
				Code: sequencer.AlarmInvalidAttestation, Reason: sequencer.ReasonInvalidAttestation, Project: f.Project, Filename: f.Filename, Leaf: -1,
				ServedSHA256: hex.EncodeToString(f.SHA256[:]), ServedSize: f.Size, Detail: failures[i].Error(),
				Detected: time.Now().UTC().Format(time.RFC3339),
			}
			if err := seq.RaiseAlarm(ctx, alarm); err != nil {
				return nil, 0, err
			}
		}
	}
	logger.Debug("attestations checked", "files", len(files), "attested", attested)
	return records, attested, nil
}

func verifyProvenance(ctx context.Context, cfg Config, f pypi.File) (tiles.Publisher, error) {
	data, err := cfg.PyPI.Provenance(ctx, f.ProvenanceURL)
	if err != nil {
		return tiles.Publisher{}, err
	}
	p, err := attest.ParseProvenance(data)
	if err != nil {
		return tiles.Publisher{}, err
	}
	return cfg.Attestations.Verify(p, f.Filename, f.SHA256)
}
