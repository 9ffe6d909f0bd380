package publish

import (
	"path"
	"strings"

	"github.com/pysumdb/pysumdb/tiles"
)

// Keys of the log's web page and of the statistics object the page draws
// (DESIGN.md, "The web page"). Neither is one of the log's signed objects:
// the page verifies what it shows from those, in the browser.
const (
	// WebPrefix is the folder of the page's files (package web writes
	// them).
	WebPrefix = tiles.WebPrefix
	// WebIndex is the page itself, served for "/web/" too.
	WebIndex = WebPrefix + "index.html"
	// StatsKey is the sequencer's statistics object: files logged per
	// upload day, unsigned.
	StatsKey = "stats.json"
)

// CacheWeb is the Cache-Control of the page's files: a new version of
// the page reaches every browser within five minutes.
const CacheWeb = "public, max-age=300"

// webContentTypes are the Content-Types of the page's files by
// extension. A file under WebPrefix of another extension is not served:
// the folder holds what package web writes, nothing a browser would have
// to guess the type of. application/wasm is what
// WebAssembly.instantiateStreaming requires.
var webContentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".wasm": "application/wasm",
	".json": "application/json",
}

// pageHeaders returns the Cache-Control and Content-Type of the page's
// files and of the statistics object, and ok false for any other key.
// The log's objects get theirs from CacheControl and ContentType.
func pageHeaders(key string) (cacheControl, contentType string, ok bool) {
	if key == StatsKey {
		return CacheMutable, "application/json", true
	}
	if !strings.HasPrefix(key, WebPrefix) {
		return "", "", false
	}
	contentType, ok = webContentTypes[path.Ext(key)]
	return CacheWeb, contentType, ok
}

// objectHeaders returns the Cache-Control and Content-Type key is served
// with, and ok false if it is not served at all: only the log's public
// objects (tiles.IsPublicKey), the page's files and the statistics object
// are.
func objectHeaders(key string) (cacheControl, contentType string, ok bool) {
	if cacheControl, contentType, ok = pageHeaders(key); ok {
		return cacheControl, contentType, true
	}
	if !tiles.IsPublicKey(key) {
		return "", "", false
	}
	return CacheControl(key), ContentType(key), true
}
