package ingest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/export"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
)

// PhaseExport is the phase of the stored cursor while an export is being
// logged (RunExport).
const PhaseExport = "export"

// DefaultExportMargin is how long before the export's newest upload time
// following starts by default: the export may lack the last files
// uploaded before it was taken, and PyPI's changelog times may be a
// little out of order. Following re-reads the projects changed in that
// time, deduped against the log: a few thousand pages on PyPI.
const DefaultExportMargin = 24 * time.Hour

// ErrExportChanged: the export given differs from the one an interrupted
// run was logging.
var ErrExportChanged = errors.New("the export differs from the one this log was logging")

// ExportConfig configures RunExport.
type ExportConfig struct {
	// Sequencer configures the log's sequencer, as in Config.
	Sequencer sequencer.Config
	// Export reads the export's records (export.Open); the caller closes
	// it.
	Export *export.Reader
	// PyPI is the index the export was taken from: once the export is
	// logged, its changelog gives the serial that `sequence --pypi`
	// follows from.
	PyPI *pypi.Client
	// MaxFiles is the number of records a batch appends, at most:
	// DefaultMaxFiles when 0.
	MaxFiles int
	// Margin is how long before the export's newest upload time following
	// starts (DefaultExportMargin is the usual; 0 is none).
	Margin time.Duration
	// ResetCursor logs the export from its start (deduped against the
	// log) whatever the stored cursor says: the log followed another
	// index, or an interrupted export was of other files.
	ResetCursor bool
	// Stop, when closed, makes RunExport return after the batch in
	// progress is published; the next run resumes there.
	Stop <-chan struct{}
}

// exportCursor is the stored cursor while an export is being logged: how
// many records of it are logged, and a digest of them (export.Reader's
// Digest), so that a resumed run skips exactly those records and only if
// it reads the same ones.
type exportCursor struct {
	URL    string         `json:"url"`
	Phase  string         `json:"phase"`
	Export exportPosition `json:"export"`
}

type exportPosition struct {
	Records int64  `json:"records"`
	Digest  string `json:"digest"`
}

// RunExport logs an export of PyPI's metadata (BigQuery's
// distribution_metadata table, see package export) in batches of
// MaxFiles records, each published with the export's position as the
// cursor, so that a run stopped or killed anywhere resumes after the last
// published batch. Then it stores the follow cursor: `sequence --pypi`
// continues from the changelog serial of the export's newest upload time,
// less Margin. The alarm policy ends the run as in Run.
func RunExport(ctx context.Context, cfg ExportConfig) (Summary, error) {
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = DefaultMaxFiles
	}
	return withSequencer(ctx, cfg.Sequencer, PhaseExport, func(seq *sequencer.Sequencer, logger *slog.Logger, sum *Summary) error {
		return runExport(ctx, cfg, seq, logger, sum)
	})
}

func runExport(ctx context.Context, cfg ExportConfig, seq *sequencer.Sequencer, logger *slog.Logger, sum *Summary) error {
	reader := cfg.Export
	done, err := exportResumePoint(seq.Cursor(), cfg.PyPI.BaseURL(), cfg.ResetCursor, logger)
	if err != nil {
		return err
	}
	if err := skipLogged(reader, done, cfg.MaxFiles, logger); err != nil {
		return err
	}
	start, exported := time.Now(), done.Records
	batches, stopReading := readAhead(ctx, reader, cfg.MaxFiles)
	defer stopReading()
	for {
		select {
		case <-cfg.Stop:
			logger.Info("stopping after the last published batch; the next run resumes the export there",
				"records", exported, "size", sum.TreeSize)
			return nil
		default:
		}
		var b exportBatch
		select {
		case b = <-batches:
		case <-ctx.Done():
			return ctx.Err()
		}
		if errors.Is(b.err, io.EOF) {
			break
		}
		if b.err != nil {
			return b.err
		}
		cursor, err := json.Marshal(exportCursor{URL: cfg.PyPI.BaseURL(), Phase: PhaseExport, Export: b.pos})
		if err != nil {
			return err
		}
		res, err := seq.Append(ctx, b.records, cursor)
		if err != nil {
			return err
		}
		sum.Batches++
		sum.Appended += res.Appended
		sum.Duplicates += res.Duplicates
		sum.Alarms = append(sum.Alarms, res.Alarms...)
		sum.TreeSize = res.TreeSize
		rate := float64(b.pos.Records-done.Records) / time.Since(start).Seconds()
		exported = b.pos.Records
		logger.Info("export batch logged", "records", b.pos.Records, "files", len(b.records), "appended", res.Appended,
			"duplicates", res.Duplicates, "alarms", len(res.Alarms), "size", res.TreeSize, "records_per_second", int(rate))
	}
	// The reader is done (it sent io.EOF): its Newest is final.
	return followFromExport(ctx, cfg, seq, logger, sum)
}

// exportBatch is a batch of the export and its position after it, or
// the error that ended the reading (io.EOF at the end).
type exportBatch struct {
	records []sequencer.Record
	pos     exportPosition
	err     error
}

// readAhead reads the export one batch ahead of the sequencer, so that
// decoding a batch (0.3–0.6 s per 100,000 records) overlaps appending the
// one before. The reader must not be used until stop has returned, or a
// batch with an error has been received.
func readAhead(ctx context.Context, reader *export.Reader, max int) (<-chan exportBatch, func()) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan exportBatch, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			records, err := reader.Next(max)
			b := exportBatch{records: records, err: err}
			if err == nil {
				b.pos = position(reader)
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	})
	return out, func() {
		cancel()
		wg.Wait()
	}
}

// exportResumePoint returns the position of the interrupted export the
// stored cursor records, or the zero position to log the export from its
// start.
func exportResumePoint(stored json.RawMessage, baseURL string, reset bool, logger *slog.Logger) (exportPosition, error) {
	var cur exportCursor
	if len(stored) == 0 || string(stored) == "null" {
		return exportPosition{}, nil
	}
	if err := json.Unmarshal(stored, &cur); err != nil {
		return exportPosition{}, fmt.Errorf("couldn't parse the stored cursor: %w", err)
	}
	switch {
	case cur.Phase != PhaseExport:
		logger.Info("logging the export, deduped against the log; following then starts from the export's time", "was", cur.Phase)
		return exportPosition{}, nil
	case reset:
		logger.Warn("logging the export from its start, deduped against the log", "interrupted_at", cur.Export.Records)
		return exportPosition{}, nil
	case cur.URL != baseURL:
		return exportPosition{}, fmt.Errorf("%w: the export being logged is of %s, not %s (use --reset-cursor to log this export from its start, deduped against the log)",
			ErrCursorMismatch, cur.URL, baseURL)
	case cur.Export.Records < 0:
		return exportPosition{}, fmt.Errorf("the stored cursor's export position %d is negative", cur.Export.Records)
	}
	logger.Info("resuming the export", "records", cur.Export.Records)
	return cur.Export, nil
}

// exportChangedFix ends the errors of ErrExportChanged.
const exportChangedFix = " (give the same files in the same order, or use --reset-cursor to log this one from its start, deduped against the log)"

// skipLogged reads the records the interrupted run logged, checking they
// are the same (by digest) before going on from there: records skipped
// unread would be lost.
func skipLogged(reader *export.Reader, done exportPosition, batch int, logger *slog.Logger) error {
	for reader.Count() < done.Records {
		_, err := reader.Next(int(min(int64(batch), done.Records-reader.Count())))
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: it holds %d records, and the log holds the first %d of the one it was logging%s",
				ErrExportChanged, reader.Count(), done.Records, exportChangedFix)
		}
		if err != nil {
			return err
		}
	}
	if done.Records > 0 {
		if got := position(reader); got.Digest != done.Digest {
			return fmt.Errorf("%w: its first %d records have digest %s, those the log holds %s%s",
				ErrExportChanged, done.Records, got.Digest, done.Digest, exportChangedFix)
		}
		logger.Info("skipped the records already logged", "records", done.Records)
	}
	return nil
}

func position(r *export.Reader) exportPosition {
	d := r.Digest()
	return exportPosition{Records: r.Count(), Digest: hex.EncodeToString(d[:])}
}

// followFromExport stores the cursor that `sequence --pypi` follows from:
// the changelog serial at the export's newest upload time, less the
// margin. Until it is stored the cursor stays the export's, at its end: a
// failure here is retried by running the export again, which re-reads it
// and appends nothing.
func followFromExport(ctx context.Context, cfg ExportConfig, seq *sequencer.Sequencer, logger *slog.Logger, sum *Summary) error {
	reader := cfg.Export
	newest := reader.Newest()
	var next pypi.Cursor
	if newest.IsZero() {
		// Nothing dates the export: PyPI must be read whole.
		logger.Warn("no record of the export has an upload time: `sequence --pypi` will backfill the whole index, deduped against the log",
			"records", reader.Count())
	} else {
		since := newest.Add(-cfg.Margin)
		serial, err := cfg.PyPI.SerialAt(ctx, since)
		switch {
		case errors.Is(err, pypi.ErrXMLRPCUnavailable):
			logger.Warn("PyPI's changelog is unavailable, so the export can't be placed in it: `sequence --pypi` will backfill the whole index, deduped against the log",
				"err", err)
		case err != nil:
			return fmt.Errorf("the export is logged, but couldn't find in PyPI's changelog where to follow from (run again: the export is read again and nothing appended): %w", err)
		default:
			next = pypi.Cursor{URL: cfg.PyPI.BaseURL(), Phase: pypi.PhaseFollow, Serial: serial}
			logger.Info("export logged: following PyPI from the changes after the export's newest upload less the margin",
				"newest_upload", newest.Format(time.RFC3339), "since", since.Format(time.RFC3339), "serial", serial)
		}
	}
	// No cursor (JSON null) is a backfill from scratch.
	cursor := json.RawMessage("null")
	sum.Phase = pypi.PhaseBackfill
	if next.URL != "" {
		var err error
		if cursor, err = json.Marshal(next); err != nil {
			return err
		}
		sum.Phase = next.Phase
	}
	res, err := seq.Append(ctx, nil, cursor)
	if err != nil {
		return err
	}
	sum.TreeSize = res.TreeSize
	return nil
}
