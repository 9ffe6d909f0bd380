//go:build !pysumdb_client

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// A fixed test key, so that the log, its checkpoint and its root hash are
// the same in every run and the reports can be compared with golden files.
const (
	goldenSKey = "PRIVATE+KEY+a.test/log+59995e16+AUcbT0t4e16FOAbx3cpSlQj5+jmO/hvF02PhQ/gcIq98"
	goldenVKey = "a.test/log+59995e16+Ab7lq0stivZNI4mhlApTgm17BJ+0ScHQsMOnSkk4T48X"
	// goldenClaimKey is the claim key of qux's maintainers.
	goldenClaimKey = "qux-maintainers+0d1cbff9+AVS8pNGZXaHwNcmHtH4KP6cwh8rQexnMYSbQ5xmeQJqd"
	// goldenClaimWorkflow is the workflow that claims bar's files.
	goldenClaimWorkflow = "https://github.com/bar/bar/.github/workflows/release.yml"
)

// goldenRun verifies artifacts of two lockfiles (uv.lock and
// requirements.txt) against a small log: foo 1.0 (two files, one of them
// logged with another hash), bar 2.0 (claimed by a workflow), qux 1.0
// (the sdist claimed by a key, with a wheel uploaded after the lock), and
// files of 2025; the lockfiles also pin foo 1.1 and baz, which the log
// doesn't have, a skipped local package, a hash of bar and a hash that is
// none of bar's. The claims are checked against claims.
func goldenRun(t *testing.T, strict, verbose, quiet bool, claims verify.ClaimRequirement) *verifyRun {
	t.Helper()
	at := func(r sequencer.Record, uploaded string) sequencer.Record {
		r.UploadTime = uploaded
		return r
	}
	tampered := clienttest.Record("foo", "foo-1.0-py3-none-any.whl")
	tampered.SHA256 = clienttest.Digest("another wheel")
	tl := clienttest.NewKeyedLog(t, goldenSKey, goldenVKey, []sequencer.Record{
		at(clienttest.Record("foo", "foo-1.0.tar.gz"), "2025-05-01T10:00:00Z"),
		at(tampered, "2025-05-01T10:05:00Z"),
		at(clienttest.Record("bar", "bar-2.0.tar.gz"), "2025-06-30T12:00:00Z"),
		at(clienttest.Record("qux", "qux-1.0.tar.gz"), "2025-06-01T09:00:00Z"),
		at(clienttest.Record("qux", "qux-1.0-py3-none-any.whl"), "2025-06-20T09:00:00Z"),
	})
	tl.Claim(t, "qux", "qux-1.0.tar.gz", &tiles.Claimant{Kind: tiles.ClaimantKey, Value: goldenClaimKey})
	tl.Claim(t, "bar", "bar-2.0.tar.gz", &tiles.Claimant{Kind: tiles.ClaimantGitHub, Value: goldenClaimWorkflow})
	counting := &client.CountingFetcher{Fetcher: client.DirFetcher(tl.Store.Root())}
	l, err := client.NewLog(counting, goldenVKey)
	if err != nil {
		t.Fatal(err)
	}
	logs := &openedLogs{
		verifier:  &verify.Verifier{Logs: []*client.Log{l}, Quorum: 1},
		locations: []string{"https://log.example.org/"},
		fetchers:  []*client.CountingFetcher{counting},
		logs:      []*client.Log{l},
	}
	file := func(project, version, filename string, line int) lockfile.Artifact {
		return lockfile.Artifact{Project: project, Version: version, Filename: filename, SHA256: clienttest.DigestOf(filename), File: "uv.lock", Line: line}
	}
	local := lockfile.Artifact{Project: "mine", Version: "0.1", File: "uv.lock", Line: 40, Skip: "editable local directory source: not a PyPI file"}
	hash := func(project, version, of string, line int) lockfile.Artifact {
		return lockfile.Artifact{Project: project, Version: version, SHA256: clienttest.DigestOf(of), File: "requirements.txt", Line: line,
			Warning: "files may also come from https://mirror.example.net/simple, which is not PyPI: a hash missing from the log may be one of its files"}
	}
	run := &verifyRun{strict: strict, verbose: verbose, quiet: quiet, logs: logs, now: time.Date(2025, 7, 14, 12, 0, 0, 0, time.UTC)}
	run.artifacts = []lockfile.Artifact{
		file("foo", "1.0", "foo-1.0.tar.gz", 10),
		file("foo", "1.0", "foo-1.0-py3-none-any.whl", 11),
		file("foo", "1.1", "foo-1.1.tar.gz", 20),
		file("foo", "1.1", "foo-1.1-py3-none-any.whl", 21),
		file("baz", "3.0", "baz-3.0.tar.gz", 30),
		file("qux", "1.0", "qux-1.0.tar.gz", 35),
		local,
		hash("bar", "2.0", "bar-2.0.tar.gz", 3),
		hash("bar", "2.0", "bar-2.0 rebuilt elsewhere", 4),
		hash("baz", "3.0", "baz-3.0.tar.gz", 5),
	}
	run.lockfiles = []readLockfile{
		{path: "uv.lock", format: lockfile.UV, from: lockfile.FromName, start: 0, end: 7},
		{path: "requirements.txt", format: lockfile.Requirements, from: lockfile.FromName, start: 7, end: 10},
	}
	rep, err := logs.verifier.Verify(context.Background(), run.artifacts)
	if err != nil {
		t.Fatal(err)
	}
	rep.CheckClaims(claims)
	run.rep = rep
	return run
}

// TestVerifyReportGolden pins the text and JSON reports of verify: the
// per-project summary of the files not in the log with how recent the log
// is and what to do, -q, -v and --strict, several lockfiles, the
// claimants, --require-claim and --require-claim-or-publisher
// (testdata/golden/verify-*.txt; go test -run TestVerifyReportGolden
// -update rewrites them).
func TestVerifyReportGolden(t *testing.T) {
	for _, c := range []struct {
		name                   string
		strict, verbose, quiet bool
		json                   bool
		claims                 verify.ClaimRequirement
	}{
		{name: "default"},
		{name: "quiet", quiet: true},
		{name: "verbose", verbose: true},
		{name: "strict-quiet", strict: true, quiet: true},
		{name: "json", json: true},
		{name: "require-claim", claims: verify.RequireClaim},
		{name: "require-claim-or-publisher-quiet", quiet: true, claims: verify.RequireClaimOrPublisher},
		{name: "require-claim-json", json: true, claims: verify.RequireClaim},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := goldenRun(t, c.strict, c.verbose, c.quiet, c.claims)
			var b bytes.Buffer
			if c.json {
				f := run.rep.Failures(c.strict)
				if err := run.writeJSON(&b, f, failureStatus(f)); err != nil {
					t.Fatal(err)
				}
				var decoded map[string]any
				if err := json.Unmarshal(b.Bytes(), &decoded); err != nil {
					t.Fatalf("the report is not JSON: %v", err)
				}
				if decoded["schema_version"] != float64(jsonSchemaVersion) {
					t.Errorf("schema_version = %v", decoded["schema_version"])
				}
			} else {
				run.writeText(&b)
			}
			checkReportGolden(t, filepath.Join("testdata", "golden", "verify-"+c.name+".txt"), b.String())
		})
	}
}

// TestVerifyReportWords: the text and the JSON name each status with the
// same word.
func TestVerifyReportWords(t *testing.T) {
	run := goldenRun(t, false, true, false, verify.ClaimOptional)
	var text, js bytes.Buffer
	run.writeText(&text)
	f := run.rep.Failures(false)
	if err := run.writeJSON(&js, f, failureStatus(f)); err != nil {
		t.Fatal(err)
	}
	for _, status := range []verify.Status{verify.StatusVerified, verify.StatusMismatch, verify.StatusNotInLog, verify.StatusSkipped} {
		word := strings.ReplaceAll(string(status), "-", " ")
		if !strings.Contains(strings.ToLower(text.String()), word+" ") {
			t.Errorf("the text never says %q", word)
		}
		if !strings.Contains(js.String(), `"status": "`+string(status)+`"`) {
			t.Errorf("the JSON never says %q", status)
		}
	}
	if strings.Contains(text.String(), "\nok ") {
		t.Errorf("the text says ok where the JSON says verified")
	}
}

// volatile matches what changes from run to run in a report: the time.
var volatile = regexp.MustCompile(`"seconds": [0-9.e-]+|; \d+(\.\d+)?[µnm]?s\)`)

func checkReportGolden(t *testing.T, golden, got string) {
	t.Helper()
	got = volatile.ReplaceAllStringFunc(got, func(s string) string {
		if strings.HasPrefix(s, `"seconds"`) {
			return `"seconds": 0`
		}
		return "; TIME)"
	})
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("the report differs from %s (go test -run %s -update, then git diff):\n%s", golden, t.Name(), got)
	}
}
