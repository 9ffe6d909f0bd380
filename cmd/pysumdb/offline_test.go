package main

import (
	"path/filepath"
	"testing"
)

// TestProofFileName: a filename from a lockfile or a log becomes a path
// component only if it is a PyPI filename: never a separator, never a
// way out of the directory.
func TestProofFileName(t *testing.T) {
	p, err := proofFileName("dir", "pysumdb.test/log", "foo-1.0.tar.gz")
	if err != nil || p != filepath.Join("dir", "pysumdb.test_log", "foo-1.0.tar.gz.tlog-proof") {
		t.Fatalf("proofFileName = %q, %v", p, err)
	}
	for _, name := range []string{"", ".", "..", "../x.tar.gz", "a/b.tar.gz", `a\b.tar.gz`, "/etc/passwd", "a b.tar.gz", "x\x00.tar.gz", ".hidden.tar.gz"} {
		if p, err := proofFileName("dir", "pysumdb.test/log", name); err == nil {
			t.Errorf("proofFileName(%q) = %q", name, p)
		}
	}
	for origin, want := range map[string]string{"..": "_..", ".x": "_.x", "a/b": "a_b", "pysumdb.example.org/log": "pysumdb.example.org_log"} {
		if got := originDirName(origin); got != want {
			t.Errorf("originDirName(%q) = %q, want %q", origin, got, want)
		}
	}
}
