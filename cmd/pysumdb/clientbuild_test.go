package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/internal/pydisttest"
	"github.com/pysumdb/pysumdb/internal/pywheel"
)

// clientTag is the build tag of the client build: only the commands that
// read logs, without the server's dependencies (commands_client.go).
const clientTag = "pysumdb_client"

// maxClientPackages bounds the packages outside the standard library in
// the client build (this one included). It had 43 when the tag was made
// (the full build: 681), with verify, lookup, publishers, check-pypi,
// audit, proxy and monitor; raise it only for a dependency worth it.
const maxClientPackages = 55

// clientForbidden are the packages, by prefix or substring, that the
// client build must not need: those of the stores, RPC, telemetry and
// attestations, and this module's server side.
var clientForbidden = []string{
	"cloud.google.com/",
	"google.golang.org/grpc",
	"google.golang.org/api",
	"sigstore",
	"opentelemetry",
	"github.com/pysumdb/pysumdb/publish/",
	"github.com/pysumdb/pysumdb/sequencer/attest",
	"github.com/pysumdb/pysumdb/sequencer/ingest",
	"github.com/pysumdb/pysumdb/web",
}

func goCommand(t *testing.T) string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	return gocmd
}

func TestClientBuildDependencies(t *testing.T) {
	out, err := exec.Command(goCommand(t), "list", "-deps", "-tags", clientTag,
		"-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps -tags %s: %v\n%s", clientTag, err, exitStderr(err))
	}
	packages := strings.Fields(string(out))
	for _, p := range packages {
		for _, f := range clientForbidden {
			if strings.Contains(p, f) {
				t.Errorf("the client build needs %s", p)
			}
		}
	}
	if len(packages) > maxClientPackages {
		t.Errorf("the client build needs %d packages outside the standard library, more than %d:\n%s",
			len(packages), maxClientPackages, strings.Join(packages, "\n"))
	}
	t.Logf("the client build needs %d packages outside the standard library", len(packages))
}

func exitStderr(err error) string {
	if e, ok := err.(*exec.ExitError); ok {
		return string(e.Stderr)
	}
	return ""
}

// buildClient builds the client binary for the host (CGO_ENABLED=0, as
// releases are) and returns its path.
func buildClient(t *testing.T) string {
	t.Helper()
	gocmd := goCommand(t)
	exe := filepath.Join(t.TempDir(), "pysumdb")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	cmd := exec.Command(gocmd, "build", "-tags", clientTag, "-ldflags=-s -w", "-o", exe, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %s: %v\n%s", clientTag, err, out)
	}
	return exe
}

func TestClientBuildCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the client binary")
	}
	exe := buildClient(t)
	runExe := func(args ...string) (string, error) {
		out, err := exec.Command(exe, args...).CombinedOutput()
		return string(out), err
	}

	out, err := runExe("--version")
	if err != nil || !strings.HasPrefix(out, "pysumdb ") {
		t.Errorf("pysumdb --version: %v\n%s", err, out)
	}
	out, err = runExe("verify", "--help")
	if err != nil || !strings.Contains(out, "pysumdb verify") {
		t.Errorf("pysumdb verify --help: %v\n%s", err, out)
	}

	// The help lists the client's commands, not the server's.
	out, err = runExe("--help")
	if err != nil {
		t.Fatalf("pysumdb --help: %v\n%s", err, out)
	}
	commands := map[string]bool{}
	inCommands := false
	for line := range strings.Lines(out) {
		switch {
		case strings.HasPrefix(line, "Available Commands:"):
			inCommands = true
		case inCommands && strings.TrimSpace(line) == "":
			inCommands = false
		case inCommands:
			commands[strings.Fields(line)[0]] = true
		}
	}
	for _, c := range []string{"verify", "lookup", "publishers", "check-pypi", "config", "audit", "proxy", "monitor"} {
		if !commands[c] {
			t.Errorf("the client build has no %s command:\n%s", c, out)
		}
	}
	for _, c := range []string{"keygen", "sequence", "serve", "run", "bench", "alarms", "demo", "mirror", "witness", "publish-web"} {
		if commands[c] {
			t.Errorf("the client build has the server's %s command", c)
		}
	}
	if out, err := runExe("sequence"); err == nil || !strings.Contains(out, "unknown command") {
		t.Errorf("pysumdb sequence in the client build: %v\n%s", err, out)
	}
}

// TestClientWheel builds the client binary's wheel for the host and
// installs it with pip, from the file alone, in a new virtual environment:
// pip puts the binary on the environment's bin, executable.
func TestClientWheel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the client binary and installs its wheel with pip")
	}
	if _, err := pywheel.PlatformTag(runtime.GOOS, runtime.GOARCH); err != nil {
		t.Skipf("no wheel for this platform: %v", err)
	}
	// Mostly pip and Python starting up: it overlaps the other tests.
	t.Parallel()
	python := pydisttest.Venv(t)
	data, err := os.ReadFile(buildClient(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := pywheel.CheckBinary(runtime.GOOS, runtime.GOARCH, data); err != nil {
		t.Fatal(err)
	}
	w := &pywheel.Wheel{
		Name: "pysumdb", Version: "0.1.0.dev0+test", Summary: "pysumdb's client, for a test",
		License: "Apache-2.0", RequiresPython: ">=3.8",
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Executable: "pysumdb", Binary: data,
	}
	name, wheel, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, wheel, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := pydisttest.Pip(t, python, "install", "--no-index", path); err != nil {
		t.Fatalf("pip install --no-index %s: %v\n%s", name, err, out)
	}
	out, err := pydisttest.Pip(t, python, "show", "--files", "pysumdb")
	if err != nil || !strings.Contains(out, "Version: 0.1.0.dev0+test") || !strings.Contains(out, "License: Apache-2.0") {
		t.Errorf("pip show --files pysumdb: %v\n%s", err, out)
	}

	exe := filepath.Join(filepath.Dir(python), "pysumdb")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	info, err := os.Stat(exe)
	if err != nil {
		t.Fatalf("pip installed no %s: %v", exe, err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable: %v", exe, info.Mode())
	}
	version, err := exec.Command(exe, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(version), "pysumdb ") {
		t.Errorf("%s --version: %v\n%s", exe, err, version)
	}
	if out, err := pydisttest.Pip(t, python, "uninstall", "--yes", "pysumdb"); err != nil {
		t.Errorf("pip uninstall pysumdb: %v\n%s", err, out)
	}
	if _, err := os.Stat(exe); err == nil {
		t.Errorf("pip uninstall left %s", exe)
	}
}

// TestCrossBuild builds the full command and the client build for the
// release platforms other than Linux, which the other tests don't build:
// Windows above all, where file locks and syncs are not Unix's (package
// filelock, publish.Dir).
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the command for other systems")
	}
	gocmd := goCommand(t)
	// The full command once, for the system whose code differs (file
	// locks, directory syncs); the client build for each system and
	// architecture of the releases that the suite doesn't run on. .ci/run
	// builds them first, so that the suite finds them in the build cache.
	for target, builds := range map[string][]string{
		"windows/amd64": {clientTag, ""},
		"windows/arm64": {clientTag},
		"darwin/arm64":  {clientTag},
	} {
		goos, goarch, _ := strings.Cut(target, "/")
		t.Run(goos+"_"+goarch, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, tags := range builds {
				cmd := exec.Command(gocmd, "build", "-tags", tags, "-o", filepath.Join(dir, "pysumdb"), ".")
				cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("GOOS=%s GOARCH=%s go build -tags %q: %v\n%s", goos, goarch, tags, err, out)
				}
			}
		})
	}
}
