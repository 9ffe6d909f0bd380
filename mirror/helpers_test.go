package mirror_test

import (
	"context"
	"errors"
	"net/http/httptest"
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

// The helpers of this file are those of the client's audit tests.

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

// newBarLog is newLog with two files of project bar appended, one of
// which its filename does not give: baz-1.0.tar.gz is listed in the
// filename note filenames/baz.
func newBarLog(t *testing.T) (*publish.Dir, string, string) {
	t.Helper()
	store, skey, vkey := newLog(t)
	records := seqtest.Records(10_000, 2)
	for i, filename := range []string{"baz-1.0.tar.gz", "bar-2.0.tar.gz"} {
		records[i].Project, records[i].Filename = "bar", filename
	}
	if _, err := seqtest.Append(context.Background(), store, skey, records, ""); err != nil {
		t.Fatal(err)
	}
	return store, skey, vkey
}

// copyLog copies a log's directory.
func copyLog(t *testing.T, store *publish.Dir) *publish.Dir {
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

// writeRaw overwrites an object behind the store's back, as an attacker
// with access to the bucket would.
func writeRaw(store *publish.Dir, key string, data []byte) error {
	return os.WriteFile(filepath.Join(store.Root(), filepath.FromSlash(key)), data, 0o644)
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
	data, _, err := store.Read(ctx, tiles.IndexKey(project))
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
	auditPut(t, store, tiles.IndexKey(project), signed)
}

// auditPut writes a mutable object whatever it holds, as the log's operator
// could.
func auditPut(t *testing.T, store publish.Store, key string, data []byte) {
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

// auditOK audits store from its directory (listable) and over HTTP, and
// fails t unless both pass without warnings.
func auditOK(t *testing.T, store *publish.Dir, vkey string) {
	t.Helper()
	srv := httptest.NewServer(publish.Handler(store, nil))
	defer srv.Close()
	httpFetch, err := client.NewHTTPFetcher(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for how, fetch := range map[string]client.Fetcher{"dir": client.DirFetcher(store.Root()), "http": httpFetch} {
		l, err := client.NewLog(fetch, vkey)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := l.Audit(context.Background(), nil)
		if err != nil || len(rep.Warnings) > 0 {
			var problems, warnings string
			if rep != nil {
				problems, warnings = strings.Join(rep.Problems, "\n"), strings.Join(rep.Warnings, "\n")
			}
			t.Fatalf("audit %s: %v\nproblems: %s\nwarnings: %s", how, err, problems, warnings)
		}
	}
}
