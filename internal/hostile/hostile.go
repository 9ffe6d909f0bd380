// Package hostile helps tests run misbehaving HTTP servers: it counts the
// handlers running and the bytes they wrote, and streams endless answers.
package hostile

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Handlers counts the running handlers of a misbehaving test server and
// the body bytes they managed to write, so that a test can wait until the
// client hung up and every handler returned before it measures or changes
// the server. (A WaitGroup can't be waited on while a late request may
// still Add to it.) The zero value is ready to use.
type Handlers struct {
	mu      sync.Mutex
	running int
	idle    sync.Cond
	written atomic.Int64
}

// Serve runs serve as one handler, with a writer that counts the bytes
// written.
func (h *Handlers) Serve(w http.ResponseWriter, serve func(http.ResponseWriter)) {
	h.mu.Lock()
	h.running++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if h.running--; h.running == 0 {
			h.cond().Broadcast()
		}
		h.mu.Unlock()
	}()
	serve(&countingWriter{ResponseWriter: w, n: &h.written})
}

func (h *Handlers) cond() *sync.Cond {
	if h.idle.L == nil {
		h.idle.L = &h.mu
	}
	return &h.idle
}

// Idle waits until no handler runs, then forgets the bytes written so far
// and calls f while no handler can start.
func (h *Handlers) Idle(f func()) {
	h.whenIdle(func() {
		h.written.Store(0)
		f()
	})
}

func (h *Handlers) whenIdle(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.running > 0 {
		h.cond().Wait()
	}
	f()
}

// Settled waits for the handlers to return (the client hung up), failing
// the test if they still run 30 s later, and returns the body bytes
// written.
func (h *Handlers) Settled(t testing.TB) int64 {
	t.Helper()
	done := make(chan struct{})
	go h.whenIdle(func() { close(done) })
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the server is still writing 30 s after the client gave up")
	}
	return h.written.Load()
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Stream writes size bytes of generated data (not stored: a 2 GB answer
// costs the server nothing), until the client hangs up.
func Stream(w http.ResponseWriter, size int64) {
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 2048)
	for size > 0 {
		n := min(size, int64(len(chunk)))
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		size -= n
	}
}

// SparseFile writes the object at key under dir as a file of size bytes
// that takes no room on disk (sparse): an oversized object for the
// readers of a log in a directory to refuse.
func SparseFile(t testing.TB, dir, key string, size int64) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
