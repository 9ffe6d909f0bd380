package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// action is what the tests read of a composite action's action.yml.
type action struct {
	Name   string `yaml:"name"`
	Inputs map[string]struct {
		Description string  `yaml:"description"`
		Required    bool    `yaml:"required"`
		Default     *string `yaml:"default"`
	} `yaml:"inputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			Name             string            `yaml:"name"`
			Uses             string            `yaml:"uses"`
			With             map[string]string `yaml:"with"`
			Shell            string            `yaml:"shell"`
			Env              map[string]string `yaml:"env"`
			WorkingDirectory string            `yaml:"working-directory"`
			Run              string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

var inputExpr = regexp.MustCompile(`\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}`)

func readAction(t *testing.T) action {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a action
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return a
}

// TestActionInputs checks action.yml: a composite action whose steps use
// only declared inputs, every input used, none expanded into a script
// (they reach scripts through env:), Go 1.26 set up and pysumdb installed
// with the client build tag, which cmd/pysumdb has.
func TestActionInputs(t *testing.T) {
	a := readAction(t)
	if a.Runs.Using != "composite" {
		t.Errorf("runs.using is %q, want composite", a.Runs.Using)
	}
	used := map[string]bool{}
	for i, step := range a.Runs.Steps {
		fields := []string{step.Uses, step.WorkingDirectory, step.Run}
		for _, m := range []map[string]string{step.With, step.Env} {
			for _, v := range m {
				fields = append(fields, v)
			}
		}
		for _, f := range fields {
			for _, m := range inputExpr.FindAllStringSubmatch(f, -1) {
				used[m[1]] = true
				if _, ok := a.Inputs[m[1]]; !ok {
					t.Errorf("step %d (%s) uses inputs.%s, which action.yml doesn't declare", i, step.Name, m[1])
				}
			}
		}
		if strings.Contains(step.Run, "${{") {
			t.Errorf("step %d (%s) expands an expression into its script: pass it through env:", i, step.Name)
		}
		if step.Run != "" && step.Shell != "bash" {
			t.Errorf("step %d (%s) runs in shell %q, want bash", i, step.Name, step.Shell)
		}
	}
	for name, in := range a.Inputs {
		if !used[name] {
			t.Errorf("input %s is declared but no step uses it", name)
		}
		if in.Description == "" {
			t.Errorf("input %s has no description", name)
		}
		if !in.Required && in.Default == nil {
			t.Errorf("input %s is optional without a default", name)
		}
	}
	if len(a.Runs.Steps) != 3 || a.Runs.Steps[0].Uses != "actions/setup-go@v5" || a.Runs.Steps[0].With["go-version"] != "1.26.x" {
		t.Fatalf("the first step is not actions/setup-go@v5 with go-version 1.26.x (of %d steps)", len(a.Runs.Steps))
	}
	install := a.Runs.Steps[1]
	want := `go install -tags pysumdb_client "github.com/pysumdb/pysumdb/cmd/pysumdb@${PYSUMDB_VERSION}"`
	if strings.TrimSpace(install.Run) != want || install.Env["PYSUMDB_VERSION"] != "${{ inputs.version }}" {
		t.Errorf("the install step runs %q with PYSUMDB_VERSION=%q, want %q with ${{ inputs.version }}", install.Run, install.Env["PYSUMDB_VERSION"], want)
	}
	if *a.Inputs["version"].Default != "latest" {
		t.Errorf("the version input defaults to %q, want latest", *a.Inputs["version"].Default)
	}
	// The client build is what the install step names.
	out, err := exec.Command("go", "list", "-tags", "pysumdb_client", "-f", "{{.Name}} {{.GoFiles}}", "./").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "main ") {
		t.Errorf("go list -tags pysumdb_client: %v\n%s", err, out)
	}
}

// TestActionVerify runs the verify step of action.yml with bash as the
// runner would (its env: with the inputs substituted, defaults for those
// not given, in its working-directory), with the pysumdb of this test on
// PATH, against a log on loopback.
func TestActionVerify(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	t.Parallel()
	a := readAction(t)
	step := a.Runs.Steps[len(a.Runs.Steps)-1]
	if !strings.Contains(step.Run, "pysumdb verify") {
		t.Fatalf("the last step of action.yml doesn't run pysumdb verify:\n%s", step.Run)
	}
	log := newServedLog(t, filepath.Join("testdata", "lockfiles", "spectree", "uv.lock"))
	tampered, hash := tamperHash(t, log.lockfile)
	bin, err := exec.LookPath("pysumdb")
	if err != nil {
		t.Fatal(err)
	}
	logs := log.vkey + " " + log.url

	for _, tc := range []struct {
		name   string
		inputs map[string]string
		files  map[string][]byte // the checkout
		status int
		want   []string // regular expressions the output matches
	}{
		{
			name:   "the lockfiles of the directory",
			inputs: map[string]string{"logs": logs},
			files:  map[string][]byte{"uv.lock": log.lockfile, "sub/uv.lock": tampered},
			want:   []string{`(?m)^found 1 lockfile in the current directory: uv\.lock$`, `(?m)^uv\.lock: \d+ verified, 0 mismatch`},
		},
		{
			name:   "named, strict",
			inputs: map[string]string{"logs": logs, "lockfiles": "uv.lock", "strict": "true", "quorum": "1"},
			files:  map[string][]byte{"uv.lock": log.lockfile},
			want:   []string{`(?m)^uv\.lock: \d+ verified, 0 mismatch`},
		},
		{
			name:   "globs, in a working directory",
			inputs: map[string]string{"logs": logs, "lockfiles": "**/uv.lock\n  c/uv.*", "working-directory": "repo"},
			files:  map[string][]byte{"repo/a/b/uv.lock": log.lockfile, "repo/c/uv.lock": log.lockfile, "uv.lock": tampered},
			want:   []string{`(?m)^a/b/uv\.lock: \d+ verified, 0 mismatch`, `(?m)^c/uv\.lock: \d+ verified, 0 mismatch`},
		},
		{
			name:   "tampered",
			inputs: map[string]string{"logs": logs, "lockfiles": "uv.lock"},
			files:  map[string][]byte{"uv.lock": tampered},
			status: -1,
			want:   []string{`(?m)^MISMATCH \S+ \(\S+ \S+\) at uv\.lock:\d+: lockfile sha256:` + hash + `$`},
		},
		{
			name:   "a private project",
			inputs: map[string]string{"logs": logs, "exclude": "aiofiles"},
			files:  map[string][]byte{"uv.lock": tampered},
			want:   []string{`(?m)^SKIPPED aiofiles`, `(?m)^uv\.lock: \d+ verified, 0 mismatch`},
		},
		{
			name:   "no lockfile matches",
			inputs: map[string]string{"logs": logs, "lockfiles": "uv.lock nothing*.lock"},
			files:  map[string][]byte{"uv.lock": log.lockfile},
			status: 2,
			want:   []string{`::error::no file matches the lockfile nothing\*\.lock`},
		},
		{
			name:   "strict is not a boolean",
			inputs: map[string]string{"logs": logs, "strict": "yes"},
			files:  map[string][]byte{"uv.lock": log.lockfile},
			status: 2,
			want:   []string{`::error::strict is 'yes': want true or false`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			for name, data := range tc.files {
				path := filepath.Join(work, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, path, data)
			}
			expand := func(s string) string {
				return inputExpr.ReplaceAllStringFunc(s, func(expr string) string {
					name := inputExpr.FindStringSubmatch(expr)[1]
					if v, ok := tc.inputs[name]; ok {
						return v
					}
					return *a.Inputs[name].Default
				})
			}
			for name := range tc.inputs {
				if _, ok := a.Inputs[name]; !ok {
					t.Fatalf("action.yml has no input %s", name)
				}
			}
			cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step.Run)
			cmd.Dir = filepath.Join(work, expand(step.WorkingDirectory))
			cmd.Env = []string{
				"PATH=" + filepath.Dir(bin) + string(filepath.ListSeparator) + pathWithoutTestBinary(),
				"HOME=" + work,
				"XDG_CONFIG_HOME=" + filepath.Join(work, ".config"),
				"PYSUMDB_CACHE=" + filepath.Join(work, ".cache"),
				"GORACE=" + os.Getenv("GORACE"),
			}
			for k, v := range step.Env {
				cmd.Env = append(cmd.Env, k+"="+expand(v))
			}
			out, err := cmd.CombinedOutput()
			status := cmd.ProcessState.ExitCode()
			if err != nil && status < 0 {
				t.Fatalf("bash: %v", err)
			}
			if tc.status >= 0 && status != tc.status || tc.status < 0 && status == 0 {
				t.Errorf("exit status %d, want %s", status, statusWant(tc.status))
			}
			for _, re := range tc.want {
				if !regexpMatch(re, string(out)) {
					t.Errorf("the output doesn't match %s", re)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

func statusWant(status int) string {
	if status < 0 {
		return "a failure"
	}
	return fmt.Sprint(status)
}

// TestActionExample checks the workflow of docs/github-actions-example.yml:
// it uses this action with inputs it declares.
func TestActionExample(t *testing.T) {
	a := readAction(t)
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "docs", "github-actions-example.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var workflow struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			RunsOn string `yaml:"runs-on"`
			Steps  []struct {
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &workflow); err != nil {
		t.Fatalf("docs/github-actions-example.yml: %v", err)
	}
	if len(workflow.On) == 0 || len(workflow.Jobs) == 0 {
		t.Fatal("docs/github-actions-example.yml has no on: or no jobs:")
	}
	uses := 0
	for name, job := range workflow.Jobs {
		for _, step := range job.Steps {
			if !strings.HasPrefix(step.Uses, "pysumdb/pysumdb@") {
				continue
			}
			uses++
			for k := range step.With {
				if _, ok := a.Inputs[k]; !ok {
					t.Errorf("job %s gives the action input %s, which action.yml doesn't declare", name, k)
				}
			}
			for k, in := range a.Inputs {
				if _, given := step.With[k]; in.Required && !given {
					t.Errorf("job %s doesn't give the required input %s", name, k)
				}
			}
			if logs := step.With["logs"]; logs != "" && !slices.ContainsFunc(strings.Split(logs, ","), func(l string) bool { return len(strings.Fields(l)) == 2 }) {
				t.Errorf("job %s: logs %q are not <vkey> <url> pairs", name, logs)
			}
		}
	}
	if uses == 0 {
		t.Error("docs/github-actions-example.yml doesn't use pysumdb/pysumdb")
	}
}
