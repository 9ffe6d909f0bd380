// Package clienttest builds, serves and tampers with logs for the tests of
// package client and of the packages above it (verify, mirror). It is for
// tests only: package client itself must not import it.
package clienttest

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

// Digest returns a made-up sha256 named after s.
func Digest(s string) [32]byte {
	return sha256.Sum256([]byte(s))
}

// DigestOf returns Digest(s) in hex.
func DigestOf(s string) string {
	d := Digest(s)
	return hex.EncodeToString(d[:])
}

// Record is a file of project logged with the digest named after its
// filename.
func Record(project, filename string) sequencer.Record {
	return sequencer.Record{Project: project, Filename: filename, SHA256: Digest(filename), Size: int64(len(filename)), UploadTime: "-"}
}

// Log is a log in a directory, built by the sequencer.
type Log struct {
	// Store holds the log's objects.
	Store *publish.Dir
	// SKey and VKey are the log's signer and verifier keys.
	SKey, VKey string
}

// NewLog builds a log named origin from batches of records, each after a
// batch of 300 synthetic files, so that the files sit in several tiles.
func NewLog(t testing.TB, origin string, batches ...[]sequencer.Record) *Log {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return NewKeyedLog(t, skey, vkey, batches...)
}

// NewKeyedLog is NewLog with the given key.
func NewKeyedLog(t testing.TB, skey, vkey string, batches ...[]sequencer.Record) *Log {
	t.Helper()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := &Log{Store: store, SKey: skey, VKey: vkey}
	for i, b := range batches {
		l.Append(t, seqtest.Records(i*300, 300))
		l.Append(t, b)
	}
	return l
}

// Append sequences records into the log as one batch.
func (l *Log) Append(t testing.TB, records []sequencer.Record) {
	t.Helper()
	if _, err := seqtest.Append(context.Background(), l.Store, l.SKey, records, ""); err != nil {
		t.Fatal(err)
	}
}

// Size returns the log's tree size.
func (l *Log) Size(t testing.TB) int64 {
	t.Helper()
	verifier, _ := note.NewVerifier(l.VKey)
	cp, _, err := tiles.OpenCheckpoint(l.Read(t, tiles.CheckpointKey), verifier)
	if err != nil {
		t.Fatal(err)
	}
	return cp.N
}

// Read returns an object of the log.
func (l *Log) Read(t testing.TB, key string) []byte {
	t.Helper()
	data, _, err := l.Store.Read(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// SequencerProof returns the tlog-proof of leaf that the sequencer wrote
// when the tree had size n (the proofs of leaf's bundle at that size), on
// its own.
func (l *Log) SequencerProof(t testing.TB, leaf, n int64) []byte {
	t.Helper()
	bundle := tiles.BundleOf(leaf, n)
	proofs, err := tiles.SplitProofBundle(l.Read(t, tiles.ProofBundleKey(bundle)), bundle)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tiles.FormatTlogProof(proofs[leaf%tiles.TileWidth])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// LeafOf returns the leaf at which the log's index lists filename.
func (l *Log) LeafOf(t testing.TB, project, filename string) int64 {
	t.Helper()
	verifier, err := note.NewVerifier(l.VKey)
	if err != nil {
		t.Fatal(err)
	}
	x, err := tiles.OpenIndex(l.Read(t, tiles.IndexKey(project)), verifier, project)
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

// Rewrite may change the answer (status and body) for a key.
type Rewrite func(key string, status int, body []byte) (int, []byte)

// Server serves a log over HTTP as `pysumdb serve` does, through a
// middleman that counts requests and can rewrite or refuse answers.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	requests map[string]int
	rewrite  Rewrite
}

// Serve serves l until the test ends.
func Serve(t testing.TB, l *Log) *Server {
	t.Helper()
	s := &Server{requests: map[string]int{}}
	handler := publish.Handler(l.Store, nil)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		s.mu.Lock()
		s.requests[key]++
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

// SetRewrite changes how the middleman answers (nil: honestly).
func (s *Server) SetRewrite(f Rewrite) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rewrite = f
}

// Down makes the server answer 503 to everything.
func (s *Server) Down() {
	s.SetRewrite(func(string, int, []byte) (int, []byte) { return http.StatusServiceUnavailable, nil })
}

// Counts returns and resets the requests per key.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.requests
	s.requests = map[string]int{}
	return c
}

// Replace is a Rewrite answering key with body, and the rest honestly.
func Replace(key string, body []byte) Rewrite {
	return func(k string, status int, b []byte) (int, []byte) {
		if k == key {
			return http.StatusOK, body
		}
		return status, b
	}
}

// OpenLog opens the log at url (or in a directory), with cache (nil for
// none), counting fetches.
func OpenLog(t testing.TB, url, vkey string, cache *client.Cache) (*client.Log, *client.CountingFetcher) {
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

// OpenCache opens the client cache in dir.
func OpenCache(t testing.TB, dir string) *client.Cache {
	t.Helper()
	c, err := client.OpenCache(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// BreakSignature returns a copy of a signed note whose signature no longer
// verifies: one base64 digit of it swapped for another, so that the note
// still parses.
func BreakSignature(signed []byte) []byte {
	broken := slices.Clone(signed)
	if i := len(broken) - 5; broken[i] == 'A' {
		broken[i] = 'B'
	} else {
		broken[i] = 'A'
	}
	return broken
}

// ResignIndex returns a signed index of project (as signed before) edited
// and signed again with the log's key: signed evidence of a misbehaving
// log.
func ResignIndex(t testing.TB, l *Log, signed []byte, project string, edit func(*tiles.Index)) []byte {
	t.Helper()
	signer, err := note.NewSigner(l.SKey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, _ := note.NewVerifier(l.VKey)
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

// ForgeSHA256 is an edit for ResignIndex making the index line of filename
// carry hexDigest, keeping its leaf and filename.
func ForgeSHA256(t testing.TB, filename, hexDigest string) func(*tiles.Index) {
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
