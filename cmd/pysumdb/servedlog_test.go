package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
)

// servedLog is a log holding every file of a real lockfile, served over
// loopback HTTP, for the tests of what runs pysumdb from outside: the
// pre-commit hook, the GitHub Action.
type servedLog struct {
	url  string // the log's URL
	vkey string // its verifier key
	// lockfile is the lockfile's content: every hash in it is in the log.
	lockfile []byte
}

// newServedLog makes a log of the files of the lockfile at lockPath with
// the pysumdb on PATH (the test binary, see TestMain) and serves it as
// `pysumdb serve` does, until the test ends.
func newServedLog(t *testing.T, lockPath string) servedLog {
	t.Helper()
	dir := t.TempDir()
	lock, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	records, err := lockfileRecords(lockPath, "")
	if err != nil {
		t.Fatal(err)
	}
	var jsonl bytes.Buffer
	for _, r := range records {
		jsonl.Write(jsonLine(r))
	}
	files := filepath.Join(dir, "files.jsonl")
	if err := os.WriteFile(files, jsonl.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	key, store := filepath.Join(dir, "log.key"), filepath.Join(dir, "log")
	vkey := runPysumdb(t, "keygen", "--origin", "pysumdb.test/log", "--out", key)
	runPysumdb(t, "sequence", "-q", "--store", store, "--key", key, "--from-jsonl", files)
	s, err := publish.OpenDir(store)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(publish.Handler(s, nil))
	t.Cleanup(srv.Close)
	return servedLog{url: srv.URL + "/", vkey: strings.TrimSpace(vkey), lockfile: lock}
}

// runPysumdb runs the pysumdb on PATH and returns its standard output.
func runPysumdb(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("pysumdb", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pysumdb %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

var lockfileSHA256 = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// tamperHash returns lockfile with one hex digit of its first sha256
// changed, and that hash as it now reads.
func tamperHash(t *testing.T, lockfile []byte) ([]byte, string) {
	t.Helper()
	loc := lockfileSHA256.FindIndex(lockfile)
	if loc == nil {
		t.Fatal("no sha256 in the lockfile")
	}
	tampered := bytes.Clone(lockfile)
	i := loc[1] - 1
	if tampered[i] == '0' {
		tampered[i] = '1'
	} else {
		tampered[i] = '0'
	}
	return tampered, strings.TrimPrefix(string(tampered[loc[0]:loc[1]]), "sha256:")
}

// moduleRoot returns the directory of this module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	return root
}

// pathWithoutTestBinary returns $PATH without the directory where
// testscript put the test binary as pysumdb (see TestMain): a test of what
// installs pysumdb must not run that one.
func pathWithoutTestBinary() string {
	var dirs []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if strings.Contains(dir, "testscript-main") {
			continue
		}
		dirs = append(dirs, dir)
	}
	return strings.Join(dirs, string(filepath.ListSeparator))
}

// regexpMatch reports whether the regular expression re matches s.
func regexpMatch(re, s string) bool {
	return regexp.MustCompile(re).MatchString(s)
}
