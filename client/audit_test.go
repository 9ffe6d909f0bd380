package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

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
			store, skey, vkey := clienttest.NewStoreLog(t)
			if _, err := audit(t, client.DirFetcher(store.Root()), vkey); err != nil {
				t.Fatalf("audit before the lie: %v", err)
			}
			clienttest.RewriteIndex(t, store, skey, "project-5", tc.edit)
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
	store, _, vkey := clienttest.NewStoreLog(t)
	ctx := context.Background()
	// The tree was 100 entries once: tile/0/000.p/100 must be a prefix
	// of tile/0/000.
	key := "tile/0/000.p/100"
	data, _, err := store.Read(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	data[5] ^= 1
	if err := clienttest.WriteRaw(store, key, data); err != nil {
		t.Fatal(err)
	}
	rep, err := audit(t, client.DirFetcher(store.Root()), vkey)
	if !errors.Is(err, tiles.ErrVerification) || !strings.Contains(strings.Join(rep.Problems, "\n"), "tile/0/000.p/100: differs from the first 100 hashes of tile/0/000") {
		t.Fatalf("audit: %v, %q", err, rep.Problems)
	}
}

func TestLookupCatchesAnIndexPointingElsewhere(t *testing.T) {
	store, skey, vkey := clienttest.NewStoreLog(t)
	clienttest.RewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) { x.Lines[0].Leaf = 0 })
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
	store, skey, vkey := clienttest.NewStoreLog(t)
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

// AuditVerified returns what the audit verified, for a mirror: the signed
// checkpoint, a digest of every tile and bundle the log holds, every index
// and note; and nothing once the audit fails.
func TestAuditVerified(t *testing.T) {
	ctx := context.Background()
	store, skey, vkey := clienttest.NewStoreLog(t)
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

	clienttest.RewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) { x.Lines = x.Lines[1:] })
	if _, ver, err := l.AuditVerified(ctx, nil); !client.IsSecurityError(err) || ver != nil {
		t.Fatalf("audit of a lying log: %v, verified %v", err, ver != nil)
	}
}
