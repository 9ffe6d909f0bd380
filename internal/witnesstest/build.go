package witnesstest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The witnesses are built from the module in the witnesses directory
// beside this file (its own go.mod and go.sum, with tool directives), not
// from pysumdb's module graph: torchwood's tool packages would put
// sigsum.org/sigsum-go, which the module proxy doesn't serve, in the way
// of `go mod tidy` (it loads the tests of the tools' dependencies), and
// omniwitness would upgrade dependencies pysumdb shares with it. See
// witnesses/README.md.

// tool is one program of the witnesses module, built once per test process.
type tool struct {
	once sync.Once
	path string
	err  error
}

var (
	tools = map[string]*tool{
		"litewitness":   {},
		"litewitnessdb": {},
		"omniwitness":   {},
	}
	// buildMu makes the builds of one process one after the other, so that
	// the packages the tools share (SQLite, above all) compile once.
	buildMu sync.Mutex
)

// toolPath returns the path of the executable of the named tool of the
// witnesses module, building it the first time. `go tool -n` builds it and
// keeps the executable in the Go build cache, so a later test process gets
// it without linking it again. It skips t if there is no go command.
func toolPath(t testing.TB, name string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("witnesstest: needs the go command to build %s: %v", name, err)
	}
	tl := tools[name]
	tl.once.Do(func() {
		buildMu.Lock()
		defer buildMu.Unlock()
		defer lockBuilds()()
		start := time.Now()
		tl.path, tl.err = buildTool(name)
		if tl.err == nil {
			t.Logf("witnesstest: %s built (or found in the build cache) in %v", name, time.Since(start).Round(time.Millisecond))
		}
	})
	if tl.err != nil {
		t.Fatalf("witnesstest: building %s: %v", name, tl.err)
	}
	return tl.path
}

func buildTool(name string) (string, error) {
	dir, err := witnessesDir()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "tool", "-n", name)
	cmd.Dir = dir
	// The witnesses module's go.sum says what to build: never update it
	// (-mod=readonly), never switch toolchains, ignore any go.work, and
	// whatever GOFLAGS the tests were given (-race, tags).
	cmd.Env = append(os.Environ(),
		"GOFLAGS=-mod=readonly -buildvcs=false",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go tool -n %s (in %s): %v\n%s", name, dir, err, stderr.Bytes())
	}
	path := strings.TrimSpace(stdout.String())
	if !filepath.IsAbs(path) || strings.ContainsAny(path, "\n ") {
		return "", fmt.Errorf("go tool -n %s: want the executable's path, got %q", name, path)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("go tool -n %s: %v", name, err)
	}
	return path, nil
}

// witnessesDir returns the directory of the witnesses module.
func witnessesDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "witnesses")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
	}
	// Built with -trimpath: ask the go command where this package is.
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/pysumdb/pysumdb/internal/witnesstest").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("finding the witnesses module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "witnesses")
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("finding the witnesses module: %v", err)
	}
	return dir, nil
}
