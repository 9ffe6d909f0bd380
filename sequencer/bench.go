package sequencer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pysumdb/pysumdb/publish"
)

// SyntheticRecords returns n PyPI-like records numbered from first: about
// 30 files per project, as PyPI has (17 million files in 600,000
// projects), with realistic filename lengths and upload times.
func SyntheticRecords(first, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		k := first + i
		project := k / 30
		out[i] = Record{
			Project:    fmt.Sprintf("synthetic-project-%d", project),
			Filename:   fmt.Sprintf("synthetic_project_%d-%d.%d.0-cp312-cp312-manylinux_2_17_x86_64.whl", project, k%30, k),
			SHA256:     fmt.Sprintf("%064x", uint64(k)*0x9e3779b97f4a7c15+1),
			Size:       int64(10_000 + k%5_000_000),
			UploadTime: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Minute).Format(time.RFC3339),
		}
	}
	return out
}

// BenchResult is what appending batches cost.
type BenchResult struct {
	// Entries appended, in Batches batches, taking Elapsed.
	Entries, Batches int
	Elapsed          time.Duration
	// Objects and Bytes written to the store.
	Objects, Bytes int64
	// Reads counts the objects read from the store (existing or not).
	Reads int64
}

// Add adds another run's cost to r.
func (r *BenchResult) Add(o BenchResult) {
	r.Entries += o.Entries
	r.Batches += o.Batches
	r.Elapsed += o.Elapsed
	r.Objects += o.Objects
	r.Bytes += o.Bytes
	r.Reads += o.Reads
}

// EntriesPerSecond is the append rate.
func (r BenchResult) EntriesPerSecond() float64 {
	return float64(r.Entries) / r.Elapsed.Seconds()
}

// Bench appends batches of batchSize synthetic records to store until the
// log grows by total entries, and reports the cost. The sequencer logs its
// progress to logger (nil discards). It is what `pysumdb bench` and the
// package benchmark run.
func Bench(ctx context.Context, store publish.Store, key string, batchSize, total int, logger *slog.Logger) (BenchResult, error) {
	counting := &publish.Counting{Store: store}
	seq, err := Open(ctx, Config{Store: counting, Key: key, Holder: "bench", Logger: logger})
	if err != nil {
		return BenchResult{}, err
	}
	defer seq.Close(ctx)
	first := int(seq.TreeSize())
	var res BenchResult
	for res.Entries < total {
		n := min(batchSize, total-res.Entries)
		// Making up the records is the source's work: not timed.
		records := SyntheticRecords(first+res.Entries, n)
		start := time.Now()
		r, err := seq.Append(ctx, records, nil)
		res.Elapsed += time.Since(start)
		if err != nil {
			return res, err
		}
		if r.Appended != n {
			return res, fmt.Errorf("appended %d of %d synthetic records", r.Appended, n)
		}
		res.Entries += n
		res.Batches++
	}
	res.Objects, res.Bytes = counting.Written()
	res.Reads = counting.Reads()
	return res, nil
}
