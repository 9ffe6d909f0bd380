package pydisttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Timeout bounds each command Venv, Pip and Python run.
const Timeout = 2 * time.Minute

// Venv creates a virtual environment (python3 -m venv, with pip) in a new
// temporary directory of t and returns the path of its Python. It skips t
// when python3 is not on PATH and fails t when the environment can't be
// made. It takes several seconds (ensurepip installs pip): make one per
// test and install several things in it rather than one per install.
func Venv(t testing.TB) (python string) {
	t.Helper()
	python3, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH; install it to run this test: apt-get install -y python3-venv")
	}
	dir := filepath.Join(t.TempDir(), "venv")
	// HOME stays: a python3 that is a shim (pyenv) needs it.
	out, err := run(t, cleanEnv(os.Environ(), ""), python3, "-m", "venv", dir)
	if err != nil {
		t.Fatalf("couldn't create a virtual environment with %s -m venv (on Debian: apt-get install -y python3-venv): %v\n%s", python3, err, out)
	}
	python = filepath.Join(dir, "bin", "python")
	if runtime.GOOS == "windows" {
		python = filepath.Join(dir, "Scripts", "python.exe")
	}
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("python3 -m venv made no %s: %v\n%s", python, err, out)
	}
	return python
}

// Pip runs python -m pip with args and returns its output (stdout and
// stderr) and error, such as an *exec.ExitError. It never fails t: the
// caller judges. pip sees no configuration but args: no configuration file
// (PIP_CONFIG_FILE is os.DevNull), no PIP_* variable but PIP_NO_INPUT,
// PIP_DISABLE_PIP_VERSION_CHECK and PIP_NO_CACHE_DIR (so that no cache of
// pip's hides a request), no HTTP proxy, and a new empty HOME; so it
// reaches only the index and links args name. pip's own retries (--retries,
// 5 by default) and timeout (--timeout) stay as they are. It runs in a new
// empty directory, so paths in args should be absolute, and is killed
// after [Timeout].
func Pip(t testing.TB, python string, args ...string) (output string, err error) {
	t.Helper()
	return Python(t, python, append([]string{"-m", "pip"}, args...)...)
}

// Python runs python with args in the environment Pip uses and returns its
// output and error; for example Python(t, python, "-c", "import demo;
// print(demo.VALUE)"). It never fails t. Like Pip, it runs in a new empty
// directory (which Python puts on sys.path for -c) and is killed after
// [Timeout].
func Python(t testing.TB, python string, args ...string) (output string, err error) {
	t.Helper()
	out, err := run(t, cleanEnv(os.Environ(), t.TempDir()), python, args...)
	return string(out), err
}

// cleanEnv returns env less the variables that would point pip elsewhere
// than its arguments do, plus those that keep it quiet, local and
// uncached; with HOME (and USERPROFILE) set to home unless home is "".
func cleanEnv(env []string, home string) []string {
	var kept []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		switch {
		case strings.HasPrefix(upper, "PIP_"), strings.HasPrefix(upper, "XDG_"),
			slices.Contains(droppedVariables, upper),
			home != "" && (upper == "HOME" || upper == "USERPROFILE"):
			continue
		}
		kept = append(kept, kv)
	}
	if home != "" {
		kept = append(kept, "HOME="+home, "USERPROFILE="+home)
	}
	return append(kept,
		"PIP_CONFIG_FILE="+os.DevNull,
		"PIP_NO_INPUT=1",
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_CACHE_DIR=1",
		"PYTHONNOUSERSITE=1",
	)
}

// droppedVariables are the variables, besides PIP_* and XDG_*, that the
// commands run here don't inherit (compared in upper case).
var droppedVariables = []string{
	"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "FTP_PROXY",
	"PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONSTARTUP", "VIRTUAL_ENV",
	"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
}

// run runs a command with env, in a new empty directory, for at most
// Timeout and returns its combined output.
func run(t testing.TB, env []string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	// A child that outlives pip and holds the output open doesn't hold
	// the test.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w after %v: %w", ctx.Err(), Timeout, err)
	}
	return out, err
}
