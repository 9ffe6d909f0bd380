package gcs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/gcs"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
)

// BenchmarkSequencer appends batches of synthetic PyPI-like records to a
// store on fake-gcs-server and to a local directory, and reports
// entries/s and what a batch writes. Every b.Loop iteration starts a new
// log, since the fake slows down as its buckets fill.
func BenchmarkSequencer(b *testing.B) {
	for _, backend := range []string{"gcs", "dir"} {
		for _, batch := range []int{1_000, 10_000} {
			b.Run(fmt.Sprintf("%s/batch=%d", backend, batch), func(b *testing.B) {
				skey, _ := seqtest.NewKey(b)
				var total synthetic.BenchResult
				for b.Loop() {
					var store publish.Store
					if backend == "gcs" {
						fake := newFakeGCS(b)
						fake.createBucket("log")
						store = fake.open(b, gcs.Config{Bucket: "log", Prefix: "pypi/"})
					} else {
						d, err := publish.OpenDir(b.TempDir())
						if err != nil {
							b.Fatal(err)
						}
						store = d
					}
					// A first batch, so that the measured one extends
					// partial tiles and existing indexes as in steady state.
					if _, err := synthetic.Bench(context.Background(), store, skey, batch, batch, nil); err != nil {
						b.Fatal(err)
					}
					res, err := synthetic.Bench(context.Background(), store, skey, batch, batch, nil)
					if err != nil {
						b.Fatal(err)
					}
					total.Entries += res.Entries
					total.Batches += res.Batches
					total.Elapsed += res.Elapsed
					total.Objects += res.Objects
					total.Bytes += res.Bytes
					total.Reads += res.Reads
				}
				seqtest.ReportBench(b, total)
			})
		}
	}
}
