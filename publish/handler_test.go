package publish_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
)

// publicObjects are objects of every public kind, written by the store as
// the sequencer writes them.
var publicObjects = map[string]string{
	"checkpoint":                "checkpoint\n",
	".well-known/bt/tlog-key":   "vkey\n",
	"tile/0/000":                "tile",
	"tile/0/000.p/3":            "partial tile",
	"tile/entries/000":          "bundle",
	"index/requests":            "index\n",
	"projects/re":               "project list\n",
	"filenames/foo":             "filename note\n",
	"filenames/_":               "filename note of no project\n",
	"tile/entries/x001/000.p/1": "partial bundle",
	"proof/x001/007":            "c2sp.org/tlog-proof@v1\n",
}

// newServedStore returns a store holding publicObjects, the sequencer's own
// objects and files an operator left in it, and a handler serving it.
func newServedStore(t *testing.T) (string, http.Handler) {
	t.Helper()
	root := t.TempDir()
	d, err := publish.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for key, data := range publicObjects {
		if _, err := d.Swap(ctx, key, publish.NoVersion, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"sequencer/state", "alarms/000001", "sequencer/staged"} {
		if _, err := d.Swap(ctx, key, publish.NoVersion, []byte("private")); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{"log.key": "PRIVATE+KEY+pysumdb.test/log+...", "notes.txt": "private", "index/notes.txt": "private"} {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A lease taken leaves .lease and .lease-holder.
	release, err := d.Lock(ctx, "host 123")
	if err != nil {
		t.Fatal(err)
	}
	release(ctx)
	return root, publish.Handler(d, nil)
}

func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

func TestHandlerServesPublicObjects(t *testing.T) {
	_, h := newServedStore(t)
	for key, data := range publicObjects {
		w := get(t, h, http.MethodGet, "/"+key)
		if w.Code != http.StatusOK || w.Body.String() != data {
			t.Errorf("GET /%s: %d %q, want 200 %q", key, w.Code, w.Body, data)
		}
		if w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Cache-Control") != publish.CacheControl(key) {
			t.Errorf("GET /%s: headers %v", key, w.Header())
		}
	}
	if w := get(t, h, http.MethodHead, "/checkpoint"); w.Code != http.StatusOK {
		t.Errorf("HEAD /checkpoint: %d", w.Code)
	}
	if w := get(t, h, http.MethodPost, "/checkpoint"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /checkpoint: %d, want 405", w.Code)
	}
	if w := get(t, h, http.MethodGet, "/index/absent"); w.Code != http.StatusNotFound {
		t.Errorf("GET /index/absent: %d, want 404", w.Code)
	}
}

// TestHandlerServesNothingElse checks that what is in the store but not
// one of the log's public objects is never served, nor anything by a path
// that escapes the store.
func TestHandlerServesNothingElse(t *testing.T) {
	_, h := newServedStore(t)
	for _, target := range []string{
		// The store's private objects and files left in it.
		"/sequencer/state", "/sequencer/staged", "/alarms/000001", "/alarms/",
		"/log.key", "/notes.txt", "/index/notes.txt", "/.lease", "/.lease-holder", "/.swap-lock-00",
		// Directories.
		"/tile/", "/tile/0", "/index/", "/sequencer/", "/.well-known/", "/.well-known/bt",
		// Escapes.
		"/../log.key", "/index/../log.key", "/%2e%2e/log.key", "/index/%2e%2e/log.key", "/index/%2E%2E%2Flog.key",
		"/index%5c..%5clog.key", "/index/..%5clog.key", "/checkpoint%00", "/checkpoint%00.txt", "/index/requests%00",
		"//checkpoint", "/./checkpoint", "/checkpoint/", "/index/requests/", "/tile/0/000/",
		"/etc/passwd", "/%2fetc/passwd", "/index/%2fetc%2fpasswd",
		// Not proof keys as ProofBundleKey writes them.
		"/proof/", "/proof", "/proof/7", "/proof/1007", "/proof/x000/007", "/proof/007.p/0", "/proof/007.p/256", "/proof/007.p/07",
	} {
		if w := get(t, h, http.MethodGet, target); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d %q, want 404", target, w.Code, w.Body)
		}
	}
}

// TestHandlerRefusesLinksOut checks that a symbolic link in the store that
// leads out of it is never followed, even where its key is one of a public
// object, while a link within the store is.
func TestHandlerRefusesLinksOut(t *testing.T) {
	outside := t.TempDir()
	const secret = "outside the store"
	if err := os.MkdirAll(filepath.Join(outside, "0"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"secret", "000", "0/000", "requests"} {
		if err := os.WriteFile(filepath.Join(outside, name), []byte(secret), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, h := newServedStore(t)
	links := map[string]string{
		// The examples: not public keys anyway.
		"passwd": "/etc/passwd",
		"etc":    "/etc",
		// Public keys that lead out: a file, and through a directory.
		"index/flask":        filepath.Join(outside, "secret"),
		"index/relative":     "../../" + filepath.Base(outside) + "/secret",
		"projects/et":        "/etc/passwd",
		"filenames/dangling": filepath.Join(outside, "nothing"),
		"tile/1":             outside,
		// A link within the store is followed.
		"index/alias": "requests",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(filepath.Join(root, "index"), filepath.Join(root, "index-real")); err != nil {
		t.Fatal(err)
	}
	// The index directory itself a link within the store.
	if err := os.Symlink("index-real", filepath.Join(root, "index")); err != nil {
		t.Fatal(err)
	}
	// A whole directory of public keys linked out.
	if err := os.Symlink(outside, filepath.Join(root, "filenames-out")); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/passwd", "/etc/passwd", "/etc/hostname", "/index/flask", "/index/relative", "/projects/et", "/filenames/dangling", "/tile/1/000", "/tile/1/0/000"} {
		w := get(t, h, http.MethodGet, target)
		if w.Code != http.StatusNotFound || bytes.Contains(w.Body.Bytes(), []byte(secret)) {
			t.Errorf("GET %s: %d %q, want 404", target, w.Code, w.Body)
		}
	}
	for _, target := range []string{"/index/alias", "/index/requests"} {
		if w := get(t, h, http.MethodGet, target); w.Code != http.StatusOK || w.Body.String() != publicObjects["index/requests"] {
			t.Errorf("GET %s (a link within the store): %d %q, want 200", target, w.Code, w.Body)
		}
	}

	// The store in a directory whose index is a link out.
	root2 := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root2, "index")); err != nil {
		t.Fatal(err)
	}
	if w := get(t, publish.Handler(publish.ReadDir(root2), nil), http.MethodGet, "/index/requests"); w.Code != http.StatusNotFound {
		t.Errorf("GET /index/requests through index -> %s: %d %q, want 404", outside, w.Code, w.Body)
	}
}

// TestHandlerServesProofs: the tlog-proofs of a bundle are text, cached for a
// year like the tiles (it never changes).
func TestHandlerServesProofs(t *testing.T) {
	_, h := newServedStore(t)
	w := get(t, h, http.MethodGet, "/proof/x001/007")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" ||
		w.Header().Get("Cache-Control") != publish.CacheImmutable || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET /proof/x001/007: %d %v", w.Code, w.Header())
	}
}
