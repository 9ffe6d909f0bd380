package clienttest

import (
	"testing"

	"github.com/pysumdb/pysumdb/tiles"
)

// Claim records c as the claimant of filename in the log's index of
// project (nil: no claimant), signed again with the log's key
// (RewriteIndex): the index line a sequencer writes for a file whose
// claim matched what PyPI served (the claimant is in the index only, not
// in the entry, so the tree is unchanged). It rewrites the index in the
// store, without the claim itself: call it after the last batch that logs
// a file of project.
func (l *Log) Claim(t testing.TB, project, filename string, c *tiles.Claimant) {
	t.Helper()
	found := false
	RewriteIndex(t, l.Store, l.SKey, project, func(x *tiles.Index) {
		for i := range x.Lines {
			if x.Lines[i].Filename == filename {
				x.Lines[i].Claimant, found = c, true
			}
		}
	})
	if !found {
		t.Fatalf("%s is not in the index of %s", filename, project)
	}
}
