package lockfile

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the real lockfiles")

// realLockfiles returns the real lockfiles in testdata/real, one per
// directory named after its origin.
func realLockfiles(t testing.TB) map[string]string {
	dirs, err := os.ReadDir("testdata/real")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(filepath.Join("testdata/real", dir.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Fatalf("testdata/real/%s: want one lockfile, have %d files", dir.Name(), len(entries))
		}
		files[dir.Name()] = filepath.Join("testdata/real", dir.Name(), entries[0].Name())
	}
	return files
}

// summary counts a lockfile's artifacts by status.
type summary struct {
	artifacts, checked int
	skipped, warned    map[string]int
}

func summarize(artifacts []Artifact) summary {
	s := summary{artifacts: len(artifacts), skipped: map[string]int{}, warned: map[string]int{}}
	for _, a := range artifacts {
		if a.Skip != "" {
			s.skipped[a.Skip]++
		} else {
			s.checked++
		}
		if a.Warning != "" {
			s.warned[a.Warning]++
		}
	}
	return s
}

// render writes artifacts one per line, tab-separated, after a header of
// counts, for golden files that a reviewer can read and diff.
func render(name string, artifacts []Artifact) string {
	var b strings.Builder
	s := summarize(artifacts)
	fmt.Fprintf(&b, "# %s: %d artifacts, %d checked, %d skipped\n", name, s.artifacts, s.checked, s.artifacts-s.checked)
	for _, counts := range []struct {
		label string
		m     map[string]int
	}{{"skipped", s.skipped}, {"warned", s.warned}} {
		keys := make([]string, 0, len(counts.m))
		for k := range counts.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "# %s %d: %s\n", counts.label, counts.m[k], k)
		}
	}
	b.WriteString("# line\tproject\tversion\tfilename\tsha256\tskip\twarning\tattestation identities\n")
	for _, a := range artifacts {
		identities := ""
		if len(a.AttestationIdentities) > 0 {
			raw, err := json.Marshal(a.AttestationIdentities)
			if err != nil {
				panic(err)
			}
			identities = string(raw)
		}
		fmt.Fprintf(&b, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Line, a.Project, a.Version, a.Filename, a.SHA256, a.Skip, a.Warning, identities)
	}
	return b.String()
}

func TestRealLockfilesGolden(t *testing.T) {
	for name, path := range realLockfiles(t) {
		t.Run(name, func(t *testing.T) {
			artifacts, err := ParseFile(path, "")
			if err != nil {
				t.Fatal(err)
			}
			checkArtifacts(t, path, artifacts)
			got := render(name, artifacts)
			golden := filepath.Join("testdata/golden", name+".txt")
			if *update {
				if err := os.MkdirAll("testdata/golden", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("artifacts differ from %s (diff it with go test -update and git diff):\n%s", golden, firstDifference(string(want), got))
			}
		})
	}
}

// firstDifference shows the first line where two texts differ.
func firstDifference(want, got string) string {
	wantLines, gotLines := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wantLines) || i < len(gotLines); i++ {
		var w, g string
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, w, g)
		}
	}
	return "(no difference)"
}
