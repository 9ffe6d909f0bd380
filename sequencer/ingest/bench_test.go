package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/attest"
	"github.com/pysumdb/pysumdb/sequencer/ingest"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
)

// BenchmarkIngest backfills 10,000 projects / 100,000 files from the
// loopback PyPI into a local log, with and without attestation checks (the
// files carry no provenance, so "on" measures the checks' bookkeeping; the
// cost of verifying one attestation is attest's BenchmarkVerify), then
// follows a change of 1,000 projects. It reports files/s for both and HTTP
// requests per file.
func BenchmarkIngest(b *testing.B) {
	for _, checks := range []bool{false, true} {
		b.Run(fmt.Sprintf("attestations=%v", checks), func(b *testing.B) {
			var backfill, follow time.Duration
			var requests int64
			for b.Loop() {
				b.StopTimer()
				srv := fakepypi.NewServer()
				seed(b, srv, 10_000, 10, 0)
				b.StartTimer()
				store, err := publish.OpenDir(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				skey, _ := seqtest.NewKey(b)
				client, _ := pypi.NewClient(pypi.Config{BaseURL: srv.URL, RequestsPerSecond: -1, Concurrency: 8})
				cfg := ingest.Config{Sequencer: sequencer.Config{Store: store, Key: skey}, PyPI: client}
				if checks {
					if cfg.Attestations, err = attest.NewVerifier(attest.Config{PinnedRoot: true}); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				sum, err := ingest.Run(context.Background(), cfg)
				if err != nil || sum.Appended != 100_000 {
					b.Fatalf("backfill: %+v, %v", sum, err)
				}
				backfill += time.Since(start)
				requests += client.Requests()
				b.StopTimer()
				for p := range 1_000 {
					if _, err := srv.AddFile(fmt.Sprintf("Proj_%d", p*10), fakepypi.File{
						Filename: fmt.Sprintf("proj_%d-new-%d.tar.gz", p*10, srv.Serial()), SHA256: fmt.Sprintf("%064x", 1<<40+srv.Serial()), Size: 1,
					}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				start = time.Now()
				if sum, err = ingest.Run(context.Background(), cfg); err != nil || sum.Appended != 1_000 {
					b.Fatalf("follow: %+v, %v", sum, err)
				}
				follow += time.Since(start)
				srv.Close()
			}
			n := float64(b.N)
			b.ReportMetric(100_000*n/backfill.Seconds(), "backfill-files/s")
			b.ReportMetric(11_000*n/follow.Seconds(), "follow-files/s")
			b.ReportMetric(float64(requests)/(100_000*n), "requests/file")
		})
	}
}
