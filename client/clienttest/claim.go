package clienttest

import (
	"context"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/tiles"
)

// Claim records c as the claimant of filename in the log's index of
// project (nil: no claimant), signed again with the log's key: the index
// line a sequencer writes for a file whose claim matched what PyPI served
// (the claimant is in the index only, not in the entry, so the tree is
// unchanged). It rewrites the index in the store, without the claim
// itself: call it after the last batch that logs a file of project.
func (l *Log) Claim(t testing.TB, project, filename string, c *tiles.Claimant) {
	t.Helper()
	signer, err := note.NewSigner(l.SKey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(l.VKey)
	if err != nil {
		t.Fatal(err)
	}
	key := tiles.IndexKey(project)
	data, version, err := l.Store.Read(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	x, err := tiles.OpenIndex(data, verifier, project)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i := range x.Lines {
		if x.Lines[i].Filename == filename {
			x.Lines[i].Claimant, found = c, true
		}
	}
	if !found {
		t.Fatalf("%s is not in the index of %s", filename, project)
	}
	signed, err := tiles.SignIndex(x, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Store.Swap(context.Background(), key, version, signed); err != nil {
		t.Fatal(err)
	}
}
