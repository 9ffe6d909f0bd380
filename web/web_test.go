package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/web"
)

const testVKey = "pysumdb.test/log+3b6ec1a6+AWsdKl4FUO3VgYxA4T2cKQDXAvvzQ3HHE3zQ/yB3Ckg4"

// recording is a store that records the keys written, in order.
type recording struct {
	publish.Store
	mu      sync.Mutex
	written []string
}

func (r *recording) Swap(ctx context.Context, key string, old publish.Version, data []byte) (publish.Version, error) {
	v, err := r.Store.Swap(ctx, key, old, data)
	if err == nil {
		r.mu.Lock()
		r.written = append(r.written, key)
		r.mu.Unlock()
	}
	return v, err
}

func (r *recording) Create(ctx context.Context, key string, data []byte) error {
	r.mu.Lock()
	r.written = append(r.written, "create "+key)
	r.mu.Unlock()
	return r.Store.Create(ctx, key, data)
}

func newStore(t *testing.T) *publish.Dir {
	t.Helper()
	d, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func pageFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(web.Files, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestPublishWritesThePageOnce: every file and the configuration are
// written, the page last; publishing again writes nothing; a file that
// differs in the store, or another key, is replaced.
func TestPublishWritesThePageOnce(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	rec := &recording{Store: store}
	if err := web.Publish(ctx, rec, testVKey); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	var want []string
	for _, name := range pageFiles(t) {
		want = append(want, publish.WebPrefix+name)
	}
	want = append(want, web.ConfigKey)
	if got := slices.Sorted(slices.Values(rec.written)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if len(rec.written) == 0 || rec.written[len(rec.written)-1] != publish.WebIndex {
		t.Errorf("wrote %q: the page not last", rec.written)
	}
	for _, name := range pageFiles(t) {
		data, _, err := store.Read(ctx, publish.WebPrefix+name)
		embedded, _ := fs.ReadFile(web.Files, name)
		if err != nil || !bytes.Equal(data, embedded) {
			t.Errorf("%s in the store: %d bytes, %v; want the %d embedded", name, len(data), err, len(embedded))
		}
	}
	data, _, err := store.Read(ctx, web.ConfigKey)
	if err != nil {
		t.Fatal(err)
	}
	var config map[string]any
	if err := json.Unmarshal(data, &config); err != nil {
		t.Fatalf("config.json %q: %v", data, err)
	}
	if want := map[string]any{"vkey": testVKey, "log": "../"}; !mapsEqual(config, want) {
		t.Errorf("config.json = %s, want %v", data, want)
	}

	// Again: nothing written.
	counting := &publish.Counting{Store: store}
	if err := web.Publish(ctx, counting, testVKey); err != nil {
		t.Fatalf("Publish again: %v", err)
	}
	if n, _ := counting.Written(); n != 0 {
		t.Errorf("publishing the same page again wrote %d objects", n)
	}

	// A file changed in the store and another key: both replaced, and
	// nothing else.
	_, v, _ := store.Read(ctx, publish.WebPrefix+"style.css")
	if _, err := store.Swap(ctx, publish.WebPrefix+"style.css", v, []byte("body{}")); err != nil {
		t.Fatal(err)
	}
	rec = &recording{Store: store}
	const otherKey = "pysumdb.test/log+01234567+AWsdKl4FUO3VgYxA4T2cKQDXAvvzQ3HHE3zQ/yB3Ckg4"
	if err := web.Publish(ctx, rec, otherKey); err != nil {
		t.Fatal(err)
	}
	if want := []string{web.ConfigKey, publish.WebPrefix + "style.css"}; !slices.Equal(rec.written, want) {
		t.Errorf("wrote %q, want %q", rec.written, want)
	}
	if data, _, _ := store.Read(ctx, web.ConfigKey); !bytes.Contains(data, []byte(otherKey)) {
		t.Errorf("config.json = %s, want the key %s", data, otherKey)
	}
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestPublishRefusesABadKey(t *testing.T) {
	for _, vkey := range []string{"", "key\nwith a newline"} {
		if err := web.Publish(context.Background(), newStore(t), vkey); err == nil {
			t.Errorf("Publish with key %q succeeded", vkey)
		}
	}
}

// TestPublishedPageIsServed: the page published in a store comes back
// from publish.Handler as a browser needs it, the verifier as
// application/wasm included (however large it is).
func TestPublishedPageIsServed(t *testing.T) {
	store := newStore(t)
	if err := web.Publish(context.Background(), store, testVKey); err != nil {
		t.Fatal(err)
	}
	h := publish.Handler(store, nil)
	types := map[string]string{
		".html": "text/html", ".js": "text/javascript", ".css": "text/css",
		".wasm": "application/wasm", ".json": "application/json",
	}
	for _, name := range append(pageFiles(t), "config.json") {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/web/"+name, nil))
		ext := name[strings.LastIndex(name, "."):]
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), types[ext]) || types[ext] == "" {
			t.Errorf("GET /web/%s: %d, Content-Type %q", name, w.Code, w.Header().Get("Content-Type"))
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/web/", nil))
	if page, _ := fs.ReadFile(web.Files, "index.html"); w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), page) {
		t.Errorf("GET /web/: %d, not the page", w.Code)
	}
}

// TestPageFiles checks the page's files: what index.html loads is there
// (the verifier included), the ids the browser tests use exist, and
// nothing comes from another host or goes into the page as HTML.
func TestPageFiles(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		data, err := fs.ReadFile(web.Files, name)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	files := pageFiles(t)
	if slices.Contains(files, "config.json") {
		t.Errorf("web/static/config.json would be replaced by the one Publish writes")
	}
	page := read("index.html")
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		ref := m[1]
		if strings.HasPrefix(ref, "data:") || strings.HasPrefix(ref, "#") {
			continue
		}
		if !slices.Contains(files, ref) {
			t.Errorf("index.html loads %s, not among the page's files %q", ref, files)
		}
	}
	app := read("app.js")
	for _, name := range []string{"pysumdb.wasm", "wasm_exec.js"} {
		if !slices.Contains(files, name) {
			t.Errorf("the verifier's %s is not among the page's files %q", name, files)
		}
	}
	if !strings.Contains(app, `fetch("pysumdb.wasm")`) || !strings.Contains(app, `fetch("config.json")`) {
		t.Errorf("app.js doesn't load pysumdb.wasm and config.json from beside the page")
	}
	for _, id := range []string{
		"origin", "vkey", "vkey-source", "tree-size", "checkpoint-age", "cosignatures", "chart",
		"search", "search-button", "files", "error", "js-error",
		"lockfile-name", "lockfile-text", "lockfile-file", "lockfile-check", "lockfile-results", "lockfile-counts",
		"vkey-input", "vkey-apply", "vkey-reset",
	} {
		if n := strings.Count(page, `id="`+id+`"`); n != 1 {
			t.Errorf("index.html has %d elements with id %q, want 1", n, id)
		}
	}
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		text := read(name)
		// The SVG namespace is a name, not a host.
		for _, url := range regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s"'<>)]*`).FindAllString(text, -1) {
			if url != "http://www.w3.org/2000/svg" {
				t.Errorf("%s names another host: %s", name, url)
			}
		}
		if strings.Contains(text, "@import") || strings.Contains(text, "url(") {
			t.Errorf("%s loads a style or font", name)
		}
	}
	// What the log serves is hostile until verified: text only.
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(app, sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
	if !strings.Contains(app, `"use strict"`) {
		t.Errorf("app.js is not strict")
	}
}
