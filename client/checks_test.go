package client_test

// Tests that fail when one of the security checks is weakened: each names
// the check it guards.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// resignIndex returns a signed index of project (as signed before) edited
// and signed again with the log's key.
func resignIndex(t *testing.T, tl *testLog, signed []byte, project string, edit func(*tiles.Index)) []byte {
	t.Helper()
	signer, err := note.NewSigner(tl.skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, _ := note.NewVerifier(tl.vkey)
	x, err := tiles.OpenIndex(signed, verifier, project)
	if err != nil {
		t.Fatal(err)
	}
	edit(&x)
	out, err := tiles.SignIndex(x, signer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// forgeSHA256 makes the index line of filename carry digest (hex),
// keeping its leaf and filename.
func forgeSHA256(t *testing.T, filename, digest string) func(*tiles.Index) {
	return func(x *tiles.Index) {
		d, err := tiles.ParseHexDigest(digest)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x.Lines {
			if x.Lines[i].Filename == filename {
				x.Lines[i].SHA256 = d
				return
			}
		}
		t.Fatalf("%s is not in the index", filename)
	}
}

// checkIndexLine (lookup.go) must compare the sha256 of an index line with
// its entry, not only the filename: a log (or whoever holds its key) that
// re-signs an index with a forged sha256 for a logged file must not get
// the forged hash verified, by verify or by lookup.
func TestIndexLineWithAForgedSHA256(t *testing.T) {
	ctx := context.Background()
	tl := newTestLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	forged := resignIndex(t, tl, tl.read(t, tiles.IndexKey("foo")), "foo", forgeSHA256(t, "foo-1.0.tar.gz", digestOf("evil")))
	srv := serveLog(t, tl)
	srv.setRewrite(replace(tiles.IndexKey("foo"), forged))
	l, _ := openLog(t, srv.URL, tl.vkey, nil)
	leaf := leafOf(t, tl, "foo", "foo-1.0.tar.gz")
	want := fmt.Sprintf("index says leaf %d is foo-1.0.tar.gz sha256:%s, the log's entry is foo-1.0.tar.gz sha256:%s", leaf, digestOf("evil"), digestOf("foo-1.0.tar.gz"))

	rep := verify(t, 1, []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "evil"),
		hashArtifact("foo", "1.0", "evil"),
	}, l)
	for _, res := range rep.Results {
		wantResult(t, res, client.StatusError, want)
	}
	if len(rep.SecurityErrors()) == 0 {
		t.Errorf("no security error for a forged sha256 in the index")
	}

	cp, err := l.VerifiedCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, err := l.Lookup(ctx, cp.Tree, "foo", "foo-1.0.tar.gz")
	if !client.IsSecurityError(err) || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("lookup of a file the index gives a forged sha256: %v, %+v", err, files)
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

// The whole sha256 is compared (verify.go, planFile and planHash): a hash
// equal to the logged one but for its last digit is a mismatch.
func TestVerifyComparesTheWholeHash(t *testing.T) {
	tl := newTestLog(t, "pysumdb.test/log", firstBatch)
	l, _ := openLog(t, tl.store.Root(), tl.vkey, nil)
	almost := lastDigitChanged(digestOf("foo-1.0.tar.gz"))
	byName := fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "")
	byName.SHA256 = almost
	byHash := hashArtifact("foo", "1.0", "")
	byHash.SHA256 = almost
	rep := verify(t, 1, []lockfile.Artifact{byName, byHash}, l)
	wantResult(t, rep.Results[0], client.StatusMismatch, "the log holds foo-1.0.tar.gz with sha256:"+digestOf("foo-1.0.tar.gz"))
	wantResult(t, rep.Results[1], client.StatusMismatch, "sha256:"+almost+" is none of the 1 logged files of foo 1.0")
}

// A GitHub attestation identity names a workflow (publisher.go,
// identityMatches): the same repository with another workflow is another
// publisher.
func TestPublisherOfAnotherWorkflow(t *testing.T) {
	ctx := context.Background()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey := seqtest.NewKey(t)
	records := []sequencer.Record{
		{Project: "sampleproject", Filename: "sampleproject-4.0.0.tar.gz", SHA256: fmt.Sprintf("%064x", 1), Size: 1, UploadTime: "-",
			Publisher: &tiles.Publisher{Kind: "github", SAN: goodSAN}},
		{Project: "sampleproject-x", Filename: "sampleproject-4.0.0-py3-none-any.whl", SHA256: fmt.Sprintf("%064x", 2), Size: 1, UploadTime: "-",
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
		rep, err := (&client.Verifier{Logs: []*client.Log{l}, Quorum: 1}).Verify(ctx, artifacts)
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
// disagree (verify.go, decide).
func TestTwoWrongHashesDisagree(t *testing.T) {
	var logs []*client.Log
	for i, evil := range []string{"evil1", "evil2"} {
		batch := append([]sequencer.Record(nil), firstBatch...)
		batch[1].SHA256 = digestOf(evil)
		tl := newTestLog(t, fmt.Sprintf("log%d.test/log", i), batch)
		l, _ := openLog(t, tl.store.Root(), tl.vkey, nil)
		logs = append(logs, l)
	}
	for _, quorum := range []int{1, 2} {
		rep := verify(t, quorum, []lockfile.Artifact{fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz")}, logs...)
		res := rep.Results[0]
		wantResult(t, res, client.StatusMismatch, "with sha256:"+digestOf("evil1"), "with sha256:"+digestOf("evil2"))
		if !res.Disagreement || rep.Disagreements() != 1 {
			t.Errorf("quorum %d: two logs proving two different hashes: disagreement %v", quorum, res.Disagreement)
		}
	}
}

// A bundle is cached only if every entry matches the verified hash tile
// (log.go, checkBundle): a bundle changed in an entry other than the one
// proven is refused, and never cached.
func TestBundleChangedInAnotherEntry(t *testing.T) {
	ctx := context.Background()
	tl := newTestLog(t, "pysumdb.test/log", firstBatch)
	const key = "tile/entries/000"
	entries, err := tiles.ParseBundle(tl.read(t, key), tiles.TileWidth)
	if err != nil {
		t.Fatal(err)
	}
	for _, changed := range []int{1, 100, tiles.TileWidth - 1} {
		t.Run(fmt.Sprint(changed), func(t *testing.T) {
			bad := make([][]byte, len(entries))
			copy(bad, entries)
			e, err := tiles.ParseEntry(bad[changed])
			if err != nil {
				t.Fatal(err)
			}
			e.SHA256[31] ^= 1
			if bad[changed], err = tiles.FormatEntry(e); err != nil {
				t.Fatal(err)
			}
			bundle, err := tiles.EncodeBundle(bad)
			if err != nil {
				t.Fatal(err)
			}
			srv := serveLog(t, tl)
			srv.setRewrite(replace(key, bundle))
			cacheDir := t.TempDir()
			l, _ := openLog(t, srv.URL, tl.vkey, openCache(t, cacheDir))
			cp, err := l.VerifiedCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = l.Entry(ctx, cp.Tree, 0)
			if !client.IsSecurityError(err) || !strings.Contains(err.Error(), key) {
				t.Errorf("a bundle changed in entry %d, entry 0 proven: %v", changed, err)
			}
			matches, _ := filepath.Glob(filepath.Join(cacheDir, "*", filepath.FromSlash(key)))
			if len(matches) != 0 {
				t.Errorf("the changed bundle was cached: %v", matches)
			}
		})
	}
}

// An index that lags behind the checkpoint and misstates a file of the
// pinned release: the lines the answer rests on are proven even when the
// answer is "not in log", so the misstatement is a security error.
func TestVerifyLaggingIndexThatMisstatesAFile(t *testing.T) {
	tl := newTestLog(t, "pysumdb.test/log", firstBatch)
	old := tl.read(t, tiles.IndexKey("foo"))
	tl.append(t, secondBatch)
	forged := resignIndex(t, tl, old, "foo", forgeSHA256(t, "foo-1.0.tar.gz", digestOf("evil")))
	srv := serveLog(t, tl)
	srv.setRewrite(replace(tiles.IndexKey("foo"), forged))
	l, _ := openLog(t, srv.URL, tl.vkey, nil)
	rep := verify(t, 1, []lockfile.Artifact{hashArtifact("foo", "1.0", "foo-1.0.tar.gz")}, l)
	wantResult(t, rep.Results[0], client.StatusError, "index says leaf", "sha256:"+digestOf("evil"))
	if len(rep.SecurityErrors()) == 0 {
		t.Errorf("no security error")
	}

	// The same index, honest: the file may have been logged since.
	srv.setRewrite(replace(tiles.IndexKey("foo"), old))
	l, _ = openLog(t, srv.URL, tl.vkey, nil)
	rep = verify(t, 1, []lockfile.Artifact{hashArtifact("foo", "1.0", "evil")}, l)
	wantResult(t, rep.Results[0], client.StatusNotInLog, "the index covers only size")
}

// Lookup says a tile could not be fetched, never that the project is not
// in the log, when a tile or bundle is missing.
func TestLookupWithAMissingTile(t *testing.T) {
	ctx := context.Background()
	tl := newTestLog(t, "pysumdb.test/log", firstBatch)
	for _, key := range []string{"tile/entries/001.p/48", "tile/0/001.p/48"} {
		t.Run(key, func(t *testing.T) {
			srv := serveLog(t, tl)
			srv.setRewrite(func(k string, status int, body []byte) (int, []byte) {
				if k == key {
					return 404, nil
				}
				return status, body
			})
			l, _ := openLog(t, srv.URL, tl.vkey, nil)
			cp, err := l.VerifiedCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = l.Lookup(ctx, cp.Tree, "foo", "")
			if err == nil || errors.Is(err, client.ErrNotInLog) || client.IsSecurityError(err) || !strings.Contains(err.Error(), key) {
				t.Errorf("lookup with %s missing: %v", key, err)
			}
			_, err = l.Lookup(ctx, cp.Tree, "nosuchproject", "")
			if !errors.Is(err, client.ErrNotInLog) {
				t.Errorf("lookup of a project the log doesn't have: %v", err)
			}
		})
	}
}
