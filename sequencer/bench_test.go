package sequencer_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
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
			var total sequencer.BenchResult
			for b.Loop() {
				res, err := sequencer.Bench(context.Background(), store, skey, batch, batch, nil)
				if err != nil {
					b.Fatal(err)
				}
				total.Add(res)
			}
			seqtest.ReportBench(b, total)
		})
	}
}
