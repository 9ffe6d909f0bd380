package client_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// The files of the test logs: foo 0.9, foo 1.0 and bar 2.0 in a first
// batch, the wheel of foo 1.0 and foo 1.1 in a second one.
var (
	firstBatch = []sequencer.Record{
		record("foo", "foo-0.9.tar.gz"),
		record("foo", "foo-1.0.tar.gz"),
		record("bar", "bar-2.0.tar.gz"),
		record("bar", "bar-2.0-py3-none-any.whl"),
	}
	secondBatch = []sequencer.Record{
		record("foo", "foo-1.0-py3-none-any.whl"),
		record("foo", "foo-1.1.tar.gz"),
	}
)

// digest returns a made-up sha256 named after s.
func digest(s string) [32]byte {
	return sha256.Sum256([]byte(s))
}

// digestOf returns digest(s) in hex.
func digestOf(s string) string {
	d := digest(s)
	return hex.EncodeToString(d[:])
}

// record is a file of project logged with the digest named after its
// filename.
func record(project, filename string) sequencer.Record {
	return sequencer.Record{Project: project, Filename: filename, SHA256: digest(filename), Size: int64(len(filename)), UploadTime: "-"}
}

// testLog is a log in a directory, built by the sequencer.
type testLog struct {
	store      *publish.Dir
	skey, vkey string
}

// newTestLog builds a log named origin from batches of records, each after
// a batch of 300 synthetic files, so that the files sit in several tiles.
func newTestLog(t testing.TB, origin string, batches ...[]sequencer.Record) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return newKeyedTestLog(t, skey, vkey, batches...)
}

// newKeyedTestLog is newTestLog with the given key.
func newKeyedTestLog(t testing.TB, skey, vkey string, batches ...[]sequencer.Record) *testLog {
	t.Helper()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := &testLog{store: store, skey: skey, vkey: vkey}
	for i, b := range batches {
		l.append(t, seqtest.Records(i*300, 300))
		l.append(t, b)
	}
	return l
}

func (l *testLog) append(t testing.TB, records []sequencer.Record) {
	t.Helper()
	if _, err := seqtest.Append(context.Background(), l.store, l.skey, records, ""); err != nil {
		t.Fatal(err)
	}
}

// size returns the log's tree size.
func (l *testLog) size(t testing.TB) int64 {
	t.Helper()
	verifier, _ := note.NewVerifier(l.vkey)
	cp, _, err := tiles.OpenCheckpoint(l.read(t, tiles.CheckpointKey), verifier)
	if err != nil {
		t.Fatal(err)
	}
	return cp.N
}

// read returns an object of the log.
func (l *testLog) read(t testing.TB, key string) []byte {
	t.Helper()
	data, _, err := l.store.Read(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// logServer serves a log over HTTP as `pysumdb serve` does, through a
// middleman that can rewrite or refuse answers.
type logServer struct {
	*httptest.Server

	mu sync.Mutex
	// rewrite, if set, may change the answer for a key.
	rewrite func(key string, status int, body []byte) (int, []byte)
}

func serveLog(t testing.TB, l *testLog) *logServer {
	t.Helper()
	s := &logServer{}
	handler := publish.Handler(l.store, nil)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		s.mu.Lock()
		rewrite := s.rewrite
		s.mu.Unlock()
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		status, body := rec.Code, rec.Body.Bytes()
		if rewrite != nil {
			status, body = rewrite(key, status, body)
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// setRewrite changes how the middleman answers (nil: honestly).
func (s *logServer) setRewrite(f func(key string, status int, body []byte) (int, []byte)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rewrite = f
}

// replace answers key with body.
func replace(key string, body []byte) func(string, int, []byte) (int, []byte) {
	return func(k string, status int, b []byte) (int, []byte) {
		if k == key {
			return http.StatusOK, body
		}
		return status, b
	}
}

// openLog opens the log at url, with cache (nil for none), counting
// fetches.
func openLog(t testing.TB, url, vkey string, cache *client.Cache) (*client.Log, *client.CountingFetcher) {
	t.Helper()
	fetch, err := client.NewFetcher(url)
	if err != nil {
		t.Fatal(err)
	}
	counting := &client.CountingFetcher{Fetcher: fetch}
	l, err := client.NewLog(counting, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if cache != nil {
		l.UseCache(cache)
	}
	return l, counting
}

func openCache(t testing.TB, dir string) *client.Cache {
	t.Helper()
	c, err := client.OpenCache(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leafOf returns the leaf at which the log's index lists filename.
func leafOf(t testing.TB, l *testLog, project, filename string) int64 {
	t.Helper()
	verifier, err := note.NewVerifier(l.vkey)
	if err != nil {
		t.Fatal(err)
	}
	x, err := tiles.OpenIndex(l.read(t, tiles.IndexKey(project)), verifier, project)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range x.Lines {
		if line.Filename == filename {
			return line.Leaf
		}
	}
	t.Fatalf("%s is not in the index of %s", filename, project)
	return -1
}

// breakSignature returns a copy of a signed note whose signature no longer
// verifies: one base64 digit of it swapped for another, so that the note
// still parses.
func breakSignature(signed []byte) []byte {
	broken := slices.Clone(signed)
	if i := len(broken) - 5; broken[i] == 'A' {
		broken[i] = 'B'
	} else {
		broken[i] = 'A'
	}
	return broken
}

// resignIndex returns a signed index of project (as signed before) edited
// and signed again with the log's key: signed evidence of a misbehaving
// log.
func resignIndex(t *testing.T, tl *testLog, signed []byte, project string, edit func(*tiles.Index)) []byte {
	t.Helper()
	signer, err := note.NewSigner(tl.skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, _ := note.NewVerifier(tl.vkey)
	x, err := tiles.OpenIndex(signed, verifier, project)
	if err != nil {
		t.Fatal(err)
	}
	edit(&x)
	slices.SortFunc(x.Lines, func(a, b tiles.IndexLine) int { return int(a.Leaf - b.Leaf) })
	out, err := tiles.SignIndex(x, signer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// forgeSHA256 makes the index line of filename carry hexDigest, keeping
// its leaf and filename.
func forgeSHA256(t *testing.T, filename, hexDigest string) func(*tiles.Index) {
	return func(x *tiles.Index) {
		d, err := tiles.ParseHexDigest(hexDigest)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x.Lines {
			if x.Lines[i].Filename == filename {
				x.Lines[i].SHA256 = d
				return
			}
		}
		t.Fatalf("%s is not in the index", filename)
	}
}
