package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/internal/pywheel"
)

// TestDist builds wheels from a goreleaser dist directory: the binaries of
// the build asked for, at the version of metadata.json made PEP 440.
func TestDist(t *testing.T) {
	if _, err := pywheel.PlatformTag(runtime.GOOS, runtime.GOARCH); err != nil {
		t.Skipf("no wheel for this platform: %v", err)
	}
	// The test's own executable stands for a binary of the host.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	binary, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dist := filepath.Join(root, "dist")
	clientDir := filepath.Join(dist, "pysumdb-client_"+runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(clientDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clientDir, "pysumdb"), binary, 0o755); err != nil {
		t.Fatal(err)
	}
	artifacts := []map[string]any{
		// As goreleaser writes them: paths relative to the directory
		// holding dist.
		{"name": "pysumdb", "path": "dist/pysumdb-client_" + runtime.GOOS + "_" + runtime.GOARCH + "/pysumdb",
			"goos": runtime.GOOS, "goarch": runtime.GOARCH, "type": "Binary", "extra": map[string]any{"ID": "pysumdb-client"}},
		{"name": "pysumdb", "path": "dist/pysumdb_" + runtime.GOOS + "_" + runtime.GOARCH + "/pysumdb",
			"goos": runtime.GOOS, "goarch": runtime.GOARCH, "type": "Binary", "extra": map[string]any{"ID": "pysumdb"}},
		{"name": "pysumdb-client_0.0.1-SNAPSHOT-abc1234_linux_amd64.tar.gz", "path": "dist/pysumdb-client_0.0.1-SNAPSHOT-abc1234_linux_amd64.tar.gz",
			"goos": "linux", "goarch": "amd64", "type": "Archive", "extra": map[string]any{"ID": "pysumdb-client"}},
	}
	writeJSON(t, filepath.Join(dist, "artifacts.json"), artifacts)
	writeJSON(t, filepath.Join(dist, "metadata.json"), map[string]any{"project_name": "pysumdb", "version": "0.0.1-SNAPSHOT-abc1234"})
	license := filepath.Join(root, "LICENSE")
	if err := os.WriteFile(license, []byte("Apache License\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if status := run([]string{"-dist", dist, "-readme", "", "-license", license}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d\n%s", status, stderr.String())
	}
	tag, _ := pywheel.PlatformTag(runtime.GOOS, runtime.GOARCH)
	want := filepath.Join(dist, "wheels", "pysumdb-0.0.1.dev0+abc1234-py3-none-"+tag+".whl")
	if got := strings.TrimSpace(stdout.String()); got != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	zr, err := zip.OpenReader(want)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	exe := "pysumdb"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if names[0] != "pysumdb-0.0.1.dev0+abc1234.data/scripts/"+exe || !strings.Contains(strings.Join(names, " "), "dist-info/LICENSE") {
		t.Errorf("entries %q", names)
	}

	// Another build than the dist has is an error naming those it has.
	stdout.Reset()
	stderr.Reset()
	if status := run([]string{"-dist", dist, "-build", "nope", "-readme", "", "-license", ""}, &stdout, &stderr); status != 1 || !strings.Contains(stderr.String(), "pysumdb-client, pysumdb") {
		t.Errorf("status %d, stderr %q", status, stderr.String())
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"-dist", "dist", "-binary", "x"},
		{"-binary", "x", "-goos", "linux"},
		{"-dist", "dist", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if status := run(args, &stdout, &stderr); status != 2 {
			t.Errorf("%q: status %d, want 2", args, status)
		}
	}
}

func TestBinaryOfAnotherPlatform(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	goos := "windows"
	if runtime.GOOS == "windows" {
		goos = "linux"
	}
	var stdout, stderr bytes.Buffer
	status := run([]string{"-binary", self, "-goos", goos, "-goarch", "amd64", "-version", "1.0.0", "-out", t.TempDir(), "-readme", "", "-license", ""}, &stdout, &stderr)
	if status != 1 || stdout.Len() != 0 {
		t.Errorf("a binary of %s/%s wrapped for %s/amd64: status %d, %s%s", runtime.GOOS, runtime.GOARCH, goos, status, stdout.String(), stderr.String())
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
