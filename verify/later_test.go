package verify_test

import (
	"slices"
	"testing"

	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/verify"
)

// TestLaterFiles: the files of a pinned release uploaded more than a day
// after the pinned ones are reported (harmless, a new wheel); those
// uploaded with them (a minute or a day later), of another release, of a
// release not all verified, or without upload times are not.
func TestLaterFiles(t *testing.T) {
	at := func(project, filename, uploaded string) sequencer.Record {
		r := clienttest.Record(project, filename)
		r.UploadTime = uploaded
		return r
	}
	tl := clienttest.NewLog(t, "later.test/log", []sequencer.Record{
		at("foo", "foo-1.0.tar.gz", "2025-05-01T10:00:00Z"),
		at("foo", "foo-1.0-py3-none-any.whl", "2025-05-01T10:01:00Z"), // uploaded with the sdist, not pinned
		at("foo", "foo-1.1.tar.gz", "2025-06-01T10:00:00Z"),           // another release
		at("bar", "bar-2.0.tar.gz", "2025-05-01T10:00:00Z"),
		at("bar", "bar-2.0-cp313-cp313-win_amd64.whl", "2025-05-02T10:00:00Z"), // exactly a day after
		at("baz", "baz-3.0.tar.gz", "-"),
		at("qux", "qux-4.0.tar.gz", "2025-05-01T10:00:00Z"),
	}, []sequencer.Record{
		at("foo", "foo-1.0-cp314-cp314-manylinux_2_17_x86_64.whl", "2025-09-01T10:00:00Z"),
		at("bar", "bar-2.0-py3-none-any.whl", "2025-09-01T10:00:00Z"),
		at("baz", "baz-3.0-py3-none-any.whl", "-"),
		at("qux", "qux-4.0-py3-none-any.whl", "2025-09-01T10:00:00Z"),
	})
	l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, nil)
	rep := verifyAll(t, 1, []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
		hashArtifact("bar", "2.0", "bar-2.0.tar.gz"),
		fileArtifact("baz", "3.0", "baz-3.0.tar.gz", "baz-3.0.tar.gz"),
		// qux 4.0 has a mismatch: nothing is said of its later files.
		fileArtifact("qux", "4.0", "qux-4.0.tar.gz", "qux-4.0.tar.gz"),
		fileArtifact("qux", "4.0", "qux-4.0-py3-none-any.whl", "another wheel"),
	}, l)
	var got []string
	for _, lf := range rep.LaterFiles() {
		if lf.Origin != "later.test/log" {
			t.Errorf("origin %q", lf.Origin)
		}
		for _, line := range lf.Files {
			got = append(got, lf.Project+" "+lf.Version+": "+line.Filename)
		}
	}
	want := []string{
		"foo 1.0: foo-1.0-cp314-cp314-manylinux_2_17_x86_64.whl",
		"bar 2.0: bar-2.0-py3-none-any.whl",
	}
	if !slices.Equal(got, want) {
		t.Errorf("later files:\n%q\nwant\n%q", got, want)
	}
}

// TestLaterFilesNone: a lockfile that pins every file of its releases has
// no later files.
func TestLaterFilesNone(t *testing.T) {
	tl := clienttest.NewLog(t, "later.test/log", firstBatch)
	l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, nil)
	rep := verifyAll(t, 1, []lockfile.Artifact{
		fileArtifact("bar", "2.0", "bar-2.0.tar.gz", "bar-2.0.tar.gz"),
		fileArtifact("bar", "2.0", "bar-2.0-py3-none-any.whl", "bar-2.0-py3-none-any.whl"),
	}, l)
	if later := rep.LaterFiles(); len(later) != 0 {
		t.Errorf("later files %+v, want none", later)
	}
	if n := rep.Count(verify.StatusVerified); n != 2 {
		t.Errorf("%d verified, want 2", n)
	}
}
