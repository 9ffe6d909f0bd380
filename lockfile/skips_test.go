package lockfile

import (
	"reflect"
	"strings"
	"testing"
)

var upperA = strings.ToUpper(hashA)

// formatCases are small lockfiles that exercise every source, skip and hash
// rule of each format. The fuzzers start from them too.
var formatCases = []struct {
	name   string
	format Format
	input  string
	want   []string // brief of each artifact
}{
	{
		name:   "pylock sources",
		format: Pylock,
		input: `lock-version = "1.0"
created-by = "test"

[[packages]]
name = "Index_Pkg"
version = "1.0"
index = "https://pypi.org/simple/"
sdist = {url = "https://mirror.example/index_pkg-1.0.tar.gz", hashes = {sha256 = "` + upperA + `"}}
wheels = [
    {name = "index_pkg-1.0-py3-none-any.whl", url = "https://files.pythonhosted.org/x.whl", hashes = {sha512 = "00", md5 = "11"}},
]

[[packages]]
name = "private"
version = "2.0"
index = "https://test.pypi.org/simple/"
wheels = [{url = "https://test-files.pythonhosted.org/private-2.0-py3-none-any.whl", hashes = {sha256 = "` + hashB + `"}}]

[[packages]]
name = "no-index"
version = "3.0"
sdist = {path = "dist/no_index-3.0.tar.gz", hashes = {sha256 = "` + hashB + `"}}
wheels = [
    {url = "https://example.com/no_index-3.0-py3-none-any.whl", hashes = {sha256 = "` + hashC + `"}},
    {url = "https://files.pythonhosted.org/packages/no_index-3.0%2Blocal-py3-none-any.whl", hashes = {sha256 = "` + hashD + `"}},
]

[[packages]]
name = "vcs"
vcs = {type = "git", url = "https://example.com/vcs.git", commit-id = "abc"}

[[packages]]
name = "dir"
directory = {path = ".", editable = true}

[[packages]]
name = "dir2"
directory = {path = "../dir2"}

[[packages]]
name = "arch"
archive = {url = "https://example.com/arch-1.0.zip", hashes = {sha256 = "` + hashA + `"}}

[[packages]]
name = "empty"
version = "1"
`,
		want: []string{
			"index-pkg|1.0|index_pkg-1.0.tar.gz|a8d728f0|8||",
			"index-pkg|1.0|index_pkg-1.0-py3-none-any.whl||10|no sha256 hash (only md5, sha512): the log records sha256|",
			"private|2.0|private-2.0-py3-none-any.whl|abe311e5|17|index https://test.pypi.org/simple/ is not PyPI|",
			"no-index|3.0|no_index-3.0.tar.gz|abe311e5|22|local file dist/no_index-3.0.tar.gz: not from an index|",
			"no-index|3.0|no_index-3.0-py3-none-any.whl|cccccccc|24|file URL https://example.com/no_index-3.0-py3-none-any.whl is not on PyPI|",
			"no-index|3.0|no_index-3.0+local-py3-none-any.whl|dddddddd|25||",
			"vcs||||29|VCS source: not a PyPI file|",
			"dir||||33|editable local directory: not a PyPI file|",
			"dir2||||37|local directory: not a PyPI file|",
			"arch||arch-1.0.zip|a8d728f0|42|archive (direct URL or path): not a PyPI file|",
			"empty|1|||45|no files listed|",
		},
	},
	{
		name:   "uv sources",
		format: UV,
		input: `version = 1
revision = 3

[[package]]
name = "a"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.pythonhosted.org/packages/a-1.0.tar.gz", hash = "SHA256:` + upperA + `", size = 1 }
wheels = [
    { url = "https://files.pythonhosted.org/packages/a-1.0-py3-none-any.whl", hash = "sha512:00", size = 1 },
    { url = "https://files.pythonhosted.org/packages/a-1.0-py2-none-any.whl", size = 1 },
]

[[package]]
name = "b"
version = "1.0"
source = { registry = "https://private.example/simple" }
sdist = { url = "https://private.example/b-1.0.tar.gz", hash = "sha256:` + hashB + `" }

[[package]]
name = "c"
version = "1.0"
source = { registry = "../wheels" }
wheels = [{ path = "c-1.0-py3-none-any.whl", hash = "sha256:` + hashB + `" }]

[[package]]
name = "d"
version = "1.0"
source = { url = "https://example.com/d-1.0-py3-none-any.whl" }
wheels = [{ filename = "d-1.0-py3-none-any.whl", hash = "sha256:` + hashB + `" }]

[[package]]
name = "e"
version = "0.1"
source = { git = "https://example.com/e.git?rev=main#abc" }

[[package]]
name = "f"
version = "0.1"
source = { path = "dist/f-0.1.tar.gz" }
sdist = { hash = "sha256:` + hashB + `" }

[[package]]
name = "g"
source = { directory = "g" }

[[package]]
name = "h"
source = { virtual = "." }

[[package]]
name = "i"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
`,
		want: []string{
			"a|1.0|a-1.0.tar.gz|a8d728f0|8||",
			"a|1.0|a-1.0-py3-none-any.whl||10|no sha256 hash (only sha512): the log records sha256|",
			"a|1.0|a-1.0-py2-none-any.whl||5|no hash|",
			"b|1.0|b-1.0.tar.gz|abe311e5|18|index https://private.example/simple is not PyPI|",
			"c|1.0|c-1.0-py3-none-any.whl|abe311e5|24|index ../wheels is not PyPI|",
			"d|1.0|d-1.0-py3-none-any.whl|abe311e5|30|direct URL source: not a PyPI file|",
			"e|0.1|||33|git source: not a PyPI file|",
			"f|0.1||abe311e5|41|local path source: not a PyPI file|",
			"g||||44|local directory source: not a PyPI file|",
			"h||||48|virtual package: no file is installed|",
			"i|1.0|||52|no files listed|",
		},
	},
	{
		name:   "poetry 2 sources",
		format: Poetry,
		input: `[[package]]
name = "A"
version = "1.0"
files = [
    {file = "a-1.0.tar.gz", hash = "sha256:` + upperA + `"},
    {file = "a-1.0-py3-none-any.whl", hash = "md5:00"},
]

[[package]]
name = "b"
version = "1.0"
files = [{file = "b-1.0.tar.gz", hash = "sha256:` + hashB + `"}]

[package.source]
type = "legacy"
url = "https://pypi.org/simple"
reference = "pypi-explicit"

[[package]]
name = "c"
version = "1.0"
files = [{file = "c-1.0.tar.gz", hash = "sha256:` + hashB + `"}]

[package.source]
type = "legacy"
url = "https://private.example/simple"
reference = "private"

[[package]]
name = "d"
version = "1.0"
files = []

[package.source]
type = "directory"
url = "../d"

[[package]]
name = "e"
version = "1.0"
files = [{file = "e-1.0.tar.gz", hash = "sha256:` + hashB + `"}]

[package.source]
type = "url"
url = "https://example.com/e-1.0.tar.gz"

[[package]]
name = "f"
version = "1.0"
files = []

[package.source]
type = "file"
url = "f-1.0.tar.gz"

[[package]]
name = "g"
version = "1.0"
files = []

[metadata]
lock-version = "2.1"
python-versions = ">=3.10"
content-hash = "` + hashB + `"
`,
		want: []string{
			"a|1.0|a-1.0.tar.gz|a8d728f0|5||",
			"a|1.0|a-1.0-py3-none-any.whl||6|no sha256 hash (only md5): the log records sha256|",
			"b|1.0|b-1.0.tar.gz|abe311e5|12||",
			"c|1.0|c-1.0.tar.gz|abe311e5|22|index https://private.example/simple is not PyPI|",
			"d|1.0|||30|local directory source: not a PyPI file|",
			"e|1.0|e-1.0.tar.gz|abe311e5|41|direct URL source: not a PyPI file|",
			"f|1.0|||48|local file source: not a PyPI file|",
			"g|1.0|||57|no files listed|",
		},
	},
	{
		// Lock version 1.1 keeps files by name; a name locked at two
		// versions shares one list, split by the filenames' versions.
		name:   "poetry 1.1 shared files",
		format: Poetry,
		input: `[[package]]
name = "Foo"
version = "1.0"

[[package]]
name = "foo"
version = "2.0.0"

[[package]]
name = "bar"
version = "3"

[[package]]
name = "baz"
version = "4"

[metadata]
lock-version = "1.1"
content-hash = "x"

[metadata.files]
bar = [
    {file = "bar-3.tar.gz", hash = "sha256:` + hashB + `"},
]
foo = [
    {file = "foo-1.0.tar.gz", hash = "sha256:` + hashA + `"},
    {file = "foo-2.0-py3-none-any.whl", hash = "sha256:` + hashC + `"},
    {file = "foo-9.tar.gz", hash = "md5:00"},
]
unlocked = [
    {file = "unlocked-1.tar.gz", hash = "sha256:` + hashB + `"},
]
`,
		want: []string{
			"foo|1.0|foo-1.0.tar.gz|a8d728f0|26||",
			"foo|2.0.0|foo-2.0-py3-none-any.whl|cccccccc|27||",
			"foo||foo-9.tar.gz||28|no sha256 hash (only md5): the log records sha256|",
			"bar|3|bar-3.tar.gz|abe311e5|23||",
			"baz|4|||14|no files listed|",
		},
	},
	{
		name:   "pipfile sources",
		format: Pipfile,
		input: `{
    "_meta": {
        "pipfile-spec": 6,
        "sources": [
            {"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true},
            {"name": "private", "url": "https://private.example/simple", "verify_ssl": true}
        ]
    },
    "default": {
        "A_B": {"hashes": ["sha256:` + upperA + `", "sha512:00"], "version": "==1.0"},
        "c": {"hashes": ["sha256:` + hashB + `"], "index": "private", "version": "==2"},
        "d": {"editable": true, "path": "."},
        "e": {"git": "https://example.com/e.git", "ref": "abc"},
        "f": {"file": "https://example.com/f-1.0.tar.gz"},
        "g": {"path": "./g"},
        "h": {"version": ">=1"}
    },
    "tests": {
        "A-B": {"hashes": ["sha256:` + hashA + `"], "version": "===1.0"}
    }
}`,
		want: []string{
			"a-b|1.0||a8d728f0|10||",
			"a-b|1.0|||10|no sha256 hash (only sha512): the log records sha256|",
			"c|2||abe311e5|11|index https://private.example/simple is not PyPI|",
			"d||||12|editable install: not a PyPI file|",
			"e||||13|git source: not a PyPI file|",
			"f||||14|direct URL or file: not a PyPI file|",
			"g||||15|local path: not a PyPI file|",
			"h||||16|no hash|",
			"a-b|1.0||a8d728f0|19||",
		},
	},
	{
		name:   "pipfile default source",
		format: Pipfile,
		input:  `{"_meta": {"pipfile-spec": 6, "sources": [{"name": "mirror", "url": "https://mirror.example/simple"}]}, "default": {"a": {"hashes": ["sha256:` + hashA + `"], "version": "==1"}}}`,
		want:   []string{"a|1||a8d728f0|1|index https://mirror.example/simple is not PyPI|"},
	},
	{
		name:   "requirements",
		format: Requirements,
		input: "\ufeff# comment \\\n" +
			"A.B[x, y] == 1.0 ; python_version < \"3.8\" \\\r\n" +
			"    --hash=sha256:" + upperA + " \\\r\n" +
			"    # a comment line ends the continuation\r\n" +
			"c===2.0 --hash sha256:" + hashB + " --hash=md5:00 # trailing comment\n" +
			"d>=1,<2 --hash=\"sha256:" + hashB + "\"\n" +
			"e (==3.0)\n" +
			"f==1.*\n" +
			"-e git+https://example.com/g.git#egg=g\n" +
			"--editable=./h\n" +
			"i @ https://example.com/i-1.0.tar.gz#sha256=" + hashB + " --hash=sha256:" + hashB + "\n" +
			"https://example.com/j-1.0-py3-none-any.whl\n" +
			"./k\n" +
			"l-1.0-py3-none-any.whl\n" +
			"-r https://example.com/more.txt\n" +
			"--pre\n" +
			"--only-binary :all: --prefer-binary\n" +
			"  \n",
		want: []string{
			"a-b|1.0||a8d728f0|3||",
			"c|2.0||abe311e5|5||",
			"c|2.0|||5|no sha256 hash (only md5): the log records sha256|",
			"d|||abe311e5|6||",
			"e|3.0|||7|no hash|",
			"f||||8|no hash|",
			"||||9|editable install: not a PyPI file|",
			"||||10|editable install: not a PyPI file|",
			"i|||abe311e5|11|direct URL reference: not a PyPI file|",
			"||||12|URL or path requirement: not a PyPI file|",
			"||||13|URL or path requirement: not a PyPI file|",
			"||||14|URL or path requirement: not a PyPI file|",
			"||||15|include https://example.com/more.txt is a URL: not fetched|",
		},
	},
	{
		name:   "requirements private index",
		format: Requirements,
		input:  "a==1 --hash=sha256:" + hashA + "\n--index-url https://private.example/simple\n",
		want:   []string{"a|1||a8d728f0|1|index https://private.example/simple is not PyPI|"},
	},
	{
		name:   "requirements private index and PyPI",
		format: Requirements,
		input:  "-i https://private.example/simple\n--extra-index-url=https://pypi.org/simple\na==1 --hash=sha256:" + hashA + "\n",
		want:   []string{"a|1||a8d728f0|3||files may also come from https://private.example/simple, which is not PyPI: a hash missing from the log may be one of its files"},
	},
	{
		name:   "requirements extra index and find-links",
		format: Requirements,
		input:  "a==1 --hash=sha256:" + hashA + "\n--extra-index-url https://private.example/simple\n-f ./wheels\n",
		want:   []string{"a|1||a8d728f0|1||files may also come from https://private.example/simple, ./wheels, which is not PyPI: a hash missing from the log may be one of its files"},
	},
	{
		name:   "requirements no index",
		format: Requirements,
		input:  "--no-index\n--find-links ./wheels\na==1 --hash=sha256:" + hashA + "\n",
		want:   []string{"a|1||a8d728f0|3|--no-index: files come from --find-links, not PyPI|"},
	},
}

func TestFormats(t *testing.T) {
	for _, c := range formatCases {
		t.Run(c.name, func(t *testing.T) {
			artifacts, err := Parse("lock", []byte(c.input), c.format)
			if err != nil {
				t.Fatal(err)
			}
			checkArtifacts(t, "lock", artifacts)
			if got := briefs(artifacts); !reflect.DeepEqual(got, c.want) {
				t.Errorf("artifacts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestAttestationIdentities(t *testing.T) {
	input := `lock-version = "1.0"
created-by = "test"

[[packages]]
name = "sampleproject"
version = "4.0.0"
index = "https://pypi.org/simple"
sdist = {name = "sampleproject-4.0.0.tar.gz", url = "https://files.pythonhosted.org/s.tar.gz", hashes = {sha256 = "` + hashA + `"}}
wheels = [{name = "sampleproject-4.0.0-py3-none-any.whl", url = "https://files.pythonhosted.org/s.whl", hashes = {sha256 = "` + hashB + `"}}]

[[packages.attestation-identities]]
kind = "GitHub"
repository = "pypa/sampleproject"
workflow = "release.yml"

[[packages.attestation-identities]]
kind = "GitLab"
repository = "group/project"
environment = "prod"

[[packages]]
name = "other"
version = "1"
sdist = {url = "https://files.pythonhosted.org/other-1.tar.gz", hashes = {sha256 = "` + hashB + `"}}
`
	artifacts, err := Parse("pylock.toml", []byte(input), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Identity{
		{Kind: "GitHub", Fields: map[string]any{"kind": "GitHub", "repository": "pypa/sampleproject", "workflow": "release.yml"}},
		{Kind: "GitLab", Fields: map[string]any{"kind": "GitLab", "repository": "group/project", "environment": "prod"}},
	}
	if len(artifacts) != 3 {
		t.Fatalf("%d artifacts, want 3", len(artifacts))
	}
	for _, a := range artifacts[:2] {
		if !reflect.DeepEqual(a.AttestationIdentities, want) {
			t.Errorf("%s: identities %+v, want %+v", a.Filename, a.AttestationIdentities, want)
		}
	}
	if artifacts[2].AttestationIdentities != nil {
		t.Errorf("other: identities %+v, want none", artifacts[2].AttestationIdentities)
	}
}

// TestRepeatedFilenames checks the rule made for pipenv's pylock.toml: one
// filename with two hashes drops every filename of the lockfile; the same
// filename listed twice with one hash does not.
func TestRepeatedFilenames(t *testing.T) {
	lock := func(secondHash string) string {
		return `version = 1
[[package]]
name = "a"
version = "1"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://files.pythonhosted.org/a-1-py3-none-any.whl", hash = "sha256:` + hashA + `" },
    { url = "https://files.pythonhosted.org/a-1-py3-none-any.whl", hash = "sha256:` + secondHash + `" },
]
[[package]]
name = "b"
version = "1"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.pythonhosted.org/b-1.tar.gz", hash = "sha256:` + hashB + `" }
`
	}
	artifacts, err := Parse("uv.lock", []byte(lock(hashA)), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range artifacts {
		if a.Filename == "" || a.Warning != "" {
			t.Errorf("same hash twice: %s", brief(a))
		}
	}
	artifacts, err = Parse("uv.lock", []byte(lock(hashB)), "")
	if err != nil {
		t.Fatal(err)
	}
	const warning = "filename not trusted: this lockfile gives a-1-py3-none-any.whl more than one sha256, so its filenames are made up; checked by project, version and hash"
	want := []string{"a|1||a8d728f0|7||" + warning, "a|1||abe311e5|8||" + warning, "b|1||abe311e5|14||" + warning}
	if got := briefs(artifacts); !reflect.DeepEqual(got, want) {
		t.Errorf("two hashes: %q, want %q", got, want)
	}
}
