package pydisttest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
)

// names are project names in several spellings, with what they become.
var names = []struct {
	project, wheel, sdist, module string
}{
	{"demo", "demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz", "demo"},
	{"Demo.Pkg-X", "demo_pkg_x-1.0-py3-none-any.whl", "demo_pkg_x-1.0.tar.gz", "demo_pkg_x"},
	{"A__b--C.d", "a_b_c_d-1.0-py3-none-any.whl", "a_b_c_d-1.0.tar.gz", "a_b_c_d"},
	{"3to2", "3to2-1.0-py3-none-any.whl", "3to2-1.0.tar.gz", "_3to2"},
	{"Import", "import-1.0-py3-none-any.whl", "import-1.0.tar.gz", "import_"},
}

// marker needs quoting in Python.
const marker = "it's \"quoted\" \\ é\n"

func TestFilenames(t *testing.T) {
	for _, n := range names {
		wheel, _, err := Wheel(n.project, "1.0", marker)
		if err != nil {
			t.Fatal(err)
		}
		sdist, _, err := Sdist(n.project, "1.0", marker)
		if err != nil {
			t.Fatal(err)
		}
		if wheel != n.wheel || sdist != n.sdist || ModuleName(n.project) != n.module {
			t.Errorf("%s: %s, %s, module %s; want %s, %s, %s", n.project, wheel, sdist, ModuleName(n.project), n.wheel, n.sdist, n.module)
		}
	}
	if wheel, _, err := Wheel("demo", "1.0-1", ""); err != nil || wheel != "demo-1.0_1-py3-none-any.whl" {
		t.Errorf("wheel of version 1.0-1: %s, %v", wheel, err)
	}
}

func TestInvalidInputs(t *testing.T) {
	for _, in := range []struct{ project, version, marker string }{
		{"", "1", ""},
		{"-demo", "1", ""},
		{"demo.", "1", ""},
		{"de mo", "1", ""},
		{"demo/x", "1", ""},
		{"demo", "", ""},
		{"demo", "1/2", ""},
		{"demo", "1,2", ""},
		{"demo", "1\n", ""},
		{"demo", "1", "\xff"},
	} {
		if _, _, err := Wheel(in.project, in.version, in.marker); err == nil {
			t.Errorf("Wheel(%q, %q, %q) succeeded", in.project, in.version, in.marker)
		}
		if _, _, err := Sdist(in.project, in.version, in.marker); err == nil {
			t.Errorf("Sdist(%q, %q, %q) succeeded", in.project, in.version, in.marker)
		}
	}
}

func TestWheelContents(t *testing.T) {
	filename, data, err := Wheel("Demo.Pkg-X", "2.0rc1", marker)
	if err != nil {
		t.Fatal(err)
	}
	if filename != "demo_pkg_x-2.0rc1-py3-none-any.whl" {
		t.Errorf("filename %s", filename)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = string(b)
		names = append(names, f.Name)
	}
	const distInfo = "demo_pkg_x-2.0rc1.dist-info/"
	wantNames := []string{"demo_pkg_x/__init__.py", distInfo + "METADATA", distInfo + "WHEEL", distInfo + "RECORD"}
	if fmt.Sprint(names) != fmt.Sprint(wantNames) {
		t.Fatalf("wheel holds %q, want %q", names, wantNames)
	}
	if got, want := files["demo_pkg_x/__init__.py"], `VALUE = "it's \"quoted\" \\ \u00e9\n"`+"\n"; got != want {
		t.Errorf("__init__.py = %q, want %q", got, want)
	}
	for _, line := range []string{"Metadata-Version: 2.1\n", "Name: Demo.Pkg-X\n", "Version: 2.0rc1\n"} {
		if !strings.Contains(files[distInfo+"METADATA"], line) {
			t.Errorf("METADATA lacks %q:\n%s", line, files[distInfo+"METADATA"])
		}
	}
	for _, line := range []string{"Wheel-Version: 1.0\n", "Generator: ", "Root-Is-Purelib: true\n", "Tag: py3-none-any\n"} {
		if !strings.Contains(files[distInfo+"WHEEL"], line) {
			t.Errorf("WHEEL lacks %q:\n%s", line, files[distInfo+"WHEEL"])
		}
	}
	var wantRecord strings.Builder
	for _, name := range wantNames[:3] {
		sum := sha256.Sum256([]byte(files[name]))
		fmt.Fprintf(&wantRecord, "%s,sha256=%s,%d\n", name, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[name]))
	}
	wantRecord.WriteString(distInfo + "RECORD,,\n")
	if got := files[distInfo+"RECORD"]; got != wantRecord.String() {
		t.Errorf("RECORD:\n%s\nwant:\n%s", got, wantRecord.String())
	}

	_, again, err := Wheel("Demo.Pkg-X", "2.0rc1", marker)
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("a second build differs (%v)", err)
	}
	if _, other, _ := Wheel("Demo.Pkg-X", "2.0rc1", "other"); bytes.Equal(other, data) {
		t.Error("another marker gives the same bytes")
	}
}

func TestSdistContents(t *testing.T) {
	filename, data, err := Sdist("Demo.Pkg-X", "2.0", marker)
	if err != nil {
		t.Fatal(err)
	}
	if filename != "demo_pkg_x-2.0.tar.gz" {
		t.Errorf("filename %s", filename)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = string(b)
		names = append(names, h.Name)
	}
	const root = "demo_pkg_x-2.0/"
	wantNames := []string{root, root + "PKG-INFO", root + "_build/", root + "_build/pydisttest_backend.py",
		root + "demo_pkg_x/", root + "demo_pkg_x/__init__.py", root + "pyproject.toml"}
	if fmt.Sprint(names) != fmt.Sprint(wantNames) {
		t.Fatalf("sdist holds %q, want %q", names, wantNames)
	}
	for _, line := range []string{"Metadata-Version: 2.1\n", "Name: Demo.Pkg-X\n", "Version: 2.0\n"} {
		if !strings.Contains(files[root+"PKG-INFO"], line) {
			t.Errorf("PKG-INFO lacks %q", line)
		}
	}
	for _, line := range []string{"requires = []\n", `build-backend = "pydisttest_backend"`, `backend-path = ["_build"]`} {
		if !strings.Contains(files[root+"pyproject.toml"], line) {
			t.Errorf("pyproject.toml lacks %q:\n%s", line, files[root+"pyproject.toml"])
		}
	}
	if !strings.Contains(files[root+"_build/pydisttest_backend.py"], `PACKAGE = "demo_pkg_x"`) {
		t.Errorf("the backend doesn't name the package")
	}

	_, again, err := Sdist("Demo.Pkg-X", "2.0", marker)
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("a second build differs (%v)", err)
	}
	if _, other, _ := Sdist("Demo.Pkg-X", "2.0", "other"); bytes.Equal(other, data) {
		t.Error("another marker gives the same bytes")
	}
}

// findLinks writes the distributions build makes of each of names into a
// new directory and returns it.
func findLinks(t *testing.T, build func(project, version, marker string) (string, []byte, error), version string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		filename, data, err := build(n.project, version, "marker of "+n.project+" "+version)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filename), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// requirements pins every project of names to version.
func requirements(version string) []string {
	var reqs []string
	for _, n := range names {
		reqs = append(reqs, n.project+"=="+version)
	}
	return reqs
}

// checkInstalled imports the package of every project of names and checks
// its VALUE.
func checkInstalled(t *testing.T, python, version string) {
	t.Helper()
	var script strings.Builder
	for _, n := range names {
		fmt.Fprintf(&script, "import %s; print(repr(%[1]s.VALUE))\n", n.module)
	}
	out, err := Python(t, python, "-c", script.String())
	if err != nil {
		t.Fatalf("importing the installed packages: %v\n%s", err, out)
	}
	var want strings.Builder
	for _, n := range names {
		fmt.Fprintf(&want, "'marker of %s %s'\n", n.project, version)
	}
	if out != want.String() {
		t.Errorf("installed packages print:\n%s\nwant:\n%s", out, want.String())
	}
}

// TestPipInstallsFromFindLinks installs wheels, then sdists (with and
// without build isolation) of newer versions, from a directory.
func TestPipInstallsFromFindLinks(t *testing.T) {
	t.Parallel()
	python := Venv(t)
	install := func(version string, args ...string) {
		t.Helper()
		out, err := Pip(t, python, append(append([]string{"install"}, args...), requirements(version)...)...)
		if err != nil {
			t.Fatalf("pip install %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		checkInstalled(t, python, version)
	}

	wheels := findLinks(t, Wheel, "1.0")
	install("1.0", "--no-index", "--find-links", wheels)
	out, err := Pip(t, python, "install", "--no-index", "--find-links", wheels, "demo==2.0")
	if err == nil {
		t.Fatalf("pip installed a version that isn't there:\n%s", out)
	}
	if !strings.Contains(out, "No matching distribution found for demo==2.0") {
		t.Errorf("pip's output:\n%s", out)
	}

	install("2.0", "--no-index", "--find-links", findLinks(t, Sdist, "2.0"), "--no-build-isolation")
	// With build isolation too, the default: the sdist's backend needs no
	// package, so pip fetches none.
	install("3.0", "--no-index", "--find-links", findLinks(t, Sdist, "3.0"))
}

// TestPipInstallsFromFakePyPI installs from fakepypi's Simple API, as pip
// does through pysumdb's proxy, and shows that pip refuses a file whose
// bytes don't match the digest the index lists.
func TestPipInstallsFromFakePyPI(t *testing.T) {
	t.Parallel()
	srv := fakepypi.NewServer()
	defer srv.Close()
	publish := func(build func(project, version, marker string) (string, []byte, error), project, version, marker string) string {
		t.Helper()
		filename, data, err := build(project, version, marker)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.AddDist(project, version, filename, data); err != nil {
			t.Fatal(err)
		}
		return filename
	}
	publish(Wheel, "Demo.Pkg-X", "1.0", "wheel 1.0")
	publish(Sdist, "Demo.Pkg-X", "1.0", "sdist 1.0")
	publish(Sdist, "sdist.only", "1.0", "sdist only 1.0")
	python := Venv(t)
	index := []string{"install", "--index-url", srv.URL + "/simple/", "--retries", "0"}

	if out, err := Pip(t, python, append(index, "demo-pkg-x==1.0", "Sdist_Only==1.0")...); err != nil {
		t.Fatalf("pip install from fakepypi: %v\n%s", err, out)
	}
	// pip prefers the wheel to the sdist.
	const script = "import demo_pkg_x, sdist_only; print(demo_pkg_x.VALUE); print(sdist_only.VALUE)"
	if out, err := Python(t, python, "-c", script); err != nil || out != "wheel 1.0\nsdist only 1.0\n" {
		t.Errorf("installed packages print %q (%v)", out, err)
	}
	if n := srv.Requests().ByEndpoint[fakepypi.EndpointFile]; n != 2 {
		t.Errorf("pip fetched %d files from fakepypi, want 2", n)
	}

	// The storage serves other bytes than the index lists: pip refuses
	// them.
	filename := publish(Wheel, "Demo.Pkg-X", "2.0", "wheel 2.0")
	_, evil, err := Wheel("Demo.Pkg-X", "2.0", "evil")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ReplaceContent("Demo.Pkg-X", filename, evil); err != nil {
		t.Fatal(err)
	}
	out, err := Pip(t, python, append(index, "demo-pkg-x==2.0")...)
	if err == nil || !strings.Contains(out, "THESE PACKAGES DO NOT MATCH THE HASHES") {
		t.Errorf("pip installed bytes that don't match the index (%v):\n%s", err, out)
	}
	if out, err := Python(t, python, "-c", script); err != nil || out != "wheel 1.0\nsdist only 1.0\n" {
		t.Errorf("after the refused install, installed packages print %q (%v)", out, err)
	}
}

func TestCleanEnv(t *testing.T) {
	env := cleanEnv([]string{
		"PATH=/bin", "HOME=/root", "PIP_INDEX_URL=http://elsewhere/", "pip_find_links=/opt", "https_proxy=http://proxy:3128",
		"HTTP_PROXY=http://proxy:3128", "XDG_CONFIG_HOME=/x", "PYTHONPATH=/p", "LANG=C.UTF-8",
	}, "/tmp/home")
	want := []string{
		"PATH=/bin", "LANG=C.UTF-8", "HOME=/tmp/home", "USERPROFILE=/tmp/home", "PIP_CONFIG_FILE=" + os.DevNull,
		"PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_CACHE_DIR=1", "PYTHONNOUSERSITE=1",
	}
	if fmt.Sprint(env) != fmt.Sprint(want) {
		t.Errorf("cleanEnv = %q, want %q", env, want)
	}
	if env := cleanEnv([]string{"HOME=/root"}, ""); env[0] != "HOME=/root" {
		t.Errorf("cleanEnv without a home dropped HOME: %q", env)
	}
}
