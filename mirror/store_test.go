package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/hostile"
	"github.com/pysumdb/pysumdb/mirror"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// otherStore is a store that is not a *publish.Dir.
type otherStore struct{ publish.Store }

// TestStoreFetcherBounds checks that a StoreFetcher bounds objects as the
// client's fetchers do: a directory store without reading more of an
// object than its kind allows, any other store once it has read it.
func TestStoreFetcherBounds(t *testing.T) {
	dir := t.TempDir()
	write := func(key string, size int64) { hostile.SparseFile(t, dir, key, size) }
	write("tile/0/000", 2<<30) // sparse
	write("tile/0/001", tiles.MaxHashTileSize)
	write("tile/0/002", tiles.MaxHashTileSize+1)
	write("sequencer/state", 2<<20)
	os.MkdirAll(filepath.Join(dir, "index/dir"), 0o755)

	for name, f := range map[string]mirror.StoreFetcher{"dir": {publish.ReadDir(dir)}, "other store": {otherStore{publish.ReadDir(dir)}}} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if name == "dir" {
				// Any other store reads an object whole before it can be
				// refused.
				var err error
				alloc := allocated(func() { _, err = f.Fetch(ctx, "tile/0/000") })
				checkTooLarge(t, err, "tile/0/000")
				if alloc > 1<<20 {
					t.Errorf("allocated %d bytes to refuse it", alloc)
				}
			}
			if data, err := f.Fetch(ctx, "tile/0/001"); err != nil || len(data) != tiles.MaxHashTileSize {
				t.Errorf("tile of the largest size: %d bytes, %v", len(data), err)
			}
			_, err := f.Fetch(ctx, "tile/0/002")
			checkTooLarge(t, err, "tile/0/002")
			// The sequencer's state, which a mirror copies, is not one of
			// the log's objects and has its own bound.
			if data, err := f.Fetch(ctx, "sequencer/state"); err != nil || len(data) != 2<<20 {
				t.Errorf("sequencer/state: %d bytes, %v", len(data), err)
			}
			for _, key := range []string{"tile/0/003", "index/dir"} {
				if _, err := f.Fetch(ctx, key); !errors.Is(err, client.ErrNotFound) {
					t.Errorf("%s: err = %v, want ErrNotFound", key, err)
				}
			}
		})
	}
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

// checkTooLarge checks that err is a client.TooLargeError for key with the
// bound of key's kind, and no security error.
func checkTooLarge(t *testing.T, err error, key string) {
	t.Helper()
	var tl *client.TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, client.ErrTooLarge) {
		t.Fatalf("err = %v, want a TooLargeError", err)
	}
	if tl.Key != key || tl.Max != tiles.MaxObjectSize(key) {
		t.Fatalf("TooLargeError{%s, %d}, want {%s, %d}", tl.Key, tl.Max, key, tiles.MaxObjectSize(key))
	}
	if !strings.Contains(err.Error(), "larger than") || client.IsSecurityError(err) || errors.Is(err, client.ErrNotFound) {
		t.Fatalf("err = %v: an object too large is a failure to read, not evidence or absence", err)
	}
}
