package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestPreCommitHook runs the pysumdb-verify hook of .pre-commit-hooks.yaml
// with real pre-commit, as a project using it would: a git repository whose
// .pre-commit-config.yaml names this repository (a snapshot of its working
// tree, committed, so that uncommitted changes are tested too), `pre-commit
// install`, then commits. pre-commit builds pysumdb itself (language:
// golang: `go install ./...` in its clone), offline, from the Go caches of
// this run. A commit of a lockfile whose hashes are in the log passes; one
// with a sha256 changed fails, with the MISMATCH in pre-commit's output.
func TestPreCommitHook(t *testing.T) {
	if _, err := exec.LookPath("pre-commit"); err != nil {
		t.Skip("pre-commit is not installed (apt-get install -y pre-commit; .ci/run installs it)")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed (pre-commit needs it)")
	}
	t.Parallel()
	start := time.Now()
	log := newServedLog(t, filepath.Join("testdata", "lockfiles", "spectree", "uv.lock"))
	tmp := t.TempDir()
	env := preCommitEnv(t, tmp, log)

	hooks, rev := snapshotRepo(t, moduleRoot(t), filepath.Join(tmp, "pysumdb"), env)
	project := filepath.Join(tmp, "project")
	if err := os.Mkdir(project, 0o755); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("repos:\n- repo: %s\n  rev: %s\n  hooks:\n  - id: pysumdb-verify\n", hooks, rev)
	writeFile(t, filepath.Join(project, ".pre-commit-config.yaml"), []byte(config))
	writeFile(t, filepath.Join(project, "uv.lock"), log.lockfile)
	writeFile(t, filepath.Join(project, "README"), []byte("not a lockfile\n"))
	run := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = project, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mustRun := func(name string, args ...string) string {
		t.Helper()
		out, err := run(name, args...)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return out
	}
	mustRun("git", "init", "-q")
	mustRun("pre-commit", "install")

	// The first commit builds the hook's environment: the Go build.
	mustRun("git", "add", ".")
	built := time.Now()
	out := mustRun("git", "commit", "-q", "-m", "good lockfile")
	t.Logf("pre-commit's go install and the first verify took %v", time.Since(built).Round(time.Millisecond))
	if !regexpMatch(`(?m)^pysumdb verify\.+Passed$`, out) {
		t.Fatalf("the commit of a good lockfile doesn't say the hook passed:\n%s", out)
	}
	bins, _ := filepath.Glob(filepath.Join(tmp, "pre-commit-home", "repo*", "golangenv-*", "bin", "pysumdb"))
	if len(bins) != 1 {
		t.Fatalf("pre-commit's environment holds %d pysumdb binaries (%v), want the one it built", len(bins), bins)
	}

	// A commit that doesn't touch a lockfile doesn't run the hook.
	writeFile(t, filepath.Join(project, "README"), []byte("still not a lockfile\n"))
	out = mustRun("git", "commit", "-q", "-a", "-m", "readme")
	if !regexpMatch(`(?m)^pysumdb verify\.+\(no files to check\)Skipped$`, out) {
		t.Fatalf("a commit without lockfiles ran the hook:\n%s", out)
	}

	// One hex digit of a sha256 changed: the commit is refused.
	tampered, hash := tamperHash(t, log.lockfile)
	writeFile(t, filepath.Join(project, "uv.lock"), tampered)
	out, err := run("git", "commit", "-q", "-a", "-m", "tampered lockfile")
	if err == nil {
		t.Fatalf("the commit of a tampered lockfile succeeded:\n%s", out)
	}
	for _, want := range []string{
		`(?m)^pysumdb verify\.+Failed$`,
		`(?m)^- exit code: [1-9]\d*$`,
		`(?m)^MISMATCH \S+ \(\S+ \S+\) at uv\.lock:\d+: lockfile sha256:` + hash + `$`,
		`(?m)^uv\.lock: \d+ verified, 1 mismatch`,
	} {
		if !regexpMatch(want, out) {
			t.Errorf("the output of the refused commit doesn't match %s:\n%s", want, out)
		}
	}
	if out := mustRun("git", "log", "--format=%s"); out != "readme\ngood lockfile\n" {
		t.Errorf("commits: %q, want the readme's and the good lockfile's", out)
	}
	t.Logf("the test took %v", time.Since(start).Round(time.Millisecond))
}

// preCommitEnv returns the environment pre-commit runs in: its own home in
// tmp, git without the user's configuration, the log in PYSUMDB_LOGS, and
// Go offline on this run's caches, so that its `go install ./...` (in a
// GOPATH of its own) downloads nothing and compiles little. A test binary
// built with -race makes it build with -race too: `go test -race ./...`
// has the race build of every dependency in the cache.
func preCommitEnv(t *testing.T, tmp string, log servedLog) []string {
	t.Helper()
	goEnv, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var caches struct{ GOCACHE, GOMODCACHE string }
	if err := json.Unmarshal(goEnv, &caches); err != nil {
		t.Fatal(err)
	}
	goflags := "-mod=readonly"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				goflags += " -race"
			}
		}
	}
	gitconfig := filepath.Join(tmp, "gitconfig")
	writeFile(t, gitconfig, nil)
	set := map[string]string{
		"PATH":            pathWithoutTestBinary(),
		"PRE_COMMIT_HOME": filepath.Join(tmp, "pre-commit-home"),
		"GOCACHE":         caches.GOCACHE,
		"GOMODCACHE":      caches.GOMODCACHE,
		"GOFLAGS":         goflags,
		"GOPROXY":         "off",
		"GOTOOLCHAIN":     "local",
		"GOWORK":          "off",
		// pysumdb's configuration: the log from the environment only.
		"PYSUMDB_LOGS":    log.vkey + " " + log.url,
		"PYSUMDB_CACHE":   filepath.Join(tmp, "pysumdb-cache"),
		"XDG_CONFIG_HOME": filepath.Join(tmp, "config"),
		// git: no system or user configuration, a fixed identity.
		"GIT_CONFIG_NOSYSTEM": "1",
		"GIT_CONFIG_GLOBAL":   gitconfig,
		"GIT_AUTHOR_NAME":     "pysumdb test",
		"GIT_AUTHOR_EMAIL":    "test@pysumdb.test",
		"GIT_COMMITTER_NAME":  "pysumdb test",
		"GIT_COMMITTER_EMAIL": "test@pysumdb.test",
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		_, overridden := set[k]
		if overridden || strings.HasPrefix(k, "PYSUMDB") || strings.HasPrefix(k, "GIT_") || k == "GOBIN" || k == "GOPATH" {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// snapshotRepo makes a git repository in dir with one commit of the files
// of the module at root as they are now, committed or not (what `git
// ls-files --cached --others --exclude-standard` lists, or every file but
// .git when root is not a git checkout: the snapshot's .gitignore then
// leaves out what it ignores), and returns dir and the commit.
func snapshotRepo(t *testing.T, root, dir string, env []string) (string, string) {
	t.Helper()
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return string(out)
	}
	var files []string
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		files = strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	} else {
		t.Logf("%s is not a git checkout (git ls-files: %v): copying every file", root, err)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				rel, err := filepath.Rel(root, path)
				files = append(files, rel)
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		if err := copyFile(filepath.Join(root, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	git(dir, "init", "-q")
	git(dir, "add", "-A")
	git(dir, "commit", "-q", "-m", "snapshot of the working tree")
	return dir, strings.TrimSpace(git(dir, "rev-parse", "HEAD"))
}

// copyFile copies the file or symbolic link src to dst, making its
// directory; a file that no longer exists (deleted from a checkout) is
// left out.
func copyFile(src, dst string) error {
	info, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, info.Mode().Perm())
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
