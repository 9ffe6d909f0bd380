package gcs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/pysumdb/pysumdb/publish/gcs"
)

// fakeGCS is fake-gcs-server on 127.0.0.1, reached through a middleman
// that can lose answers and record requests.
type fakeGCS struct {
	server *fakestorage.Server
	url    string
	mm     *middleman
}

func newFakeGCS(tb testing.TB) *fakeGCS {
	tb.Helper()
	server, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(server.Stop)
	return newFront(tb, server)
}

// newFront returns server reached through a middleman of its own.
func newFront(tb testing.TB, server *fakestorage.Server) *fakeGCS {
	mm := &middleman{next: server.HTTPHandler(), loseAnswer: map[string]bool{}, corrupt: map[string]bool{}, uploads: map[string][]int{}}
	front := httptest.NewServer(mm)
	tb.Cleanup(front.Close)
	return &fakeGCS{server: server, url: front.URL, mm: mm}
}

func (f *fakeGCS) createBucket(name string) {
	f.server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
}

// clientOptions point a client at the middleman.
func (f *fakeGCS) clientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(f.url + "/storage/v1/"), option.WithoutAuthentication()}
}

// open opens a store on the fake with cfg, adding the client options.
func (f *fakeGCS) open(tb testing.TB, cfg gcs.Config) *gcs.Store {
	tb.Helper()
	cfg.ClientOptions = f.clientOptions()
	s, err := gcs.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// attrs returns an object's attributes as the GCS API reports them.
func (f *fakeGCS) attrs(tb testing.TB, bucket, name string) *storage.ObjectAttrs {
	tb.Helper()
	client, err := storage.NewClient(context.Background(), f.clientOptions()...)
	if err != nil {
		tb.Fatal(err)
	}
	defer client.Close()
	attrs, err := client.Bucket(bucket).Object(name).Attrs(context.Background())
	if err != nil {
		tb.Fatalf("attributes of %s: %v", name, err)
	}
	return attrs
}

// leaseObject is the lease as stored, read from the server directly.
type leaseObject struct {
	Holder     string    `json:"holder"`
	Expires    time.Time `json:"expires"`
	Generation int64     `json:"-"`
}

func (f *fakeGCS) lease(tb testing.TB, bucket, prefix string) (leaseObject, bool) {
	tb.Helper()
	obj, err := f.server.GetObject(bucket, prefix+".lease")
	if err != nil {
		return leaseObject{}, false
	}
	var l leaseObject
	if err := json.Unmarshal(obj.Content, &l); err != nil {
		tb.Fatalf("lease object %q: %v", obj.Content, err)
	}
	l.Generation = obj.Generation
	return l, true
}

// middleman stands for the network and GCS's front end between the
// client and fake-gcs-server.
type middleman struct {
	next http.Handler

	mu sync.Mutex
	// loseAnswer names the objects whose next upload is carried out but
	// answered 503, as if the answer had been lost; the client retries.
	loseAnswer map[string]bool
	// corrupt names the objects whose next upload has the bytes "intact"
	// in its body changed to "broken" on the way.
	corrupt map[string]bool
	// uploads holds, per object name, the status the server gave to each
	// upload of it (not the one the client saw).
	uploads map[string][]int
	// deletes holds the URL of every DELETE request.
	deletes []*url.URL
	// unreachable refuses every request with 403, without forwarding.
	unreachable bool
}

func (m *middleman) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	unreachable := m.unreachable
	if r.Method == http.MethodDelete {
		m.deletes = append(m.deletes, r.URL)
	}
	m.mu.Unlock()
	if unreachable {
		http.Error(w, "unreachable", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/upload/") {
		m.next.ServeHTTP(w, r)
		return
	}
	name := r.URL.Query().Get("name")
	m.mu.Lock()
	corrupt := m.corrupt[name]
	delete(m.corrupt, name)
	m.mu.Unlock()
	if corrupt {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(bytes.Replace(body, []byte("intact"), []byte("broken"), 1)))
	}
	answer := httptest.NewRecorder()
	m.next.ServeHTTP(answer, r)
	m.mu.Lock()
	m.uploads[name] = append(m.uploads[name], answer.Code)
	lose := m.loseAnswer[name]
	delete(m.loseAnswer, name)
	m.mu.Unlock()
	if lose {
		http.Error(w, `{"error":{"code":503,"message":"answer lost"}}`, http.StatusServiceUnavailable)
		return
	}
	maps.Copy(w.Header(), answer.Header())
	w.WriteHeader(answer.Code)
	w.Write(answer.Body.Bytes())
}

func (m *middleman) loseNextAnswer(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loseAnswer[name] = true
}

func (m *middleman) corruptNextUpload(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.corrupt[name] = true
}

func (m *middleman) uploadStatuses(name string) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.uploads[name]...)
}

func (m *middleman) deleteURLs() []*url.URL {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*url.URL(nil), m.deletes...)
}

func (m *middleman) setUnreachable(unreachable bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unreachable = unreachable
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// waitFor polls cond until it holds; the test's deadline bounds the wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if deadline, ok := t.Deadline(); ok && time.Until(deadline) < time.Second {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
