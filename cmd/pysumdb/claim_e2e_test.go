//go:build !pysumdb_client

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/intake/oidctest"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
)

// TestClaimsEndToEnd: maintainers claim their files at an intake (a key,
// and a GitHub workflow's OIDC token from a test issuer), a loopback PyPI
// publishes them, and `pysumdb sequence` logs them: the files PyPI serves
// as claimed are claimed in their index lines; one it serves with other
// bytes is an alarm (exit 3) that names the claim.
func TestClaimsEndToEnd(t *testing.T) {
	for _, env := range []string{"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "PYSUMDB_ID_TOKEN", "PYSUMDB_INTAKES", "PORT"} {
		t.Setenv(env, "")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "log")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	iss := oidctest.New(t)
	in := startIntake(t, "--store", store, "--oidc-issuer", "github="+iss.URL, "--rate", "-1")
	pypi := fakepypi.NewServer()
	t.Cleanup(pypi.Close)
	upload := func(project, filename, content string) string {
		p := filepath.Join(dir, filename)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := pypi.AddDist(project, "1.0", filename, []byte(content)); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// foo: claimed with a key, served as claimed.
	claimKey := filepath.Join(dir, "claim.key")
	vkey, _ := claimRun(t, exitOK, "claim", "keygen", "--out", claimKey)
	wheel := upload("foo", "foo-1.0-py3-none-any.whl", "foo wheel")
	sdist := upload("foo", "foo-1.0.tar.gz", "foo sdist")
	claimRun(t, exitOK, "claim", "--key", claimKey, "--intake", in.url, wheel, sdist)
	// bar: claimed by its release workflow, served as claimed.
	bar := upload("bar", "bar-1.0.tar.gz", "bar sdist")
	t.Setenv("PYSUMDB_ID_TOKEN", iss.GitHubToken(t, "pysumdb", "octo/bar/.github/workflows/release.yml@refs/tags/v1.0"))
	claimRun(t, exitOK, "claim", "--oidc", "--intake", in.url, bar)
	// baz: nobody claims it.
	upload("baz", "baz-1.0.tar.gz", "baz sdist")

	logKey := filepath.Join(dir, "log.key")
	logVKey, _ := claimRun(t, exitOK, "keygen", "--origin", "pysumdb.test/log", "--out", logKey)
	seq := []string{"sequence", "--store", store, "--key", logKey, "--pypi", pypi.URL, "--rate", "-1", "--attestations=false", "--claim-issuer", "github=" + iss.URL}
	claimRun(t, exitOK, seq...)
	for _, c := range []struct{ project, filename, claimant string }{
		{"foo", "foo-1.0-py3-none-any.whl", "key " + strings.TrimSpace(vkey)},
		{"foo", "foo-1.0.tar.gz", "key " + strings.TrimSpace(vkey)},
		{"bar", "bar-1.0.tar.gz", "github https://github.com/octo/bar/.github/workflows/release.yml"},
		{"baz", "baz-1.0.tar.gz", ""},
	} {
		line := seqtest.IndexLine(t, publish.ReadDir(store), strings.TrimSpace(logVKey), c.project, c.filename)
		got := ""
		if line.Claimant != nil {
			got = line.Claimant.String()
		}
		if got != c.claimant {
			t.Errorf("%s: claimant %q, want %q", c.filename, got, c.claimant)
		}
	}

	// qux: claimed, then PyPI serves other bytes under the filename.
	qux := filepath.Join(dir, "qux-1.0.tar.gz")
	if err := os.WriteFile(qux, []byte("qux as built"), 0o644); err != nil {
		t.Fatal(err)
	}
	claimRun(t, exitOK, "claim", "--key", claimKey, "--intake", in.url, qux)
	if _, err := pypi.AddDist("qux", "1.0", "qux-1.0.tar.gz", []byte("qux as served")); err != nil {
		t.Fatal(err)
	}
	_, stderr := claimRun(t, exitAlarm, seq...)
	wantContains(t, "the run with a mismatch", stderr, "ALARM: the source serves other bytes than the maintainer claimed", "code=claim-mismatch", "filename=qux-1.0.tar.gz", "claim=claims/qux/claim/")
	stdout, _ := claimRun(t, exitOK, "alarms", "--store", store)
	wantContains(t, "pysumdb alarms", stdout, "claim-mismatch", "qux-1.0.tar.gz", "claimed sha256:", "by key "+strings.TrimSpace(vkey))
	if line := seqtest.IndexLine(t, publish.ReadDir(store), strings.TrimSpace(logVKey), "qux", "qux-1.0.tar.gz"); line.Claimant != nil {
		t.Fatalf("the mismatched file is logged as claimed: %v", line.Claimant)
	}

	// Without the intake's issuer, the sequencer can't verify bar's new
	// claim again: it stops rather than decide without it.
	bar2 := upload("bar", "bar-2.0.tar.gz", "bar 2")
	t.Setenv("PYSUMDB_ID_TOKEN", iss.GitHubToken(t, "pysumdb", "octo/bar/.github/workflows/release.yml@refs/tags/v2.0"))
	claimRun(t, exitOK, "claim", "--oidc", "--intake", in.url, bar2)
	_, stderr = claimRun(t, exitAlarm, seq[:len(seq)-2]...) // and the mismatch of qux, unacknowledged
	wantContains(t, "the run without the issuer", stderr, "the claims of bar", "is not trusted", "--claim-issuer")
	claimRun(t, exitAlarm, seq...) // the mismatch of qux is still unacknowledged
	if line := seqtest.IndexLine(t, publish.ReadDir(store), strings.TrimSpace(logVKey), "bar", "bar-2.0.tar.gz"); line.Claimant == nil {
		t.Fatalf("bar-2.0.tar.gz is not claimed")
	}
}
