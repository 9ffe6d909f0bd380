package verify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

const (
	goodSAN  = "https://github.com/pypa/sampleproject/.github/workflows/release.yml@refs/tags/v4.0.0"
	otherSAN = "https://github.com/someone/fork/.github/workflows/release.yml@refs/tags/v4.0.0"
)

// pylock pins three files of sampleproject; the package names the
// publisher it expects.
func pylock(identities string) string {
	var b strings.Builder
	b.WriteString("lock-version = \"1.0\"\ncreated-by = \"test\"\n")
	for i, name := range []string{"sampleproject-4.0.0.tar.gz", "sampleproject-4.0.0-py3-none-any.whl"} {
		fmt.Fprintf(&b, "\n[[packages]]\nname = \"sampleproject%s\"\nversion = \"4.0.0\"\nindex = \"https://pypi.org/simple\"\n", strings.Repeat("-x", i))
		fmt.Fprintf(&b, "sdist = {name = %q, url = \"https://files.pythonhosted.org/%s\", hashes = {sha256 = \"%064x\"}}\n", name, name, i+1)
		b.WriteString(identities)
	}
	return b.String()
}

func TestVerifyChecksPublishers(t *testing.T) {
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
			Publisher: &tiles.Publisher{Kind: "github", SAN: otherSAN}},
	}
	if _, err := seqtest.Append(ctx, store, skey, records, ""); err != nil {
		t.Fatal(err)
	}
	l, err := client.NewLog(client.DirFetcher(store.Root()), vkey)
	if err != nil {
		t.Fatal(err)
	}
	check := func(lock string, require bool) *verify.Report {
		t.Helper()
		artifacts, err := lockfile.Parse("pylock.toml", []byte(lock), "")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := (&verify.Verifier{Logs: []*client.Log{l}, Quorum: 1}).Verify(ctx, artifacts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Count(verify.StatusVerified) != 2 {
			t.Fatalf("%d verified, want 2", rep.Count(verify.StatusVerified))
		}
		rep.CheckPublishers(require)
		return rep
	}
	github := "\n[[packages.attestation-identities]]\nkind = \"GitHub\"\nrepository = \"pypa/sampleproject\"\nworkflow = \"release.yml\"\n"
	rep := check(pylock(github), false)
	if p := rep.Results[0].Publisher(); p == nil || p.SAN != goodSAN || rep.Results[0].PublisherProblem != "" {
		t.Errorf("the expected publisher: %+v, problem %q", p, rep.Results[0].PublisherProblem)
	}
	if got := rep.Results[1].PublisherProblem; !strings.Contains(got, "expects a file attested by GitHub(repository=pypa/sampleproject, workflow=release.yml); the log records github "+otherSAN) {
		t.Errorf("another publisher: problem %q", got)
	}
	google := "\n[[packages.attestation-identities]]\nkind = \"Google\"\nemail = \"ci@example.iam.gserviceaccount.com\"\n"
	if got := check(pylock(google), false).Results[0].PublisherProblem; !strings.Contains(got, "expects a file attested by Google(email=") {
		t.Errorf("another kind: problem %q", got)
	}
	// No identities in the lockfile: nothing to check, unless required.
	rep = check(pylock(""), false)
	if rep.Results[0].PublisherProblem != "" || rep.Results[1].PublisherProblem != "" {
		t.Errorf("no identities: problems %q %q", rep.Results[0].PublisherProblem, rep.Results[1].PublisherProblem)
	}
	if n := check(pylock(""), true).CheckPublishers(true); n != 0 {
		t.Errorf("--require-publisher with publishers recorded: %d failures", n)
	}
}

func TestRequirePublisher(t *testing.T) {
	ctx := context.Background()
	store, _ := publish.OpenDir(t.TempDir())
	skey, vkey := seqtest.NewKey(t)
	if _, err := seqtest.Append(ctx, store, skey, []sequencer.Record{{Project: "sampleproject", Filename: "sampleproject-4.0.0.tar.gz",
		SHA256: [32]byte{31: 1}, Size: 1, UploadTime: "-"}}, ""); err != nil {
		t.Fatal(err)
	}
	l, _ := client.NewLog(client.DirFetcher(store.Root()), vkey)
	artifacts, err := lockfile.Parse("pylock.toml", []byte(pylock(""))[:strings.Index(pylock(""), "\n[[packages]]\nname = \"sampleproject-x")], "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&verify.Verifier{Logs: []*client.Log{l}, Quorum: 1}).Verify(ctx, artifacts)
	if err != nil || rep.Count(verify.StatusVerified) != 1 {
		t.Fatalf("verify: %v", err)
	}
	if n := rep.CheckPublishers(false); n != 0 {
		t.Fatalf("without --require-publisher: %d failures", n)
	}
	if n := rep.CheckPublishers(true); n != 1 || !strings.Contains(rep.Results[0].PublisherProblem, "--require-publisher") {
		t.Fatalf("with --require-publisher: %d failures, %q", n, rep.Results[0].PublisherProblem)
	}
}
