// Package pywheel builds Python wheels that carry a prebuilt executable, as
// ruff's and uv's do, so that `pipx install pysumdb` or `uv tool install
// pysumdb` puts the Go binary on PATH.
//
// A wheel (PEP 427, the binary distribution format of the Python Packaging
// User Guide) is a zip of:
//
//	<name>-<version>.data/scripts/<exe>   the binary, mode 0755
//	<name>-<version>.dist-info/METADATA    core metadata 2.1
//	<name>-<version>.dist-info/WHEEL       Root-Is-Purelib: false, the tags
//	<name>-<version>.dist-info/LICENSE     when given
//	<name>-<version>.dist-info/RECORD      sha256 and size of every file
//
// Installers copy what is under .data/scripts/ to the environment's bin
// (Scripts on Windows), executable since the zip entry's Unix mode says
// so. The wheel has no Python code: its tag is py3-none-<platform>, the
// platform being the binary's (see [PlatformTag]). The bytes are the same
// for the same inputs.
package pywheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"time"
)

// Generator names this package in WHEEL files.
const Generator = "pysumdb-pywheel"

// modTime is the modification time of every entry, so that the same
// inputs give the same bytes (zip can't go before 1980).
var modTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// Wheel describes the wheel of one binary.
type Wheel struct {
	// Name is the project's name (PEP 508), such as "pysumdb".
	Name string
	// Version is a PEP 440 version (see [PEP440Version] to convert a Go
	// or goreleaser version).
	Version string
	// Summary is the one-line description, METADATA's Summary.
	Summary string
	// License is METADATA's License, such as "Apache-2.0".
	License string
	// RequiresPython is METADATA's Requires-Python, such as ">=3.8"; ""
	// leaves it out.
	RequiresPython string
	// HomePage, when set, is METADATA's Project-URL "Homepage".
	HomePage string
	// Description, when set, is METADATA's body, in Markdown.
	Description string
	// LicenseText, when set, is put in the dist-info directory as LICENSE.
	LicenseText []byte

	// GOOS and GOARCH are the binary's platform; they choose the wheel's
	// platform tag and the executable's name (".exe" on Windows).
	GOOS, GOARCH string
	// Executable is the command's name on PATH, without ".exe".
	Executable string
	// Binary is the executable.
	Binary []byte
}

var (
	// validName is PEP 508's project name.
	validName    = regexp.MustCompile(`(?i)^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$`)
	separatorRun = regexp.MustCompile(`[-_.]+`)
	// validExecutable keeps the executable's name to a plain file name.
	validExecutable = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// escapedName is the project name as wheel filenames and the .data and
// .dist-info directories spell it: lowercase, runs of -_. as one _.
func escapedName(name string) string {
	return strings.ToLower(separatorRun.ReplaceAllString(name, "_"))
}

// Filename is the wheel's file name,
// <name>-<version>-py3-none-<platform>.whl.
func (w *Wheel) Filename() (string, error) {
	if err := w.check(); err != nil {
		return "", err
	}
	platform, err := PlatformTag(w.GOOS, w.GOARCH)
	if err != nil {
		return "", err
	}
	return w.stem() + "-py3-none-" + platform + ".whl", nil
}

// stem is <name>-<version> as the wheel's file and directory names spell
// it (a PEP 440 version has no '-', so it needs no escaping).
func (w *Wheel) stem() string {
	return escapedName(w.Name) + "-" + w.Version
}

func (w *Wheel) check() error {
	switch {
	case !validName.MatchString(w.Name):
		return fmt.Errorf("%q is not a valid project name", w.Name)
	case !IsPEP440(w.Version):
		return fmt.Errorf("%q is not a PEP 440 version", w.Version)
	case !validExecutable.MatchString(w.Executable):
		return fmt.Errorf("%q is not a usable executable name", w.Executable)
	case len(w.Binary) == 0:
		return errors.New("no binary")
	case strings.ContainsAny(w.Summary, "\r\n"):
		return errors.New("the summary must be one line")
	case strings.ContainsAny(w.License+w.RequiresPython+w.HomePage, "\r\n"):
		return errors.New("metadata fields must be one line")
	}
	return nil
}

// file is one entry of the wheel.
type file struct {
	name string
	mode uint32 // Unix permission bits
	data []byte
}

// Write writes the wheel to out and returns its file name (see
// [Wheel.Filename]).
func (w *Wheel) Write(out io.Writer) (filename string, err error) {
	filename, err = w.Filename()
	if err != nil {
		return "", fmt.Errorf("couldn't build the wheel: %w", err)
	}
	tags, err := Tags(w.GOOS, w.GOARCH)
	if err != nil {
		return "", fmt.Errorf("couldn't build the wheel: %w", err)
	}
	exe := w.Executable
	if w.GOOS == "windows" {
		exe += ".exe"
	}
	stem := w.stem()
	distInfo := stem + ".dist-info"
	files := []file{
		{stem + ".data/scripts/" + exe, 0o755, w.Binary},
		{distInfo + "/METADATA", 0o644, w.metadata()},
		{distInfo + "/WHEEL", 0o644, wheelFile(tags)},
	}
	if len(w.LicenseText) > 0 {
		files = append(files, file{distInfo + "/LICENSE", 0o644, w.LicenseText})
	}
	files = append(files, file{distInfo + "/RECORD", 0o644, record(files, distInfo+"/RECORD")})

	zw := zip.NewWriter(out)
	for _, f := range files {
		header := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: modTime}
		header.SetMode(fs.FileMode(f.mode))
		fw, err := zw.CreateHeader(header)
		if err != nil {
			return "", fmt.Errorf("couldn't build the wheel: %w", err)
		}
		if _, err := fw.Write(f.data); err != nil {
			return "", fmt.Errorf("couldn't build the wheel: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("couldn't build the wheel: %w", err)
	}
	return filename, nil
}

// Bytes returns the wheel's file name and bytes.
func (w *Wheel) Bytes() (filename string, data []byte, err error) {
	var buf bytes.Buffer
	filename, err = w.Write(&buf)
	if err != nil {
		return "", nil, err
	}
	return filename, buf.Bytes(), nil
}

// metadata is METADATA: core metadata 2.1.
func (w *Wheel) metadata() []byte {
	var b strings.Builder
	b.WriteString("Metadata-Version: 2.1\n")
	b.WriteString("Name: " + w.Name + "\n")
	b.WriteString("Version: " + w.Version + "\n")
	if w.Summary != "" {
		b.WriteString("Summary: " + w.Summary + "\n")
	}
	if w.HomePage != "" {
		b.WriteString("Project-URL: Homepage, " + w.HomePage + "\n")
	}
	if w.License != "" {
		b.WriteString("License: " + w.License + "\n")
	}
	if w.RequiresPython != "" {
		b.WriteString("Requires-Python: " + w.RequiresPython + "\n")
	}
	if w.Description != "" {
		b.WriteString("Description-Content-Type: text/markdown\n\n")
		b.WriteString(w.Description)
		if !strings.HasSuffix(w.Description, "\n") {
			b.WriteString("\n")
		}
	}
	return []byte(b.String())
}

// wheelFile is WHEEL: the binary is not pure Python, so the root is
// platlib; one Tag line per tag of the file name's compressed tag set.
func wheelFile(tags []string) []byte {
	var b strings.Builder
	b.WriteString("Wheel-Version: 1.0\nGenerator: " + Generator + "\nRoot-Is-Purelib: false\n")
	for _, t := range tags {
		b.WriteString("Tag: " + t + "\n")
	}
	return []byte(b.String())
}

// record is RECORD: for each file its path, sha256=<urlsafe base64 of the
// digest, without padding> and size; RECORD itself with neither.
func record(files []file, self string) []byte {
	var b bytes.Buffer
	for _, f := range files {
		fmt.Fprintf(&b, "%s,%s,%d\n", f.name, RecordHash(f.data), len(f.data))
	}
	fmt.Fprintf(&b, "%s,,\n", self)
	return b.Bytes()
}

// RecordHash is a file's hash as RECORD writes it: sha256= and the
// digest in URL-safe base64 without padding.
func RecordHash(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:])
}
