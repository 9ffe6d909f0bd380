package lockfile

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/pysumdb/pysumdb/tiles"
)

// Format names a lockfile format.
type Format string

// The formats this package reads.
const (
	Pylock       Format = "pylock"       // pylock.toml, PEP 751
	UV           Format = "uv"           // uv.lock
	Poetry       Format = "poetry"       // poetry.lock
	Pipfile      Format = "pipfile"      // Pipfile.lock
	Requirements Format = "requirements" // pip requirements with --hash
)

// Artifact is one file (or, for formats without filenames, one hash) that a
// lockfile pins.
type Artifact struct {
	Project  string // PEP 503 normalized; "" only for a skipped URL or path requirement
	Version  string // as pinned; "" if the lockfile does not pin one
	Filename string // "" for formats without filenames, or when the lockfile's names are not trusted (see Warning)
	SHA256   string // 64 lowercase hex; "" when there is none to check (then Skip says why)
	Line     int    // 1-based line in File where the hash (or the package) is; 0 if unknown
	File     string // the lockfile, or the included requirements file, it comes from
	Skip     string // non-empty: why this artifact is not checked against the log
	Warning  string // non-empty: a doubt about this artifact that does not stop its check

	// AttestationIdentities are the publishers that PEP 751's
	// packages.attestation-identities expects to have attested the package's
	// files (pylock only). All artifacts of a package share one slice.
	AttestationIdentities []Identity
}

// Identity is one PEP 751 attestation identity: a table with a kind and
// kind-specific keys (for kind "GitHub": repository, workflow, environment).
type Identity struct {
	Kind   string
	Fields map[string]any // the whole table as decoded, kind included
}

// ErrUnsupportedVersion is wrapped by the error for a lockfile whose format
// version this package does not know.
var ErrUnsupportedVersion = errors.New("unsupported lockfile version")

// unsupportedVersion is the error for a lockfile whose version key (as
// decoded, nil if absent) is not one of known (as the format writes them:
// quoted if strings).
func unsupportedVersion(file, key string, version any, known string) error {
	found := "missing"
	wantString := strings.HasPrefix(known, `"`)
	switch v := version.(type) {
	case nil:
	case string:
		found = strconv.Quote(v)
		if !wantString {
			found += " (a string)"
		}
	case int64:
		found = strconv.FormatInt(v, 10)
		if wantString {
			found += " (a number, not a string)"
		}
	case float64:
		found = strconv.FormatFloat(v, 'f', -1, 64)
		if v == float64(int64(v)) {
			found += ".0"
		}
		if wantString {
			found += " (a number, not a string)"
		}
	case map[string]any:
		found = "a table"
	case []any:
		found = "an array"
	default:
		found = fmt.Sprint(v)
	}
	return &ParseError{File: file, Err: fmt.Errorf("%w: %s is %s; this reader knows %s", ErrUnsupportedVersion, key, found, known)}
}

// ParseError reports a lockfile that cannot be read, and where.
type ParseError struct {
	File string
	Line int // 1-based; 0 if unknown
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("couldn't parse %s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("couldn't parse %s: %v", e.File, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// ParseFile reads the lockfile at path. An empty format is detected from the
// name or else the content (see [DetectFileFormat]). For requirements files,
// -r and -c includes are read too, relative to the including file.
func ParseFile(path string, format Format) ([]Artifact, error) {
	if format == "" {
		var err error
		if format, _, err = DetectFileFormat(path); err != nil {
			return nil, err
		}
	}
	if format == Requirements {
		return parseRequirementsFile(path)
	}
	data, err := readRegularFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read lockfile: %w", err)
	}
	artifacts, err := Parse(path, data, format)
	if err != nil && isLinkOut(path) {
		// A lockfile that is a symbolic link out of its directory (to a
		// secret, in a pull request checked in CI): its content is not
		// shown.
		return nil, hideContent(path, err)
	}
	return artifacts, err
}

// DetectFileFormat tells the format of the lockfile at path from its name
// ([DetectFormat]) or, if the name doesn't say, from its content
// ([DetectContentFormat]), and says which. The error, when neither does,
// wraps ErrUnknownFormat; a file that can't be read is an error too.
func DetectFileFormat(path string) (Format, FormatSource, error) {
	if format, err := DetectFormat(path); err == nil {
		return format, FromName, nil
	}
	data, err := readRegularFile(path)
	if err != nil {
		return "", "", fmt.Errorf("couldn't read lockfile: %w", err)
	}
	if format, ok := DetectContentFormat(data); ok {
		return format, FromContent, nil
	}
	return "", "", unknownFormat(path)
}

// unknownFormat is the error for a lockfile whose format neither its name
// nor its content tells.
func unknownFormat(name string) error {
	return fmt.Errorf("%w of %s from its name or its content (want a pylock.toml, uv.lock, poetry.lock, Pipfile.lock or requirements file)", ErrUnknownFormat, name)
}

// Parse reads a lockfile held in memory; name is used in errors and in
// Artifact.File, and to detect the format when format is empty (or else the
// content is). It reads no other file: a requirements include is an error
// (use [ParseFile]).
func Parse(name string, data []byte, format Format) ([]Artifact, error) {
	if format == "" {
		var err error
		if format, err = DetectFormat(name); err != nil {
			var ok bool
			if format, ok = DetectContentFormat(data); !ok {
				return nil, unknownFormat(name)
			}
		}
	}
	if _, known := formatNames[format]; known && format != Requirements && len(bytes.TrimSpace(data)) == 0 {
		return nil, &ParseError{File: name, Err: fmt.Errorf("the file is empty, not a %s", formatNames[format])}
	}
	var artifacts []Artifact
	var err error
	switch format {
	case Pylock:
		artifacts, err = parsePylock(name, data)
	case UV:
		artifacts, err = parseUV(name, data)
	case Poetry:
		artifacts, err = parsePoetry(name, data)
	case Pipfile:
		artifacts, err = parsePipfile(name, data)
	case Requirements:
		artifacts, err = parseRequirements(name, data)
	default:
		return nil, fmt.Errorf("unknown lockfile format %q (want %s, %s, %s, %s or %s)", format, Pylock, UV, Poetry, Pipfile, Requirements)
	}
	if err != nil {
		return nil, err
	}
	distrustRepeatedFilenames(artifacts)
	return artifacts, nil
}

// distrustRepeatedFilenames drops every filename of a lockfile that gives one
// filename two different hashes. PyPI never reuses a filename, so such names
// were made up by the tool that wrote the lockfile (pipenv's pylock.toml names
// every file of a package <name>-<version>-py3-none-any.whl), and none of that
// tool's names can be trusted: a made-up name that happens to be unique (a
// package with one file) is just as wrong. The hashes are real and stay
// checkable by project and version.
func distrustRepeatedFilenames(artifacts []Artifact) {
	hashOf := map[string]string{}
	repeated := ""
	for _, a := range artifacts {
		if a.Filename == "" || a.SHA256 == "" {
			continue
		}
		if h, ok := hashOf[a.Filename]; ok && h != a.SHA256 {
			repeated = a.Filename
			break
		}
		hashOf[a.Filename] = a.SHA256
	}
	if repeated == "" {
		return
	}
	warning := fmt.Sprintf("filename not trusted: this lockfile gives %s more than one sha256, so its filenames are made up; checked by project, version and hash", repeated)
	for i := range artifacts {
		if artifacts[i].Filename == "" {
			continue
		}
		artifacts[i].Filename = ""
		artifacts[i].Warning = warning
	}
}

// normalizeSHA256 returns a hex sha256 digest in lowercase, or an error if it
// is not 64 hex digits.
func normalizeSHA256(digest string) (string, error) {
	if len(digest) != 64 {
		return "", fmt.Errorf("sha256 %q is not 64 hex digits", digest)
	}
	lower := strings.ToLower(digest)
	for _, c := range lower {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("sha256 %q is not 64 hex digits", digest)
		}
	}
	return lower, nil
}

// splitHash splits an "algorithm:hexdigest" string (uv, poetry, Pipfile.lock,
// pip's --hash). The algorithm is lowercased.
func splitHash(hash string) (algorithm, digest string, err error) {
	algorithm, digest, ok := strings.Cut(hash, ":")
	if !ok || algorithm == "" || digest == "" {
		return "", "", fmt.Errorf("hash %q is not algorithm:hexdigest", hash)
	}
	return strings.ToLower(algorithm), digest, nil
}

// noSHA256 is the skip reason for a file whose hashes do not include sha256.
func noSHA256(algorithms []string) string {
	if len(algorithms) == 0 {
		return "no hash"
	}
	sort.Strings(algorithms)
	return "no sha256 hash (only " + strings.Join(algorithms, ", ") + "): the log records sha256"
}

// PyPI's hosts. test.pypi.org is deliberately absent: its names are another
// namespace, so its files are not PyPI's.
var (
	pypiIndexHosts = map[string]bool{"pypi.org": true, "www.pypi.org": true, "pypi.python.org": true}
	pypiFileHosts  = map[string]bool{"files.pythonhosted.org": true, "pypi.org": true, "pypi.python.org": true}
)

// isPyPIIndex reports whether u is PyPI's simple index (with or without the
// trailing slash).
func isPyPIIndex(u string) bool {
	parsed, err := url.Parse(strings.TrimSpace(u))
	if err != nil || parsed.Scheme != "https" || parsed.RawQuery != "" || parsed.Fragment != "" {
		return false
	}
	return pypiIndexHosts[strings.ToLower(parsed.Host)] && strings.TrimSuffix(parsed.Path, "/") == "/simple"
}

// isPyPIFileURL reports whether u is on a host that serves PyPI's files.
func isPyPIFileURL(u string) bool {
	parsed, err := url.Parse(u)
	return err == nil && parsed.Scheme == "https" && pypiFileHosts[strings.ToLower(parsed.Host)]
}

// notPyPIIndex is the skip reason for a package from another index.
func notPyPIIndex(index string) string {
	return "index " + index + " is not PyPI"
}

// filenameFromURL returns the last path segment of a URL, percent-decoded
// ("" if there is none). Relative URLs (uv's artifact-base) work too.
func filenameFromURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	name := path.Base(parsed.Path)
	if name == "." || name == "/" {
		return ""
	}
	return name
}

// filenameFromPath returns the last element of a lockfile's relative or
// absolute path, written with / or \.
func filenameFromPath(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// normalizeProject wraps tiles.NormalizeProject with the place in the file.
func normalizeProject(file string, line int, name string) (string, error) {
	project, err := tiles.NormalizeProject(name)
	if err != nil {
		return "", &ParseError{File: file, Line: line, Err: err}
	}
	return project, nil
}
