package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/verify"
)

func TestExclusionsAdd(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"corp-*", ""},
		{"internal-tool", ""},
		{"[a-c]orp-?", ""},
		{"", "an empty pattern"},
		{"corp-[", "syntax error in pattern"},
		{"Corp-*", `would never match: write "corp-*"`},
		{"corp_*", `would never match: write "corp-*"`},
		{"corp.x", `would never match: write "corp-x"`},
		{"corp--x", `would never match: write "corp-x"`},
	} {
		var x verify.Exclusions
		err := x.Add("PYSUMDB_EXCLUDE", tc.pattern)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Add(%q): %v", tc.pattern, err)
		case tc.want != "" && (!errors.Is(err, verify.ErrBadExclusion) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Add(%q) = %v, want ErrBadExclusion saying %q", tc.pattern, err, tc.want)
		case tc.want == "" && len(x.List()) != 1, tc.want != "" && len(x.List()) != 0:
			t.Errorf("Add(%q): the list is %v", tc.pattern, x.List())
		}
	}
}

func TestExclusionsMatch(t *testing.T) {
	var x verify.Exclusions
	for _, p := range []string{"corp-*", "secret"} {
		if err := x.Add("--exclude", p); err != nil {
			t.Fatal(err)
		}
	}
	for project, want := range map[string]string{"corp-x": "corp-*", "secret": "secret", "corporate": "", "secrets": "", "my-corp-x": ""} {
		m, ok := x.Match(project)
		if ok != (want != "") || m.Pattern != want {
			t.Errorf("Match(%q) = %v %v, want %q", project, m, ok, want)
		}
	}
	m, _ := x.Match("corp-x")
	if got, want := m.Reason(), `private (matches --exclude pattern "corp-*")`; got != want {
		t.Errorf("Reason() = %q, want %q", got, want)
	}
	var none *verify.Exclusions
	if _, ok := none.Match("corp-x"); ok || none.List() != nil {
		t.Error("nil Exclusions match")
	}
}

// TestVerifyNeverAsksAboutPrivateProjects: the artifacts of an excluded
// project are skipped with the exclusion as the reason, and no request
// to the log names it, while the others are verified.
func TestVerifyNeverAsksAboutPrivateProjects(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	srv := clienttest.Serve(t, tl)
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	var x verify.Exclusions
	if err := x.Add("PYSUMDB_EXCLUDE", "ba*"); err != nil {
		t.Fatal(err)
	}
	v := &verify.Verifier{Logs: []*client.Log{l}, Quorum: 1, Exclude: &x}
	artifacts := []lockfile.Artifact{
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
		fileArtifact("bar", "2.0", "bar-2.0.tar.gz", "bar-2.0.tar.gz"),
		hashArtifact("bar", "2.0", "bar-2.0-py3-none-any.whl"),
		// A hash logged under bar: looking for it would read bar's index.
		hashArtifact("foo", "", "bar-2.0.tar.gz"),
	}
	rep, err := v.Verify(context.Background(), artifacts)
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, rep.Results[0], verify.StatusVerified)
	for _, res := range rep.Results[1:3] {
		if res.Status != verify.StatusSkipped || res.Artifact.Skip != `private (matches PYSUMDB_EXCLUDE pattern "ba*")` {
			t.Errorf("%s %s: %s %q, want skipped as private", res.Artifact.Project, res.Artifact.Filename, res.Status, res.Artifact.Skip)
		}
	}
	wantResult(t, rep.Results[3], verify.StatusNotInLog)
	if artifacts[1].Skip != "" {
		t.Errorf("the caller's artifact was changed: %+v", artifacts[1])
	}
	counts := srv.Counts()
	for key, n := range counts {
		if strings.Contains(key, "bar") {
			t.Errorf("the log was asked %d times for %s", n, key)
		}
	}
	if counts["index/foo"] == 0 {
		t.Errorf("foo's index was not read: %v", counts)
	}

	_, err = v.ComparePublished(context.Background(), "bar", "", []verify.PublishedFile{{Filename: "bar-2.0.tar.gz"}})
	if !errors.Is(err, verify.ErrExcluded) || !strings.Contains(err.Error(), `bar is private (matches PYSUMDB_EXCLUDE pattern "ba*")`) {
		t.Errorf("ComparePublished of a private project: %v, want ErrExcluded", err)
	}
	for key, n := range srv.Counts() {
		if strings.Contains(key, "bar") {
			t.Errorf("ComparePublished asked the log %d times for %s", n, key)
		}
	}
}
