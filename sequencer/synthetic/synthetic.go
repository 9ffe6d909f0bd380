// Package synthetic makes up records of distinct files for the tests and
// benchmarks of the sequencer and of what reads its log, and measures what
// appending them costs (`pysumdb bench`).
package synthetic

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

// FilesPerProject is how many files a project of Records holds: about as
// many as on PyPI (17 million files in 600,000 projects).
const FilesPerProject = 30

// Records returns n PyPI-like records numbered from first: record k is
// file k%30 of project synthetic-project-<k/30>, a wheel with a filename
// of realistic length, a sha256 that looks random, and an upload time k
// minutes after 2010-01-01. Consecutive records fill a project, so a
// batch of n records adds files to about n/30 projects.
func Records(first, n int) []sequencer.Record {
	out := make([]sequencer.Record, n)
	for i := range out {
		k := first + i
		project := k / FilesPerProject
		out[i] = sequencer.Record{
			Project:    fmt.Sprintf("synthetic-project-%d", project),
			Filename:   fmt.Sprintf("synthetic_project_%d-%d.%d.0-cp312-cp312-manylinux_2_17_x86_64.whl", project, k%FilesPerProject, k),
			SHA256:     digest(uint64(k)*0x9e3779b97f4a7c15 + 1),
			Size:       int64(10_000 + k%5_000_000),
			UploadTime: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Minute).Format(time.RFC3339),
		}
	}
	return out
}

// Spread returns n records numbered from first, spread round-robin over
// projects projects, so that every batch of at least that many extends
// every project: record k is the wheel project_<p>-<k>.0-py3-none-any.whl
// of project-<p>, p = k%projects, with the sha256 k+1 (as a 256-bit
// big-endian number), size 1000+k, and an upload time k seconds after
// midnight of day 1+k/3600%28 of January 2024 (so record 1 is
// project_1-1.0-py3-none-any.whl, sha256 0…02, size 1001).
func Spread(first, n, projects int) []sequencer.Record {
	out := make([]sequencer.Record, n)
	for i := range out {
		k := first + i
		p := k % projects
		out[i] = sequencer.Record{
			Project:    fmt.Sprintf("project-%d", p),
			Filename:   fmt.Sprintf("project_%d-%d.0-py3-none-any.whl", p, k),
			SHA256:     digest(uint64(k) + 1),
			Size:       int64(1000 + k),
			UploadTime: fmt.Sprintf("2024-01-%02dT00:%02d:%02dZ", 1+k/3600%28, k/60%60, k%60),
		}
	}
	return out
}

// digest returns x as a 256-bit big-endian number.
func digest(x uint64) [32]byte {
	var d [32]byte
	binary.BigEndian.PutUint64(d[24:], x)
	return d
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
	// SignedObjects of the objects written, SignedBytes in all, are
	// signed notes (see isSigned), each costing a signature.
	SignedObjects, SignedBytes int64
}

// EntriesPerSecond is the append rate.
func (r BenchResult) EntriesPerSecond() float64 {
	return float64(r.Entries) / r.Elapsed.Seconds()
}

// Bench appends batches of batchSize Records to store until the log grows
// by total entries, and reports the cost. The sequencer logs its progress
// to logger (nil discards). It is what `pysumdb bench` and the
// sequencer's benchmarks run.
func Bench(ctx context.Context, store publish.Store, key string, batchSize, total int, logger *slog.Logger) (BenchResult, error) {
	counting := &publish.Counting{Store: store, Select: isSigned}
	seq, err := sequencer.Open(ctx, sequencer.Config{Store: counting, Key: key, Holder: "bench", Logger: logger})
	if err != nil {
		return BenchResult{}, err
	}
	defer seq.Close(ctx)
	first := int(seq.TreeSize())
	var res BenchResult
	for res.Entries < total {
		n := min(batchSize, total-res.Entries)
		// Making up the records is the source's work: not timed.
		records := Records(first+res.Entries, n)
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
	res.SignedObjects, res.SignedBytes = counting.Selected()
	return res, nil
}

// isSigned reports whether the object at key is a signed note: the
// checkpoint, a project index, a shard of the project list or a filename
// note.
func isSigned(key string) bool {
	return key == tiles.CheckpointKey || strings.HasPrefix(key, tiles.IndexPrefix) ||
		strings.HasPrefix(key, tiles.ProjectListPrefix) || strings.HasPrefix(key, tiles.FilenamesPrefix)
}
