package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pysumdb/pysumdb/internal/hostile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// The tests of this file are not parallel: they measure what the process
// allocates while one fetch runs.

// hostileServer is a loopback HTTP server whose handler misbehaves. It
// counts the requests and the body bytes it managed to write, and its
// handlers run until the client hangs up.
type hostileServer struct {
	*httptest.Server
	requests atomic.Int64
	handlers hostile.Handlers
}

func newHostileServer(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, n int64)) *hostileServer {
	t.Helper()
	s := &hostileServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handlers.Serve(w, func(w http.ResponseWriter) { handler(w, r, s.requests.Add(1)) })
	}))
	t.Cleanup(s.Close)
	return s
}

// settled waits for the handlers to return (the client hung up) and
// returns the body bytes written.
func (s *hostileServer) settled(t *testing.T) int64 { return s.handlers.Settled(t) }

const twoGB = 2 << 30

// fastFetcher returns a fetcher of s with short timeouts and backoff, so
// that the tests of failures run fast.
func fastFetcher(t *testing.T, s *hostileServer) *HTTPFetcher {
	t.Helper()
	h, err := NewHTTPFetcher(s.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Long enough for a loaded machine to read 64 MiB without a pause
	// that long; TestFetchStalls shortens it.
	h.stallTimeout = 5 * time.Second
	h.objectTimeout = 20 * time.Second
	h.retryBackoff = time.Millisecond
	h.maxRetryAfter = 10 * time.Millisecond
	return h
}

// allocated runs f and returns the bytes the process allocated meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkTooLarge checks that err is a TooLargeError for key with the
// bound of key's kind, and no security error.
func checkTooLarge(t *testing.T, err error, key string) {
	t.Helper()
	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want a TooLargeError", err)
	}
	if tl.Key != key || tl.Max != tiles.MaxObjectSize(key) {
		t.Fatalf("TooLargeError{%s, %d}, want {%s, %d}", tl.Key, tl.Max, key, tiles.MaxObjectSize(key))
	}
	if want := fmt.Sprintf("object %s larger than %d bytes", key, tl.Max); !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
	if IsSecurityError(err) || errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v: an object too large is a failure to read, not evidence or absence", err)
	}
}

// TestFetchEndlessBodies serves 2 GB (and endless) answers for objects of
// every kind: the fetch fails once it has read the object's bound, without
// retrying, having allocated about the bound, and the server could write
// little more than the bound before the client hung up.
func TestFetchEndlessBodies(t *testing.T) {
	for _, key := range []string{"tile/0/000", "tile/entries/000", "tile/0/x001/000.p/7", "checkpoint", ".well-known/bt/tlog-key", "index/foo", "projects/fo", "alarms/x.json"} {
		for _, announce := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/content-length=%v", key, announce), func(t *testing.T) {
				s := newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
					if announce {
						w.Header().Set("Content-Length", strconv.Itoa(twoGB))
					}
					hostile.Stream(w, twoGB)
				})
				h := fastFetcher(t, s)
				var err error
				alloc := allocated(func() { _, err = h.Fetch(context.Background(), key) })
				checkTooLarge(t, err, key)
				limit := tiles.MaxObjectSize(key)
				written := s.settled(t)
				t.Logf("bound %d: allocated %d bytes, the server wrote %d", limit, alloc, written)
				if written > 2*limit+8<<20 {
					t.Errorf("the server wrote %d bytes before the client gave up (bound %d)", written, limit)
				}
				// Reading grows a buffer by doubling: twice the bound in
				// all, and a little for HTTP.
				if alloc > uint64(2*limit+4<<20) {
					t.Errorf("the fetch allocated %d bytes (bound %d)", alloc, limit)
				}
				if announce && alloc > 1<<20 {
					t.Errorf("the fetch allocated %d bytes: an announced size beyond the bound is refused before reading", alloc)
				}
				if n := s.requests.Load(); n != 1 {
					t.Errorf("%d requests: an object too large must not be fetched again", n)
				}
			})
		}
	}
}

// TestFetchAtTheBound checks the bound exactly: an object of its kind's
// largest size is read, one byte more is refused.
func TestFetchAtTheBound(t *testing.T) {
	for _, key := range []string{"tile/0/000", "tile/1/000.p/3", "checkpoint", "tile/entries/000.p/2"} {
		limit := tiles.MaxObjectSize(key)
		for _, size := range []int64{limit, limit + 1} {
			for _, announce := range []bool{false, true} {
				s := newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
					if announce {
						w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
					}
					hostile.Stream(w, size)
				})
				data, err := fastFetcher(t, s).Fetch(context.Background(), key)
				if size > limit {
					checkTooLarge(t, err, key)
				} else if err != nil || int64(len(data)) != size {
					t.Errorf("%s of %d bytes (the bound): %d bytes, %v", key, size, len(data), err)
				}
			}
		}
	}
}

// gzipBomb returns a small gzip stream that decompresses to size bytes of
// zeros: one member of 1 MiB (1 KiB compressed), repeated (a gzip stream
// may hold several members, which decompress one after the other).
func gzipBomb(size int64) []byte {
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	return bytes.Repeat(member.Bytes(), int(size>>20))
}

// TestFetchGzipBomb serves a 2 GB gzip bomb of about 2 MB, with and
// without Content-Encoding: the decompressed size is what is bounded, and
// gzip that was not announced is not decompressed at all.
func TestFetchGzipBomb(t *testing.T) {
	bomb := gzipBomb(twoGB)
	t.Logf("gzip bomb: %d bytes, %d decompressed", len(bomb), int64(twoGB))
	for _, key := range []string{"tile/0/000", "index/foo"} {
		t.Run(key, func(t *testing.T) {
			s := newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
				if r.Header.Get("Accept-Encoding") != "gzip" {
					t.Errorf("Accept-Encoding %q", r.Header.Get("Accept-Encoding"))
				}
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(bomb)
			})
			h := fastFetcher(t, s)
			var err error
			alloc := allocated(func() { _, err = h.Fetch(context.Background(), key) })
			checkTooLarge(t, err, key)
			if limit := tiles.MaxObjectSize(key); alloc > uint64(2*limit+4<<20) {
				t.Errorf("the fetch allocated %d bytes (bound %d)", alloc, limit)
			}
			if n := s.requests.Load(); n != 1 {
				t.Errorf("%d requests", n)
			}
		})
	}

	// Unannounced, the bomb is an object of 2 MB, not decompressed: too
	// large for a tile, and returned as sent for an index (whose
	// signature check then fails).
	s := newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(bomb)
	})
	h := fastFetcher(t, s)
	_, err := h.Fetch(context.Background(), "tile/0/000")
	checkTooLarge(t, err, "tile/0/000")
	var data []byte
	alloc := allocated(func() { data, err = h.Fetch(context.Background(), "index/foo") })
	if err != nil || !bytes.Equal(data, bomb) {
		t.Fatalf("unannounced gzip: %d bytes, %v; want the %d bytes sent", len(data), err, len(bomb))
	}
	if alloc > 4*uint64(len(bomb))+8<<20 {
		t.Errorf("the fetch allocated %d bytes for %d", alloc, len(bomb))
	}
}

// TestFetchGzip checks that an honest gzip answer is decompressed, and that
// an endless run of empty gzip members (which decompress to nothing) is
// bounded by its compressed size.
func TestFetchGzip(t *testing.T) {
	want := bytes.Repeat([]byte("some index line\n"), 1000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(want)
	zw.Close()
	var empty bytes.Buffer
	zw = gzip.NewWriter(&empty)
	zw.Close()
	s := newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		w.Header().Set("Content-Encoding", "gzip")
		if r.URL.Path == "/index/foo" {
			w.Write(gz.Bytes())
			return
		}
		for {
			if _, err := w.Write(bytes.Repeat(empty.Bytes(), 1000)); err != nil {
				return
			}
		}
	})
	h := fastFetcher(t, s)
	data, err := h.Fetch(context.Background(), "index/foo")
	if err != nil || !bytes.Equal(data, want) {
		t.Fatalf("gzip answer: %d bytes, %v; want %d bytes", len(data), err, len(want))
	}
	_, err = h.Fetch(context.Background(), "tile/0/000")
	checkTooLarge(t, err, "tile/0/000")
	if written := s.settled(t); written > 16<<20 {
		t.Errorf("the server wrote %d bytes of empty gzip members", written)
	}

	// Another encoding than the one asked for is refused.
	s = newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		w.Header().Set("Content-Encoding", "br")
		w.Write([]byte("whatever"))
	})
	if _, err := fastFetcher(t, s).Fetch(context.Background(), "checkpoint"); err == nil || !strings.Contains(err.Error(), `unsupported Content-Encoding "br"`) || s.requests.Load() != 1 {
		t.Fatalf("Content-Encoding br: %v after %d requests", err, s.requests.Load())
	}
}

// TestFetchStalls checks that an answer that stops coming (before its
// headers, or in its body) is abandoned, and tried again.
func TestFetchStalls(t *testing.T) {
	for _, where := range []string{"headers", "body"} {
		t.Run(where, func(t *testing.T) {
			s := newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
				if where == "body" {
					w.Write([]byte("0123456789"))
					w.(http.Flusher).Flush()
				}
				<-r.Context().Done()
			})
			h := fastFetcher(t, s)
			h.stallTimeout = 200 * time.Millisecond
			h.tries = 3
			_, err := h.Fetch(context.Background(), "tile/0/000")
			if err == nil || !strings.Contains(err.Error(), "nothing received for 200ms") || IsSecurityError(err) {
				t.Fatalf("err = %v, want a stall", err)
			}
			if n := s.requests.Load(); n != 3 {
				t.Errorf("%d requests, want 3 (a stall is tried again)", n)
			}
		})
	}
}

// TestFetchDrip checks that an answer that keeps coming, a byte at a time,
// is abandoned at the object's deadline.
func TestFetchDrip(t *testing.T) {
	s := newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	h := fastFetcher(t, s)
	h.objectTimeout = 300 * time.Millisecond
	_, err := h.Fetch(context.Background(), "tile/0/000")
	if err == nil || !strings.Contains(err.Error(), "not complete after 300ms") || IsSecurityError(err) {
		t.Fatalf("err = %v, want the object's deadline", err)
	}
	s.settled(t)
}

// TestFetchRedirects checks that redirects are followed, a few.
func TestFetchRedirects(t *testing.T) {
	s := newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		switch r.URL.Path {
		case "/loop/checkpoint":
			http.Redirect(w, r, "/loop/checkpoint", http.StatusFound)
		case "/hops/checkpoint":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if n < MaxRedirects {
				http.Redirect(w, r, fmt.Sprintf("/hops/checkpoint?n=%d", n+1), http.StatusMovedPermanently)
				return
			}
			w.Write([]byte("arrived"))
		}
	})
	h := fastFetcher(t, s)
	h.base = s.URL + "/loop/"
	_, err := h.Fetch(context.Background(), "checkpoint")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("stopped after %d redirects", MaxRedirects)) || IsSecurityError(err) {
		t.Fatalf("redirect loop: err = %v", err)
	}
	if n := s.requests.Load(); n != MaxRedirects+1 {
		t.Errorf("redirect loop: %d requests, want %d (not tried again)", n, MaxRedirects+1)
	}
	h.base = s.URL + "/hops/"
	if data, err := h.Fetch(context.Background(), "checkpoint"); err != nil || string(data) != "arrived" {
		t.Fatalf("%d redirects: %q, %v", MaxRedirects, data, err)
	}
}

// TestFetchRetries checks which answers are tried again, how often, and
// the waits.
func TestFetchRetries(t *testing.T) {
	// failing answers the first n requests with status and header.
	failing := func(n int64, status int, header ...string) func(w http.ResponseWriter, r *http.Request, i int64) {
		return func(w http.ResponseWriter, r *http.Request, i int64) {
			if i <= n {
				for j := 0; j < len(header); j += 2 {
					w.Header().Set(header[j], header[j+1])
				}
				w.WriteHeader(status)
				return
			}
			w.Write([]byte("ok"))
		}
	}
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusBadGateway, http.StatusTooManyRequests, http.StatusRequestTimeout} {
		s := newHostileServer(t, failing(DefaultTries-1, status))
		h := fastFetcher(t, s)
		var waits []time.Duration
		h.onRetry = func(_ error, wait time.Duration) { waits = append(waits, wait) }
		data, err := h.Fetch(context.Background(), "checkpoint")
		if err != nil || string(data) != "ok" || s.requests.Load() != DefaultTries {
			t.Errorf("%d, then ok: %q, %v after %d requests", status, data, err, s.requests.Load())
		}
		// Exponential backoff with ±50% jitter from 1 ms.
		for i, w := range waits {
			if lo, hi := time.Duration(1<<i)*time.Millisecond/2, time.Duration(1<<i)*time.Millisecond*3/2; w < lo || w > hi {
				t.Errorf("%d: wait %d = %v, want in [%v, %v]", status, i, w, lo, hi)
			}
		}
		if len(waits) != DefaultTries-1 {
			t.Errorf("%d: %d waits", status, len(waits))
		}
	}

	// Down for good: the tries are bounded, and the error is a failure.
	s := newHostileServer(t, failing(1000, http.StatusServiceUnavailable))
	_, err := fastFetcher(t, s).Fetch(context.Background(), "checkpoint")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("(%d tries): 503 Service Unavailable", DefaultTries)) || IsSecurityError(err) || s.requests.Load() != DefaultTries {
		t.Errorf("always 503: %v after %d requests", err, s.requests.Load())
	}

	// Not tried again: 404, other answers.
	for status, want := range map[int]error{http.StatusNotFound: ErrNotFound, http.StatusForbidden: nil, http.StatusBadRequest: nil} {
		s := newHostileServer(t, failing(1, status))
		_, err := fastFetcher(t, s).Fetch(context.Background(), "checkpoint")
		if err == nil || s.requests.Load() != 1 || want != nil && !errors.Is(err, want) || want == nil && errors.Is(err, ErrNotFound) {
			t.Errorf("%d: %v after %d requests, want one request", status, err, s.requests.Load())
		}
	}

	// Retry-After is honoured, up to its bound.
	for _, tt := range []struct {
		header string
		want   time.Duration
	}{
		{"0", 0},
		{"1", time.Second},
		{"3600", time.Minute},
		{time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), time.Minute},
	} {
		s := newHostileServer(t, failing(1, http.StatusTooManyRequests, "Retry-After", tt.header))
		h := fastFetcher(t, s)
		h.maxRetryAfter = time.Minute
		h.objectTimeout = 2 * time.Minute
		ctx, cancel := context.WithCancel(context.Background())
		var waits []time.Duration
		h.onRetry = func(_ error, wait time.Duration) {
			waits = append(waits, wait)
			if wait > time.Second {
				// Not sat through: known is enough.
				cancel()
			}
		}
		_, err := h.Fetch(ctx, "checkpoint")
		cancel()
		if tt.want <= time.Second && err != nil {
			t.Errorf("Retry-After %s: %v", tt.header, err)
		}
		if len(waits) != 1 || waits[0] != tt.want {
			t.Errorf("Retry-After %s: waits %v, want [%v]", tt.header, waits, tt.want)
		}
	}
}

// TestFetchCancel checks that a fetch ends when its context does, even
// while the server stalls and before any retry.
func TestFetchCancel(t *testing.T) {
	s := newHostileServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) { <-r.Context().Done() })
	h := fastFetcher(t, s)
	h.stallTimeout = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := h.Fetch(ctx, "checkpoint"); !errors.Is(err, context.DeadlineExceeded) || s.requests.Load() != 1 {
		t.Fatalf("err = %v after %d requests, want the context's", err, s.requests.Load())
	}
}

// TestDirFetcherBounds checks that objects in a directory are bounded
// too: a 2 GB (sparse) file; a file that is no regular file, refused
// before it is opened (a pipe would block the open); a symbolic link out
// of the directory, not followed.
func TestDirFetcherBounds(t *testing.T) {
	dir := t.TempDir()
	write := func(key string, size int64) { hostile.SparseFile(t, dir, key, size) }
	write("tile/0/000", twoGB)
	write("index/foo", twoGB)
	write("tile/0/001", tiles.MaxHashTileSize)
	write("tile/0/002", tiles.MaxHashTileSize+1)
	write("sequencer/state", 2<<20)
	if err := syscall.Mkfifo(filepath.Join(dir, "checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "index/zero")); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "index/dir"), 0o755)

	f := DirFetcher(dir)
	ctx := context.Background()
	for _, key := range []string{"tile/0/000", "index/foo"} {
		var err error
		alloc := allocated(func() { _, err = f.Fetch(ctx, key) })
		checkTooLarge(t, err, key)
		if alloc > 1<<20 {
			t.Errorf("%s: allocated %d bytes to refuse it", key, alloc)
		}
	}
	if _, err := f.Fetch(ctx, "checkpoint"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("checkpoint, a named pipe: %v", err)
	}
	if _, err := f.Fetch(ctx, "index/zero"); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "escapes") {
		t.Errorf("index/zero linked to /dev/zero: %v, want a link out of the directory refused", err)
	}
	if data, err := f.Fetch(ctx, "tile/0/001"); err != nil || len(data) != tiles.MaxHashTileSize {
		t.Errorf("tile of the largest size: %d bytes, %v", len(data), err)
	}
	_, err := f.Fetch(ctx, "tile/0/002")
	checkTooLarge(t, err, "tile/0/002")
	// The sequencer's state, which a mirror copies, is not one of the
	// log's objects and has its own bound.
	if data, err := f.Fetch(ctx, "sequencer/state"); err != nil || len(data) != 2<<20 {
		t.Errorf("sequencer/state: %d bytes, %v", len(data), err)
	}
	for _, key := range []string{"tile/0/003", "index/dir", "tile/0/001/x"} {
		if _, err := f.Fetch(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", key, err)
		}
	}
	if _, err := DirFetcher(filepath.Join(dir, "none")).Fetch(ctx, "checkpoint"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a directory that doesn't exist: err = %v, want ErrNotFound", err)
	}
}

// TestFSFetcher checks a log read through any fs.FS: a missing object is
// ErrNotFound, a file that is no regular file is refused, and List returns
// the keys under a prefix sorted, without hidden files but .well-known.
func TestFSFetcher(t *testing.T) {
	fsys := fstest.MapFS{
		"checkpoint":              {Data: []byte("cp")},
		"a-b":                     {Data: []byte("x")},
		"tile/0/000":              {Data: []byte("t0")},
		"tile/0/000.p/5":          {Data: []byte("t0p")},
		"tile/0-x":                {Data: []byte("t")},
		"tile/entries/000":        {Data: []byte("e0")},
		"tile/.tmp-1":             {Data: []byte("tmp")},
		".tmp/00/x":               {Data: []byte("tmp")},
		".lease":                  {Data: []byte("lease")},
		".well-known/bt/tlog-key": {Data: []byte("key")},
		"index/dev":               {Mode: fs.ModeDevice | fs.ModeCharDevice},
	}
	f := FSFetcher{fsys}
	ctx := context.Background()
	if data, err := f.Fetch(ctx, "tile/0/000"); err != nil || string(data) != "t0" {
		t.Errorf("tile/0/000: %q, %v", data, err)
	}
	for _, key := range []string{"tile/0/001", "tile", "checkpoint/x"} {
		if _, err := f.Fetch(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", key, err)
		}
	}
	if _, err := f.Fetch(ctx, "index/dev"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("index/dev, a device: %v", err)
	}
	if _, err := f.Fetch(ctx, "../checkpoint"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("../checkpoint: %v, want an invalid key", err)
	}
	for prefix, want := range map[string][]string{
		"":             {".well-known/bt/tlog-key", "a-b", "checkpoint", "index/dev", "tile/0-x", "tile/0/000", "tile/0/000.p/5", "tile/entries/000"},
		"tile/":        {"tile/0-x", "tile/0/000", "tile/0/000.p/5", "tile/entries/000"},
		"tile/0/":      {"tile/0/000", "tile/0/000.p/5"},
		"tile/entr":    {"tile/entries/000"},
		"index/dev/":   nil,
		"projects/":    nil,
		".well-known/": {".well-known/bt/tlog-key"},
	} {
		got, err := f.List(ctx, prefix)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, %v, want %q", prefix, got, err, want)
		}
	}
}

// TestDirFetcherListsAsTheStore checks that a DirFetcher lists what
// publish.Dir lists.
func TestDirFetcherListsAsTheStore(t *testing.T) {
	dir := t.TempDir()
	store, err := publish.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"checkpoint", "tile/0/000", "tile/0/000.p/5", "tile/entries/000", "index/foo", "projects/fo", ".well-known/bt/tlog-key", "sequencer/state", "alarms/x"} {
		if err := store.Create(ctx, key, []byte(key)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Swap(ctx, "index/bar", publish.NoVersion, []byte("bar")); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"", "tile/", "tile/0/", "index/", "index/f", "projects/", "sequencer/", "alarms/", "nothing/"} {
		want, err := store.List(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DirFetcher(dir).List(ctx, prefix)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, %v; the store lists %q", prefix, got, err, want)
		}
	}
}
