package lockfile

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// pylockName is PEP 751's rule for a lock file name.
var pylockName = regexp.MustCompile(`^pylock\.([^.]+\.)?toml$`)

// formatNames name each format as its file is usually named.
var formatNames = map[Format]string{
	Pylock:       "pylock.toml",
	UV:           "uv.lock",
	Poetry:       "poetry.lock",
	Pipfile:      "Pipfile.lock",
	Requirements: "requirements file",
}

// ErrUnknownFormat is wrapped by the error for a lockfile whose format
// neither its name nor its content tells.
var ErrUnknownFormat = errors.New("can't tell the lockfile format")

// FormatSource says how a lockfile's format was told.
type FormatSource string

// The ways a format is told.
const (
	FromCaller  FormatSource = "given"   // named by the caller (--format)
	FromName    FormatSource = "name"    // the file name says it
	FromContent FormatSource = "content" // the file's content says it
)

// DetectFormat tells a lockfile's format from its file name (the directory
// does not matter, case is ignored): pylock.toml and pylock.<name>.toml,
// uv.lock, poetry.lock, Pipfile.lock, and any .txt for a requirements
// file. The error, for any other name, wraps ErrUnknownFormat.
func DetectFormat(path string) (Format, error) {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case pylockName.MatchString(base):
		return Pylock, nil
	case base == "uv.lock":
		return UV, nil
	case base == "poetry.lock":
		return Poetry, nil
	case base == "pipfile.lock":
		return Pipfile, nil
	case strings.HasSuffix(base, ".txt"):
		return Requirements, nil
	}
	return "", fmt.Errorf("%w of %s from its name (pylock.toml, pylock.<name>.toml, uv.lock, poetry.lock, Pipfile.lock or *.txt)", ErrUnknownFormat, path)
}

// DetectContentFormat tells a lockfile's format from its content, for a
// file whose name doesn't say (poetry.lock-v1.1-2021, project__uv.lock): a
// JSON object with a _meta is a Pipfile.lock; a TOML document with a
// top-level lock-version (or [[packages]]) is a pylock.toml, one with a
// top-level version and requires-python or revision is a uv.lock, one
// whose [metadata] table has lock-version or content-hash is a
// poetry.lock; text whose every line is a requirement, an option or a
// comment, one of them at least with a pin, a --hash or an include, is a
// requirements file. The test is on the text, line by line, so that a
// malformed or truncated file is still recognized (and its error then
// placed by the parser). ok is false when the content says nothing
// clear.
func DetectContentFormat(data []byte) (format Format, ok bool) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return "", false
	}
	if trimmed[0] == '{' {
		if bytes.Contains(data, []byte(`"_meta"`)) || bytes.Contains(data, []byte(`"pipfile-spec"`)) {
			return Pipfile, true
		}
		return "", false
	}
	if f, ok := tomlLockFormat(data); ok {
		return f, true
	}
	if looksLikeRequirements(data) {
		return Requirements, true
	}
	return "", false
}

var (
	tomlTableHeader = regexp.MustCompile(`^\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?`)
	tomlKey         = regexp.MustCompile(`^([A-Za-z0-9_-]+)\s*=\s*(.*)$`)
)

// tomlLockFormat looks for the keys and tables that tell the TOML lockfile
// formats apart.
func tomlLockFormat(data []byte) (Format, bool) {
	table := "" // the table the line is in; "" at the top level
	var topVersionNumber, topUVKey, topLockVersion, pylockPackages, poetryMetadata, packageTables bool
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := tomlTableHeader.FindStringSubmatch(line); m != nil {
			table = m[1]
			switch {
			case table == "packages" && strings.HasPrefix(line, "[["):
				pylockPackages = true
			case table == "package" && strings.HasPrefix(line, "[["):
				packageTables = true
			case table == "metadata.files":
				poetryMetadata = true
			}
			continue
		}
		m := tomlKey.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key, value := m[1], m[2]
		switch {
		case table == "" && key == "lock-version":
			topLockVersion = true
		case table == "" && key == "version" && value != "" && value[0] >= '0' && value[0] <= '9':
			topVersionNumber = true
		case table == "" && (key == "requires-python" || key == "revision"):
			topUVKey = true
		case table == "metadata" && (key == "lock-version" || key == "content-hash"):
			poetryMetadata = true
		}
	}
	switch {
	case topLockVersion || pylockPackages:
		return Pylock, true
	case topVersionNumber && topUVKey:
		return UV, true
	case poetryMetadata || packageTables && !topVersionNumber && isPoetryPackages(data):
		return Poetry, true
	}
	return "", false
}

// poetryPackageKeys are keys only poetry writes in [[package]] tables.
var poetryPackageKeys = regexp.MustCompile(`(?m)^\s*(python-versions|optional)\s*=`)

// isPoetryPackages reports whether a TOML document without [metadata]
// (a poetry.lock cut before its end) has poetry's package tables.
func isPoetryPackages(data []byte) bool {
	return poetryPackageKeys.Match(data)
}

// looksLikeRequirements reports whether every line of a text is a
// requirement, an option or a comment, and one at least pins a version,
// gives a hash or includes a file.
func looksLikeRequirements(data []byte) bool {
	if bytes.IndexByte(data, 0) >= 0 {
		return false
	}
	telling := false
	for _, line := range logicalLines(data) {
		text := strings.TrimSpace(line.text)
		if text == "" {
			continue
		}
		if strings.HasPrefix(text, "-") {
			name, _, _ := strings.Cut(strings.Fields(text)[0], "=")
			if len(name) > 2 && !strings.HasPrefix(name, "--") {
				name = name[:2]
			}
			if _, ok := requirementsOptions[name]; !ok {
				return false
			}
			switch name {
			case "-r", "--requirement", "-c", "--constraint", "--hash":
				telling = true
			}
			continue
		}
		first := fields(text)[0].value
		requirement := text
		if i := strings.Index(text, " -"); i >= 0 {
			requirement = strings.TrimSpace(text[:i])
		}
		if _, err := parseRequirement(requirement); err != nil || !requirementName.MatchString(first) && !strings.Contains(first, "/") {
			return false
		}
		if strings.Contains(text, "==") || strings.Contains(text, "--hash") {
			telling = true
		}
	}
	return telling
}
