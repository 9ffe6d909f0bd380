package publish

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/tiles"
)

// Handler serves a store's objects as static files, with the
// Cache-Control and Content-Type of CacheControl and ContentType (the web
// page's files: CacheWeb and the type of their extension). It
// serves only the log's public objects (see [tiles.IsPublicKey]: not the
// sequencer's state, alarms, a key file or anything else left in the
// store; no directory listings, no path escapes), the log's web page (the
// files under WebPrefix of the types it is made of, "/web/" serving
// WebIndex, and "/" and "/web" redirecting there) and the statistics
// object StatsKey; never through a symbolic link out of a directory
// store, and only GET and HEAD. Anything else is 404.
func Handler(store Store, logger *slog.Logger) http.Handler {
	logger = logging.OrDiscard(logger)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		key := strings.TrimPrefix(r.URL.Path, "/")
		switch key {
		case "", strings.TrimSuffix(WebPrefix, "/"):
			// Relative, so that it holds behind a proxy that serves the
			// log under a path of its own: "web/" from "/" and from
			// "/web" is "/web/".
			w.Header().Set("Location", WebPrefix)
			w.WriteHeader(http.StatusFound)
			return
		case WebPrefix:
			key = WebIndex
		}
		cacheControl, contentType, ok := objectHeaders(key)
		if !ok || tiles.CheckKey(key) != nil {
			http.NotFound(w, r)
			return
		}
		data, _, err := store.Read(r.Context(), key)
		if errors.Is(err, ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		if errors.Is(err, errOutsideStore) {
			logger.Warn("not serving a symbolic link out of the store", "key", key, "err", err)
			http.NotFound(w, r)
			return
		}
		if err != nil {
			logger.Error("couldn't read object", "key", key, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", cacheControl)
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		// A browser must never take an object for another type than the
		// one given: a hostile index sniffed as HTML would run on the
		// page's origin.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
}
