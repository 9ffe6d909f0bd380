package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// The files of the test logs: foo 0.9, foo 1.0 and bar 2.0 in a first
// batch, the wheel of foo 1.0 and foo 1.1 in a second one. The helpers
// that build, serve and tamper with the logs are in package clienttest.
// bar-2.0.tar.gz is attested: its entry records a publisher, which its
// index line doesn't, so proving it needs its entry bundle.
var (
	firstBatch = []sequencer.Record{
		clienttest.Record("foo", "foo-0.9.tar.gz"),
		clienttest.Record("foo", "foo-1.0.tar.gz"),
		attested(clienttest.Record("bar", "bar-2.0.tar.gz")),
		clienttest.Record("bar", "bar-2.0-py3-none-any.whl"),
	}
	secondBatch = []sequencer.Record{
		clienttest.Record("foo", "foo-1.0-py3-none-any.whl"),
		clienttest.Record("foo", "foo-1.1.tar.gz"),
	}
)

// attested returns r with a publisher.
func attested(r sequencer.Record) sequencer.Record {
	r.Publisher = &tiles.Publisher{Kind: tiles.PublisherGitHub, SAN: "https://github.com/bar/bar/.github/workflows/release.yml@refs/tags/v2.0"}
	return r
}

// fileArtifact is a lockfile artifact naming a file, with the digest
// named after hashOf.
func fileArtifact(project, version, filename, hashOf string) lockfile.Artifact {
	return lockfile.Artifact{Project: project, Version: version, Filename: filename, SHA256: clienttest.DigestOf(hashOf), File: "test.lock", Line: 1}
}

// hashArtifact is a lockfile artifact without filename (Pipfile.lock).
func hashArtifact(project, version, hashOf string) lockfile.Artifact {
	return lockfile.Artifact{Project: project, Version: version, SHA256: clienttest.DigestOf(hashOf), File: "Pipfile.lock", Line: 1}
}

// verifyAll verifies artifacts against logs with quorum.
func verifyAll(t testing.TB, quorum int, artifacts []lockfile.Artifact, logs ...*client.Log) *verify.Report {
	t.Helper()
	v := &verify.Verifier{Logs: logs, Quorum: quorum}
	rep, err := v.Verify(context.Background(), artifacts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// wantResult checks one result's status and that its detail (or, per log,
// any log's detail or error) mentions each of want.
func wantResult(t testing.TB, res verify.Result, status verify.Status, want ...string) {
	t.Helper()
	var texts []string
	for _, lr := range res.Logs {
		texts = append(texts, lr.Detail)
		if lr.Err != nil {
			texts = append(texts, lr.Err.Error())
		}
	}
	all := strings.Join(texts, "\n")
	if res.Status != status {
		t.Errorf("%s %s %s: status %s, want %s (%s)", res.Artifact.Project, res.Artifact.Version, res.Artifact.Filename, res.Status, status, all)
		return
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("%s %s %s: %q does not mention %q", res.Artifact.Project, res.Artifact.Version, res.Artifact.Filename, all, w)
		}
	}
}
