// Command pysumdb-wheel builds the Python wheels that carry pysumdb's
// binary (see internal/pywheel), so that `pipx install pysumdb` and `uv
// tool install pysumdb` put it on PATH.
//
// From a goreleaser dist directory, one wheel per binary of a build:
//
//	go run ./scripts/pysumdb-wheel -dist dist -build pysumdb-client
//
// reads dist/artifacts.json and dist/metadata.json (the version: a
// snapshot's 0.1.0-SNAPSHOT-abc1234 becomes 0.1.0.dev0+abc1234) and writes
// the wheels to dist/wheels/ (-out). For one binary:
//
//	go run ./scripts/pysumdb-wheel -binary ./pysumdb -goos linux -goarch amd64 -version 0.1.0 -out /tmp
//
// It prints the path of each wheel written. -readme and -license name the
// files put in the wheel's metadata (README.md and LICENSE of the current
// directory by default; "" for none).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pysumdb/pysumdb/internal/pywheel"
)

// The project's metadata.
const (
	projectName    = "pysumdb"
	summary        = "A tamper-evident log of every file published on PyPI: verify lockfiles against it"
	license        = "Apache-2.0"
	requiresPython = ">=3.8"
	homePage       = "https://github.com/pysumdb/pysumdb"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pysumdb-wheel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.dist, "dist", "", "a goreleaser dist directory: build a wheel per binary of -build")
	fs.StringVar(&c.build, "build", "pysumdb-client", "with -dist, the goreleaser build (its id) whose binaries the wheels carry")
	fs.StringVar(&c.binary, "binary", "", "one binary to build a wheel of (with -goos, -goarch, -version)")
	fs.StringVar(&c.goos, "goos", "", "with -binary, its GOOS")
	fs.StringVar(&c.goarch, "goarch", "", "with -binary, its GOARCH")
	fs.StringVar(&c.version, "version", "", "the version (PEP 440, or Go/goreleaser: v1.2.3, 0.1.0-SNAPSHOT-abc1234); with -dist, default dist/metadata.json's")
	fs.StringVar(&c.out, "out", "", "the directory to write the wheels to (default DIST/wheels with -dist, else the current directory)")
	fs.StringVar(&c.readme, "readme", "README.md", "the long description (Markdown) of the wheel's metadata; \"\" for none")
	fs.StringVar(&c.license, "license", "LICENSE", "the license file the wheel carries; \"\" for none")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (c.dist == "") == (c.binary == "") || (c.binary != "" && (c.goos == "" || c.goarch == "" || c.version == "")) {
		fmt.Fprintln(stderr, "pysumdb-wheel: give -dist DIR, or -binary FILE with -goos, -goarch and -version")
		fs.Usage()
		return 2
	}
	if err := c.buildWheels(stdout); err != nil {
		fmt.Fprintln(stderr, "pysumdb-wheel:", err)
		return 1
	}
	return 0
}

// config is the command line.
type config struct {
	dist, build                   string
	binary, goos, goarch          string
	version, out, readme, license string
}

// buildWheels writes the wheels and prints their paths to stdout.
func (c config) buildWheels(stdout io.Writer) error {
	dist, build, version, out := c.dist, c.build, c.version, c.out
	template := pywheel.Wheel{
		Name: projectName, Summary: summary, License: license,
		RequiresPython: requiresPython, HomePage: homePage, Executable: projectName,
	}
	if c.readme != "" {
		data, err := os.ReadFile(c.readme)
		if err != nil {
			return err
		}
		template.Description = string(data)
	}
	if c.license != "" {
		data, err := os.ReadFile(c.license)
		if err != nil {
			return err
		}
		template.LicenseText = data
	}
	var binaries []artifact
	if dist != "" {
		if out == "" {
			out = filepath.Join(dist, "wheels")
		}
		var err error
		var distVersion string
		if binaries, distVersion, err = readDist(dist, build); err != nil {
			return err
		}
		if version == "" {
			version = distVersion
		}
	} else {
		if out == "" {
			out = "."
		}
		binaries = []artifact{{Path: c.binary, GOOS: c.goos, GOARCH: c.goarch}}
	}
	v, err := pep440(version)
	if err != nil {
		return err
	}
	template.Version = v
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, b := range binaries {
		data, err := os.ReadFile(b.Path)
		if err != nil {
			return err
		}
		if err := pywheel.CheckBinary(b.GOOS, b.GOARCH, data); err != nil {
			return fmt.Errorf("%s: %w", b.Path, err)
		}
		w := template
		w.GOOS, w.GOARCH, w.Binary = b.GOOS, b.GOARCH, data
		name, wheel, err := w.Bytes()
		if err != nil {
			return fmt.Errorf("%s: %w", b.Path, err)
		}
		path := filepath.Join(out, name)
		if err := os.WriteFile(path, wheel, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stdout, path)
	}
	return nil
}

// pep440 is version in PEP 440's form: as given if it is, else converted.
func pep440(version string) (string, error) {
	if pywheel.IsPEP440(version) {
		return version, nil
	}
	return pywheel.PEP440Version(version)
}

// artifact is a binary of goreleaser's dist/artifacts.json.
type artifact struct {
	Path   string `json:"path"`
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	Type   string `json:"type"`
	Extra  struct {
		ID string `json:"ID"`
	} `json:"extra"`
}

// readDist returns the binaries of build in a goreleaser dist directory,
// their paths made relative to the current directory, and the release's
// version.
func readDist(dist, build string) ([]artifact, string, error) {
	var all []artifact
	if err := readJSON(filepath.Join(dist, "artifacts.json"), &all); err != nil {
		return nil, "", err
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := readJSON(filepath.Join(dist, "metadata.json"), &meta); err != nil {
		return nil, "", err
	}
	var binaries []artifact
	var builds []string
	for _, a := range all {
		if a.Type != "Binary" {
			continue
		}
		if !slices.Contains(builds, a.Extra.ID) {
			builds = append(builds, a.Extra.ID)
		}
		if a.Extra.ID != build {
			continue
		}
		// goreleaser writes paths relative to where it ran, the
		// directory holding dist.
		if !filepath.IsAbs(a.Path) {
			a.Path = filepath.Join(filepath.Dir(filepath.Clean(dist)), a.Path)
		}
		if _, err := pywheel.PlatformTag(a.GOOS, a.GOARCH); err != nil {
			return nil, "", fmt.Errorf("%s: %w", a.Path, err)
		}
		binaries = append(binaries, a)
	}
	if len(binaries) == 0 {
		return nil, "", fmt.Errorf("%s/artifacts.json lists no binary of build %q (builds: %s)", dist, build, strings.Join(builds, ", "))
	}
	if meta.Version == "" {
		return nil, "", fmt.Errorf("%s/metadata.json has no version", dist)
	}
	return binaries, meta.Version, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
