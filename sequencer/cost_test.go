package sequencer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
)

// steadyBatch returns one run's worth of PyPI at its steady rate (about
// 40,000 files a day in 288 runs: 140 files): new releases of 5 files in
// 26 projects of the log's first existingProjects synthetic projects, and
// 2 new projects of 5 files each.
func steadyBatch(run, existingProjects int) []sequencer.Record {
	var out []sequencer.Record
	add := func(project, file string) {
		out = append(out, sequencer.Record{
			Project: project, Filename: file,
			SHA256:     digest(1_000_000_000 + len(out) + run*1000),
			Size:       int64(20_000 + len(out)),
			UploadTime: time.Date(2026, 1, 1, 0, run*5, len(out), 0, time.UTC).Format(time.RFC3339),
		})
	}
	for i := range 26 {
		p := (run*26 + i) % existingProjects
		for f := range 5 {
			add(fmt.Sprintf("synthetic-project-%d", p), fmt.Sprintf("synthetic_project_%d-99.%d.%d-cp31%d-cp31%d-manylinux_2_17_x86_64.whl", p, run, i, f, f))
		}
	}
	for i := range 2 {
		p := fmt.Sprintf("new-project-%d-%d", run, i)
		for f := range 5 {
			add(p, fmt.Sprintf("new_project_%d_%d-1.0.%d.tar.gz", run, i, f))
		}
	}
	return out
}

// batchCost appends records and returns the objects read and written.
func batchCost(t testing.TB, store publish.Store, skey string, records []sequencer.Record) (reads, writes int64) {
	t.Helper()
	counting := &publish.Counting{Store: store}
	s, err := sequencer.Open(context.Background(), sequencer.Config{Store: counting, Key: skey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	openReads := counting.Reads()
	res, err := s.Append(context.Background(), records, nil)
	if err != nil || res.Appended != len(records) {
		t.Fatalf("Append: %+v, %v", res, err)
	}
	writes, _ = counting.Written()
	return counting.Reads() - openReads, writes
}

// TestBatchCostDoesNotGrowWithTheLog: the objects a batch reads and
// writes depend on the batch (its projects, its filenames), not on the
// size of the log: the check that no filename is logged twice reads the
// indexes and filename notes the batch's filenames point to, never the
// whole log.
func TestBatchCostDoesNotGrowWithTheLog(t *testing.T) {
	store := newTestStore(t)
	skey, _ := testKey(t)
	grow := func(from, n int) {
		for start := from; start < from+n; start += 20_000 {
			appendOnce(t, store, skey, synthetic.Records(start, min(20_000, from+n-start))...)
		}
	}
	grow(0, 3_000)
	smallReads, smallWrites := batchCost(t, store, skey, steadyBatch(1, 100))
	grow(3_000, 60_000)
	bigReads, bigWrites := batchCost(t, store, skey, steadyBatch(2, 100))
	t.Logf("steady batch of 140 files: %d reads, %d writes at 3k entries; %d reads, %d writes at 63k", smallReads, smallWrites, bigReads, bigWrites)
	// Tiles: one more level of the tree, and where the batch falls in a
	// tile, may add a few.
	if bigReads > smallReads+4 {
		t.Errorf("a steady batch read %d objects at 3k entries and %d at 63k", smallReads, bigReads)
	}
	if bigWrites > smallWrites+4 {
		t.Errorf("a steady batch wrote %d objects at 3k entries and %d at 63k", smallWrites, bigWrites)
	}
	// 28 indexes, 28 project list and filename note reads at most, the
	// checkpoint, the state, and the tiles the new ones extend.
	if bigReads > 100 {
		t.Errorf("a steady batch of 28 projects read %d objects", bigReads)
	}
}

// BenchmarkBatchCost reports the objects read and written by one steady
// batch (140 files, see steadyBatch) on a log of 1M PyPI-like entries, and
// by one backfill batch of 100k.
func BenchmarkBatchCost(b *testing.B) {
	store := newTestStore(b)
	skey, _ := testKey(b)
	const logSize = 1_000_000
	for start := 0; start < logSize; start += 100_000 {
		appendOnce(b, store, skey, synthetic.Records(start, 100_000)...)
	}
	b.Run("steady", func(b *testing.B) {
		var reads, writes, n int64
		for b.Loop() {
			r, w := batchCost(b, store, skey, steadyBatch(int(n)+10, logSize/30))
			reads, writes, n = reads+r, writes+w, n+1
		}
		b.ReportMetric(float64(reads)/float64(n), "reads/batch")
		b.ReportMetric(float64(writes)/float64(n), "writes/batch")
	})
	b.Run("backfill", func(b *testing.B) {
		var reads, writes, n int64
		next := logSize
		for b.Loop() {
			r, w := batchCost(b, store, skey, synthetic.Records(next, 100_000))
			reads, writes, n, next = reads+r, writes+w, n+1, next+100_000
		}
		b.ReportMetric(float64(reads)/float64(n), "reads/batch")
		b.ReportMetric(float64(writes)/float64(n), "writes/batch")
	})
}
