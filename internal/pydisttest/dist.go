// Package pydisttest builds small Python distributions (wheels and sdists)
// that real pip installs, and virtual environments to run pip in, for
// tests.
//
// A distribution of project holds one package, named by [ModuleName], whose
// __init__.py is VALUE = "<marker>": a test installs it and prints
// VALUE to tell builds apart. The bytes are the same for the same inputs.
//
// The sdists carry their own PEP 517 build backend, which needs nothing but
// Python's standard library (pyproject.toml: requires = [], backend-path),
// so that pip builds them without reaching an index, with or without build
// isolation. setuptools would not do: its backend, before version 70.1,
// needs the wheel package, which a fresh virtual environment lacks.
package pydisttest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// modTime is the modification time of every file in the archives built
// here, so that the same inputs give the same bytes.
var modTime = time.Date(2020, time.January, 1, 0, 0, 0, 0, time.UTC)

// generator names this package in WHEEL files.
const generator = "pysumdb-pydisttest"

var (
	// validName is PEP 508's project name.
	validName = regexp.MustCompile(`(?i)^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$`)
	// validVersion is lenient: pip judges the version; this only keeps
	// out what would break a filename or a metadata line.
	validVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+!_-]*$`)
	separatorRun = regexp.MustCompile(`[-_.]+`)
)

// pythonKeywords are the lowercase reserved words, which can't name a
// module.
var pythonKeywords = []string{
	"and", "as", "assert", "async", "await", "break", "class", "continue",
	"def", "del", "elif", "else", "except", "finally", "for", "from",
	"global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or",
	"pass", "raise", "return", "try", "while", "with", "yield",
}

// ModuleName is the import name of the package in project's
// distributions: the name lowercased with each run of '-', '_' and '.'
// replaced by '_' (so "Demo.Pkg-X" is demo_pkg_x), with '_' put before a
// leading digit and after a Python keyword.
func ModuleName(project string) string {
	name := escapedName(project)
	if name != "" && name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	if slices.Contains(pythonKeywords, name) {
		name += "_"
	}
	return name
}

// escapedName is the name as wheel and sdist filenames spell it.
func escapedName(project string) string {
	return strings.ToLower(separatorRun.ReplaceAllString(project, "_"))
}

// escapedVersion is the version as wheel and sdist filenames spell it.
func escapedVersion(version string) string {
	return strings.ReplaceAll(version, "-", "_")
}

func checkInputs(project, version, marker string) error {
	if !validName.MatchString(project) {
		return fmt.Errorf("%q is not a valid project name", project)
	}
	if !validVersion.MatchString(version) {
		return fmt.Errorf("%q is not a usable version", version)
	}
	if !utf8.ValidString(marker) {
		return fmt.Errorf("marker %q is not UTF-8", marker)
	}
	return nil
}

// metadata is the core metadata, as METADATA and PKG-INFO.
func metadata(project, version string) []byte {
	return []byte("Metadata-Version: 2.1\nName: " + project + "\nVersion: " + version +
		"\nSummary: A test distribution built by pysumdb's pydisttest\n")
}

// moduleSource is the package's __init__.py.
func moduleSource(marker string) []byte {
	// Go's ASCII quoting is a valid Python string literal.
	return []byte("VALUE = " + strconv.QuoteToASCII(marker) + "\n")
}

// wheelFile is the WHEEL file of a pure-Python wheel.
const wheelFile = "Wheel-Version: 1.0\nGenerator: " + generator + "\nRoot-Is-Purelib: true\nTag: py3-none-any\n"

type archiveFile struct {
	name string
	data []byte
}

// Wheel returns the filename and bytes of a minimal pure-Python wheel
// (py3-none-any) of project at version, whose package (see [ModuleName])
// sets VALUE to marker. project must be a valid PEP 508 name, in any
// spelling: the filename escapes it as wheels require, the metadata keeps
// it.
func Wheel(project, version, marker string) (filename string, data []byte, err error) {
	if err := checkInputs(project, version, marker); err != nil {
		return "", nil, fmt.Errorf("couldn't build the wheel: %w", err)
	}
	stem := escapedName(project) + "-" + escapedVersion(version)
	distInfo := stem + ".dist-info"
	files := []archiveFile{
		{ModuleName(project) + "/__init__.py", moduleSource(marker)},
		{distInfo + "/METADATA", metadata(project, version)},
		{distInfo + "/WHEEL", []byte(wheelFile)},
	}
	var record bytes.Buffer
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.data))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", distInfo)
	files = append(files, archiveFile{distInfo + "/RECORD", record.Bytes()})

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		header := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: modTime}
		header.SetMode(0o644)
		w, err := zw.CreateHeader(header)
		if err != nil {
			return "", nil, fmt.Errorf("couldn't build the wheel: %w", err)
		}
		if _, err := w.Write(f.data); err != nil {
			return "", nil, fmt.Errorf("couldn't build the wheel: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", nil, fmt.Errorf("couldn't build the wheel: %w", err)
	}
	return stem + "-py3-none-any.whl", buf.Bytes(), nil
}

// Sdist returns the filename (PEP 625: <escaped name>-<version>.tar.gz)
// and bytes of a minimal sdist of project at version, whose package sets
// VALUE to marker, as [Wheel]. It holds PKG-INFO, pyproject.toml, the
// package and an in-tree build backend that needs only Python's standard
// library, so pip builds it without an index: `pip install --no-index
// --find-links DIR project==version` works with or without
// --no-build-isolation.
func Sdist(project, version, marker string) (filename string, data []byte, err error) {
	if err := checkInputs(project, version, marker); err != nil {
		return "", nil, fmt.Errorf("couldn't build the sdist: %w", err)
	}
	stem := escapedName(project) + "-" + escapedVersion(version)
	module := ModuleName(project)
	files := []archiveFile{
		{"PKG-INFO", metadata(project, version)},
		{"pyproject.toml", []byte(pyprojectTOML(project, version))},
		{module + "/__init__.py", moduleSource(marker)},
		{backendDir + "/" + backendModule + ".py", []byte(backendSource(module))},
	}
	slices.SortFunc(files, func(a, b archiveFile) int { return strings.Compare(a.name, b.name) })

	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf) // no name, no time: the same bytes every time
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	writeDir := func(dir string) error {
		if dirs[dir] {
			return nil
		}
		dirs[dir] = true
		return tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: modTime, Format: tar.FormatUSTAR,
		})
	}
	if err := writeDir(stem); err != nil {
		return "", nil, fmt.Errorf("couldn't build the sdist: %w", err)
	}
	for _, f := range files {
		name := stem + "/" + f.name
		if err := writeDir(path.Dir(name)); err != nil {
			return "", nil, fmt.Errorf("couldn't build the sdist: %w", err)
		}
		err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(f.data)), ModTime: modTime, Format: tar.FormatUSTAR,
		})
		if err != nil {
			return "", nil, fmt.Errorf("couldn't build the sdist: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", nil, fmt.Errorf("couldn't build the sdist: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", nil, fmt.Errorf("couldn't build the sdist: %w", err)
	}
	if err := gz.Close(); err != nil {
		return "", nil, fmt.Errorf("couldn't build the sdist: %w", err)
	}
	return stem + ".tar.gz", buf.Bytes(), nil
}

// The in-tree build backend: backendDir/backendModule.py in the sdist.
const (
	backendDir    = "_build"
	backendModule = "pydisttest_backend"
)

func pyprojectTOML(project, version string) string {
	// The [project] table only documents: the backend reads PKG-INFO.
	return `[build-system]
requires = []
build-backend = "` + backendModule + `"
backend-path = ["` + backendDir + `"]

[project]
name = ` + strconv.QuoteToASCII(project) + `
version = ` + strconv.QuoteToASCII(version) + `
`
}

// backendSource is a PEP 517 build backend that builds the wheel of
// package (the same files as Wheel's) from PKG-INFO and the package
// directory, with Python's standard library only.
func backendSource(module string) string {
	return `"""A PEP 517 build backend that needs only Python's standard library.

pysumdb's pydisttest puts it in the sdists it builds for tests, so that pip
builds them without an index to fetch setuptools and wheel from.
"""

import base64
import email.parser
import hashlib
import os
import re
import tarfile
import zipfile

PACKAGE = ` + strconv.QuoteToASCII(module) + `
WHEEL = ` + strconv.QuoteToASCII(wheelFile) + `
DATE_TIME = (2020, 1, 1, 0, 0, 0)


def _metadata():
    with open("PKG-INFO", encoding="utf-8") as f:
        text = f.read()
    message = email.parser.Parser().parsestr(text)
    return message["Name"], message["Version"], text


def _stem():
    name, version, _ = _metadata()
    return re.sub(r"[-_.]+", "_", name).lower() + "-" + version.replace("-", "_")


def _dist_info_files():
    _, _, text = _metadata()
    return [("METADATA", text.encode("utf-8")), ("WHEEL", WHEEL.encode("utf-8"))]


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist_info = _stem() + ".dist-info"
    os.makedirs(os.path.join(metadata_directory, dist_info))
    for name, data in _dist_info_files():
        with open(os.path.join(metadata_directory, dist_info, name), "wb") as f:
            f.write(data)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    stem = _stem()
    dist_info = stem + ".dist-info"
    files = []
    for directory, subdirectories, filenames in os.walk(PACKAGE):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for filename in sorted(filenames):
            path = os.path.join(directory, filename)
            with open(path, "rb") as f:
                files.append((path.replace(os.sep, "/"), f.read()))
    for name, data in _dist_info_files():
        files.append((dist_info + "/" + name, data))
    record = ""
    for name, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record += "%s,sha256=%s,%d\n" % (name, digest.decode("ascii"), len(data))
    record += dist_info + "/RECORD,,\n"
    files.append((dist_info + "/RECORD", record.encode("utf-8")))
    filename = stem + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=DATE_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    stem = _stem()
    filename = stem + ".tar.gz"

    def clean(info):
        if "__pycache__" in info.name.split("/"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as archive:
        for name in ["PKG-INFO", "pyproject.toml", ` + strconv.QuoteToASCII(backendDir) + `, PACKAGE]:
            archive.add(name, arcname=stem + "/" + name, filter=clean)
    return filename
`
}
