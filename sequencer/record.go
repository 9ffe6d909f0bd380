package sequencer

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/pysumdb/pysumdb/tiles"
)

// ErrBadRecord is wrapped by every error of an invalid input record.
var ErrBadRecord = errors.New("invalid record")

// Record is one PyPI file to log, as a source reports it.
type Record struct {
	// Project is the PEP 503 normalized project name.
	Project string
	// Filename is the distribution filename.
	Filename string
	// SHA256 is the file digest.
	SHA256 [32]byte
	// Size is the file size in bytes.
	Size int64
	// UploadTime is RFC 3339 UTC, or "-" when unknown.
	UploadTime string
	// Publisher is the verified PEP 740 publisher, if any.
	Publisher *tiles.Publisher
	// Claimant is who claimed the file with these bytes (package claim)
	// before it was logged, if anyone did; the sequencer sets it from the
	// claims in its store (Append) and writes it in the file's index line.
	Claimant *tiles.Claimant
}

// Check validates r: a normalized project, a loggable filename, a
// non-negative size, an RFC 3339 UTC upload time (or "-"), a valid
// publisher.
func (r *Record) Check() error {
	if !tiles.IsNormalizedProject(r.Project) {
		return fmt.Errorf("%w: project %q is not a normalized project name", ErrBadRecord, r.Project)
	}
	if err := tiles.CheckFilename(r.Filename); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if r.Size < 0 {
		return fmt.Errorf("%w: %s: negative size %d", ErrBadRecord, r.Filename, r.Size)
	}
	if err := tiles.CheckUploadTime(r.UploadTime); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadRecord, r.Filename, err)
	}
	if r.Publisher != nil {
		if err := tiles.CheckPublisher(*r.Publisher); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadRecord, r.Filename, err)
		}
	}
	if r.Claimant != nil {
		if err := tiles.CheckClaimant(*r.Claimant); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadRecord, r.Filename, err)
		}
	}
	return nil
}

// Entry returns the log entry of r.
func (r *Record) Entry() ([]byte, error) {
	return tiles.FormatEntry(tiles.Entry{Filename: r.Filename, SHA256: r.SHA256, Publisher: r.Publisher})
}

// checkRecords checks every record, on every CPU (a batch is often 100,000
// records), and returns the error of the first that fails.
func checkRecords(records []Record) error {
	return inChunks(len(records), func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			if err := records[i].Check(); err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
		}
		return nil
	})
}

// inChunks calls do on consecutive chunks of [0, n), one per CPU, in
// parallel, and returns the error of the first chunk (in order, not in
// time) that failed.
func inChunks(n int, do func(lo, hi int) error) error {
	workers := max(1, min(runtime.GOMAXPROCS(0), n))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Go(func() { errs[w] = do(lo, hi) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
