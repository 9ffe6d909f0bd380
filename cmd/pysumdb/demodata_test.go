//go:build !pysumdb_client

package main

import (
	"bytes"
	"flag"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

var update = flag.Bool("update", false, "regenerate demodata/pypi-files.jsonl from the real lockfiles")

// demoSources are the real lockfiles whose files seed the demo's PyPI: uv
// records each file's URL, sha256, size and upload time.
var demoSources = []string{
	"../../lockfile/testdata/real/sigstore__sigstore-python__uv.lock/uv.lock",
	"../../lockfile/testdata/real/0b01001001__spectree__uv.lock/uv.lock",
}

type uvFile struct {
	URL        string `toml:"url"`
	Hash       string `toml:"hash"`
	Size       int64  `toml:"size"`
	UploadTime string `toml:"upload-time"`
}

type uvLock struct {
	Package []struct {
		Name   string   `toml:"name"`
		Sdist  *uvFile  `toml:"sdist"`
		Wheels []uvFile `toml:"wheels"`
	} `toml:"package"`
}

// TestDemoData checks that the embedded demo data is what the real
// lockfiles give (go test -run TestDemoData -update regenerates it).
func TestDemoData(t *testing.T) {
	byName := map[string]sequencer.Record{}
	for _, src := range demoSources {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		var lock uvLock
		if err := toml.Unmarshal(data, &lock); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		for _, p := range lock.Package {
			project, err := tiles.NormalizeProject(p.Name)
			if err != nil {
				t.Fatal(err)
			}
			files := p.Wheels
			if p.Sdist != nil {
				files = append(files, *p.Sdist)
			}
			for _, f := range files {
				if f.URL == "" || f.UploadTime == "" {
					continue // not from an index
				}
				u, err := url.Parse(f.URL)
				if err != nil {
					t.Fatal(err)
				}
				digest, err := tiles.ParseHexDigest(f.Hash[len("sha256:"):])
				if err != nil {
					t.Fatalf("%s: %v", src, err)
				}
				r := sequencer.Record{Project: project, Filename: path.Base(u.Path), SHA256: digest, Size: f.Size, UploadTime: f.UploadTime}
				if err := r.Check(); err != nil {
					t.Fatalf("%s: %v", src, err)
				}
				byName[r.Filename] = r
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var want bytes.Buffer
	for _, n := range names {
		want.Write(jsonLine(byName[n]))
	}
	target := filepath.Join("demodata", "pypi-files.jsonl")
	if *update {
		if err := os.WriteFile(target, want.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(want.Bytes(), demoFiles) {
		t.Fatalf("%s is stale (%d files from the lockfiles): run go test -run TestDemoData -update", target, len(names))
	}
}
