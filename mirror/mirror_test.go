package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/mirror"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

func TestMirror(t *testing.T) {
	ctx := context.Background()
	src, skey, vkey := clienttest.NewStoreLog(t)
	// Over HTTP (no listing) and from a directory (with the state).
	srv := httptest.NewServer(publish.Handler(src, nil))
	defer srv.Close()
	httpFetch, _ := client.NewHTTPFetcher(srv.URL, nil)
	for name, fetch := range map[string]client.Fetcher{"http": httpFetch, "dir": client.DirFetcher(src.Root())} {
		t.Run(name, func(t *testing.T) {
			dst, _ := publish.OpenDir(t.TempDir())
			s, err := mirror.NewSource(fetch, vkey)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := s.Mirror(ctx, dst, nil)
			if err != nil {
				t.Fatalf("mirror: %v %v", err, rep.Problems)
			}
			if got := seqtest.Audit(t, dst, vkey); got.Entries != rep.Entries || got.Indexes != rep.Indexes {
				t.Fatalf("the copy audits with %d entries, %d indexes", got.Entries, got.Indexes)
			}
			// The log grows; mirroring again extends the copy.
			if _, err := seqtest.Append(ctx, src, skey, seqtest.Records(int(rep.Entries)+1000, 300), ""); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Mirror(ctx, dst, nil); err != nil {
				t.Fatalf("second mirror: %v", err)
			}
			if got := seqtest.Audit(t, dst, vkey); got.Entries != rep.Entries+300 {
				t.Fatalf("the copy has %d entries after the second mirror, want %d", got.Entries, rep.Entries+300)
			}
			if name == "dir" {
				// The copy can take over sequencing.
				if res, err := seqtest.Append(ctx, dst, skey, seqtest.Records(5000, 3), ""); err != nil || res.Appended != 3 {
					t.Fatalf("sequencing the copy: %+v, %v", res, err)
				}
			}
		})
	}
}

func TestMirrorRefusesATamperedLog(t *testing.T) {
	ctx := context.Background()
	src, _, vkey := clienttest.NewStoreLog(t)
	data, _, _ := src.Read(ctx, "tile/0/001")
	data[40] ^= 1
	if err := clienttest.WriteRaw(src, "tile/0/001", data); err != nil {
		t.Fatal(err)
	}
	dst, _ := publish.OpenDir(t.TempDir())
	if _, err := mirrorLog(t, src, dst, vkey); !errors.Is(err, tiles.ErrVerification) {
		t.Fatalf("mirror of a tampered log: %v, want a verification error", err)
	}
	if _, _, err := dst.Read(ctx, tiles.CheckpointKey); !errors.Is(err, publish.ErrNotExist) {
		t.Fatalf("the copy has a checkpoint: %v", err)
	}
	if _, _, err := dst.Read(ctx, "tile/0/001"); !errors.Is(err, publish.ErrNotExist) {
		t.Fatalf("the tampered tile was copied: %v", err)
	}
}

// snapshot returns every file under a directory and its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mirrorLog mirrors the log in src's directory into dst.
func mirrorLog(t *testing.T, src *publish.Dir, dst publish.Store, vkey string) (*client.AuditReport, error) {
	t.Helper()
	s, err := mirror.NewSource(client.DirFetcher(src.Root()), vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s.Mirror(context.Background(), dst, nil)
}

// A source older than the destination, or forked from it, is refused
// before anything is written (issue 10, item 6: the destination's indexes
// were replaced by older ones first).
func TestMirrorRefusesAStaleOrForkedSource(t *testing.T) {
	ctx := context.Background()
	src, skey, vkey := clienttest.NewStoreLog(t)
	stale := clienttest.CopyStore(t, src)
	forked := clienttest.CopyStore(t, src)
	if _, err := seqtest.Append(ctx, src, skey, seqtest.Records(1000, 300), ""); err != nil {
		t.Fatal(err)
	}
	dst, _ := publish.OpenDir(t.TempDir())
	if _, err := mirrorLog(t, src, dst, vkey); err != nil {
		t.Fatalf("mirror: %v", err)
	}
	before := snapshot(t, dst.Root())

	_, err := mirrorLog(t, stale, dst, vkey)
	if err == nil || client.IsSecurityError(err) || !strings.Contains(err.Error(), "the source is stale: its checkpoint (size 700) is older than the destination's (size 1000)") {
		t.Fatalf("mirror from a stale source: %v", err)
	}
	if !maps.Equal(before, snapshot(t, dst.Root())) {
		t.Fatal("mirror from a stale source changed the destination")
	}
	seqtest.Audit(t, dst, vkey)

	// The same key, other entries: a fork, smaller then larger than the
	// destination.
	if _, err := seqtest.Append(ctx, forked, skey, seqtest.Records(5000, 50), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := mirrorLog(t, forked, dst, vkey); !client.IsSecurityError(err) || !strings.Contains(err.Error(), "the source's checkpoint (size 750) is not a prefix of the destination's (size 1000)") {
		t.Fatalf("mirror from a smaller fork: %v", err)
	}
	if _, err := seqtest.Append(ctx, forked, skey, seqtest.Records(6000, 400), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := mirrorLog(t, forked, dst, vkey); !client.IsSecurityError(err) || !strings.Contains(err.Error(), "the destination's checkpoint (size 1000) is not a prefix of the source's (size 1150)") {
		t.Fatalf("mirror from a larger fork: %v", err)
	}
	if !maps.Equal(before, snapshot(t, dst.Root())) {
		t.Fatal("mirror from a fork changed the destination")
	}
	seqtest.Audit(t, dst, vkey)
}

// A mirror writes nothing before the whole audit passed (issue 10, item
// 11: a flipped bundle byte and every index were copied, and blocked every
// later honest mirror).
func TestMirrorWritesNothingUnverified(t *testing.T) {
	ctx := context.Background()
	for name, tamper := range map[string]func(t *testing.T, src *publish.Dir, skey string) (undo func()){
		"bundle byte": func(t *testing.T, src *publish.Dir, skey string) func() {
			key := "tile/entries/001"
			orig, _, _ := src.Read(ctx, key)
			data := bytes.Clone(orig)
			data[100] ^= 1
			if err := clienttest.WriteRaw(src, key, data); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := clienttest.WriteRaw(src, key, orig); err != nil {
					t.Fatal(err)
				}
			}
		},
		"bundle and tiles": func(t *testing.T, src *publish.Dir, skey string) func() {
			// Another entry, and the hash tiles rebuilt to match it:
			// consistent with each other, not with the checkpoint.
			undo := map[string][]byte{}
			save := func(key string) {
				data, _, err := src.Read(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				undo[key] = data
			}
			save("tile/entries/000")
			save("tile/0/000")
			entries, err := tiles.ParseBundle(undo["tile/entries/000"], 256)
			if err != nil {
				t.Fatal(err)
			}
			entries[0] = bytes.Replace(entries[0], []byte("sha256:0"), []byte("sha256:f"), 1)
			bundle, err := tiles.EncodeBundle(entries)
			if err != nil {
				t.Fatal(err)
			}
			if err := clienttest.WriteRaw(src, "tile/entries/000", bundle); err != nil {
				t.Fatal(err)
			}
			if err := clienttest.WriteRaw(src, "tile/0/000", tiles.LeafHashes(entries)); err != nil {
				t.Fatal(err)
			}
			return func() {
				for key, data := range undo {
					if err := clienttest.WriteRaw(src, key, data); err != nil {
						t.Fatal(err)
					}
				}
			}
		},
		"an index": func(t *testing.T, src *publish.Dir, skey string) func() {
			orig, _, _ := src.Read(ctx, tiles.IndexKey("project-36"))
			clienttest.RewriteIndex(t, src, skey, "project-36", func(x *tiles.Index) { x.Lines[1].SHA256[3] ^= 1 })
			return func() { clienttest.Put(t, src, tiles.IndexKey("project-36"), orig) }
		},
	} {
		t.Run(name, func(t *testing.T) {
			src, skey, vkey := clienttest.NewStoreLog(t)
			older := clienttest.CopyStore(t, src)
			if _, err := seqtest.Append(ctx, src, skey, seqtest.Records(1000, 300), ""); err != nil {
				t.Fatal(err)
			}
			undo := tamper(t, src, skey)
			// Into a new copy, and into an older copy of the log.
			for _, dst := range []*publish.Dir{emptyDir(t), older} {
				before := snapshot(t, dst.Root())
				if _, err := mirrorLog(t, src, dst, vkey); !client.IsSecurityError(err) {
					t.Fatalf("mirror of a tampered log: %v, want a security error", err)
				}
				if after := snapshot(t, dst.Root()); !maps.Equal(before, after) {
					t.Fatalf("mirror of a tampered log changed the destination: %d files before, %d after", len(before), len(after))
				}
			}
			undo()
			dst := emptyDir(t)
			if _, err := mirrorLog(t, src, dst, vkey); err != nil {
				t.Fatalf("honest mirror after the tampered one: %v", err)
			}
			seqtest.Audit(t, dst, vkey)
		})
	}
}

func emptyDir(t *testing.T) *publish.Dir {
	t.Helper()
	d, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// An index the destination holds for a larger tree size (a batch of its
// own not yet published) is never replaced by the source's older one.
func TestMirrorKeepsNewerIndexes(t *testing.T) {
	src, skey, vkey := clienttest.NewStoreLog(t)
	dst := emptyDir(t)
	if _, err := mirrorLog(t, src, dst, vkey); err != nil {
		t.Fatal(err)
	}
	clienttest.RewriteIndex(t, dst, skey, "project-5", func(x *tiles.Index) {
		l := x.Lines[0]
		l.Leaf, l.Filename = 700, "project_5-9999.0-py3-none-any.whl"
		x.Lines, x.TreeSize = append(x.Lines, l), 701
	})
	newer, _, _ := dst.Read(context.Background(), tiles.IndexKey("project-5"))
	if _, err := mirrorLog(t, src, dst, vkey); err != nil {
		t.Fatalf("mirror again: %v", err)
	}
	if got, _, _ := dst.Read(context.Background(), tiles.IndexKey("project-5")); !bytes.Equal(got, newer) {
		t.Fatal("the destination's newer index was replaced by the source's older one")
	}
}

// conflictingStore loses every compare-and-swap of keys with a prefix.
type conflictingStore struct {
	publish.Store
	prefix string
	swaps  atomic.Int64
}

func (c *conflictingStore) Swap(ctx context.Context, key string, old publish.Version, data []byte) (publish.Version, error) {
	if !strings.HasPrefix(key, c.prefix) {
		return c.Store.Swap(ctx, key, old, data)
	}
	if c.swaps.Add(1) > 1000 {
		return "", errors.New("swapped a thousand times")
	}
	return "", publish.ErrConflict
}

// A destination that keeps changing under the mirror makes it fail after a
// few tries, not loop.
func TestMirrorRetriesAreBounded(t *testing.T) {
	src, _, vkey := clienttest.NewStoreLog(t)
	for _, prefix := range []string{"index/", "projects/", tiles.CheckpointKey, "sequencer/"} {
		t.Run(prefix, func(t *testing.T) {
			dst := &conflictingStore{Store: emptyDir(t), prefix: prefix}
			_, err := mirrorLog(t, src, dst, vkey)
			if err == nil || !strings.Contains(err.Error(), "changed 5 times under the mirror") {
				t.Fatalf("mirror: %v", err)
			}
			if n := dst.swaps.Load(); n > 100 {
				t.Fatalf("%d swaps", n)
			}
		})
	}
}

// Over HTTP, a mirror copies the project list and the filename notes too.
func TestMirrorCopiesProjectListAndNotes(t *testing.T) {
	src, _, vkey := clienttest.NewBarLog(t)
	srv := httptest.NewServer(publish.Handler(src, nil))
	defer srv.Close()
	fetch, _ := client.NewHTTPFetcher(srv.URL, nil)
	s, _ := mirror.NewSource(fetch, vkey)
	dst := emptyDir(t)
	if _, err := s.Mirror(context.Background(), dst, nil); err != nil {
		t.Fatalf("mirror: %v", err)
	}
	for _, key := range []string{"filenames/baz", "projects/ba", "index/bar"} {
		want, _, _ := src.Read(context.Background(), key)
		if got, _, err := dst.Read(context.Background(), key); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s in the copy: %v", key, err)
		}
	}
	auditOK(t, dst, vkey)
}
