package verify_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

func TestVerifyByFilename(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, nil)
	artifacts := []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
		fileArtifact("foo", "1.0", "foo-1.0-py3-none-any.whl", "evil"),
		fileArtifact("foo", "2.0", "foo-2.0.tar.gz", "foo-2.0.tar.gz"),
		fileArtifact("baz", "1.0", "baz-1.0.tar.gz", "baz-1.0.tar.gz"),
		{Project: "local", File: "test.lock", Skip: "editable local directory source: not a PyPI file"},
	}
	rep := verifyAll(t, 1, artifacts, l)
	sdist, wheel := tl.LeafOf(t, "foo", "foo-1.0.tar.gz"), tl.LeafOf(t, "foo", "foo-1.0-py3-none-any.whl")

	wantResult(t, rep.Results[0], verify.StatusVerified, fmt.Sprintf("at leaf %d", sdist))
	if lr := rep.Results[0].Logs[0]; lr.Leaf != sdist || lr.Filename != "foo-1.0.tar.gz" {
		t.Errorf("verified at leaf %d as %s, want leaf %d", lr.Leaf, lr.Filename, sdist)
	}
	wantResult(t, rep.Results[1], verify.StatusMismatch,
		fmt.Sprintf("the log holds foo-1.0-py3-none-any.whl with sha256:%s at leaf %d, not sha256:%s", clienttest.DigestOf("foo-1.0-py3-none-any.whl"), wheel, clienttest.DigestOf("evil")))
	if lr := rep.Results[1].Logs[0]; lr.Leaf != wheel || fmt.Sprintf("%x", lr.SHA256) != clienttest.DigestOf("foo-1.0-py3-none-any.whl") {
		t.Errorf("mismatch rests on leaf %d with %x, want leaf %d", lr.Leaf, lr.SHA256, wheel)
	}
	wantResult(t, rep.Results[2], verify.StatusNotInLog, "foo-2.0.tar.gz is not among the 4 logged files of foo")
	wantResult(t, rep.Results[3], verify.StatusNotInLog, "project baz is not in the log")
	if res := rep.Results[4]; res.Status != verify.StatusSkipped || res.Logs != nil {
		t.Errorf("skipped artifact: %+v", res)
	}
	if rep.Count(verify.StatusVerified) != 1 || len(rep.SecurityErrors()) != 0 {
		t.Errorf("%d verified, security errors %v", rep.Count(verify.StatusVerified), rep.SecurityErrors())
	}
}

func TestVerifyByHash(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, nil)
	artifacts := []lockfile.Artifact{
		hashArtifact("foo", "1.0", "foo-1.0-py3-none-any.whl"),
		hashArtifact("foo", "1.0.0", "foo-1.0.tar.gz"), // PEP 440: 1.0.0 == 1.0
		hashArtifact("foo", "1.0", "foo-0.9.tar.gz"),
		hashArtifact("foo", "1.0", "bar-2.0.tar.gz"),
		hashArtifact("foo", "1.0", "evil"),
		hashArtifact("foo", "3.0", "foo-3.0.tar.gz"),
		hashArtifact("foo", "", "foo-0.9.tar.gz"),
		hashArtifact("foo", "", "foo-3.0.tar.gz"),
		hashArtifact("bar", "2.0", "bar-2.0-py3-none-any.whl"),
	}
	rep := verifyAll(t, 1, artifacts, l)
	wantResult(t, rep.Results[0], verify.StatusVerified, fmt.Sprintf("foo-1.0-py3-none-any.whl sha256:%s at leaf %d", clienttest.DigestOf("foo-1.0-py3-none-any.whl"), tl.LeafOf(t, "foo", "foo-1.0-py3-none-any.whl")))
	wantResult(t, rep.Results[1], verify.StatusVerified)
	wantResult(t, rep.Results[2], verify.StatusMismatch, fmt.Sprintf("as foo-0.9.tar.gz of foo 0.9 at leaf %d", tl.LeafOf(t, "foo", "foo-0.9.tar.gz")))
	wantResult(t, rep.Results[3], verify.StatusMismatch, fmt.Sprintf("as bar-2.0.tar.gz of bar 2.0 at leaf %d", tl.LeafOf(t, "bar", "bar-2.0.tar.gz")))
	wantResult(t, rep.Results[4], verify.StatusMismatch, "is none of the 2 logged files of foo 1.0: foo-1.0.tar.gz sha256:"+clienttest.DigestOf("foo-1.0.tar.gz"))
	wantResult(t, rep.Results[5], verify.StatusNotInLog, "the log has no file of foo 3.0")
	wantResult(t, rep.Results[6], verify.StatusVerified)
	wantResult(t, rep.Results[7], verify.StatusNotInLog, "no logged file of foo has sha256:"+clienttest.DigestOf("foo-3.0.tar.gz"))
	wantResult(t, rep.Results[8], verify.StatusVerified)
}

func TestVerifyNotYetProvable(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	oldSize := tl.Size(t)
	oldCheckpoint := tl.Read(t, tiles.CheckpointKey)
	oldFooIndex := tl.Read(t, tiles.IndexKey("foo"))
	tl.Append(t, secondBatch)
	srv := clienttest.Serve(t, tl)
	artifacts := []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0-py3-none-any.whl", "foo-1.0-py3-none-any.whl"),
		hashArtifact("foo", "1.0", "foo-1.0-py3-none-any.whl"),
		hashArtifact("foo", "1.1", "evil"),
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
	}

	// The indexes are fresher than the checkpoint the client got.
	srv.SetRewrite(func(key string, status int, body []byte) (int, []byte) {
		if key == tiles.CheckpointKey {
			return status, oldCheckpoint
		}
		return status, body
	})
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	rep := verifyAll(t, 1, artifacts, l)
	wantResult(t, rep.Results[0], verify.StatusNotInLog, fmt.Sprintf("beyond the verified checkpoint (size %d): not yet provable", oldSize))
	wantResult(t, rep.Results[1], verify.StatusNotInLog, "not yet provable")
	wantResult(t, rep.Results[2], verify.StatusNotInLog, "the log has no file of foo 1.1")
	wantResult(t, rep.Results[3], verify.StatusVerified)

	// A cache (a CDN) serves an index of foo older than the checkpoint: a
	// hash missing from a release it lists may be a file logged since, so
	// the index is read again past the cache before a MISMATCH rests on it.
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/"+tiles.IndexKey("foo") && r.Header.Get("Cache-Control") != "no-cache" {
			w.Write(oldFooIndex)
			return
		}
		publish.Handler(tl.Store, nil).ServeHTTP(w, r)
	}))
	defer cdn.Close()
	l, _ = clienttest.OpenLog(t, cdn.URL, tl.VKey, nil)
	rep = verifyAll(t, 1, artifacts, l)
	// (Read again for the hash, the index also answers for the file.)
	wantResult(t, rep.Results[0], verify.StatusVerified)
	wantResult(t, rep.Results[1], verify.StatusVerified)
	wantResult(t, rep.Results[3], verify.StatusVerified)
}

func TestVerifyQuorum(t *testing.T) {
	evil := slices.Clone(firstBatch)
	evil[1].SHA256 = clienttest.Digest("evil")
	logs := []*clienttest.Log{
		clienttest.NewLog(t, "a.test/log", firstBatch),
		clienttest.NewLog(t, "b.test/log", firstBatch),
		clienttest.NewLog(t, "c.test/log", evil),
	}
	servers := make([]*clienttest.Server, len(logs))
	for i, tl := range logs {
		servers[i] = clienttest.Serve(t, tl)
	}
	open := func() []*client.Log {
		var out []*client.Log
		for i, tl := range logs {
			l, _ := clienttest.OpenLog(t, servers[i].URL, tl.VKey, nil)
			out = append(out, l)
		}
		return out
	}
	artifacts := []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
		fileArtifact("bar", "2.0", "bar-2.0.tar.gz", "bar-2.0.tar.gz"),
	}

	rep := verifyAll(t, 2, artifacts, open()...)
	wantResult(t, rep.Results[0], verify.StatusVerified, "the log holds foo-1.0.tar.gz with sha256:"+clienttest.DigestOf("evil"))
	if !rep.Results[0].Disagreement || rep.Results[1].Disagreement || rep.Disagreements() != 1 {
		t.Errorf("disagreements: %v %v", rep.Results[0].Disagreement, rep.Results[1].Disagreement)
	}
	if got := rep.Results[0].Logs[2].Status; got != verify.StatusMismatch {
		t.Errorf("log c says %s, want mismatch", got)
	}

	rep = verifyAll(t, 3, artifacts, open()...)
	wantResult(t, rep.Results[0], verify.StatusMismatch)
	wantResult(t, rep.Results[1], verify.StatusVerified)

	// An unreachable log: the others decide.
	servers[0].Down()
	rep = verifyAll(t, 2, artifacts, open()...)
	if err := rep.Logs[0].Err; err == nil || client.IsSecurityError(err) {
		t.Errorf("log a down: %v, want a plain failure", err)
	}
	wantResult(t, rep.Results[0], verify.StatusMismatch) // only b proves it, c proves another hash
	wantResult(t, rep.Results[1], verify.StatusVerified)
	if len(rep.SecurityErrors()) != 0 {
		t.Errorf("an unreachable log is no security error: %v", rep.SecurityErrors())
	}
	rep = verifyAll(t, 1, artifacts, open()[:2]...)
	wantResult(t, rep.Results[0], verify.StatusVerified)

	// Too few logs answer to reach the quorum.
	servers[2].Down()
	rep = verifyAll(t, 2, artifacts, open()...)
	wantResult(t, rep.Results[1], verify.StatusError, "the log is unusable")
}

func TestVerifyCatchesMisbehavingLogs(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	checkpoint := tl.Read(t, tiles.CheckpointKey)
	badSignature := clienttest.BreakSignature(checkpoint)
	tile := tl.Read(t, "tile/0/001")
	bundle := tl.Read(t, "tile/entries/001")
	wrongLeaf := clienttest.ResignIndex(t, tl, tl.Read(t, tiles.IndexKey("foo")), "foo", func(x *tiles.Index) {
		for i := range x.Lines {
			if x.Lines[i].Filename == "foo-1.0.tar.gz" {
				x.Lines[i].Leaf = 5
			}
		}
	})
	artifacts := []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
		hashArtifact("foo", "1.0", "foo-1.0.tar.gz"),
	}
	// The attested file's entry can't be rebuilt from its index line:
	// its bundle is read.
	attestedArtifacts := []lockfile.Artifact{
		fileArtifact("bar", "2.0", "bar-2.0.tar.gz", "bar-2.0.tar.gz"),
		hashArtifact("bar", "2.0", "bar-2.0.tar.gz"),
	}
	for name, tc := range map[string]struct {
		rewrite   func(string, int, []byte) (int, []byte)
		want      string
		artifacts []lockfile.Artifact
	}{
		"bad checkpoint signature": {clienttest.Replace(tiles.CheckpointKey, badSignature), "checkpoint signature", artifacts},
		"truncated tile":           {clienttest.Replace("tile/0/001", tile[:len(tile)-32]), "inclusion of leaf", artifacts},
		"truncated entry bundle":   {clienttest.Replace("tile/entries/001", bundle[:len(bundle)-10]), "tile/entries/001", attestedArtifacts},
		"index pointing to the wrong entry": {clienttest.Replace(tiles.IndexKey("foo"), wrongLeaf),
			"index of foo: verification failed: index says leaf 5 is foo-1.0.tar.gz", artifacts},
	} {
		t.Run(name, func(t *testing.T) {
			srv := clienttest.Serve(t, tl)
			srv.SetRewrite(tc.rewrite)
			l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
			rep := verifyAll(t, 1, tc.artifacts, l)
			for _, res := range rep.Results {
				wantResult(t, res, verify.StatusError, tc.want)
			}
			errs := rep.SecurityErrors()
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Errorf("security errors %v, want one about %q", errs, tc.want)
			}
		})
	}
}

func TestVerifyWithAnIndexOmittingAFile(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	omitting := clienttest.ResignIndex(t, tl, tl.Read(t, tiles.IndexKey("foo")), "foo", func(x *tiles.Index) {
		x.Lines = slices.DeleteFunc(x.Lines, func(l tiles.IndexLine) bool { return l.Filename == "foo-1.0.tar.gz" })
	})
	srv := clienttest.Serve(t, tl)
	srv.SetRewrite(clienttest.Replace(tiles.IndexKey("foo"), omitting))
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	rep := verifyAll(t, 1, []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
		hashArtifact("foo", "1.0", "foo-1.0.tar.gz"),
	}, l)
	// Without an index by hash, a client can't tell an omitted file from
	// a missing one: the file is not in the log, and a hash missing from
	// the release the index lists is a mismatch. Never verified. (An
	// audit of the log finds the omission.)
	wantResult(t, rep.Results[0], verify.StatusNotInLog, "foo-1.0.tar.gz is not among the 3 logged files of foo")
	wantResult(t, rep.Results[1], verify.StatusMismatch, "is none of the 1 logged files of foo 1.0: foo-1.0-py3-none-any.whl")
}
