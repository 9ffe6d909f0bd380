package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/hostile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// hostileLog is an honest log served over loopback HTTP through a
// middleman that misbehaves as told.
type hostileLog struct {
	dir, skey, vkey, url string

	// handlers counts the middleman's handlers running and the body
	// bytes they managed to write.
	handlers hostile.Handlers

	mu sync.Mutex
	// fault, if set, answers instead of the log; it returns false to let
	// the log answer. n counts the requests of the same key.
	fault    func(w http.ResponseWriter, r *http.Request, key string, n int) bool
	requests map[string]int
}

func newHostileLog(t *testing.T) *hostileLog {
	t.Helper()
	// Never the user's cache: the commands that take --cache-dir get a
	// fresh one.
	t.Setenv(client.CacheDirEnv, t.TempDir())
	h := &hostileLog{dir: t.TempDir(), requests: map[string]int{}}
	store, err := publish.OpenDir(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	h.skey, h.vkey = seqtest.NewKey(t)
	if _, err := seqtest.Append(context.Background(), store, h.skey, seqtest.Records(0, 600), ""); err != nil {
		t.Fatal(err)
	}
	handler := publish.Handler(store, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		h.handlers.Serve(w, func(w http.ResponseWriter) {
			h.mu.Lock()
			h.requests[key]++
			n, fault := h.requests[key], h.fault
			h.mu.Unlock()
			if fault == nil || !fault(w, r, key, n) {
				handler.ServeHTTP(w, r)
			}
		})
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/"
	return h
}

// misbehave sets the fault, once the last command's requests ended,
// resetting the counts.
func (h *hostileLog) misbehave(fault func(w http.ResponseWriter, r *http.Request, key string, n int) bool) {
	h.handlers.Idle(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.fault = fault
		h.requests = map[string]int{}
	})
}

// requestCount returns the requests served since misbehave.
func (h *hostileLog) requestCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, k := range h.requests {
		n += k
	}
	return n
}

// settled waits for the middleman's handlers to end (the client hung up)
// and returns the body bytes they wrote.
func (h *hostileLog) settled(t *testing.T) int64 { return h.handlers.Settled(t) }

// hostileRun runs the command line args and returns its exit status,
// output, and the bytes the process allocated meanwhile. A command that
// does not end within a minute fails the test (it would spin).
func hostileRun(t *testing.T, args ...string) (status int, stdout, stderr string, alloc uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan int, 1)
	go func() { done <- runContext(ctx, args, &out, &errOut) }()
	select {
	case status = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("pysumdb %s still runs after 2 minutes", strings.Join(args, " "))
	}
	if ctx.Err() != nil {
		t.Fatalf("pysumdb %s ran for a minute (exit %d): %s", strings.Join(args, " "), status, errOut.String())
	}
	runtime.ReadMemStats(&after)
	return status, out.String(), errOut.String(), after.TotalAlloc - before.TotalAlloc
}

const twoGB = 2 << 30

// TestHostileServerLookup runs lookup against a log server that serves
// oversized, endless, gzip-bombed, redirecting, failing and lying answers:
// every run ends with the right exit status, having allocated about the
// bound of the object at most; only a lie the checkpoint proves is a
// SECURITY ERROR.
func TestHostileServerLookup(t *testing.T) {
	h := newHostileLog(t)

	// A gzip bomb: 2 GB of zeros in 2 MB, as members of 1 MiB.
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	bomb := bytes.NewBuffer(bytes.Repeat(member.Bytes(), twoGB>>20))
	hashTile, err := os.ReadFile(filepath.Join(h.dir, "tile/0/000"))
	if err != nil {
		t.Fatal(err)
	}
	lyingTile := bytes.Clone(hashTile)
	lyingTile[0] ^= 1

	tests := []struct {
		name   string
		fault  func(w http.ResponseWriter, r *http.Request, key string, n int) bool
		status int
		stderr string
		// bound, if set, bounds the bytes the server could write and
		// the process could allocate: about the bound of the object
		// served.
		bound int64
	}{
		{
			name:   "honest",
			status: 0,
		},
		{
			name: "endless index",
			fault: func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				if !strings.HasPrefix(key, "index/") {
					return false
				}
				hostile.Stream(w, 1<<62)
				return true
			},
			status: 1,
			stderr: fmt.Sprintf("object index/project-1 larger than %d bytes", tiles.MaxIndexSize),
			bound:  tiles.MaxIndexSize,
		},
		{
			name: "2 GB tiles",
			fault: func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				if !strings.HasPrefix(key, "tile/") {
					return false
				}
				w.Header().Set("Content-Length", strconv.Itoa(twoGB))
				hostile.Stream(w, twoGB)
				return true
			},
			status: 1,
			stderr: "larger than",
			bound:  tiles.MaxBundleSize,
		},
		{
			name: "gzip bomb checkpoint",
			fault: func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				if key != tiles.CheckpointKey {
					return false
				}
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(bomb.Bytes())
				return true
			},
			status: 1,
			stderr: fmt.Sprintf("object checkpoint larger than %d bytes", tiles.MaxCheckpointSize),
			bound:  int64(bomb.Len()),
		},
		{
			name: "gzip bomb index",
			fault: func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				if !strings.HasPrefix(key, "index/") {
					return false
				}
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(bomb.Bytes())
				return true
			},
			status: 1,
			stderr: fmt.Sprintf("object index/project-1 larger than %d bytes", tiles.MaxIndexSize),
			bound:  tiles.MaxIndexSize,
		},
		{
			name: "redirect loop",
			fault: func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				http.Redirect(w, r, r.URL.Path, http.StatusFound)
				return true
			},
			status: 1,
			stderr: "stopped after 5 redirects",
		},
		{
			name: "503 then the log",
			fault: func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				if n > 2 {
					return false
				}
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return true
			},
			status: 0,
		},
		{
			name: "429 with Retry-After then the log",
			fault: func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				if key != tiles.CheckpointKey || n > 1 {
					return false
				}
				w.Header().Set("Retry-After", "1")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return true
			},
			status: 0,
		},
		{
			// Of the right size, the wrong content: proven wrong by the
			// checkpoint, so signed evidence.
			name: "lying hash tile",
			fault: func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				if key != "tile/0/000" {
					return false
				}
				w.Write(lyingTile)
				return true
			},
			status: 3,
			stderr: "SECURITY ERROR",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.misbehave(tt.fault)
			status, stdout, stderr, alloc := hostileRun(t, "lookup", "--log", h.url, "--vkey", h.vkey, "--cache-dir", t.TempDir(), "project-1")
			if status != tt.status || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d; stderr %q, want %q", status, tt.status, stderr, tt.stderr)
			}
			if tt.status == 0 && !strings.Contains(stdout, "project_1-1.0-py3-none-any.whl sha256:") {
				t.Errorf("stdout %q", stdout)
			}
			if tt.status != 3 && strings.Contains(stderr, "SECURITY ERROR") {
				t.Errorf("a failure to read the log is not a SECURITY ERROR: %s", stderr)
			}
			written := h.settled(t)
			requests := h.requestCount()
			t.Logf("exit %d, %d requests, server wrote %d bytes, process allocated %d", status, requests, written, alloc)
			if tt.bound > 0 {
				// The objects a proof needs are fetched at once: each
				// request may fill the socket buffers before the client
				// refuses it and hangs up.
				if written > int64(requests)*(2*tt.bound+16<<20) {
					t.Errorf("the server wrote %d bytes in %d requests before the client gave up (bound of the object %d)", written, requests, tt.bound)
				}
				if alloc > uint64(3*tt.bound+64<<20) {
					t.Errorf("lookup allocated %d bytes (bound of the object %d)", alloc, tt.bound)
				}
			}
		})
	}
}

// TestAbsurdTreeSize serves checkpoints signed with the log's own key that
// claim absurd tree sizes (a misbehaving log): lookup, verify and audit
// refuse them promptly, without spinning or allocating in proportion to
// the claim. A size above tiles.MaxTreeSize (2^62 made x/mod's tlog loop
// for ever) is refused when parsed, a SECURITY ERROR. A size within it
// (2^33) can only be proven false by the tiles it needs: if the log
// serves none, that is a failure to read it (exit 1), as for any missing
// tile; if it serves made-up ones, they don't hash to the root, a
// SECURITY ERROR.
func TestAbsurdTreeSize(t *testing.T) {
	h := newHostileLog(t)
	signer, err := note.NewSigner(h.skey)
	if err != nil {
		t.Fatal(err)
	}
	honest, err := os.ReadFile(filepath.Join(h.dir, tiles.CheckpointKey))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(h.vkey)
	cp, _, err := tiles.OpenCheckpoint(honest, v)
	if err != nil {
		t.Fatal(err)
	}
	reqs := filepath.Join(t.TempDir(), "requirements.txt")
	// seqtest.Records(0, 600)[1]: project-1 1.0, sha256 of 2.
	if err := os.WriteFile(reqs, fmt.Appendf(nil, "project-1==1.0 --hash=sha256:%064x\n", 2), 0o644); err != nil {
		t.Fatal(err)
	}
	// The commands, each with a cache that holds the honest checkpoint
	// once the honest log passed: the absurd one must also be proven
	// consistent with it.
	commands := map[string][]string{
		"lookup": {"lookup", "--log", h.url, "--vkey", h.vkey, "--cache-dir", t.TempDir(), "project-1"},
		"verify": {"verify", reqs, "--log", h.url, "--vkey", h.vkey, "--cache-dir", t.TempDir()},
		"audit":  {"audit", "--log", h.url, "--vkey", h.vkey},
	}
	for name, args := range commands {
		if status, stdout, stderr, _ := hostileRun(t, args...); status != 0 {
			t.Fatalf("%s of the honest log: exit %d\n%s%s", name, status, stdout, stderr)
		}
	}
	// Without a cache too: the claim is checked by inclusion proofs only.
	commands["lookup (no cache)"] = []string{"lookup", "--log", h.url, "--vkey", h.vkey, "--cache-dir", t.TempDir(), "project-1"}
	commands["verify (no cache)"] = []string{"verify", reqs, "--log", h.url, "--vkey", h.vkey, "--cache-dir", t.TempDir()}

	// madeUp answers a tile or bundle the log lacks with one of the size
	// its path gives: hashes of zeros, or empty entries.
	madeUp := func(w http.ResponseWriter, key string) bool {
		tile, err := tiles.ParseTilePath(key)
		if err != nil {
			return false
		}
		if _, err := os.Stat(filepath.Join(h.dir, filepath.FromSlash(key))); err == nil {
			return false
		}
		if tile.L == -1 {
			w.Write(make([]byte, 2*tile.W))
		} else {
			w.Write(make([]byte, 32*tile.W))
		}
		return true
	}

	for _, tt := range []struct {
		size        int64
		madeUpTiles bool
		status      int
	}{
		{1 << 62, false, 3},
		{1<<62 + 1, false, 3},
		{1<<63 - 1, false, 3},
		{tiles.MaxTreeSize + 1, false, 3},
		{1 << 33, false, 1},
		{1 << 33, true, 3},
	} {
		absurd := cp
		absurd.N = tt.size
		signed, err := note.Sign(&note.Note{Text: string(tiles.FormatCheckpoint(absurd))}, signer)
		if err != nil {
			t.Fatal(err)
		}
		h.misbehave(func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
			if key == tiles.CheckpointKey {
				w.Write(signed)
				return true
			}
			return tt.madeUpTiles && madeUp(w, key)
		})
		for _, name := range []string{"lookup", "lookup (no cache)", "verify", "verify (no cache)", "audit"} {
			if name == "audit" && tt.madeUpTiles {
				// An audit reads every bundle of the tree it is given:
				// 2^25 made-up ones here. Not run.
				continue
			}
			t.Run(fmt.Sprintf("%s/%d/made-up-tiles=%v", name, tt.size, tt.madeUpTiles), func(t *testing.T) {
				status, stdout, stderr, alloc := hostileRun(t, commands[name]...)
				t.Logf("exit %d, allocated %d bytes; stderr: %s", status, alloc, stderr)
				if status != tt.status || (status == 3) != strings.Contains(stderr, "SECURITY ERROR") {
					t.Errorf("exit %d, want %d\n%s%s", status, tt.status, stdout, stderr)
				}
				if alloc > 64<<20 {
					t.Errorf("allocated %d bytes", alloc)
				}
			})
		}
	}
}
