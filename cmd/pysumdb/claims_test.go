package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

// The claimants of the claims test: a maintainers' key, the workflow of
// ci's maintainers and another one.
const (
	claimsTestKey      = "claimed-maintainers+72a90fa5+ATCTODU1tNGsE5UByW2Lgp0gCkB34rVrfgJPfVNN0w+p"
	claimsTestWorkflow = "https://github.com/ci/ci/.github/workflows/release.yml"
	claimsTestFork     = "https://github.com/someone/fork/.github/workflows/release.yml"
)

// claimsPylock is a pylock.toml pinning the sdist of each project, version
// 1.0, with the digest clienttest names after its filename.
func claimsPylock(t *testing.T, dir, name string, projects ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("lock-version = \"1.0\"\ncreated-by = \"test\"\n")
	for _, p := range projects {
		filename := p + "-1.0.tar.gz"
		fmt.Fprintf(&b, "\n[[packages]]\nname = %q\nversion = \"1.0\"\nindex = \"https://pypi.org/simple\"\n", p)
		fmt.Fprintf(&b, "sdist = {name = %q, url = \"https://files.pythonhosted.org/%s\", hashes = {sha256 = %q}}\n", filename, filename, clienttest.DigestOf(filename))
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestVerifyClaims runs verify and lookup on logs whose indexes record
// claimants: claimed (a key), ci (a workflow; another one in log b),
// attested (a PEP 740 publisher, no claim) and plain (neither).
func TestVerifyClaims(t *testing.T) {
	dir := t.TempDir()
	record := func(project string) sequencer.Record { return clienttest.Record(project, project+"-1.0.tar.gz") }
	attested := record("attested")
	attested.Publisher = &tiles.Publisher{Kind: tiles.PublisherGitHub, SAN: "https://github.com/attested/attested/.github/workflows/release.yml@refs/tags/v1.0"}
	batch := []sequencer.Record{record("claimed"), record("ci"), attested, record("plain")}
	key := &tiles.Claimant{Kind: tiles.ClaimantKey, Value: claimsTestKey}
	logs := map[string]*clienttest.Log{}
	for name, ci := range map[string]string{"a": claimsTestWorkflow, "b": claimsTestFork} {
		tl := clienttest.NewLog(t, name+".test/log", batch)
		tl.Claim(t, "claimed", "claimed-1.0.tar.gz", key)
		tl.Claim(t, "ci", "ci-1.0.tar.gz", &tiles.Claimant{Kind: tiles.ClaimantGitHub, Value: ci})
		logs[name] = tl
	}
	all := claimsPylock(t, dir, "all.toml", "claimed", "ci", "attested", "plain")
	claimedOrAttested := claimsPylock(t, dir, "some.toml", "claimed", "ci", "attested")
	claimed := claimsPylock(t, dir, "claimed.toml", "claimed", "ci")
	logA := []string{"--log", logs["a"].Store.Root(), "--vkey", logs["a"].VKey, "--cache-dir", filepath.Join(dir, "cache")}
	verify := func(want int, args ...string) (string, string) {
		t.Helper()
		return mustRun(t, want, append(append([]string{"verify"}, args...), logA...)...)
	}
	contains := func(what, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, out)
			}
		}
	}
	lacks := func(what, out string, unwanted ...string) {
		t.Helper()
		for _, w := range unwanted {
			if strings.Contains(out, w) {
				t.Errorf("%s has %q:\n%s", what, w, out)
			}
		}
	}
	// problem matches a claim problem's line, whatever the line number.
	problem := func(label, project, lock, why string) *regexp.Regexp {
		return regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s %s-1.0.tar.gz (%s 1.0) at %s:", label, project, project, lock)) + `\d+: ` + regexp.QuoteMeta(why) + "\n")
	}
	matches := func(what, out string, want ...*regexp.Regexp) {
		t.Helper()
		for _, re := range want {
			if !re.MatchString(out) {
				t.Errorf("%s does not match %s:\n%s", what, re, out)
			}
		}
	}

	// Without a flag, -v shows the claimants; nothing fails.
	stdout, _ := verify(0, "-v", all)
	contains("verify -v", stdout,
		"lockfile sha256:"+clienttest.DigestOf("claimed-1.0.tar.gz")+" claimed by key "+claimsTestKey+"\n",
		"lockfile sha256:"+clienttest.DigestOf("ci-1.0.tar.gz")+" claimed by github "+claimsTestWorkflow+"\n",
		"lockfile sha256:"+clienttest.DigestOf("attested-1.0.tar.gz")+" publisher github https://github.com/attested/",
		"lockfile sha256:"+clienttest.DigestOf("plain-1.0.tar.gz")+"\n")
	lacks("verify -v", stdout, "UNCLAIMED", "CLAIM MISMATCH")

	// --require-claim: the attested file and the plain one fail, exit 1.
	stdout, stderr := verify(1, "--require-claim", all)
	matches("verify --require-claim", stdout,
		problem("UNCLAIMED", "attested", all, "no claimant in the log (--require-claim)"),
		problem("UNCLAIMED", "plain", all, "no claimant in the log (--require-claim)"))
	contains("verify --require-claim", stdout,
		"  next: ask the maintainers of attested to claim their uploads (pysumdb claim), or drop --require-claim.\n")
	contains("verify --require-claim", stderr, "verification failed: 2 unclaimed (--require-claim)")
	lacks("verify --require-claim", stdout, "UNCLAIMED claimed", "UNCLAIMED ci")
	lacks("verify --require-claim", stderr, "SECURITY")

	// --require-claim-or-publisher: only the plain one fails.
	stdout, stderr = verify(1, "--require-claim-or-publisher", all)
	matches("verify --require-claim-or-publisher", stdout,
		problem("UNCLAIMED", "plain", all, "neither a claimant nor a verified publisher in the log (--require-claim-or-publisher)"))
	contains("verify --require-claim-or-publisher", stdout,
		"  next: ask the maintainers of plain to claim their uploads (pysumdb claim) or to publish them with attestations (a PyPI Trusted Publisher), or drop --require-claim-or-publisher.\n")
	contains("verify --require-claim-or-publisher", stderr, "verification failed: 1 with neither a claimant nor a publisher (--require-claim-or-publisher)")
	lacks("verify --require-claim-or-publisher", stdout, "UNCLAIMED attested")
	verify(0, "--require-claim-or-publisher", claimedOrAttested)
	verify(0, "--require-claim", claimed)
	// With --require-claim, --require-claim-or-publisher adds nothing.
	verify(1, "--require-claim", "--require-claim-or-publisher", claimedOrAttested)
	// With --require-publisher, --require-claim requires both.
	_, stderr = verify(1, "--require-publisher", "--require-claim", claimedOrAttested)
	contains("verify --require-publisher --require-claim", stderr, "2 publisher mismatches", "1 unclaimed (--require-claim)")

	// The JSON report.
	stdout, _ = verify(1, "--json", "--require-claim", all)
	var report struct {
		Artifacts []struct {
			Filename     string
			Claimant     *jsonClaimant
			ClaimProblem string `json:"claim_problem"`
			NextStep     string `json:"next_step"`
			Logs         []struct{ Claimant *jsonClaimant }
		}
		Failures   []string
		ExitStatus int `json:"exit_status"`
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatal(err)
	}
	if len(report.Artifacts) != 4 || report.ExitStatus != 1 || strings.Join(report.Failures, "; ") != "2 unclaimed (--require-claim)" {
		t.Fatalf("verify --json --require-claim: %d artifacts, exit status %d, failures %q", len(report.Artifacts), report.ExitStatus, report.Failures)
	}
	wantKey := jsonClaimant{Kind: "key", Value: claimsTestKey}
	if a := report.Artifacts[0]; a.Claimant == nil || *a.Claimant != wantKey || a.Logs[0].Claimant == nil || *a.Logs[0].Claimant != wantKey || a.ClaimProblem != "" {
		t.Errorf("claimed: claimant %v (log: %v), problem %q", a.Claimant, a.Logs[0].Claimant, a.ClaimProblem)
	}
	if a := report.Artifacts[3]; a.Claimant != nil || a.ClaimProblem != "no claimant in the log (--require-claim)" ||
		a.NextStep != "ask the maintainers of plain to claim their uploads (pysumdb claim), or drop --require-claim." {
		t.Errorf("plain: claimant %v, problem %q, next step %q", a.Claimant, a.ClaimProblem, a.NextStep)
	}

	// Offline proofs hold no claims.
	if err := os.Mkdir(filepath.Join(dir, "proofs"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, stderr = verify(2, "--offline", filepath.Join(dir, "proofs"), "--require-claim-or-publisher", all)
	contains("verify --offline --require-claim-or-publisher", stderr, "--offline takes no --require-claim-or-publisher")

	// Two logs that record different claimants for ci: no failure, even
	// with --require-claim (each log records what its own intake
	// received).
	config := filepath.Join(dir, "logs.toml")
	toml := fmt.Sprintf("quorum = 2\n\n[[log]]\nurl = %q\nvkey = %q\n\n[[log]]\nurl = %q\nvkey = %q\n",
		logs["a"].Store.Root(), logs["a"].VKey, logs["b"].Store.Root(), logs["b"].VKey)
	if err := os.WriteFile(config, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _ = mustRun(t, 0, "verify", "-v", "--require-claim", "--config", config, "--cache-dir", filepath.Join(dir, "cache"), claimed)
	contains("verify with logs a and b", stdout, "claimed by github "+claimsTestWorkflow)
	lacks("verify with logs a and b", stdout, "UNCLAIMED", "MISMATCH")

	// lookup
	stdout, _ = mustRun(t, 0, append([]string{"lookup", "claimed"}, logA...)...)
	contains("lookup claimed", stdout, " claimed-1.0.tar.gz "+tiles.FormatSHA256(clienttest.Digest("claimed-1.0.tar.gz"))+" 18 - verified claimed=key:"+claimsTestKey+"\n")
	stdout, _ = mustRun(t, 0, append([]string{"lookup", "plain"}, logA...)...)
	lacks("lookup plain", stdout, "claimed=")
	stdout, _ = mustRun(t, 0, append([]string{"lookup", "--json", "ci", "ci-1.0.tar.gz"}, logA...)...)
	var lookup struct {
		Files []struct{ Claimant *jsonClaimant }
	}
	if err := json.Unmarshal([]byte(stdout), &lookup); err != nil {
		t.Fatal(err)
	}
	if len(lookup.Files) != 1 || lookup.Files[0].Claimant == nil || *lookup.Files[0].Claimant != (jsonClaimant{Kind: "github", Value: claimsTestWorkflow}) {
		t.Errorf("lookup --json ci: %s", stdout)
	}
}
