package client_test

// Tests that fail when one of the security checks of the client is
// weakened: each names the check it guards.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/tiles"
)

// checkIndexLine (lookup.go) must compare the sha256 of an index line with
// its entry, not only the filename: a log (or whoever holds its key) that
// re-signs an index with a forged sha256 for a logged file must not get
// the forged hash through lookup. (Package verify tests its own answers.)
func TestIndexLineWithAForgedSHA256(t *testing.T) {
	ctx := context.Background()
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	forged := clienttest.ResignIndex(t, tl, tl.Read(t, tiles.IndexKey("foo")), "foo", clienttest.ForgeSHA256(t, "foo-1.0.tar.gz", clienttest.DigestOf("evil")))
	srv := clienttest.Serve(t, tl)
	srv.SetRewrite(clienttest.Replace(tiles.IndexKey("foo"), forged))
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	leaf := tl.LeafOf(t, "foo", "foo-1.0.tar.gz")
	want := fmt.Sprintf("index says leaf %d is foo-1.0.tar.gz sha256:%s, the log's entry is foo-1.0.tar.gz sha256:%s", leaf, clienttest.DigestOf("evil"), clienttest.DigestOf("foo-1.0.tar.gz"))

	cp, err := l.VerifiedCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, err := l.Lookup(ctx, cp.Tree, "foo", "foo-1.0.tar.gz")
	if !client.IsSecurityError(err) || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("lookup of a file the index gives a forged sha256: %v, %+v", err, files)
	}
}

// A bundle is cached only if every entry matches the verified hash tile
// (log.go, checkBundle): a bundle changed in an entry other than the one
// proven is refused, and never cached.
func TestBundleChangedInAnotherEntry(t *testing.T) {
	ctx := context.Background()
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	const key = "tile/entries/000"
	entries, err := tiles.ParseBundle(tl.Read(t, key), tiles.TileWidth)
	if err != nil {
		t.Fatal(err)
	}
	for _, changed := range []int{1, 100, tiles.TileWidth - 1} {
		t.Run(fmt.Sprint(changed), func(t *testing.T) {
			bad := make([][]byte, len(entries))
			copy(bad, entries)
			e, err := tiles.ParseEntry(bad[changed])
			if err != nil {
				t.Fatal(err)
			}
			e.SHA256[31] ^= 1
			if bad[changed], err = tiles.FormatEntry(e); err != nil {
				t.Fatal(err)
			}
			bundle, err := tiles.EncodeBundle(bad)
			if err != nil {
				t.Fatal(err)
			}
			srv := clienttest.Serve(t, tl)
			srv.SetRewrite(clienttest.Replace(key, bundle))
			cacheDir := t.TempDir()
			l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
			cp, err := l.VerifiedCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = l.Entry(ctx, cp.Tree, 0)
			if !client.IsSecurityError(err) || !strings.Contains(err.Error(), key) {
				t.Errorf("a bundle changed in entry %d, entry 0 proven: %v", changed, err)
			}
			matches, _ := filepath.Glob(filepath.Join(cacheDir, "*", filepath.FromSlash(key)))
			if len(matches) != 0 {
				t.Errorf("the changed bundle was cached: %v", matches)
			}
		})
	}
}

// Lookup says a tile could not be fetched, never that the project is not
// in the log, when a tile is missing; a missing bundle doesn't stop it
// proving entries that their index lines describe whole (no publisher).
func TestLookupWithAMissingTile(t *testing.T) {
	ctx := context.Background()
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	for _, key := range []string{"tile/entries/001.p/48", "tile/0/001.p/48"} {
		t.Run(key, func(t *testing.T) {
			srv := clienttest.Serve(t, tl)
			srv.SetRewrite(func(k string, status int, body []byte) (int, []byte) {
				if k == key {
					return 404, nil
				}
				return status, body
			})
			l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
			cp, err := l.VerifiedCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			files, err := l.Lookup(ctx, cp.Tree, "foo", "")
			if strings.HasPrefix(key, "tile/entries/") {
				if err != nil || len(files) != 2 || !files[0].Proven || !files[1].Proven {
					t.Errorf("lookup with %s missing: %+v, %v; want every file proven without it", key, files, err)
				}
			} else if err == nil || errors.Is(err, client.ErrNotInLog) || client.IsSecurityError(err) || !strings.Contains(err.Error(), key) {
				t.Errorf("lookup with %s missing: %v", key, err)
			}
			_, err = l.Lookup(ctx, cp.Tree, "nosuchproject", "")
			if !errors.Is(err, client.ErrNotInLog) {
				t.Errorf("lookup of a project the log doesn't have: %v", err)
			}
		})
	}
}
