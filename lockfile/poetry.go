package lockfile

import (
	"errors"
	"fmt"
	"regexp"
	"sort"

	"github.com/pysumdb/pysumdb/tiles"
)

// poetryDocument is the part of a poetry.lock that pins files. Lock version
// 1.1 keeps the files of every package in metadata.files, keyed by name;
// 2.0 and later in each package.
type poetryDocument struct {
	Packages []poetryPackage `toml:"package"`
	Metadata struct {
		Files map[string][]poetryFile `toml:"files"`
	} `toml:"metadata"`
}

type poetryPackage struct {
	Name    string        `toml:"name"`
	Version string        `toml:"version"`
	Files   []poetryFile  `toml:"files"`
	Source  *poetrySource `toml:"source"`
}

type poetryFile struct {
	File string `toml:"file"`
	Hash string `toml:"hash"` // "sha256:<hex>"
}

type poetrySource struct {
	Type string `toml:"type"`
	URL  string `toml:"url"`
}

// poetryMetadataHeader matches the header of poetry.lock's [metadata] table.
var poetryMetadataHeader = regexp.MustCompile(`(?m)^[ \t]*\[[ \t]*metadata[ \t]*\]`)

var poetryLockVersions = map[string]bool{"1.1": true, "2.0": true, "2.1": true}

// poetrySourceSkips are the reasons to skip each kind of poetry source but
// an index.
var poetrySourceSkips = map[string]string{
	"git":       "git source: not a PyPI file",
	"directory": "local directory source: not a PyPI file",
	"file":      "local file source: not a PyPI file",
	"url":       "direct URL source: not a PyPI file",
}

func parsePoetry(file string, data []byte) ([]Artifact, error) {
	var header struct {
		Metadata struct {
			LockVersion any `toml:"lock-version"`
		} `toml:"metadata"`
	}
	if err := decodeTOML(file, data, &header); err != nil {
		return nil, err
	}
	version, _ := header.Metadata.LockVersion.(string)
	if header.Metadata.LockVersion == nil && !poetryMetadataHeader.Match(data) {
		// Poetry writes [metadata] last: a file without it was cut short.
		return nil, &ParseError{File: file, Line: newLocator(data).line(len(data) - 1), Err: errors.New("no [metadata] table with lock-version: poetry writes it at the end of poetry.lock, so the file looks truncated")}
	}
	if !poetryLockVersions[version] {
		return nil, unsupportedVersion(file, "metadata.lock-version", header.Metadata.LockVersion, `"1.1", "2.0" and "2.1"`)
	}
	var doc poetryDocument
	if err := decodeTOML(file, data, &doc); err != nil {
		return nil, err
	}
	r := &reader{file: file, text: newLocator(data)}
	starts := r.text.tableStarts(packageHeader, len(doc.Packages))
	var sharedFiles *poetrySharedFiles
	if version == "1.1" {
		var err error
		if sharedFiles, err = newPoetrySharedFiles(file, doc); err != nil {
			return nil, err
		}
	}
	for i, pkg := range doc.Packages {
		if err := r.addPoetryPackage(pkg, starts[i], sharedFiles); err != nil {
			return nil, err
		}
	}
	return r.artifacts, nil
}

// addPoetryPackage adds the files of a package, from the package itself or,
// in lock version 1.1, from sharedFiles.
func (r *reader) addPoetryPackage(pkg poetryPackage, from int, sharedFiles *poetrySharedFiles) error {
	line := r.packageLine(pkg.Name, from)
	project, err := normalizeProject(r.file, line, pkg.Name)
	if err != nil {
		return err
	}
	skip, err := poetrySourceSkip(pkg.Source)
	if err != nil {
		return &ParseError{File: r.file, Line: line, Err: fmt.Errorf("package %s: %w", pkg.Name, err)}
	}
	base := Artifact{Project: project, Version: pkg.Version, Skip: skip}
	files := pkg.Files
	if sharedFiles != nil {
		// metadata.files comes after the packages: search it from the top.
		files, from = sharedFiles.take(project, pkg.Version), 0
	}
	if len(files) == 0 {
		if base.Skip == "" {
			base.Skip = "no files listed"
		}
		if err := r.addFile(base, nil, from, line); err != nil {
			return err
		}
	}
	for _, f := range files {
		a := base
		a.Filename = f.File
		if err := r.addHash(a, f.Hash, from, line); err != nil {
			return err
		}
	}
	if sharedFiles != nil {
		// Files of this project that match no locked version are pins all
		// the same: check them, with no version.
		base.Version = ""
		for _, f := range sharedFiles.leftAfter(project) {
			a := base
			a.Filename = f.File
			if err := r.addHash(a, f.Hash, 0, line); err != nil {
				return err
			}
		}
	}
	return nil
}

// poetrySourceSkip returns why a package from source cannot be checked, ""
// for PyPI.
func poetrySourceSkip(source *poetrySource) (string, error) {
	if source == nil {
		return "", nil
	}
	switch source.Type {
	case "", "pypi":
		return "", nil
	case "legacy":
		if isPyPIIndex(source.URL) {
			return "", nil
		}
		return notPyPIIndex(source.URL), nil
	}
	if skip, ok := poetrySourceSkips[source.Type]; ok {
		return skip, nil
	}
	return "", fmt.Errorf("unknown source type %q", source.Type)
}

// poetrySharedFiles hands out lock version 1.1's metadata.files to packages.
// The files are keyed by name only, so when a name is locked at several
// versions (under different markers) each file goes to the package whose
// version its filename carries.
type poetrySharedFiles struct {
	files    map[string][]poetryFile // by normalized project
	versions map[string][]string     // the locked versions of each project
	left     map[string]int          // packages of each project not yet handed their files
}

func newPoetrySharedFiles(file string, doc poetryDocument) (*poetrySharedFiles, error) {
	s := &poetrySharedFiles{files: map[string][]poetryFile{}, versions: map[string][]string{}, left: map[string]int{}}
	names := make([]string, 0, len(doc.Metadata.Files))
	for name := range doc.Metadata.Files {
		names = append(names, name)
	}
	// Sorted, so that names normalizing alike give their files in a stable order.
	sort.Strings(names)
	for _, name := range names {
		files := doc.Metadata.Files[name]
		project, err := tiles.NormalizeProject(name)
		if err != nil {
			return nil, &ParseError{File: file, Err: fmt.Errorf("metadata.files: %w", err)}
		}
		s.files[project] = append(s.files[project], files...)
	}
	for _, pkg := range doc.Packages {
		// A bad name is reported by the caller, with its line.
		if project, err := tiles.NormalizeProject(pkg.Name); err == nil {
			s.versions[project] = append(s.versions[project], pkg.Version)
			s.left[project]++
		}
	}
	return s, nil
}

// take returns the files of a package. Files of other projects in
// metadata.files are not pins of any locked package: poetry installs nothing
// from them, so they are not returned.
func (s *poetrySharedFiles) take(project, version string) []poetryFile {
	s.left[project]--
	if len(s.versions[project]) == 1 {
		return s.files[project]
	}
	var taken []poetryFile
	for _, f := range s.files[project] {
		if fileVersion, ok := FilenameVersion(project, f.File); ok && EqualVersions(fileVersion, version) {
			taken = append(taken, f)
		}
	}
	return taken
}

// leftAfter returns, once the last package of a project locked at several
// versions has taken its files, the files whose version matched none.
func (s *poetrySharedFiles) leftAfter(project string) []poetryFile {
	if s.left[project] != 0 || len(s.versions[project]) < 2 {
		return nil
	}
	var left []poetryFile
	for _, f := range s.files[project] {
		fileVersion, ok := FilenameVersion(project, f.File)
		matched := false
		for _, version := range s.versions[project] {
			matched = matched || (ok && EqualVersions(fileVersion, version))
		}
		if !matched {
			left = append(left, f)
		}
	}
	return left
}
