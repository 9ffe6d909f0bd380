package claim

import (
	"slices"
	"strings"

	"github.com/pysumdb/pysumdb/tiles"
)

// Suffixes of the files PyPI accepts uploads of: wheels and sdists (PEP
// 527 removed the others; a claim is about a new upload).
const (
	WheelSuffix = ".whl"
)

// SdistSuffixes are the suffixes of source distributions a claim may name.
var SdistSuffixes = []string{".tar.gz", ".zip"}

// CheckFile reports whether filename can be claimed for project (a
// normalized name): a loggable filename of printable ASCII
// (tiles.IsClaimFilename), and
//
//   - a wheel, <name>-<version>[-<build>]-<python>-<abi>-<platform>.whl,
//     five or six non-empty fields, whose name normalizes to project; or
//   - an sdist, <name>-<version>.tar.gz or .zip, where <name> normalizes
//     to project;
//
// the version (and a wheel's build tag) starting with a digit, as
// normalized PEP 440 versions do;
//
// and project is among the projects the log's format lets the filename
// belong to (tiles.FilenameProjects), so that the log finds the claim
// from the filename.
func CheckFile(project, filename string) error {
	if !tiles.IsClaimFilename(filename) {
		if err := tiles.CheckFilename(filename); err != nil {
			return err
		}
		return malformed("filename %.100q is not printable ASCII", filename)
	}
	if !belongs(project, filename) {
		return malformed("%s is not a wheel (.whl) or sdist (.tar.gz, .zip) of project %s", filename, project)
	}
	return nil
}

// belongs reports whether filename is a wheel or sdist of project.
func belongs(project, filename string) bool {
	if !slices.Contains(tiles.FilenameProjects(filename), project) {
		return false
	}
	if stem, ok := strings.CutSuffix(filename, WheelSuffix); ok {
		parts := strings.Split(stem, "-")
		if len(parts) != 5 && len(parts) != 6 || slices.Contains(parts, "") || !startsWithDigit(parts[1]) || len(parts) == 6 && !startsWithDigit(parts[2]) {
			return false
		}
		name, err := tiles.NormalizeProject(parts[0])
		return err == nil && name == project
	}
	for _, suffix := range SdistSuffixes {
		if stem, ok := strings.CutSuffix(filename, suffix); ok {
			return len(sdistVersions(project, stem)) > 0
		}
	}
	return false
}

// sdistVersions returns the versions an sdist's stem has for project: what
// follows each "<name>-" whose name normalizes to project.
func sdistVersions(project, stem string) []string {
	var versions []string
	for i := 0; i < len(stem); i++ {
		if stem[i] != '-' || !startsWithDigit(stem[i+1:]) {
			continue
		}
		if name, err := tiles.NormalizeProject(stem[:i]); err == nil && name == project {
			versions = append(versions, stem[i+1:])
		}
	}
	return versions
}

// ProjectOf returns the one project that every filename is a file of
// (CheckFile), for a client that claims files without being told their
// project. It fails if no project, or more than one, fits: foo-1-2.tar.gz
// could be version 1-2 of foo or version 2 of foo-1 (but foo-bar-1.0.tar.gz
// is foo-bar's, a version starting with a digit).
func ProjectOf(filenames []string) (string, error) {
	if len(filenames) == 0 {
		return "", malformed("no file")
	}
	var candidates []string
	for i, filename := range filenames {
		var fits []string
		for _, p := range tiles.FilenameProjects(filename) {
			if CheckFile(p, filename) == nil {
				fits = append(fits, p)
			}
		}
		if len(fits) == 0 {
			if !tiles.IsClaimFilename(filename) {
				return "", CheckFile("", filename)
			}
			return "", malformed("%s is not a wheel (<name>-<version>[-<build>]-<python>-<abi>-<platform>.whl) or sdist (<name>-<version>.tar.gz or .zip)", filename)
		}
		if i == 0 {
			candidates = fits
			continue
		}
		candidates = slices.DeleteFunc(candidates, func(p string) bool { return !slices.Contains(fits, p) })
		if len(candidates) == 0 {
			return "", malformed("%s and %s are files of different projects: claim each project's files on their own", filenames[0], filename)
		}
	}
	if len(candidates) > 1 {
		return "", malformed("the files could be of projects %s: say which", strings.Join(candidates, " or "))
	}
	return candidates[0], nil
}

// startsWithDigit reports whether a version starts with a digit, as
// every normalized PEP 440 version does (the build tag of a wheel too).
func startsWithDigit(v string) bool { return v != "" && '0' <= v[0] && v[0] <= '9' }
