package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// newLog builds a log of 700 entries over three batches (so it holds old
// partial tiles too) and returns its store and keys.
func newLog(t *testing.T) (*publish.Dir, string, string) {
	t.Helper()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey := seqtest.NewKey(t)
	for _, b := range [][2]int{{0, 100}, {100, 200}, {300, 400}} {
		if _, err := seqtest.Append(context.Background(), store, skey, seqtest.Records(b[0], b[1]), ""); err != nil {
			t.Fatal(err)
		}
	}
	return store, skey, vkey
}

// rewriteIndex re-signs a project's index after edit: signed evidence of a
// misbehaving log, as opposed to a broken signature.
func rewriteIndex(t *testing.T, store publish.Store, skey, project string, edit func(*tiles.Index)) {
	t.Helper()
	ctx := context.Background()
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	vkey, _ := tiles.VerifierKey(skey)
	verifier, _ := note.NewVerifier(vkey)
	data, v, err := store.Read(ctx, tiles.IndexKey(project))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tiles.OpenIndex(data, verifier, project)
	if err != nil {
		t.Fatal(err)
	}
	edit(&x)
	signed, err := tiles.SignIndex(x, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Swap(ctx, tiles.IndexKey(project), v, signed); err != nil {
		t.Fatal(err)
	}
}

func audit(t *testing.T, fetch client.Fetcher, vkey string) (*client.AuditReport, error) {
	t.Helper()
	l, err := client.NewLog(fetch, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return l.Audit(context.Background(), nil)
}

func TestAuditFindsSignedLies(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*tiles.Index)
		want string
	}{
		"omits a file": {
			func(x *tiles.Index) { x.Lines = x.Lines[1:] },
			"is in no project index",
		},
		"wrong leaf": {
			func(x *tiles.Index) { x.Lines[0].Leaf++ },
			"the log has it at leaf",
		},
		"wrong digest": {
			func(x *tiles.Index) { x.Lines[2].SHA256[0] ^= 1 },
			"the log's entry",
		},
	} {
		t.Run(name, func(t *testing.T) {
			store, skey, vkey := newLog(t)
			if _, err := audit(t, client.DirFetcher(store.Root()), vkey); err != nil {
				t.Fatalf("audit before the lie: %v", err)
			}
			rewriteIndex(t, store, skey, "project-5", tc.edit)
			rep, err := audit(t, client.DirFetcher(store.Root()), vkey)
			if !errors.Is(err, tiles.ErrVerification) {
				t.Fatalf("audit: %v, want a verification error", err)
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), tc.want) {
				t.Fatalf("problems %q, want one containing %q", rep.Problems, tc.want)
			}
		})
	}
}

func TestAuditChecksOldPartialTiles(t *testing.T) {
	store, _, vkey := newLog(t)
	ctx := context.Background()
	// The tree was 100 entries once: tile/0/000.p/100 must be a prefix
	// of tile/0/000.
	key := "tile/0/000.p/100"
	data, _, err := store.Read(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	data[5] ^= 1
	if err := writeRaw(store, key, data); err != nil {
		t.Fatal(err)
	}
	rep, err := audit(t, client.DirFetcher(store.Root()), vkey)
	if !errors.Is(err, tiles.ErrVerification) || !strings.Contains(strings.Join(rep.Problems, "\n"), "tile/0/000.p/100: differs from the first 100 hashes of tile/0/000") {
		t.Fatalf("audit: %v, %q", err, rep.Problems)
	}
}

func TestLookupCatchesAnIndexPointingElsewhere(t *testing.T) {
	store, skey, vkey := newLog(t)
	rewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) { x.Lines[0].Leaf = 0 })
	l, err := client.NewLog(client.DirFetcher(store.Root()), vkey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cp, _, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Lookup(ctx, cp.Tree, "project-5", "")
	if !client.IsSecurityError(err) || !strings.Contains(err.Error(), "index says leaf 0 is project_5-") {
		t.Fatalf("lookup: %v, want a security error about leaf 0", err)
	}
}

func TestLookupNotYetProvable(t *testing.T) {
	store, skey, vkey := newLog(t)
	// An index fresher than the checkpoint a client read: lines at or
	// beyond the checkpoint size are not an error.
	l, _ := client.NewLog(client.DirFetcher(store.Root()), vkey)
	ctx := context.Background()
	cp, _, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seqtest.Append(ctx, store, skey, seqtest.Records(700, 37), ""); err != nil {
		t.Fatal(err)
	}
	files, err := l.Lookup(ctx, cp.Tree, "project-5", "")
	if err != nil {
		t.Fatal(err)
	}
	proven, pending := 0, 0
	for _, f := range files {
		if f.Proven {
			proven++
		} else if f.Leaf >= cp.N {
			pending++
		}
	}
	if proven == 0 || pending != 1 || proven+pending != len(files) {
		t.Fatalf("%d proven, %d not yet provable of %d", proven, pending, len(files))
	}
}

// writeRaw overwrites an object behind the store's back, as an attacker
// with access to the bucket would.
func writeRaw(store *publish.Dir, key string, data []byte) error {
	return os.WriteFile(filepath.Join(store.Root(), filepath.FromSlash(key)), data, 0o644)
}

// AuditVerified returns what the audit verified, for a mirror: the signed
// checkpoint, a digest of every tile and bundle the log holds, every index
// and note; and nothing once the audit fails.
func TestAuditVerified(t *testing.T) {
	ctx := context.Background()
	store, skey, vkey := newLog(t)
	l, err := client.NewLog(client.DirFetcher(store.Root()), vkey)
	if err != nil {
		t.Fatal(err)
	}
	rep, ver, err := l.AuditVerified(ctx, nil)
	if err != nil || ver == nil {
		t.Fatalf("audit: %v", err)
	}
	if cp, _, _ := store.Read(ctx, tiles.CheckpointKey); !bytes.Equal(ver.Checkpoint, cp) {
		t.Errorf("checkpoint %q, want %q", ver.Checkpoint, cp)
	}
	keys, err := store.List(ctx, tiles.TilePrefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		data, _, _ := store.Read(ctx, key)
		if sum, ok := ver.Immutable[key]; !ok || sum != sha256.Sum256(data) {
			t.Errorf("%s: verified %v, digest %x", key, ok, sum)
		}
	}
	if len(ver.Immutable) != len(keys) {
		t.Errorf("%d immutable objects verified, the log holds %d", len(ver.Immutable), len(keys))
	}
	if n := rep.Indexes + rep.ProjectLists + rep.FilenameNotes; int64(len(ver.Notes)) != n {
		t.Errorf("%d notes verified, the report counts %d", len(ver.Notes), n)
	}
	for _, n := range ver.Notes {
		if data, _, _ := store.Read(ctx, n.Key); !bytes.Equal(n.Data, data) || n.TreeSize <= 0 || n.TreeSize > rep.Checkpoint.N {
			t.Errorf("%s: size %d, content as stored %v", n.Key, n.TreeSize, bytes.Equal(n.Data, data))
		}
	}

	rewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) { x.Lines = x.Lines[1:] })
	if _, ver, err := l.AuditVerified(ctx, nil); !client.IsSecurityError(err) || ver != nil {
		t.Fatalf("audit of a lying log: %v, verified %v", err, ver != nil)
	}
}
