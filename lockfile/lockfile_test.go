package lockfile

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestDetectFormat(t *testing.T) {
	for path, want := range map[string]Format{
		"pylock.toml":           Pylock,
		"dir/pylock.dev.toml":   Pylock,
		"PYLOCK.TOML":           Pylock,
		"uv.lock":               UV,
		"/x/poetry.lock":        Poetry,
		"Pipfile.lock":          Pipfile,
		"pipfile.lock":          Pipfile,
		"requirements.txt":      Requirements,
		"requirements/main.txt": Requirements,
		"constraints-prod.txt":  Requirements,
		"pylock.a.b.toml":       "",
		"pylock..toml":          "",
		"pyproject.toml":        "",
		"poetry.lock-v1.1-2021": "",
		"requirements.in":       "",
		"Pipfile":               "",
		"uv.lock.bak":           "",
	} {
		got, err := DetectFormat(path)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("DetectFormat(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
}

// brief shows the fields of an artifact that tests compare, the hash cut to
// 8 digits: project|version|filename|sha256|line|skip|warning.
func brief(a Artifact) string {
	sha := a.SHA256
	if len(sha) > 8 {
		sha = sha[:8]
	}
	return strings.Join([]string{a.Project, a.Version, a.Filename, sha, strconv.Itoa(a.Line), a.Skip, a.Warning}, "|")
}

func briefs(artifacts []Artifact) []string {
	var out []string
	for _, a := range artifacts {
		out = append(out, brief(a))
	}
	return out
}

const pipenvWarning = "filename not trusted: this lockfile gives pytz-2026.1.post1-py3-none-any.whl more than one sha256, so its filenames are made up; checked by project, version and hash"

// TestRealLockfileCounts states, for each real lockfile, how many artifacts
// it pins and why any is skipped. The counts of sha256 digests in
// /work/shared/testdata/lockfiles/README.md agree, less one digest in
// Pipfile.lock (_meta.hash, the hash of the Pipfile) and one in h11's
// pylock.toml (tool.pdm.hashes, PDM's content hash), which pin no file.
func TestRealLockfileCounts(t *testing.T) {
	want := map[string]summary{
		"0b01001001__spectree__pylock.toml":       {artifacts: 562, checked: 562},
		"0b01001001__spectree__uv.lock":           {artifacts: 810, checked: 809, skipped: map[string]int{"editable local directory source: not a PyPI file": 1}},
		"Fuyukai__h11__pylock.toml":               {artifacts: 196, checked: 196},
		"Textualize__rich__poetry.lock":           {artifacts: 359, checked: 359},
		"Textualize__rich__poetry.lock-v1.1-2021": {artifacts: 500, checked: 500},
		"pypa__pipenv__Pipfile.lock":              {artifacts: 910, checked: 910},
		"pypa__pipenv__pylock.toml":               {artifacts: 838, checked: 838, warned: map[string]int{pipenvWarning: 838}},
		"pypi__warehouse__requirements_main.txt":  {artifacts: 2089, checked: 2089},
		"python-poetry__poetry__poetry.lock":      {artifacts: 1106, checked: 1105, skipped: map[string]int{"git source: not a PyPI file": 1}},
		"sigstore__sigstore-python__uv.lock":      {artifacts: 1063, checked: 1062, skipped: map[string]int{"editable local directory source: not a PyPI file": 1}},
	}
	files := realLockfiles(t)
	if len(files) != len(want) {
		t.Errorf("%d real lockfiles, %d expected", len(files), len(want))
	}
	for name, path := range files {
		artifacts, err := ParseFile(path, "")
		if err != nil {
			t.Fatal(err)
		}
		got := summarize(artifacts)
		w := want[name]
		if w.skipped == nil {
			w.skipped = map[string]int{}
		}
		if w.warned == nil {
			w.warned = map[string]int{}
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
		filenames := 0
		for _, a := range artifacts {
			if a.Filename != "" {
				filenames++
			}
		}
		withFilenames := map[Format]bool{Pylock: true, UV: true, Poetry: true}
		format, _ := DetectFormat(path)
		switch {
		case name == "pypa__pipenv__pylock.toml" || !withFilenames[format]:
			if filenames != 0 {
				t.Errorf("%s: %d artifacts with a filename, want none", name, filenames)
			}
		case filenames != got.checked:
			t.Errorf("%s: %d artifacts with a filename, want every checked one (%d)", name, filenames, got.checked)
		}
	}
}

// TestRealLockfileSpotChecks compares artifacts with what the lockfiles say,
// read by hand.
func TestRealLockfileSpotChecks(t *testing.T) {
	for _, c := range []struct {
		file    string
		sha     string // full hash, or "" to find the artifact by project
		project string
		want    string // brief(artifact)
		count   int    // how many artifacts have this hash (or, without one, this project)
	}{
		{"0b01001001__spectree__uv.lock", "a8d728f0a29de45dc521f18f07297428d56992a742f0cd2701ba86e44d23d5b2", "",
			"aiofiles|25.1.0|aiofiles-25.1.0.tar.gz|a8d728f0|15||", 1},
		{"sigstore__sigstore-python__uv.lock", "", "sigstore",
			"sigstore||||1688|editable local directory source: not a PyPI file|", 1},
		{"python-poetry__poetry__poetry.lock", "", "poetry-core",
			"poetry-core|2.4.1|||1403|git source: not a PyPI file|", 1},
		{"python-poetry__poetry__poetry.lock", "77e284d754527b01fb1e6fa8a1afe577858ebe4e9dad8919e34c862cb399bc34", "",
			"backports-tarfile|1.2.0|backports.tarfile-1.2.0-py3-none-any.whl|77e284d7|32||", 1},
		{"Textualize__rich__poetry.lock-v1.1-2021", "7d5d0167b2b1ba821647616af46a749d1c653740dd0d2415100fe26e27afdf41", "",
			"appdirs|1.4.4|appdirs-1.4.4.tar.gz|7d5d0167|918||", 1},
		{"Textualize__rich__poetry.lock", "02bd91c4de869fbb1e1c50aafc4098827a7a54ab2f39d9dcba6c9547ed920e24", "",
			"appnope|0.1.3|appnope-0.1.3.tar.gz|02bd91c4|11||", 1},
		// pytest is in "default" (line 59) and in "develop" (line 1169).
		{"pypa__pipenv__Pipfile.lock", "2c5efc453d45394fdd706ade797c0a81091eccd1d6e4bccfcd476e2b8e0ab5d9", "",
			"pytest|9.0.3||2c5efc45|59||", 2},
		{"pypa__pipenv__Pipfile.lock", "", "pyyaml",
			"pyyaml|6.0.1||04ac92ad|1265||", 51},
		{"pypi__warehouse__requirements_main.txt", "177006bd2054b882e9f01be59abd8529e88879ef50d7918a7050c5a9f4e12912", "",
			"celery|5.6.3||177006bd|201||", 1},
		{"Fuyukai__h11__pylock.toml", "7cbe4e593505bdec5884c2d0a4d791a90301bc23e49a6b1eb642dd85ef9c64f1", "",
			"ruff|0.14.2|ruff-0.14.2-py3-none-linux_armv6l.whl|7cbe4e59|57||", 1},
		{"0b01001001__spectree__pylock.toml", "b4ec55f4195e3eb5d7abd1bf7e061763e864dd4954231fb8539a0ef8bb8260e5", "",
			"aiofiles|24.1.0|aiofiles-24.1.0-py3-none-any.whl|b4ec55f4|11||", 1},
		// pipenv names this sdist-only project's one file
		// atomicwrites-1.4.1-py3-none-any.whl, a wheel that does not exist.
		{"pypa__pipenv__pylock.toml", "81b2c9071a49367a7f770170e5eec8cb66567cfbbc8c73d20ce5ca4a8d71cf11", "",
			"atomicwrites|1.4.1||81b2c907|46||" + pipenvWarning, 1},
	} {
		path := realLockfiles(t)[c.file]
		artifacts, err := ParseFile(path, "")
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		for _, a := range artifacts {
			if (c.sha != "" && a.SHA256 == c.sha) || (c.sha == "" && a.Project == c.project) {
				found = append(found, brief(a))
			}
		}
		if len(found) != c.count || found[0] != c.want {
			t.Errorf("%s: found %q, want %d like %q", c.file, found, c.count, c.want)
		}
	}
}
