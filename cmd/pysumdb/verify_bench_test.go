package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// benchLockfile is the lockfile of the verify benchmark: 1,062 hashes of
// 88 projects.
const benchLockfile = "testdata/lockfiles/sigstore-python/uv.lock"

// benchLogEnv names a directory in which the benchmark keeps its log
// between runs (building it takes a while); without it, the log is built
// in a temporary directory.
const benchLogEnv = "PYSUMDB_BENCH_LOG"

// benchLogSize is the number of synthetic files around the lockfile's.
const benchLogSize = 1_000_000

// countingHandler counts the requests a handler serves, the bytes of
// their bodies and the connections they came on.
type countingHandler struct {
	http.Handler
	requests, tiles, bytes, conns atomic.Int64
}

func (h *countingHandler) connState(_ net.Conn, state http.ConnState) {
	if state == http.StateNew {
		h.conns.Add(1)
	}
}

func (h *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if tiles.IsImmutable(strings.TrimPrefix(r.URL.Path, "/")) {
		h.tiles.Add(1)
	}
	cw := &countingWriter{ResponseWriter: w}
	h.Handler.ServeHTTP(cw, r)
	h.bytes.Add(cw.n)
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// BenchmarkVerify verifies sigstore-python's uv.lock (1,062 hashes of 88
// projects) against a local log of a million entries served over HTTP by
// the handler of `pysumdb serve`, with a cold cache (every run from an
// empty cache directory) and a warm one (tiles cached by an earlier run),
// and reports the HTTP requests, tiles and bytes each run fetches.
//
//	go test -run '^$' -bench BenchmarkVerify -benchtime 5x ./cmd/pysumdb
//
// Set PYSUMDB_BENCH_LOG to a directory to keep the log between runs.
func BenchmarkVerify(b *testing.B) {
	store, _, vkey := buildLatencyLog(b)
	handler := &countingHandler{Handler: publish.Handler(store, nil)}
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ConnState = handler.connState
	srv.Start()
	defer srv.Close()
	artifacts, err := lockfile.ParseFile(benchLockfile, "")
	if err != nil {
		b.Fatal(err)
	}
	verifyOnce := func(b *testing.B, cacheDir string) {
		var out, errOut strings.Builder
		status := runContext(context.Background(), []string{"verify", "-q", benchLockfile, "--log", srv.URL, "--vkey", vkey, "--cache-dir", cacheDir}, &out, &errOut)
		if status != exitOK || !strings.Contains(out.String(), "1062 verified") {
			b.Fatalf("verify exited %d:\n%s%s", status, out.String(), errOut.String())
		}
	}
	report := func(b *testing.B, runs int) {
		b.ReportMetric(float64(handler.requests.Load())/float64(runs), "requests/op")
		b.ReportMetric(float64(handler.tiles.Load())/float64(runs), "tiles/op")
		b.ReportMetric(float64(handler.bytes.Load())/float64(runs), "bytes-fetched/op")
		b.ReportMetric(float64(handler.conns.Load())/float64(runs), "connections/op")
		b.ReportMetric(float64(len(artifacts)), "artifacts")
	}
	reset := func() {
		handler.requests.Store(0)
		handler.tiles.Store(0)
		handler.bytes.Store(0)
		handler.conns.Store(0)
	}

	b.Run("cold", func(b *testing.B) {
		runs := 0
		reset()
		for b.Loop() {
			b.StopTimer()
			cacheDir := b.TempDir()
			b.StartTimer()
			verifyOnce(b, cacheDir)
			runs++
		}
		report(b, runs)
	})
	b.Run("warm", func(b *testing.B) {
		cacheDir := b.TempDir()
		verifyOnce(b, cacheDir)
		runs := 0
		reset()
		for b.Loop() {
			verifyOnce(b, cacheDir)
			runs++
		}
		report(b, runs)
	})
}
