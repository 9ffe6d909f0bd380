package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// dockerStage is a stage of a Dockerfile: its FROM and its instructions.
type dockerStage struct {
	image, name  string
	instructions [][2]string // keyword (upper case), arguments
}

// parseDockerfile reads the stages of a Dockerfile: comments and blank
// lines dropped, continuation lines joined.
func parseDockerfile(t *testing.T, data []byte) []dockerStage {
	t.Helper()
	var stages []dockerStage
	var line strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || text == "" && line.Len() == 0 {
			continue
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(text)
		keyword, args, _ := strings.Cut(strings.TrimSpace(line.String()), " ")
		line.Reset()
		keyword, args = strings.ToUpper(keyword), strings.TrimSpace(args)
		if keyword == "FROM" {
			f := strings.Fields(args)
			s := dockerStage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %s before FROM", keyword)
		}
		s := &stages[len(stages)-1]
		s.instructions = append(s.instructions, [2]string{keyword, args})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// execForm decodes an instruction in exec form (a JSON array).
func execForm(t *testing.T, keyword, args string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil || len(v) == 0 {
		t.Fatalf("Dockerfile: %s %s is not in exec form (a JSON array of strings): %v", keyword, args, err)
	}
	return v
}

// TestDockerfile checks the Dockerfile, which can't be built here (no
// Docker engine): its build stage's `go build` is run locally with the
// same environment and flags and must make a static binary; the final
// stage copies that binary and runs it, and its CMD names a pysumdb
// command with flags the command takes.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(t, data)
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, run)", len(stages))
	}
	build, final := stages[0], stages[1]
	if !strings.HasPrefix(build.image, "golang:1.26") || build.name == "" {
		t.Errorf("the build stage is FROM %s AS %q, want golang:1.26 with a name", build.image, build.name)
	}
	if final.image != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("the final stage is FROM %s, want gcr.io/distroless/static-debian12:nonroot", final.image)
	}

	// The build stage: the module's sources in WORKDIR, then go build.
	var env, goBuild []string
	workdir, copied := "", false
	for _, in := range build.instructions {
		switch keyword, args := in[0], in[1]; keyword {
		case "WORKDIR":
			workdir = args
		case "COPY":
			copied = copied || args == ". ." || args == ". ./"
		case "RUN":
			fields := strings.Fields(args)
			i := slices.Index(fields, "go")
			if i < 0 || i+1 == len(fields) || fields[i+1] != "build" {
				continue
			}
			if goBuild != nil {
				t.Fatal("Dockerfile: two go build commands")
			}
			env, goBuild = fields[:i], fields[i:]
			if strings.ContainsAny(args, `"'$;&|`) {
				t.Fatalf("Dockerfile: the go build line is not a plain command: %s", args)
			}
		}
	}
	if workdir == "" || !copied || goBuild == nil {
		t.Fatalf("the build stage doesn't copy the module into a WORKDIR (%q, %v) and run go build (%q)", workdir, copied, goBuild)
	}
	if !slices.Contains(env, "CGO_ENABLED=0") || !slices.Contains(goBuild, "-trimpath") {
		t.Errorf("go build runs with %q %q, want CGO_ENABLED=0 and -trimpath", env, goBuild)
	}
	for _, kv := range env {
		if !strings.Contains(kv, "=") {
			t.Fatalf("Dockerfile: %q before go build is not a VAR=value", kv)
		}
	}
	o := slices.Index(goBuild, "-o")
	if o < 0 || o+1 == len(goBuild) || goBuild[len(goBuild)-1] != "./cmd/pysumdb" {
		t.Fatalf("go build %q doesn't build ./cmd/pysumdb with -o", goBuild[2:])
	}
	out := goBuild[o+1]

	// The final stage: the binary copied from the build stage, run by
	// ENTRYPOINT, CMD its arguments.
	var entrypoint, cmdArgs []string
	binary := ""
	for _, in := range final.instructions {
		switch keyword, args := in[0], in[1]; keyword {
		case "COPY":
			f := strings.Fields(args)
			if len(f) == 3 && f[0] == "--from="+build.name && f[1] == out {
				binary = f[2]
			}
		case "ENTRYPOINT":
			entrypoint = execForm(t, keyword, args)
		case "CMD":
			cmdArgs = execForm(t, keyword, args)
		case "USER", "ENV", "LABEL":
		default:
			t.Errorf("the final stage has a %s: distroless has no shell", keyword)
		}
	}
	if binary == "" || !slices.Equal(entrypoint, []string{binary}) {
		t.Fatalf("the final stage doesn't run the binary it copies from %s (COPY to %q, ENTRYPOINT %q)", out, binary, entrypoint)
	}
	if len(cmdArgs) == 0 {
		t.Fatal("the Dockerfile has no CMD")
	}
	// The CMD parses, flags and all: with --help the command prints its
	// help and exits 0 (an unknown flag is an error before that).
	help := runPysumdb(t, append(slices.Clone(cmdArgs), "--help")...)
	if !strings.Contains(help, "Usage:\n  pysumdb "+cmdArgs[0]) {
		t.Errorf("pysumdb %s --help is not the help of %s:\n%s", strings.Join(cmdArgs, " "), cmdArgs[0], help)
	}
	for _, arg := range cmdArgs[1:] {
		if flag, ok := strings.CutPrefix(arg, "--"); ok && !regexpMatch(`(?m)^\s+(-\w, )?--`+flag+`\b`, help) {
			t.Errorf("pysumdb %s --help doesn't list --%s", cmdArgs[0], flag)
		}
	}
	if !slices.Contains(cmdArgs, "--store") || !slices.Contains(cmdArgs, "--key") || !strings.HasPrefix(cmdArgs[slices.Index(cmdArgs, "--store")+1], "gs://") {
		t.Errorf("CMD %q is not a run against a bucket (--store gs://...) with --key", cmdArgs)
	}

	// The go build line, run here as the Docker build runs it after `go
	// mod download` and without .git (.dockerignore): offline, without VCS
	// stamping. With a cold build cache (-trimpath and CGO_ENABLED=0 share
	// nothing with the race builds of the tests) that compiles everything
	// again: minutes on two cores. So by default it runs with -n, which
	// loads every package under the same environment and flags (a missing
	// import, a package whose files the flags exclude, a bad flag fail it)
	// without compiling; PYSUMDB_TEST_DOCKER_BUILD=1 compiles and checks the
	// binary.
	bin := filepath.Join(t.TempDir(), "pysumdb")
	args := slices.Clone(goBuild[1:])
	args[o] = bin
	compile := os.Getenv("PYSUMDB_TEST_DOCKER_BUILD") == "1"
	if !compile {
		args = slices.Insert(args, 1, "-n")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "GOPROXY=off", "GOTOOLCHAIN=local", "GOWORK=off")
	cmd.Env = append(cmd.Env, env...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s go %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, out)
	}
	t.Logf("%s go %s took %v", strings.Join(env, " "), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if !compile {
		return
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has a program interpreter: it is not static, distroless/static can't run it")
		}
	}
	if out, err := exec.Command(bin, cmdArgs[0], "--help").CombinedOutput(); err != nil {
		t.Errorf("the binary built: %s --help: %v\n%s", cmdArgs[0], err, out)
	}
}
