package verify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/internal/latency"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// testRTT is the round trip the scheduling tests add to each request: long
// enough that requests sent together overlap whatever the machine's load,
// so that the depth measured is the client's dependency chain.
const testRTT = 300 * time.Millisecond

// TestVerifyRoundTrips checks the scheduling of a verification: the
// indexes go out with the checkpoint, every tile of the proofs at once,
// and only the attested entry's bundle after them: 3 round trips cold, 1
// warm, 2 after the log grew (the consistency proof's tiles, then the
// proofs' new ones).
func TestVerifyRoundTrips(t *testing.T) {
	// 300 more files after the second batch: the files sit in two full
	// level-0 tiles, whose proofs need different tiles.
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch, nil)
	proxy := latency.New(publish.Handler(tl.Store, nil), testRTT)
	defer proxy.Close()
	cacheDir := t.TempDir()
	artifacts := []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
		fileArtifact("foo", "1.0", "foo-1.0-py3-none-any.whl", "foo-1.0-py3-none-any.whl"),
		hashArtifact("foo", "1.1", "foo-1.1.tar.gz"),
		fileArtifact("bar", "2.0", "bar-2.0.tar.gz", "bar-2.0.tar.gz"),
		hashArtifact("bar", "2.0", "bar-2.0-py3-none-any.whl"),
	}
	run := func(t *testing.T, want int) latency.Stats {
		t.Helper()
		proxy.Reset()
		l, _ := clienttest.OpenLog(t, proxy.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
		wantAllVerified(t, verifyAll(t, 1, artifacts, l))
		s := latency.Summarize(proxy.Requests())
		if s.Depth != want {
			var chain []string
			for _, r := range s.Chain {
				chain = append(chain, r.Path)
			}
			t.Errorf("%d round trips deep, want %d: %s", s.Depth, want, strings.Join(chain, " → "))
		}
		return s
	}
	cold := run(t, 3)
	// The only request after the tiles' round trip is the attested
	// entry's bundle: no tile waits for a bundle, no index for the
	// checkpoint.
	for _, r := range cold.Chain[:2] {
		if strings.HasPrefix(r.Path, "/tile/entries/") {
			t.Errorf("a bundle fetched before the proofs' tiles: %s", r.Path)
		}
	}
	if last := cold.Chain[2].Path; !strings.HasPrefix(last, "/tile/entries/") {
		t.Errorf("the last round trip fetched %s, want the attested entry's bundle", last)
	}
	warm := run(t, 1)
	for _, r := range proxy.Requests() {
		if p := strings.TrimPrefix(r.Path, "/"); tiles.IsImmutable(p) {
			t.Errorf("warm run fetched %s", p)
		}
	}
	if warm.Requests != 3 {
		t.Errorf("warm run: %d requests, want the checkpoint and 2 indexes", warm.Requests)
	}
	tl.Append(t, seqtest.Records(2000, 300))
	run(t, 2)
}
