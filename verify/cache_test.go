package verify_test

// The verifier with a cache: each tile fetched once, and only verified
// copies kept.

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

var cacheTestArtifacts = []lockfile.Artifact{
	fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
	fileArtifact("foo", "1.0", "foo-1.0-py3-none-any.whl", "foo-1.0-py3-none-any.whl"),
	fileArtifact("bar", "2.0", "bar-2.0.tar.gz", "bar-2.0.tar.gz"),
	hashArtifact("bar", "2.0", "bar-2.0-py3-none-any.whl"),
}

// wantAllVerified fails unless every result is verified.
func wantAllVerified(t *testing.T, rep *verify.Report) {
	t.Helper()
	for _, res := range rep.Results {
		wantResult(t, res, verify.StatusVerified)
	}
}

// cachedFile returns the path of a log's object in the cache directory.
func cachedFile(t *testing.T, cacheDir, key string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(cacheDir, "*", filepath.FromSlash(key)))
	if err != nil || len(matches) != 1 {
		t.Fatalf("%s in the cache: %v, %v", key, matches, err)
	}
	return matches[0]
}

func TestVerifyFetchesEachTileOnceAndCachesThem(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	srv := clienttest.Serve(t, tl)
	cacheDir := t.TempDir()

	l, counting := clienttest.OpenLog(t, srv.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
	wantAllVerified(t, verifyAll(t, 1, cacheTestArtifacts, l))
	counts := srv.Counts()
	tilesFetched := 0
	for key, n := range counts {
		if n != 1 {
			t.Errorf("%s fetched %d times in one run", key, n)
		}
		if tiles.IsImmutable(key) {
			tilesFetched++
		}
	}
	if requests, _ := counting.Counts(); requests != int64(len(counts)) || tilesFetched == 0 {
		t.Errorf("%d requests counted, %d keys served, %d tiles", requests, len(counts), tilesFetched)
	}

	// A second run reads the checkpoint and the indexes, nothing else.
	l, counting = clienttest.OpenLog(t, srv.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
	wantAllVerified(t, verifyAll(t, 1, cacheTestArtifacts, l))
	for key := range srv.Counts() {
		if tiles.IsImmutable(key) {
			t.Errorf("warm run fetched %s", key)
		}
	}
	if requests, _ := counting.Counts(); requests != 3 || l.TilesFromCache() != int64(tilesFetched) {
		t.Errorf("warm run: %d requests (want checkpoint and 2 indexes), %d tiles from the cache (want %d)", requests, l.TilesFromCache(), tilesFetched)
	}
}

func TestVerifyDoesNotCacheBadTiles(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	srv := clienttest.Serve(t, tl)
	for _, key := range []string{"tile/0/001", "tile/entries/001"} {
		t.Run(key, func(t *testing.T) {
			cacheDir := t.TempDir()
			good := tl.Read(t, key)
			srv.SetRewrite(clienttest.Replace(key, good[:len(good)-1]))
			l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
			if errs := verifyAll(t, 1, cacheTestArtifacts, l).SecurityErrors(); len(errs) == 0 {
				t.Fatalf("a truncated %s passed", key)
			}
			// The log repairs the object: the next run fetches it again
			// rather than failing on a copy kept from the bad run.
			srv.SetRewrite(nil)
			srv.Counts()
			l, _ = clienttest.OpenLog(t, srv.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
			wantAllVerified(t, verifyAll(t, 1, cacheTestArtifacts, l))
			if n := srv.Counts()[key]; n != 1 {
				t.Errorf("%s fetched %d times after the log repaired it, want 1", key, n)
			}
			if cached, err := os.ReadFile(cachedFile(t, cacheDir, key)); err != nil || !bytes.Equal(cached, good) {
				t.Errorf("cached %s: %v, not the good copy", key, err)
			}
		})
	}
}

func TestVerifyRefetchesDamagedCacheFiles(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	srv := clienttest.Serve(t, tl)
	cacheDir := t.TempDir()
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
	wantAllVerified(t, verifyAll(t, 1, cacheTestArtifacts, l))
	for _, key := range []string{"tile/0/001", "tile/entries/001"} {
		t.Run(key, func(t *testing.T) {
			path := cachedFile(t, cacheDir, key)
			good, _ := os.ReadFile(path)
			damaged := bytes.Clone(good)
			damaged[40] ^= 1
			if err := os.WriteFile(path, damaged, 0o644); err != nil {
				t.Fatal(err)
			}
			srv.Counts()
			// A copy damaged on the local disk is no misbehaviour of the
			// log: it is dropped and fetched again.
			l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
			rep := verifyAll(t, 1, cacheTestArtifacts, l)
			wantAllVerified(t, rep)
			if n := srv.Counts()[key]; n != 1 {
				t.Errorf("%s fetched %d times, want 1", key, n)
			}
			if cached, _ := os.ReadFile(path); !bytes.Equal(cached, good) {
				t.Errorf("cached %s was not repaired", key)
			}
		})
	}
}

// TestVerifyReadsOnlyTheBundlesItNeeds checks that an entry the index
// line describes whole (no publisher) is proven without its entry bundle,
// by the leaf's hash in the verified tiles, and that an attested entry's
// bundle is read, for its publisher.
func TestVerifyReadsOnlyTheBundlesItNeeds(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	srv := clienttest.Serve(t, tl)
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	// The second batch (leaves 604 and 605, bundle 002) has no publisher.
	rep := verifyAll(t, 1, []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0-py3-none-any.whl", "foo-1.0-py3-none-any.whl"),
		hashArtifact("foo", "1.1", "foo-1.1.tar.gz"),
	}, l)
	wantAllVerified(t, rep)
	counts := srv.Counts()
	if counts["tile/entries/002.p/94"] != 0 {
		t.Errorf("fetched the bundle of entries its index lines describe whole: %v", counts)
	}
	if counts["tile/0/002.p/94"] != 1 {
		t.Errorf("didn't fetch the level-0 tile of the entries once: %v", counts)
	}
	// bar-2.0.tar.gz records a publisher: its bundle tells it.
	rep = verifyAll(t, 1, []lockfile.Artifact{fileArtifact("bar", "2.0", "bar-2.0.tar.gz", "bar-2.0.tar.gz")}, l)
	wantAllVerified(t, rep)
	if p := rep.Results[0].Logs[0].Publisher; p == nil || p.Kind != tiles.PublisherGitHub {
		t.Errorf("publisher of the attested file: %+v", p)
	}
	if n := srv.Counts()["tile/entries/001"]; n != 1 {
		t.Errorf("the attested file's bundle fetched %d times, want 1", n)
	}
}
