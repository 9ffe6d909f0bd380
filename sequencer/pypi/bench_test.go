//go:build unix

package pypi_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
)

const (
	benchProjects        = 10000
	benchFilesPerProject = 10
	benchChanged         = 1000
	benchMaxFiles        = 10000
)

// cpuTime returns the CPU time of the process (user and system), which,
// unlike throughput, doesn't depend on how busy the machine is. It
// includes the in-process server's share.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapInUse returns the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// heapPeak samples the heap in use until stopped and returns its peak.
// The in-process fakepypi server's own memory is included.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapInuse > peak.Load() {
			peak.Store(m.HeapInuse)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(10 * time.Millisecond)
		defer ticker.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-ticker.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		return peak.Load()
	}
}

func benchServer(b *testing.B) *fakepypi.Server {
	srv := fakepypi.NewServer()
	b.Cleanup(srv.Close)
	populate(b, srv, benchProjects, benchFilesPerProject)
	return srv
}

// reportMetrics reports throughput, requests per file, and the peak heap:
// in all, and above the baseline in use before the timed work (the
// server's index and, for following, the finished backfill).
func reportMetrics(b *testing.B, files, requests int64, elapsed, cpu time.Duration, baseline, peak uint64) {
	b.ReportMetric(float64(files)/elapsed.Seconds(), "files/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(files), "cpu-ns/file")
	b.ReportMetric(float64(requests)/float64(files), "requests/file")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peak-min(peak, baseline))/(1<<20), "peak-above-baseline-MB")
}

// BenchmarkBackfill reads every project of an index of 10,000 projects and
// 100,000 files, without rate limit.
func BenchmarkBackfill(b *testing.B) {
	srv := benchServer(b)
	var files, requests int64
	var elapsed, cpu time.Duration
	baseline := heapInUse()
	stop := heapPeak()
	for b.Loop() {
		c := newClient(b, testConfig(srv, &logRecorder{}))
		start, startCPU := time.Now(), cpuTime()
		got, _, _ := run(b, pypi.NewSource(c), pypi.Cursor{}, benchMaxFiles)
		elapsed += time.Since(start)
		cpu += cpuTime() - startCPU
		if len(got) != benchProjects*benchFilesPerProject {
			b.Fatalf("%d files", len(got))
		}
		files += int64(len(got))
		requests += c.Requests()
	}
	reportMetrics(b, files, requests, elapsed, cpu, baseline, stop())
}

// BenchmarkFollow reads a batch of 1,000 changed projects (each with a new
// file, so 11 files each) after a backfill of the same index.
func BenchmarkFollow(b *testing.B) {
	srv := benchServer(b)
	c := newClient(b, testConfig(srv, &logRecorder{}))
	src := pypi.NewSource(c)
	_, cur, _ := run(b, src, pypi.Cursor{}, benchProjects*benchFilesPerProject)
	var files, requests int64
	var elapsed, cpu time.Duration
	round := 0
	baseline := heapInUse()
	stop := heapPeak()
	for b.Loop() {
		b.StopTimer()
		for i := range benchChanged {
			add(b, srv, fmt.Sprintf("P_%04d", i*benchProjects/benchChanged), fmt.Sprintf("round%d-%d.tar.gz", round, i))
		}
		round++
		requestsBefore := c.Requests()
		b.StartTimer()
		start, startCPU := time.Now(), cpuTime()
		var batches []pypi.Batch
		var got map[string]pypi.File
		got, cur, batches = run(b, src, cur, benchProjects*benchFilesPerProject)
		elapsed += time.Since(start)
		cpu += cpuTime() - startCPU
		if len(batches) != 1 || batches[0].Stats.Projects != benchChanged {
			b.Fatalf("%d batches, %d projects", len(batches), batches[0].Stats.Projects)
		}
		files += int64(len(got))
		requests += c.Requests() - requestsBefore
	}
	reportMetrics(b, files, requests, elapsed, cpu, baseline, stop())
}
