package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// TestSameTree runs the comparison on a few entries: both logs must end
// with a checkpoint of the same tree (run checks it).
func TestSameTree(t *testing.T) {
	if err := run(context.Background(), io.Discard, t.TempDir(), 3*256, []int{256, 768}, 1, false); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAppend appends 100,000 entries to each log per iteration, in
// batches of 10,000 and 100,000, for profiling one log on its own
// (-cpuprofile); the main program prints the two side by side.
func BenchmarkAppend(b *testing.B) {
	const total = 100_000
	entries, err := Entries(total)
	if err != nil {
		b.Fatal(err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, "bench.pysumdb.invalid/log")
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{10_000, 100_000} {
		for _, name := range []string{"tessera", "pysumdb"} {
			b.Run(fmt.Sprintf("log=%s/batch=%d", name, batch), func(b *testing.B) {
				var sum Result
				for b.Loop() {
					var r Result
					var err error
					if name == "tessera" {
						r, err = RunTessera(context.Background(), b.TempDir(), skey, entries, batch)
					} else {
						r, err = RunPysumdb(context.Background(), b.TempDir(), skey, total, batch)
					}
					if err != nil {
						b.Fatal(err)
					}
					sum.Entries += r.Entries
					sum.Elapsed += r.Elapsed
					sum.Disk.Objects += r.Disk.Objects
					sum.Disk.Bytes += r.Disk.Bytes
				}
				b.ReportMetric(sum.EntriesPerSecond(), "entries/s")
				b.ReportMetric(float64(sum.Disk.Objects)/float64(b.N), "objects/op")
				b.ReportMetric(float64(sum.Disk.Bytes)/float64(sum.Entries), "B/entry")
			})
		}
	}
}
