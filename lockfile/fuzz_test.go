package lockfile

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/tiles"
)

var lowercaseSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkArtifacts checks what every reader promises of its artifacts.
func checkArtifacts(t testing.TB, file string, artifacts []Artifact) {
	t.Helper()
	for i, a := range artifacts {
		if a.Skip == "" && a.SHA256 == "" {
			t.Fatalf("artifact %d %+v: neither a sha256 nor a skip reason", i, a)
		}
		if a.SHA256 != "" && !lowercaseSHA256.MatchString(a.SHA256) {
			t.Fatalf("artifact %d %+v: sha256 is not 64 lowercase hex", i, a)
		}
		if a.Skip == "" && a.Project == "" {
			t.Fatalf("artifact %d %+v: checked without a project", i, a)
		}
		if a.Project != "" && !tiles.IsNormalizedProject(a.Project) {
			t.Fatalf("artifact %d %+v: project is not normalized", i, a)
		}
		if a.Skip == "" && a.Filename != "" {
			if err := tiles.CheckFilename(a.Filename); err != nil {
				t.Fatalf("artifact %d %+v: %v", i, a, err)
			}
		}
		if a.Line < 0 || a.File == "" {
			t.Fatalf("artifact %d %+v: no place", i, a)
		}
		if a.File != file {
			t.Fatalf("artifact %d %+v: file is not %s", i, a, file)
		}
	}
}

// checkParseError checks that a reader's error is a ParseError for the file.
func checkParseError(t testing.TB, file string, err error) {
	t.Helper()
	var parseErr *ParseError
	if !errors.As(err, &parseErr) {
		t.Fatalf("error %v (%T) is not a *ParseError", err, err)
	}
	if parseErr.File != file || parseErr.Line < 0 {
		t.Fatalf("error %v: place %s:%d, want file %s", err, parseErr.File, parseErr.Line, file)
	}
}

// fuzzFormat fuzzes one reader, seeded with excerpts of the real lockfiles
// of its format, the lockfiles of formatCases, and a few small documents.
// Whole real lockfiles (up to 350 KB) make too slow a start for a fuzzer;
// the golden tests read them whole.
func fuzzFormat(f *testing.F, format Format, seeds ...string) {
	for _, path := range realLockfiles(f) {
		if detected, err := DetectFormat(path); err == nil && detected == format {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			seed := excerpt(f, format, data)
			if _, err := Parse(path, seed, format); err != nil {
				f.Fatalf("excerpt of %s: %v", path, err)
			}
			f.Add(seed)
		}
	}
	for _, c := range formatCases {
		if c.format == format {
			f.Add([]byte(c.input))
		}
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzzed"
		artifacts, err := Parse(name, data, format)
		if err != nil {
			checkParseError(t, name, err)
			return
		}
		checkArtifacts(t, name, artifacts)
	})
}

// excerpt keeps the first packages of a real lockfile, and what it needs to
// parse: the header lines, poetry's [metadata] table, Pipfile.lock's _meta.
func excerpt(t testing.TB, format Format, data []byte) []byte {
	const keepPackages = 3
	if format == Pipfile {
		var lock map[string]map[string]json.RawMessage
		if err := json.Unmarshal(data, &lock); err != nil {
			t.Fatal(err)
		}
		for category, packages := range lock {
			if category == "_meta" {
				continue
			}
			names := slices.Sorted(maps.Keys(packages))
			for _, name := range names[min(keepPackages, len(names)):] {
				delete(packages, name)
			}
		}
		out, err := json.MarshalIndent(lock, "", "    ")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var kept []string
	packages, inMetadata := 0, 0
	for _, line := range strings.SplitAfter(string(data), "\n") {
		switch {
		case format == Requirements:
			if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#") {
				packages++
			}
		case packageHeader.MatchString(line) || pylockPackageHeader.MatchString(line):
			packages++
		case strings.HasPrefix(line, "[metadata"):
			inMetadata = 1
		}
		if inMetadata > 0 {
			// The table and the first entries of metadata.files, up to the
			// end of an array.
			if inMetadata < 20 {
				kept = append(kept, line)
				if inMetadata++; inMetadata == 20 && !strings.HasPrefix(line, "]") {
					inMetadata--
				}
			}
		} else if packages <= keepPackages {
			kept = append(kept, line)
		}
	}
	return []byte(strings.Join(kept, ""))
}

func FuzzPylock(f *testing.F) {
	fuzzFormat(f, Pylock,
		"lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\nversion = \"1\"\nwheels = [{name = \"a-1-py3-none-any.whl\", url = \"https://files.pythonhosted.org/a-1-py3-none-any.whl\", hashes = {sha256 = \"AB\"}}]\n[[packages.attestation-identities]]\nkind = \"GitHub\"\nrepository = \"o/r\"\n",
		"lock-version = \"1.0\"\n[[packages]]\nname = \"b\"\nvcs = {type = \"git\", url = \"https://example.com/b.git\"}\n")
}

func FuzzUV(f *testing.F) {
	fuzzFormat(f, UV,
		"version = 1\n[[package]]\nname = \"a\"\nversion = \"1\"\nsource = { registry = \"https://pypi.org/simple\" }\nsdist = { url = \"https://files.pythonhosted.org/a-1.tar.gz\", hash = \"sha256:00\" }\n",
		"version = 1\n[[package]]\nname = \"a\"\nsource = { git = \"https://example.com/a\" }\n")
}

func FuzzPoetry(f *testing.F) {
	fuzzFormat(f, Poetry,
		"[[package]]\nname = \"a\"\nversion = \"1\"\n[metadata]\nlock-version = \"1.1\"\n[metadata.files]\na = [{file = \"a-1.tar.gz\", hash = \"sha256:00\"}]\n",
		"[[package]]\nname = \"a\"\nversion = \"1\"\nfiles = [{file = \"a-1.tar.gz\", hash = \"md5:00\"}]\n[package.source]\ntype = \"legacy\"\nurl = \"https://pypi.org/simple\"\n[metadata]\nlock-version = \"2.1\"\n")
}

func FuzzPipfile(f *testing.F) {
	fuzzFormat(f, Pipfile,
		`{"_meta": {"pipfile-spec": 6, "sources": [{"name": "p", "url": "https://pypi.org/simple"}]}, "default": {"a": {"hashes": ["sha256:00"], "version": "==1", "index": "p"}}}`,
		`{"_meta": {"pipfile-spec": 6}, "develop": {"a": {"git": "https://example.com/a", "editable": true}}}`)
}

func FuzzRequirements(f *testing.F) {
	fuzzFormat(f, Requirements,
		"a==1 \\\n    --hash=sha256:00 # comment\n-i https://example.com/simple\n--extra-index-url https://pypi.org/simple\n",
		"-e ./local\nb @ https://example.com/b.whl ; python_version < \"3\"\n-r other.txt\n")
}

func FuzzFilenameVersion(f *testing.F) {
	for _, c := range filenameVersionCases {
		f.Add(c.project, c.filename)
	}
	f.Fuzz(func(t *testing.T, project, filename string) {
		version, ok := FilenameVersion(project, filename)
		if ok == (version == "") {
			t.Fatalf("FilenameVersion(%q, %q) = %q, %v: a version exactly when ok", project, filename, version, ok)
		}
		if ok && !strings.Contains(filename, version) {
			t.Fatalf("FilenameVersion(%q, %q) = %q: not part of the filename", project, filename, version)
		}
	})
}

func FuzzVersion(f *testing.F) {
	for _, c := range normalizeVersionCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, v string) {
		normalized, err := normalizeVersion(v)
		if err != nil {
			return
		}
		again, err := normalizeVersion(normalized)
		if err != nil || again != normalized {
			t.Fatalf("normalizeVersion(%q) = %q, which normalizes to %q, %v", v, normalized, again, err)
		}
		if !EqualVersions(v, normalized) || !EqualVersions(normalized, v) {
			t.Fatalf("EqualVersions(%q, %q) is false", v, normalized)
		}
	})
}
