package lockfile

import (
	"strings"

	"github.com/pysumdb/pysumdb/tiles"
)

// sdistSuffixes are the archive suffixes of source distributions that PyPI
// has accepted, longest first so that ".tar.gz" wins over ".tar".
var sdistSuffixes = []string{".tar.bz2", ".tar.gz", ".tar.xz", ".tar.z", ".tbz", ".tgz", ".zip", ".tar"}

// FilenameVersion returns the version in a distribution filename, as
// written, as the packaging specifications define each kind:
//
//   - wheel: {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl
//   - sdist (.tar.gz, .zip, and the legacy .tar.bz2, .tar.xz, .tar.Z, .tgz,
//     .tbz, .tar): {name}-{version}
//   - egg: {name}-{version}(-py{python}(-{platform})?)?.egg
//   - rpm: {name}-{version}-{release}.{arch}.rpm
//   - bdist_wininst .exe, bdist_msi .msi, bdist_dmg .dmg: {name}-{version}
//     followed by platform and Python tags, in several spellings; the
//     version is the longest PEP 440 version after the name.
//
// project may be "" (unknown). When given, in any form, the filename's name
// must normalize to it, and it is what splits legacy filenames whose name has
// hyphens ("foo-bar-1.0.tar.gz"); without it such a name is split at its last
// hyphen, as packaging does. ok is false for a filename of another project,
// of no known kind, or with no version.
func FilenameVersion(project, filename string) (version string, ok bool) {
	if project != "" {
		normalized, err := tiles.NormalizeProject(project)
		if err != nil {
			return "", false
		}
		project = normalized
	}
	lower := strings.ToLower(filename)
	stem := func(suffix string) string { return filename[:len(filename)-len(suffix)] }
	switch {
	case strings.HasSuffix(lower, ".whl"):
		return wheelVersion(project, stem(".whl"))
	case strings.HasSuffix(lower, ".egg"):
		// The platform may have hyphens ("linux-x86_64"), the name and
		// version never (they are escaped as "_").
		parts := strings.Split(stem(".egg"), "-")
		if len(parts) < 2 || !sameProject(project, parts[0]) || parts[1] == "" {
			return "", false
		}
		return parts[1], true
	case strings.HasSuffix(lower, ".rpm"):
		name, _, ok := cutLast(stem(".rpm"), ".") // the architecture
		if !ok {
			return "", false
		}
		if name, _, ok = cutLast(name, "-"); !ok { // the release
			return "", false
		}
		return splitNameVersion(project, name)
	case strings.HasSuffix(lower, ".exe"), strings.HasSuffix(lower, ".msi"), strings.HasSuffix(lower, ".dmg"):
		return installerVersion(project, filename[:len(filename)-4])
	}
	for _, suffix := range sdistSuffixes {
		if strings.HasSuffix(lower, suffix) {
			return splitNameVersion(project, stem(suffix))
		}
	}
	return "", false
}

// wheelVersion reads a wheel's stem. The name is the first part: hyphens in
// it are escaped as "_". Some old wheels broke that rule; the known project
// then tells where the name ends (without it, such a name is ambiguous).
func wheelVersion(project, stem string) (string, bool) {
	parts := strings.Split(stem, "-")
	lastNameParts := 1
	if project != "" {
		lastNameParts = len(parts) - 4
	}
	for nameParts := 1; nameParts <= lastNameParts; nameParts++ {
		tags := len(parts) - nameParts // the version, an optional build tag and three tags
		if (tags == 4 || tags == 5) && parts[nameParts] != "" && sameProject(project, strings.Join(parts[:nameParts], "-")) {
			return parts[nameParts], true
		}
	}
	return "", false
}

// splitNameVersion splits "{name}-{version}": at the hyphen after the
// project's name when it is known, else at the last hyphen.
func splitNameVersion(project, stem string) (string, bool) {
	if project == "" {
		name, version, ok := cutLast(stem, "-")
		if !ok || version == "" || !sameProject("", name) {
			return "", false
		}
		return version, true
	}
	for i := 0; i < len(stem); i++ {
		if stem[i] == '-' && sameProject(project, stem[:i]) && i+1 < len(stem) {
			return stem[i+1:], true
		}
	}
	return "", false
}

// installerVersion reads the stem of a Windows or macOS installer, where
// platform and Python tags follow the version in no fixed form
// ("foo-1.0.win32-py2.7", "foo-1.0-py2.5-macosx10.4", "foo-1.0.win-amd64"):
// the version is the longest prefix of what follows the name that is a PEP
// 440 version. Without the project, the name ends at the first hyphen before
// a digit.
func installerVersion(project, stem string) (string, bool) {
	rest := ""
	for i := 0; i+1 < len(stem); i++ {
		if stem[i] != '-' {
			continue
		}
		if project != "" && sameProject(project, stem[:i]) || project == "" && '0' <= stem[i+1] && stem[i+1] <= '9' && sameProject("", stem[:i]) {
			rest = stem[i+1:]
			break
		}
	}
	for end := len(rest); end > 0; end-- {
		if end < len(rest) && rest[end] != '.' && rest[end] != '-' {
			continue
		}
		if _, err := parseVersion(rest[:end]); err == nil {
			return rest[:end], true
		}
	}
	return "", false
}

// sameProject reports whether name is a valid project name and, when project
// (normalized) is not "", normalizes to it.
func sameProject(project, name string) bool {
	normalized, err := tiles.NormalizeProject(name)
	return err == nil && (project == "" || normalized == project)
}

// cutLast cuts s around the last instance of sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
