package lockfile

import (
	"fmt"
	"strings"
)

// pylockDocument is the part of a PEP 751 lock file that pins files.
type pylockDocument struct {
	Packages []pylockPackage `toml:"packages"`
}

type pylockPackage struct {
	Name                  string           `toml:"name"`
	Version               string           `toml:"version"`
	Index                 string           `toml:"index"`
	VCS                   map[string]any   `toml:"vcs"`
	Directory             *pylockDirectory `toml:"directory"`
	Archive               *pylockFile      `toml:"archive"`
	Sdist                 *pylockFile      `toml:"sdist"`
	Wheels                []pylockFile     `toml:"wheels"`
	AttestationIdentities []map[string]any `toml:"attestation-identities"`
}

type pylockDirectory struct {
	Path     string `toml:"path"`
	Editable bool   `toml:"editable"`
}

type pylockFile struct {
	Name   string            `toml:"name"`
	URL    string            `toml:"url"`
	Path   string            `toml:"path"`
	Hashes map[string]string `toml:"hashes"`
}

func parsePylock(file string, data []byte) ([]Artifact, error) {
	var header struct {
		LockVersion any `toml:"lock-version"`
	}
	if err := decodeTOML(file, data, &header); err != nil {
		return nil, err
	}
	if header.LockVersion != "1.0" {
		return nil, unsupportedVersion(file, "lock-version", header.LockVersion, `"1.0"`)
	}
	var doc pylockDocument
	if err := decodeTOML(file, data, &doc); err != nil {
		return nil, err
	}
	r := &reader{file: file, text: newLocator(data)}
	starts := r.text.tableStarts(pylockPackageHeader, len(doc.Packages))
	for i, pkg := range doc.Packages {
		if err := r.addPylockPackage(pkg, starts[i]); err != nil {
			return nil, err
		}
	}
	return r.artifacts, nil
}

func (r *reader) addPylockPackage(pkg pylockPackage, from int) error {
	line := r.packageLine(pkg.Name, from)
	project, err := normalizeProject(r.file, line, pkg.Name)
	if err != nil {
		return err
	}
	identities, err := pylockIdentities(pkg.AttestationIdentities)
	if err != nil {
		return &ParseError{File: r.file, Line: line, Err: fmt.Errorf("package %s: %w", pkg.Name, err)}
	}
	base := Artifact{Project: project, Version: pkg.Version, AttestationIdentities: identities}
	if pkg.Index != "" && !isPyPIIndex(pkg.Index) {
		base.Skip = notPyPIIndex(pkg.Index)
	}
	switch {
	case pkg.VCS != nil:
		base.Skip = "VCS source: not a PyPI file"
		return r.addFile(base, nil, from, line)
	case pkg.Directory != nil && pkg.Directory.Editable:
		base.Skip = "editable local directory: not a PyPI file"
		return r.addFile(base, nil, from, line)
	case pkg.Directory != nil:
		base.Skip = "local directory: not a PyPI file"
		return r.addFile(base, nil, from, line)
	case pkg.Archive != nil:
		base.Skip = "archive (direct URL or path): not a PyPI file"
		return r.addPylockFile(base, *pkg.Archive, pkg.Index, from, line)
	case pkg.Sdist == nil && len(pkg.Wheels) == 0:
		if base.Skip == "" {
			base.Skip = "no files listed"
		}
		return r.addFile(base, nil, from, line)
	}
	if pkg.Sdist != nil {
		if err := r.addPylockFile(base, *pkg.Sdist, pkg.Index, from, line); err != nil {
			return err
		}
	}
	for _, wheel := range pkg.Wheels {
		if err := r.addPylockFile(base, wheel, pkg.Index, from, line); err != nil {
			return err
		}
	}
	return nil
}

// addPylockFile adds one sdist, wheel or archive. Without a package index,
// where the file comes from is told by its URL or path.
func (r *reader) addPylockFile(a Artifact, f pylockFile, index string, from, packageLine int) error {
	switch {
	case f.Name != "":
		a.Filename = f.Name
	case f.URL != "":
		a.Filename = filenameFromURL(f.URL)
	default:
		a.Filename = filenameFromPath(f.Path)
	}
	if a.Skip == "" && index == "" {
		switch {
		case f.URL != "" && !isPyPIFileURL(f.URL):
			a.Skip = "file URL " + f.URL + " is not on PyPI"
		case f.URL == "" && f.Path != "":
			a.Skip = "local file " + f.Path + ": not from an index"
		}
	}
	digests := make(map[string]string, len(f.Hashes))
	for algorithm, digest := range f.Hashes {
		digests[strings.ToLower(algorithm)] = digest
	}
	return r.addFile(a, digests, from, packageLine)
}

// pylockIdentities checks that each attestation identity has a kind, as PEP
// 751 requires, and keeps the rest of the table as it is: which keys matter
// depends on the kind, and is for the verifier to judge.
func pylockIdentities(tables []map[string]any) ([]Identity, error) {
	var identities []Identity
	for i, table := range tables {
		kind, _ := table["kind"].(string)
		if kind == "" {
			return nil, fmt.Errorf("attestation identity %d has no kind", i+1)
		}
		identities = append(identities, Identity{Kind: kind, Fields: table})
	}
	return identities, nil
}
