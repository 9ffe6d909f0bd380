package lockfile

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const (
	hashA = "a8d728f0a29de45dc521f18f07297428d56992a742f0cd2701ba86e44d23d5b2"
	hashB = "abe311e527c862958650f9438e859c1fa7568a141b22abcd015e120e86a85695"
	hashC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	hashD = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
)

// truncated returns the first half of a real lockfile.
func truncated(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data[:len(data)/2])
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		format  Format
		input   string
		line    int    // the line the error must name; 0: none; -1: the last
		want    string // in the message
		version bool   // wraps ErrUnsupportedVersion
	}{
		// Unknown versions.
		{name: "pylock 2.0", format: Pylock, input: "lock-version = \"2.0\"\n", want: `lock-version is "2.0"; this reader knows "1.0"`, version: true},
		{name: "pylock 1.1", format: Pylock, input: "lock-version = \"1.1\"\n", want: `lock-version is "1.1"`, version: true},
		{name: "pylock without version", format: Pylock, input: "[[packages]]\nname = \"a\"\n", want: "lock-version is missing", version: true},
		{name: "uv 2", format: UV, input: "version = 2\nrevision = 1\n", want: "version is 2; this reader knows 1", version: true},
		{name: "uv version as string", format: UV, input: "version = \"1\"\n", want: `version is "1"`, version: true},
		{name: "poetry 3.0", format: Poetry, input: "[metadata]\nlock-version = \"3.0\"\n", want: `metadata.lock-version is "3.0"`, version: true},
		{name: "poetry 1.0", format: Poetry, input: "[metadata]\nlock-version = \"1.0\"\n", want: `metadata.lock-version is "1.0"`, version: true},
		{name: "pipfile-spec 7", format: Pipfile, input: `{"_meta": {"pipfile-spec": 7}, "default": {}}`, want: "_meta.pipfile-spec is 7", version: true},
		{name: "pipfile without _meta", format: Pipfile, input: `{"default": {}}`, want: "no _meta"},

		// Malformed and truncated files.
		{name: "pylock bad TOML", format: Pylock, input: "lock-version = \"1.0\"\n[[packages]]\nname = \"a\nversion = \"1\"\n", line: 3},
		{name: "uv duplicate key", format: UV, input: "version = 1\n[[package]]\nname = \"a\"\nname = \"b\"\n", line: 4},
		{name: "uv wrong type", format: UV, input: "version = 1\n[[package]]\nname = \"a\"\nwheels = 3\n", line: 4},
		{name: "poetry bad TOML", format: Poetry, input: "[[package]]\nname = \"a\"\nfiles = [\n  {file = \"a\", hash = }\n]\n", line: 4},
		{name: "pipfile bad JSON", format: Pipfile, input: "{\n\"_meta\": {\"pipfile-spec\": 6},\n\"default\": {\"a\": {\"hashes\": [\"sha256:00\",]}}\n}", line: 3},
		{name: "pipfile wrong type", format: Pipfile, input: "{\n\"_meta\": {\"pipfile-spec\": 6},\n\"default\": {\"a\": {\n\"hashes\": \"sha256:00\"}}\n}", line: 4},
		{name: "pipfile category not an object", format: Pipfile, input: "{\"_meta\": {\"pipfile-spec\": 6},\n\"default\": []}", line: 2, want: `category "default" is an array, want an object`},
		{name: "pipfile trailing data", format: Pipfile, input: "{\"_meta\": {\"pipfile-spec\": 6}}\n{}", line: 2, want: "data after"},
		{name: "pipfile unknown index", format: Pipfile, input: "{\"_meta\": {\"pipfile-spec\": 6},\n\"default\": {\"a\": {\n\"index\": \"private\"}}}", line: 3, want: `index "private" is not in _meta.sources`},
		{name: "pylock truncated", format: Pylock, input: truncated(t, "testdata/real/0b01001001__spectree__pylock.toml/pylock.toml"), line: -1, want: "unterminated basic string"},
		{name: "uv truncated", format: UV, input: truncated(t, "testdata/real/0b01001001__spectree__uv.lock/uv.lock"), line: -1},
		{name: "poetry truncated", format: Poetry, input: truncated(t, "testdata/real/python-poetry__poetry__poetry.lock/poetry.lock"), line: -1},
		{name: "pipfile truncated", format: Pipfile, input: truncated(t, "testdata/real/pypa__pipenv__Pipfile.lock/Pipfile.lock"), line: -1, want: "truncated JSON"},
		{name: "requirements unclosed quote", format: Requirements, input: "a==1\n-r 'other.txt\n", line: 2, want: "unclosed ' quote"},

		// Bad hashes, names and sources.
		{name: "pylock short hash", format: Pylock, input: "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\nversion = \"1\"\nsdist = {url = \"https://files.pythonhosted.org/a-1.tar.gz\", hashes = {sha256 = \"abc\"}}\n", line: 5, want: `sha256 "abc" is not 64 hex digits`},
		{name: "uv non-hex hash", format: UV, input: "version = 1\n[[package]]\nname = \"a\"\nversion = \"1\"\nsource = { registry = \"https://pypi.org/simple\" }\nwheels = [\n  { url = \"https://files.pythonhosted.org/a-1-py3-none-any.whl\", hash = \"sha256:" + strings.Repeat("g", 64) + "\" },\n]\n", line: 7, want: "not 64 hex digits"},
		{name: "uv hash without algorithm", format: UV, input: "version = 1\n[[package]]\nname = \"a\"\nversion = \"1\"\nsource = { registry = \"https://pypi.org/simple\" }\nsdist = { url = \"https://files.pythonhosted.org/a-1.tar.gz\", hash = \"" + hashA + "\" }\n", line: 6, want: "not algorithm:hexdigest"},
		{name: "uv unknown source", format: UV, input: "version = 1\n[[package]]\nname = \"a\"\nsource = { bazaar = \"x\" }\n", line: 4, want: `unknown source "bazaar" (uv writes one of registry`},
		{name: "uv no source", format: UV, input: "version = 1\n[[package]]\nname = \"a\"\n", line: 3, want: "no source"},
		{name: "uv bad project name", format: UV, input: "version = 1\n\n[[package]]\nname = \"-a\"\nsource = { virtual = \".\" }\n", line: 4, want: "not a valid distribution name"},
		{name: "poetry hash too long", format: Poetry, input: "[[package]]\nname = \"a\"\nversion = \"1\"\nfiles = [\n  {file = \"a-1.tar.gz\", hash = \"sha256:" + hashA + "00\"},\n]\n[metadata]\nlock-version = \"2.0\"\n", line: 5, want: "not 64 hex digits"},
		{name: "poetry unknown source type", format: Poetry, input: "[[package]]\nname = \"a\"\nversion = \"1\"\n[package.source]\ntype = \"hg\"\n[metadata]\nlock-version = \"2.0\"\n", line: 2, want: `unknown source type "hg"`},
		{name: "poetry bad filename", format: Poetry, input: "[[package]]\nname = \"a\"\nversion = \"1\"\nfiles = [\n  {file = \"a 1.tar.gz\", hash = \"sha256:" + hashA + "\"},\n]\n[metadata]\nlock-version = \"2.0\"\n", line: 5, want: "contains ' '"},
		{name: "pipfile bad hash", format: Pipfile, input: "{\"_meta\": {\"pipfile-spec\": 6},\n\"default\": {\"a\": {\n\"hashes\": [\n\"sha256:xyz\"]}}}", line: 4, want: `sha256 "xyz"`},
		{name: "pylock identity without kind", format: Pylock, input: "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\n[[packages.attestation-identities]]\nrepository = \"o/r\"\n", line: 3, want: "attestation identity 1 has no kind"},
		{name: "requirements bad hash", format: Requirements, input: "a==1 \\\n  --hash=sha256:" + hashA + " \\\n  --hash=sha256:1234\n", line: 3, want: `sha256 "1234"`},
		{name: "requirements hash without algorithm", format: Requirements, input: "a==1 --hash=" + hashA + "\n", line: 1, want: "not algorithm:hexdigest"},
		{name: "requirements bad name", format: Requirements, input: "\n\na!==1\n", line: 3, want: `"a!==1" is not a requirement`},
		{name: "requirements unknown option", format: Requirements, input: "--frobnicate\n", line: 1, want: "unknown option --frobnicate"},
		{name: "requirements unknown option on a continuation", format: Requirements, input: "a==1 --hash=sha256:" + hashA + " \\\n  --frobnicate\n", line: 2, want: "unknown option --frobnicate"},
		{name: "requirements option without value", format: Requirements, input: "a==1 \\\n  --hash\n", line: 2, want: "option --hash needs a value"},
		{name: "requirements flag with value", format: Requirements, input: "--pre=yes\n", line: 1, want: "option --pre takes no value"},
		{name: "requirements global option after requirement", format: Requirements, input: "a==1 \\\n  -i https://pypi.org/simple\n", line: 2, want: "option -i is not allowed after a requirement"},
		{name: "requirements hash alone", format: Requirements, input: "--hash=sha256:" + hashA + "\n", line: 1, want: "needs a requirement before it"},
		{name: "requirements include without file system", format: Requirements, input: "a==1\n-r base.txt\n", line: 2, want: "includes are read only from files on disk"},
		{name: "unknown format", format: "conda", input: "", want: `unknown lockfile format "conda"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			artifacts, err := Parse("lock", []byte(c.input), c.format)
			if err == nil {
				t.Fatalf("no error; artifacts %+v", artifacts)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if got := errors.Is(err, ErrUnsupportedVersion); got != c.version {
				t.Errorf("error %q: errors.Is(ErrUnsupportedVersion) = %v, want %v", err, got, c.version)
			}
			if c.format == "conda" {
				return
			}
			var parseErr *ParseError
			if !errors.As(err, &parseErr) {
				t.Fatalf("error %q is a %T, not a *ParseError", err, err)
			}
			line := c.line
			if line == -1 {
				line = strings.Count(c.input, "\n") + 1
			}
			if parseErr.File != "lock" || parseErr.Line != line {
				t.Errorf("error %q at %s:%d, want lock:%d", err, parseErr.File, parseErr.Line, line)
			}
			if c.line > 0 && !strings.HasPrefix(err.Error(), "couldn't parse lock:") {
				t.Errorf("error %q does not start with the place", err)
			}
		})
	}
}
