package monitor_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/monitor"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
	"github.com/pysumdb/pysumdb/tiles"
)

// BenchmarkMonitorCatchUp measures a monitor catching up with a log of
// synthetic PyPI-like entries (about 30 files a project) built by the
// sequencer, from a directory: entries checked per second, the peak of the
// Go heap (sampled every 10 ms), the process's maxrss, and the size of the
// state on disk per entry.
//
// PYSUMDB_MONITOR_BENCH_ENTRIES sets the log's size (default 100,000).
// PYSUMDB_MONITOR_BENCH_LOG keeps the log in that directory between runs,
// with its key in the file beside it named <dir>.key: the first run builds
// it (and its maxrss includes the sequencer's), the next ones only
// measure. Run it with -benchtime=1x on a large log.
func BenchmarkMonitorCatchUp(b *testing.B) {
	entries := 100_000
	if s := os.Getenv("PYSUMDB_MONITOR_BENCH_ENTRIES"); s != "" {
		var err error
		if entries, err = strconv.Atoi(s); err != nil || entries <= 0 {
			b.Fatalf("PYSUMDB_MONITOR_BENCH_ENTRIES=%q", s)
		}
	}
	dir, vkey := benchLog(b, entries)
	var checked int64
	var elapsed time.Duration
	var peak uint64
	var stateBytes int64
	for b.Loop() {
		state := b.TempDir()
		fetch := client.DirFetcher(dir)
		l, err := client.NewLog(fetch, vkey)
		if err != nil {
			b.Fatal(err)
		}
		m, err := monitor.Open(monitor.Config{StateDir: state, Logs: []monitor.Log{{Log: l, VKey: vkey, Fetch: fetch, Location: dir}}})
		if err != nil {
			b.Fatal(err)
		}
		stop := sampleHeap(&peak)
		start := time.Now()
		rep, err := m.RunOnce(context.Background())
		elapsed += time.Since(start)
		stop()
		m.Close()
		if err != nil || len(rep.Findings) > 0 {
			b.Fatalf("run: %v, %d findings", err, len(rep.Findings))
		}
		checked += rep.Logs[0].Entries
		stateBytes = dirSize(b, state)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(checked)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MiB")
	b.ReportMetric(float64(stateBytes)/float64(entries), "state-bytes/entry")
}

// sampleHeap records in peak the largest heap seen until stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func dirSize(b *testing.B, dir string) int64 {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			size += fi.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return size
}

// benchLog returns the directory of a log of entries synthetic records and
// its verifier key, building it unless PYSUMDB_MONITOR_BENCH_LOG holds it.
func benchLog(b *testing.B, entries int) (string, string) {
	dir := os.Getenv("PYSUMDB_MONITOR_BENCH_LOG")
	if dir == "" {
		dir = b.TempDir()
	}
	keyFile := filepath.Clean(dir) + ".key"
	skeyData, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		skey, _, err := note.GenerateKey(rand.Reader, "bench.pysumdb.invalid/log")
		if err != nil {
			b.Fatal(err)
		}
		skeyData = []byte(skey)
		if err := os.WriteFile(keyFile, skeyData, 0o600); err != nil {
			b.Fatal(err)
		}
	} else if err != nil {
		b.Fatal(err)
	}
	skey := string(skeyData)
	vkey, err := tiles.VerifierKey(skey)
	if err != nil {
		b.Fatal(err)
	}
	store, err := publish.OpenDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	size := int64(0)
	if data, _, err := store.Read(context.Background(), tiles.CheckpointKey); err == nil {
		v, _ := note.NewVerifier(vkey)
		cp, _, err := tiles.OpenCheckpoint(data, v)
		if err != nil {
			b.Fatal(err)
		}
		size = cp.N
	}
	if size < int64(entries) {
		b.Logf("building a log of %d entries in %s", entries, dir)
		if _, err := synthetic.Bench(context.Background(), store, skey, 100_000, entries-int(size), nil); err != nil {
			b.Fatal(err)
		}
	}
	return dir, vkey
}
