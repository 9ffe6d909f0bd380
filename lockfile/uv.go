package lockfile

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// uvDocument is the part of a uv.lock that pins files.
type uvDocument struct {
	Packages []uvPackage `toml:"package"`
}

type uvPackage struct {
	Name    string         `toml:"name"`
	Version string         `toml:"version"`
	Source  map[string]any `toml:"source"`
	Sdist   *uvFile        `toml:"sdist"`
	Wheels  []uvFile       `toml:"wheels"`
}

// uvFile is an sdist or wheel: uv writes url for remote files, path for a
// local registry's, and filename for a wheel that is the package's own
// direct URL or path source.
type uvFile struct {
	URL      string `toml:"url"`
	Path     string `toml:"path"`
	Filename string `toml:"filename"`
	Hash     string `toml:"hash"` // "sha256:<hex>"
}

// uvSourceSkips are the reasons to skip each kind of uv source but registry.
var uvSourceSkips = map[string]string{
	"git":       "git source: not a PyPI file",
	"url":       "direct URL source: not a PyPI file",
	"path":      "local path source: not a PyPI file",
	"directory": "local directory source: not a PyPI file",
	"editable":  "editable local directory source: not a PyPI file",
	"virtual":   "virtual package: no file is installed",
}

func parseUV(file string, data []byte) ([]Artifact, error) {
	var header struct {
		Version any `toml:"version"`
	}
	if err := decodeTOML(file, data, &header); err != nil {
		return nil, err
	}
	if header.Version != int64(1) {
		return nil, unsupportedVersion(file, "version", header.Version, "1")
	}
	var doc uvDocument
	if err := decodeTOML(file, data, &doc); err != nil {
		return nil, err
	}
	r := &reader{file: file, text: newLocator(data)}
	starts := r.text.tableStarts(packageHeader, len(doc.Packages))
	for i, pkg := range doc.Packages {
		if err := r.addUVPackage(pkg, starts[i]); err != nil {
			return nil, err
		}
	}
	return r.artifacts, nil
}

func (r *reader) addUVPackage(pkg uvPackage, from int) error {
	line := r.packageLine(pkg.Name, from)
	project, err := normalizeProject(r.file, line, pkg.Name)
	if err != nil {
		return err
	}
	skip, err := uvSourceSkip(pkg.Source)
	if err != nil {
		at := line
		if len(pkg.Source) > 0 {
			if sourceLine := r.text.find("source = ", from); sourceLine > 0 {
				at = sourceLine
			}
		}
		return &ParseError{File: r.file, Line: at, Err: fmt.Errorf("package %s: %w", pkg.Name, err)}
	}
	base := Artifact{Project: project, Version: pkg.Version, Skip: skip}
	if pkg.Sdist == nil && len(pkg.Wheels) == 0 {
		if base.Skip == "" {
			base.Skip = "no files listed"
		}
		return r.addFile(base, nil, from, line)
	}
	files := pkg.Wheels
	if pkg.Sdist != nil {
		files = append([]uvFile{*pkg.Sdist}, files...)
	}
	for _, f := range files {
		a := base
		switch {
		case f.URL != "":
			a.Filename = filenameFromURL(f.URL)
		case f.Path != "":
			a.Filename = filenameFromPath(f.Path)
		default:
			a.Filename = f.Filename
		}
		if err := r.addHash(a, f.Hash, from, line); err != nil {
			return err
		}
	}
	return nil
}

// uvSourceSkip returns why a package from source cannot be checked, "" for
// PyPI. A source uv did not write when this was made is an error, since what
// it means for the files is unknown.
func uvSourceSkip(source map[string]any) (string, error) {
	if len(source) == 0 {
		return "", errors.New("no source")
	}
	if registry, ok := source["registry"]; ok {
		index, ok := registry.(string)
		if !ok {
			return "", fmt.Errorf("source registry %v is not a string", registry)
		}
		if isPyPIIndex(index) {
			return "", nil
		}
		return notPyPIIndex(index), nil
	}
	kinds := make([]string, 0, len(source))
	for kind := range source {
		if skip, ok := uvSourceSkips[kind]; ok {
			return skip, nil
		}
		kinds = append(kinds, strconv.Quote(kind))
	}
	sort.Strings(kinds)
	return "", fmt.Errorf("unknown source %s (uv writes one of registry, git, url, path, directory, editable or virtual)", strings.Join(kinds, ", "))
}
