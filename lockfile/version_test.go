package lockfile

import "testing"

var normalizeVersionCases = []struct {
	in, want string // want "" means not a PEP 440 version
}{
	{"1.0", "1.0"},
	{"1.0.0", "1.0.0"}, // trailing zeros stay as written
	{"1.0.0a1", "1.0.0a1"},
	{"1.0.0.a.1", "1.0.0a1"},
	{"1.0.0-alpha1", "1.0.0a1"},
	{"1.0.0_ALPHA_1", "1.0.0a1"},
	{"V1.0.0a1", "1.0.0a1"},
	{"v2.0b2", "2.0b2"},
	{"2.0beta", "2.0b0"},
	{"1.0c1", "1.0rc1"},
	{"1.0pre1", "1.0rc1"},
	{"1.0-preview-2", "1.0rc2"},
	{"1.0RC3", "1.0rc3"},
	{"1.0-1", "1.0.post1"},
	{"1.0.post", "1.0.post0"},
	{"1.0-rev4", "1.0.post4"},
	{"1.0r5", "1.0.post5"},
	{"1.0.dev", "1.0.dev0"},
	{"1.0-DEV-3", "1.0.dev3"},
	{"1.0a1.post2.dev3", "1.0a1.post2.dev3"},
	{"0!1.0", "1.0"},
	{"00!1.0", "1.0"},
	{"2!1.0", "2!1.0"},
	{"01.002.0003", "1.2.3"},
	{"1.0+Ubuntu-1", "1.0+ubuntu.1"},
	{"1.0+local_007.x", "1.0+local.7.x"},
	{"  1.0  ", "1.0"},
	{"2026.1.post1", "2026.1.post1"},
	{"99999999999999999999999.1", "99999999999999999999999.1"}, // beyond 64 bits
	{"", ""},
	{"1.0-SNAPSHOT", ""},
	{"2004d", ""},
	{"1.0+", ""},
	{"1..0", ""},
	{"latest", ""},
}

func TestNormalizeVersion(t *testing.T) {
	for _, c := range normalizeVersionCases {
		got, err := normalizeVersion(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("normalizeVersion(%q) = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("normalizeVersion(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestEqualVersions(t *testing.T) {
	for _, c := range []struct {
		a, b  string
		equal bool
	}{
		{"1.0", "1.0.0", true},
		{"1", "1.0.0.0", true},
		{"1.0.0a1", "1.0.0.a.1", true},
		{"1.0a1", "1.0.0-alpha1", true},
		{"0!1.0", "1.0", true},
		{"v1.0", "1.0", true},
		{"1.0.post0", "1.0-r", true},
		{"1.0+abc", "1.0+ABC", true},
		{"1.0+1.a", "1.0+01-a", true},
		{"1.0.1", "1.0", false},
		{"1.0", "1.0a0", false},
		{"1.0", "1.0.post0", false},
		{"1.0", "1.0.dev0", false},
		{"1.0", "1.0+local", false},
		{"1!1.0", "1.0", false},
		{"1.0.10", "1.0.1", false},
		{"10.0", "1.0", false},
		{"1.0-SNAPSHOT", "1.0-snapshot", true}, // not PEP 440: compared as text
		{"1.0-SNAPSHOT", "1.0", false},
		{"2004d", "2004D ", true},
	} {
		if got := EqualVersions(c.a, c.b); got != c.equal {
			t.Errorf("EqualVersions(%q, %q) = %v, want %v", c.a, c.b, got, c.equal)
		}
		if got := EqualVersions(c.b, c.a); got != c.equal {
			t.Errorf("EqualVersions(%q, %q) = %v, want %v", c.b, c.a, got, c.equal)
		}
	}
}

// normalizeVersion returns the normalized form of a PEP 440 version
// ("1.0.0.a.1" and "V1.0.0-alpha1" both give "1.0.0a1"), or an error if v is
// not one. Trailing zeros are kept as written: "1.0" and "1.0.0" are different
// strings (and different filenames on PyPI) but equal versions, which
// [EqualVersions] tells. The tests check the parser's normalizations with it.
func normalizeVersion(v string) (string, error) {
	parsed, err := parseVersion(v)
	if err != nil {
		return "", err
	}
	return parsed.String(), nil
}
