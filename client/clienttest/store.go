package clienttest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// NewStoreLog builds a log of 700 entries over three batches (so it holds
// old partial tiles too) in a new directory store, and returns the store
// and the log's keys.
func NewStoreLog(t testing.TB) (*publish.Dir, string, string) {
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

// CopyStore copies a directory store.
func CopyStore(t testing.TB, store *publish.Dir) *publish.Dir {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "log")
	if err := os.CopyFS(dir, os.DirFS(store.Root())); err != nil {
		t.Fatal(err)
	}
	copied, err := publish.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return copied
}

// WriteRaw overwrites an object behind the store's back, as an attacker
// with access to the bucket would.
func WriteRaw(store *publish.Dir, key string, data []byte) error {
	return os.WriteFile(filepath.Join(store.Root(), filepath.FromSlash(key)), data, 0o644)
}

// Put writes a mutable object whatever it holds, as the log's operator
// could.
func Put(t testing.TB, store publish.Store, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	_, v, err := store.Read(ctx, key)
	if err != nil && !errors.Is(err, publish.ErrNotExist) {
		t.Fatal(err)
	}
	if _, err := store.Swap(ctx, key, v, data); err != nil {
		t.Fatal(err)
	}
}

// RewriteIndex re-signs a project's index after edit: signed evidence of
// a misbehaving log, as opposed to a broken signature.
func RewriteIndex(t testing.TB, store publish.Store, skey, project string, edit func(*tiles.Index)) {
	t.Helper()
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := tiles.VerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	x := seqtest.ReadIndex(t, store, vkey, project)
	edit(&x)
	signed, err := tiles.SignIndex(x, signer)
	if err != nil {
		t.Fatal(err)
	}
	Put(t, store, tiles.IndexKey(project), signed)
}

// NewBarLog is NewStoreLog with two files of project bar appended, one
// of which its filename does not give: baz-1.0.tar.gz is listed in the
// filename note filenames/baz.
func NewBarLog(t testing.TB) (*publish.Dir, string, string) {
	t.Helper()
	store, skey, vkey := NewStoreLog(t)
	records := seqtest.Records(10_000, 2)
	for i, filename := range []string{"baz-1.0.tar.gz", "bar-2.0.tar.gz"} {
		records[i].Project, records[i].Filename = "bar", filename
	}
	if _, err := seqtest.Append(context.Background(), store, skey, records, ""); err != nil {
		t.Fatal(err)
	}
	return store, skey, vkey
}
