package verify_test

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// keyClaimant returns the claimant of a new note key.
func keyClaimant(t *testing.T, name string) *tiles.Claimant {
	t.Helper()
	_, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	return &tiles.Claimant{Kind: tiles.ClaimantKey, Value: vkey}
}

func workflowClaimant(repo string) *tiles.Claimant {
	return &tiles.Claimant{Kind: tiles.ClaimantGitHub, Value: "https://github.com/" + repo + "/.github/workflows/release.yml"}
}

// claimLogs are three logs of the same files (but c, which holds
// foo-1.0.tar.gz with other bytes), the maintainers' claims recorded in
// their indexes as follows:
//
//	file                       a      b      c
//	foo-1.0.tar.gz             key    key    other key (other bytes)
//	bar-2.0-py3-none-any.whl   bar    fork   bar
//	foo-0.9.tar.gz             -      key    -
//
// bar-2.0.tar.gz is attested (its entry records a publisher), unclaimed;
// foo-1.0-py3-none-any.whl is neither attested nor claimed. c comes first,
// so that a result's claimant is not merely the first log's.
func claimLogs(t *testing.T) (key, otherKey, bar, fork *tiles.Claimant, logs []*client.Log) {
	t.Helper()
	key, otherKey = keyClaimant(t, "foo-maintainers"), keyClaimant(t, "someone-else")
	bar, fork = workflowClaimant("bar/bar"), workflowClaimant("someone/fork")
	evil := slices.Clone(firstBatch)
	evil[1].SHA256 = clienttest.Digest("evil")
	a := clienttest.NewLog(t, "a.test/log", firstBatch, secondBatch)
	b := clienttest.NewLog(t, "b.test/log", firstBatch, secondBatch)
	c := clienttest.NewLog(t, "c.test/log", evil, secondBatch)
	a.Claim(t, "foo", "foo-1.0.tar.gz", key)
	a.Claim(t, "bar", "bar-2.0-py3-none-any.whl", bar)
	b.Claim(t, "foo", "foo-1.0.tar.gz", key)
	b.Claim(t, "foo", "foo-0.9.tar.gz", key)
	b.Claim(t, "bar", "bar-2.0-py3-none-any.whl", fork)
	c.Claim(t, "foo", "foo-1.0.tar.gz", otherKey)
	c.Claim(t, "bar", "bar-2.0-py3-none-any.whl", bar)
	for _, tl := range []*clienttest.Log{c, a, b} {
		l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, nil)
		logs = append(logs, l)
	}
	return key, otherKey, bar, fork, logs
}

func TestVerifyChecksClaims(t *testing.T) {
	key, otherKey, bar, _, logs := claimLogs(t)
	artifacts := []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),                     // 0: claimed (a, b agree; c holds other bytes)
		fileArtifact("bar", "2.0", "bar-2.0-py3-none-any.whl", "bar-2.0-py3-none-any.whl"), // 1: claimed by two workflows
		fileArtifact("foo", "0.9", "foo-0.9.tar.gz", "foo-0.9.tar.gz"),                     // 2: claimed in b only
		fileArtifact("bar", "2.0", "bar-2.0.tar.gz", "bar-2.0.tar.gz"),                     // 3: a publisher, no claim
		hashArtifact("foo", "1.0", "foo-1.0.tar.gz"),                                       // 4: claimed, found by hash
		fileArtifact("foo", "1.0", "foo-1.0-py3-none-any.whl", "foo-1.0-py3-none-any.whl"), // 5: neither
		fileArtifact("foo", "2.0", "foo-2.0.tar.gz", "foo-2.0.tar.gz"),                     // 6: not in the logs
	}
	rep := verifyAll(t, 2, artifacts, logs...)
	for j, want := range []verify.Status{
		verify.StatusVerified, verify.StatusVerified, verify.StatusVerified, verify.StatusVerified,
		verify.StatusVerified, verify.StatusVerified, verify.StatusNotInLog,
	} {
		wantResult(t, rep.Results[j], want)
	}

	// What each result and each log says.
	// A log that records none, or another claimant, changes nothing: each
	// log records what its own intake received.
	for j, want := range []*tiles.Claimant{key, bar, key, nil, key, nil, nil} {
		if got := rep.Results[j].Claimant(); !equalClaimants(got, want) {
			t.Errorf("artifact %d: claimant %v, want %v", j, got, want)
		}
	}
	if got := rep.Results[0].Logs[0]; got.Status != verify.StatusMismatch || got.Claimant != nil {
		t.Errorf("c holds other bytes of foo-1.0.tar.gz (claimed by %v): %s, claimant %v; want a mismatch without claimant", otherKey, got.Status, got.Claimant)
	}
	if got := rep.Results[2].Logs; got[1].Claimant != nil || !equalClaimants(got[2].Claimant, key) {
		t.Errorf("foo-0.9.tar.gz: claimants %v (a), %v (b); want none, %v", got[1].Claimant, got[2].Claimant, key)
	}

	// The problems and the failures, per requirement.
	for _, c := range []struct {
		req     verify.ClaimRequirement
		missing map[int]string
		failed  []string
	}{
		{req: verify.ClaimOptional},
		{
			req: verify.RequireClaimOrPublisher,
			missing: map[int]string{
				5: "neither a claimant nor a verified publisher in the log (--require-claim-or-publisher)",
			},
			failed: []string{"1 with neither a claimant nor a publisher (--require-claim-or-publisher)"},
		},
		{
			req: verify.RequireClaim,
			missing: map[int]string{
				3: "no claimant in the log (--require-claim)",
				5: "no claimant in the log (--require-claim)",
			},
			failed: []string{"2 unclaimed (--require-claim)"},
		},
	} {
		n := rep.CheckClaims(c.req)
		if n != len(c.missing) {
			t.Errorf("%s: %d failures, want %d", c.req.Flag(), n, len(c.missing))
		}
		if rep.ClaimsRequired() != c.req {
			t.Errorf("ClaimsRequired = %v, want %v", rep.ClaimsRequired(), c.req)
		}
		for j, res := range rep.Results {
			if want := c.missing[j]; res.ClaimProblem != want {
				t.Errorf("%s: artifact %d (%s): claim problem %q, want %q", c.req.Flag(), j, res.Artifact.Filename, res.ClaimProblem, want)
			}
		}
		f := rep.Failures(false)
		if !slices.Equal(f.Failed, c.failed) {
			t.Errorf("%s: failed %q, want %q", c.req.Flag(), f.Failed, c.failed)
		}
		if err := f.Err(); len(c.failed) > 0 && (err == nil || !strings.HasPrefix(err.Error(), "verification failed: ") || client.IsSecurityError(err)) {
			t.Errorf("%s: error %v, want a verification failure (not a security error)", c.req.Flag(), err)
		}
	}

	// Logs that agree: a and b on foo-1.0.tar.gz, with quorum 1 of the
	// honest log a alone, nothing fails but what is required.
	rep = verifyAll(t, 1, artifacts[:1], logs[1])
	if n := rep.CheckClaims(verify.RequireClaim); n != 0 || len(rep.Failures(true).Failed) != 0 {
		t.Errorf("a claimed file with --require-claim: %d failures %q", n, rep.Failures(true).Failed)
	}
}

func equalClaimants(a, b *tiles.Claimant) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
