package lockfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFiles writes files (slash-separated names) under a new directory and
// returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRequirementsIncludes(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"requirements.txt": "-r base/common.txt\n--constraint=constraints.txt\na==1 --hash=sha256:" + hashA + "\n",
		// Relative to the including file; shared.txt is included twice
		// (a diamond, not a cycle) and read once.
		"base/common.txt": "b==1 --hash=sha256:" + hashB + "\n-r ../shared.txt\n",
		"constraints.txt": "c==1 --hash=sha256:" + hashC + "\n-rshared.txt\n",
		"shared.txt":      "\nd==1 --hash=sha256:" + hashD + "\n",
	})
	artifacts, err := ParseFile(filepath.Join(dir, "requirements.txt"), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range artifacts {
		rel, err := filepath.Rel(dir, a.File)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.ToSlash(rel)+":"+brief(a))
	}
	want := []string{
		"base/common.txt:b|1||abe311e5|1||",
		"shared.txt:d|1||dddddddd|2||",
		"constraints.txt:c|1||cccccccc|1||",
		"requirements.txt:a|1||a8d728f0|3||",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("artifacts %q, want %q", got, want)
	}
}

// TestRequirementsIndexInInclude checks that an index option applies to
// every file, wherever it is, as it does in pip.
func TestRequirementsIndexInInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"requirements.txt": "a==1 --hash=sha256:" + hashA + "\n-r index.txt\n",
		"index.txt":        "--index-url https://private.example/simple\n",
	})
	artifacts, err := ParseFile(filepath.Join(dir, "requirements.txt"), Requirements)
	if err != nil {
		t.Fatal(err)
	}
	if len(artifacts) != 1 || artifacts[0].Skip != "index https://private.example/simple is not PyPI" {
		t.Errorf("artifacts %q, want a skipped", briefs(artifacts))
	}
}

func TestRequirementsIncludeErrors(t *testing.T) {
	for _, c := range []struct {
		name       string
		files      map[string]string
		file, want string // where the error is, and what it says
		line       int
		notExist   bool
	}{
		{
			name:  "self",
			files: map[string]string{"r.txt": "a==1\n-r ./r.txt\n"},
			file:  "r.txt", line: 2, want: "include cycle: r.txt -> r.txt",
		},
		{
			name: "cycle",
			files: map[string]string{
				"r.txt":     "-r sub/x.txt\n",
				"sub/x.txt": "\n-c ../y.txt\n",
				"y.txt":     "-r sub/x.txt\n",
			},
			file: "y.txt", line: 1, want: "include cycle: sub/x.txt -> y.txt -> sub/x.txt",
		},
		{
			name:  "missing",
			files: map[string]string{"r.txt": "a==1\n\n-r missing.txt\n"},
			file:  "r.txt", line: 3, want: "couldn't read include", notExist: true,
		},
		{
			name:  "error in include",
			files: map[string]string{"r.txt": "-r bad.txt\n", "bad.txt": "ok==1\nnot a requirement\n"},
			file:  "bad.txt", line: 2, want: `"not a requirement" is not a requirement`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			_, err := ParseFile(filepath.Join(dir, "r.txt"), "")
			var parseErr *ParseError
			if !errors.As(err, &parseErr) {
				t.Fatalf("error %v, want a *ParseError", err)
			}
			if parseErr.File != filepath.Join(dir, filepath.FromSlash(c.file)) || parseErr.Line != c.line {
				t.Errorf("error %q at %s:%d, want %s:%d", err, parseErr.File, parseErr.Line, c.file, c.line)
			}
			if !strings.Contains(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if errors.Is(err, fs.ErrNotExist) != c.notExist {
				t.Errorf("error %q: errors.Is(fs.ErrNotExist) = %v", err, !c.notExist)
			}
		})
	}
}

func TestParseFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "uv.lock"), filepath.Join(dir, "requirements.txt")} {
		if _, err := ParseFile(path, ""); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ParseFile(%s): %v, want a not-exist error", path, err)
		}
	}
	if _, err := ParseFile(filepath.Join(dir, "lockfile"), ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ParseFile of a missing file without a known name: %v, want a not-exist error", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lockfile"), []byte("Some notes.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(filepath.Join(dir, "lockfile"), ""); !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "can't tell the lockfile format") {
		t.Errorf("ParseFile without a known name or content: %v", err)
	}
}
