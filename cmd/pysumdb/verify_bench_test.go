package main

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
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

// buildBenchLog returns a log of a million synthetic files with the
// lockfile's real files among them, as a backfill would have logged them:
// each project's files together, the projects spread over the log. It
// returns the store's directory and the verifier key.
func buildBenchLog(b *testing.B) (dir, vkey string) {
	dir = os.Getenv(benchLogEnv)
	if dir == "" {
		dir = b.TempDir()
	}
	keyFile, vkeyFile := filepath.Join(dir, "log.key"), filepath.Join(dir, "log.vkey")
	if data, err := os.ReadFile(vkeyFile); err == nil {
		b.Logf("reusing the log in %s", dir)
		return filepath.Join(dir, "log"), strings.TrimSpace(string(data))
	} else if !errors.Is(err, fs.ErrNotExist) {
		b.Fatal(err)
	}
	records, err := lockfileRecords(benchLockfile, "")
	if err != nil {
		b.Fatal(err)
	}
	byProject := map[string][]sequencer.Record{}
	var projects []string
	for _, r := range records {
		if byProject[r.Project] == nil {
			projects = append(projects, r.Project)
		}
		byProject[r.Project] = append(byProject[r.Project], r)
	}
	sort.Strings(projects)
	skey, vkey, err := note.GenerateKey(rand.Reader, "bench.pysumdb.invalid/log")
	if err != nil {
		b.Fatal(err)
	}
	store, err := publish.OpenDir(filepath.Join(dir, "log"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	seq, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey, Holder: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer seq.Close(ctx)
	// One batch per project: a stretch of synthetic files, then the
	// project's own.
	stretch := benchLogSize / len(projects)
	for i, p := range projects {
		n := stretch
		if i == len(projects)-1 {
			n = benchLogSize - i*stretch
		}
		batch := append(synthetic.Records(i*stretch, n), byProject[p]...)
		if _, err := seq.Append(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built a log of %d entries in %s", seq.TreeSize(), dir)
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(vkeyFile, []byte(vkey+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	return store.Root(), vkey
}

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
	dir, vkey := buildBenchLog(b)
	store, err := publish.OpenDir(dir)
	if err != nil {
		b.Fatal(err)
	}
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
