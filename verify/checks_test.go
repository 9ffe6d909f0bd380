package verify_test

// Tests that fail when one of the security checks of the verifier is
// weakened: each names the check it guards.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// client.CheckIndexLine must compare the sha256 of an index line with its
// entry, not only the filename: a log (or whoever holds its key) that
// re-signs an index with a forged sha256 for a logged file must not get
// the forged hash verified. (The client tests check lookup.)
func TestIndexLineWithAForgedSHA256(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	forged := clienttest.ResignIndex(t, tl, tl.Read(t, tiles.IndexKey("foo")), "foo", clienttest.ForgeSHA256(t, "foo-1.0.tar.gz", clienttest.DigestOf("evil")))
	srv := clienttest.Serve(t, tl)
	srv.SetRewrite(clienttest.Replace(tiles.IndexKey("foo"), forged))
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	leaf := tl.LeafOf(t, "foo", "foo-1.0.tar.gz")
	want := fmt.Sprintf("index says leaf %d is foo-1.0.tar.gz sha256:%s, the log's entry is foo-1.0.tar.gz sha256:%s", leaf, clienttest.DigestOf("evil"), clienttest.DigestOf("foo-1.0.tar.gz"))

	rep := verifyAll(t, 1, []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "evil"),
		hashArtifact("foo", "1.0", "evil"),
	}, l)
	for _, res := range rep.Results {
		wantResult(t, res, verify.StatusError, want)
	}
	if len(rep.SecurityErrors()) == 0 {
		t.Errorf("no security error for a forged sha256 in the index")
	}
}

// lastDigitChanged returns hex digest d with its last digit changed.
func lastDigitChanged(d string) string {
	last := "0"
	if d[len(d)-1] == '0' {
		last = "1"
	}
	return d[:len(d)-1] + last
}

// The whole sha256 is compared (planFile and planHash): a hash
// equal to the logged one but for its last digit is a mismatch.
func TestVerifyComparesTheWholeHash(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, nil)
	almost := lastDigitChanged(clienttest.DigestOf("foo-1.0.tar.gz"))
	byName := fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "")
	byName.SHA256 = almost
	byHash := hashArtifact("foo", "1.0", "")
	byHash.SHA256 = almost
	rep := verifyAll(t, 1, []lockfile.Artifact{byName, byHash}, l)
	wantResult(t, rep.Results[0], verify.StatusMismatch, "the log holds foo-1.0.tar.gz with sha256:"+clienttest.DigestOf("foo-1.0.tar.gz"))
	wantResult(t, rep.Results[1], verify.StatusMismatch, "sha256:"+almost+" is none of the 1 logged files of foo 1.0")
}

// A GitHub attestation identity names a workflow (identityMatches): the
// same repository with another workflow is another publisher.
func TestPublisherOfAnotherWorkflow(t *testing.T) {
	ctx := context.Background()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey := seqtest.NewKey(t)
	records := []sequencer.Record{
		{Project: "sampleproject", Filename: "sampleproject-4.0.0.tar.gz", SHA256: [32]byte{31: 1}, Size: 1, UploadTime: "-",
			Publisher: &tiles.Publisher{Kind: "github", SAN: goodSAN}},
		{Project: "sampleproject-x", Filename: "sampleproject-4.0.0-py3-none-any.whl", SHA256: [32]byte{31: 2}, Size: 1, UploadTime: "-",
			Publisher: &tiles.Publisher{Kind: "github", SAN: goodSAN}},
	}
	if _, err := seqtest.Append(ctx, store, skey, records, ""); err != nil {
		t.Fatal(err)
	}
	l, err := client.NewLog(client.DirFetcher(store.Root()), vkey)
	if err != nil {
		t.Fatal(err)
	}
	for workflow, ok := range map[string]bool{"release.yml": true, "other.yml": false, "release": false} {
		identity := "\n[[packages.attestation-identities]]\nkind = \"GitHub\"\nrepository = \"pypa/sampleproject\"\nworkflow = \"" + workflow + "\"\n"
		artifacts, err := lockfile.Parse("pylock.toml", []byte(pylock(identity)), "")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := (&verify.Verifier{Logs: []*client.Log{l}, Quorum: 1}).Verify(ctx, artifacts)
		if err != nil {
			t.Fatal(err)
		}
		failed := rep.CheckPublishers(false)
		switch {
		case ok && failed != 0:
			t.Errorf("workflow %s: %d publisher problems: %q", workflow, failed, rep.Results[0].PublisherProblem)
		case !ok && (failed != 2 || !strings.Contains(rep.Results[0].PublisherProblem, "the log records github "+goodSAN)):
			t.Errorf("workflow %s, the log records %s: %d problems %q", workflow, goodSAN, failed, rep.Results[0].PublisherProblem)
		}
	}
}

// Two logs that prove two different hashes, neither the lockfile's,
// disagree (decide).
func TestTwoWrongHashesDisagree(t *testing.T) {
	var logs []*client.Log
	for i, evil := range []string{"evil1", "evil2"} {
		batch := append([]sequencer.Record(nil), firstBatch...)
		batch[1].SHA256 = clienttest.Digest(evil)
		tl := clienttest.NewLog(t, fmt.Sprintf("log%d.test/log", i), batch)
		l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, nil)
		logs = append(logs, l)
	}
	for _, quorum := range []int{1, 2} {
		rep := verifyAll(t, quorum, []lockfile.Artifact{fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz")}, logs...)
		res := rep.Results[0]
		wantResult(t, res, verify.StatusMismatch, "with sha256:"+clienttest.DigestOf("evil1"), "with sha256:"+clienttest.DigestOf("evil2"))
		if !res.Disagreement || rep.Disagreements() != 1 {
			t.Errorf("quorum %d: two logs proving two different hashes: disagreement %v", quorum, res.Disagreement)
		}
	}
}

// An index that lags behind the checkpoint and misstates a file of the
// pinned release: the lines the answer rests on are proven even when the
// answer is "not in log", so the misstatement is a security error.
func TestVerifyLaggingIndexThatMisstatesAFile(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	old := tl.Read(t, tiles.IndexKey("foo"))
	tl.Append(t, secondBatch)
	forged := clienttest.ResignIndex(t, tl, old, "foo", clienttest.ForgeSHA256(t, "foo-1.0.tar.gz", clienttest.DigestOf("evil")))
	srv := clienttest.Serve(t, tl)
	srv.SetRewrite(clienttest.Replace(tiles.IndexKey("foo"), forged))
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	rep := verifyAll(t, 1, []lockfile.Artifact{hashArtifact("foo", "1.0", "foo-1.0.tar.gz")}, l)
	wantResult(t, rep.Results[0], verify.StatusError, "index says leaf", "sha256:"+clienttest.DigestOf("evil"))
	if len(rep.SecurityErrors()) == 0 {
		t.Errorf("no security error")
	}

	// The same index, honest, and current even past any cache (the log
	// logged no file of foo since its size): a hash none of foo 1.0's
	// files has is a MISMATCH, not "not in log", however old the index.
	srv.SetRewrite(clienttest.Replace(tiles.IndexKey("foo"), old))
	l, _ = clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	rep = verifyAll(t, 1, []lockfile.Artifact{hashArtifact("foo", "1.0", "evil")}, l)
	wantResult(t, rep.Results[0], verify.StatusMismatch, "the index, current, covers size 304 of the checkpoint's 306")
}
