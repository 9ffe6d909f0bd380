package sequencer_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
)

// BenchmarkAppend appends batches of 1k, 10k and 100k synthetic PyPI-like
// records to a local directory store, and reports entries/s, bytes and
// objects written.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			store, err := publish.OpenDir(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			skey, _ := seqtest.NewKey(b)
			var total synthetic.BenchResult
			for b.Loop() {
				res, err := synthetic.Bench(context.Background(), store, skey, batch, batch, nil)
				if err != nil {
					b.Fatal(err)
				}
				total.Entries += res.Entries
				total.Batches += res.Batches
				total.Elapsed += res.Elapsed
				total.Objects += res.Objects
				total.Bytes += res.Bytes
			}
			seqtest.ReportBench(b, total)
		})
	}
}
