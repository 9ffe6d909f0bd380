package pypi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
)

// logRecorder is a slog handler keeping every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}

// find returns the attributes of every record with message msg.
func (l *logRecorder) find(msg string) []map[string]slog.Value {
	l.mu.Lock()
	defer l.mu.Unlock()
	var found []map[string]slog.Value
	for _, r := range l.records {
		if r.Message != msg {
			continue
		}
		attrs := make(map[string]slog.Value)
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value
			return true
		})
		found = append(found, attrs)
	}
	return found
}

// testConfig is a configuration for srv that doesn't wait: no rate limit,
// millisecond backoff.
func testConfig(srv *fakepypi.Server, logs *logRecorder) pypi.Config {
	return pypi.Config{
		BaseURL:           srv.URL,
		RequestsPerSecond: -1,
		RetryBackoff:      time.Millisecond,
		Timeout:           10 * time.Second,
		Logger:            slog.New(logs),
	}
}

func newClient(t testing.TB, cfg pypi.Config) *pypi.Client {
	t.Helper()
	c, err := pypi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// digestOf is a deterministic sha256 for a filename.
func digestOf(filename string) string {
	d := sha256.Sum256([]byte(filename))
	return hex.EncodeToString(d[:])
}

func add(t testing.TB, srv *fakepypi.Server, projectName, filename string) {
	t.Helper()
	if _, err := srv.AddFile(projectName, fakepypi.File{Filename: filename, Version: "1", SHA256: digestOf(filename), Size: int64(len(filename))}); err != nil {
		t.Fatal(err)
	}
}

// populate adds projects p000..., each with filesPer files.
func populate(t testing.TB, srv *fakepypi.Server, projects, filesPer int) {
	t.Helper()
	for i := range projects {
		for j := range filesPer {
			add(t, srv, fmt.Sprintf("P_%04d", i), fmt.Sprintf("p_%04d-%d.tar.gz", i, j))
		}
	}
}

// recordingTransport wraps http.DefaultTransport, keeping requests and
// response statuses.
type recordingTransport struct {
	mu       sync.Mutex
	requests []*http.Request
	statuses []int
	// edit, if set, changes each request before it is sent.
	edit func(*http.Request)
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if rt.edit != nil {
		req = req.Clone(req.Context())
		rt.edit(req)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.requests = append(rt.requests, req)
	if err == nil {
		rt.statuses = append(rt.statuses, resp.StatusCode)
	}
	return resp, err
}

func (rt *recordingTransport) lastStatus() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.statuses[len(rt.statuses)-1]
}
