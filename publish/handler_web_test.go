package publish_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
)

// TestHandlerServesThePage checks the page's files and the statistics
// object: served with the type a browser needs (application/wasm for
// WebAssembly.instantiateStreaming) and their cache lifetimes, "/web/" as
// the page, "/" and "/web" redirected to it.
func TestHandlerServesThePage(t *testing.T) {
	root, h := newServedStore(t)
	d := publish.ReadDir(root)
	files := map[string]struct{ contentType, cache string }{
		"web/index.html":   {"text/html; charset=utf-8", "public, max-age=300"},
		"web/app.js":       {"text/javascript; charset=utf-8", "public, max-age=300"},
		"web/style.css":    {"text/css; charset=utf-8", "public, max-age=300"},
		"web/pysumdb.wasm": {"application/wasm", "public, max-age=300"},
		"web/config.json":  {"application/json", "public, max-age=300"},
		"stats.json":       {"application/json", "public, max-age=60"},
	}
	for key := range files {
		if _, err := d.Swap(context.Background(), key, publish.NoVersion, []byte("content of "+key)); err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range files {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			w := get(t, h, method, "/"+key)
			if w.Code != http.StatusOK {
				t.Errorf("%s /%s: %d %q, want 200", method, key, w.Code, w.Body)
				continue
			}
			if method == http.MethodGet && w.Body.String() != "content of "+key {
				t.Errorf("GET /%s: %q", key, w.Body)
			}
			hd := w.Header()
			if hd.Get("Content-Type") != want.contentType || hd.Get("Cache-Control") != want.cache ||
				hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s /%s: headers %v, want Content-Type %q, Cache-Control %q", method, key, hd, want.contentType, want.cache)
			}
		}
	}
	if w := get(t, h, http.MethodGet, "/web/"); w.Code != http.StatusOK || w.Body.String() != "content of web/index.html" ||
		w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("GET /web/: %d %v %q, want the page", w.Code, w.Header(), w.Body)
	}
	for _, target := range []string{"/", "/web"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			w := get(t, h, method, target)
			if w.Code != http.StatusFound || w.Header().Get("Location") != "web/" {
				t.Errorf("%s %s: %d Location %q, want 302 to web/", method, target, w.Code, w.Header().Get("Location"))
			}
		}
	}
	// The log's objects keep their headers.
	if w := get(t, h, http.MethodGet, "/checkpoint"); w.Header().Get("Content-Type") != "text/plain; charset=utf-8" || w.Header().Get("Cache-Control") != publish.CacheMutable {
		t.Errorf("GET /checkpoint: headers %v", w.Header())
	}
}

// TestHandlerServesOnlyThePage checks that the web folder is no way
// around the rule that only public objects are served: files of other
// types in it, other files beside stats.json, escapes through it and
// directories are 404.
func TestHandlerServesOnlyThePage(t *testing.T) {
	root, h := newServedStore(t)
	if err := os.MkdirAll(filepath.Join(root, "web", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web/notes.txt", "web/log.key", "web/page.htm", "web/sub/x.exe", "web/.hidden.js", "stats.txt", "web/index"} {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte("private"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{
		"/web/notes.txt", "/web/log.key", "/web/page.htm", "/web/sub/x.exe", "/web/.hidden.js", "/stats.txt", "/web/index",
		"/web/sub/", "/web//", "//web/", "/web/index.html", "/stats.json", // absent: nothing published yet
		"/web/../log.key", "/web/%2e%2e/log.key", "/web/..%2flog.key", "/web/../sequencer/state.json",
		"/web/%2e%2e/sequencer/state", "/web/./index.html", "/stats.json/", "/web/index.html/",
	} {
		if w := get(t, h, http.MethodGet, target); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d %q, want 404", target, w.Code, w.Body)
		}
	}
	if w := get(t, h, http.MethodPost, "/web/"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /web/: %d, want 405", w.Code)
	}
}

// TestWebHeadersForBuckets checks that what a bucket stores with the
// page's objects (CacheControl, ContentType) is what the handler serves:
// with text/plain, a browser would not run the page's WebAssembly.
func TestWebHeadersForBuckets(t *testing.T) {
	for key, want := range map[string][2]string{
		"web/pysumdb.wasm": {publish.CacheWeb, "application/wasm"},
		"web/index.html":   {publish.CacheWeb, "text/html; charset=utf-8"},
		publish.StatsKey:   {publish.CacheMutable, "application/json"},
	} {
		if got := [2]string{publish.CacheControl(key), publish.ContentType(key)}; got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
}
