package tiles

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestNormalizeProject(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		// PEP 503 and the packaging spec's examples.
		{"Foo.Bar", "foo-bar"},
		{"foo__bar", "foo-bar"},
		{"FOO-BAR", "foo-bar"},
		{"zope.interface", "zope-interface"},
		{"friendly-bard", "friendly-bard"},
		{"Friendly-Bard", "friendly-bard"},
		{"FRIENDLY-BARD", "friendly-bard"},
		{"friendly.bard", "friendly-bard"},
		{"friendly_bard", "friendly-bard"},
		{"friendly--bard", "friendly-bard"},
		{"FrIeNdLy-._.-bArD", "friendly-bard"},
		// More.
		{"Django", "django"},
		{"urllib3", "urllib3"},
		{"a", "a"},
		{"A", "a"},
		{"0", "0"},
		{"a.b_c-d", "a-b-c-d"},
		{"Zope.Interface", "zope-interface"},
		{"backports.zoneinfo", "backports-zoneinfo"},
		{"x___________y", "x-y"},
		{strings.Repeat("a", 200), strings.Repeat("a", 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeProject(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("NormalizeProject(%q) = %q, want %q", tt.name, got, tt.want)
			}
			if !IsNormalizedProject(got) {
				t.Fatalf("IsNormalizedProject(%q) = false", got)
			}
			if want := tt.name == tt.want; IsNormalizedProject(tt.name) != want {
				t.Fatalf("IsNormalizedProject(%q) = %v, want %v", tt.name, !want, want)
			}
		})
	}
}

func TestNormalizeProjectRejects(t *testing.T) {
	for _, name := range []string{
		"",
		"-foo",
		"foo-",
		".foo",
		"foo.",
		"_foo",
		"foo_",
		"-",
		"...",
		"foo bar",
		" foo",
		"foo ",
		"foo\n",
		"foo\t",
		"foo/bar",
		"foo+bar",
		"foo@1",
		"foo[bar]",
		"café",
		"ünicode",
		"Ⅻ",
		"\u212a", // Kelvin sign, which lowercases to 'k'
		"foo\x00",
		"\xff",
		strings.Repeat("a", 201),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := NormalizeProject(name)
			if err == nil {
				t.Fatalf("NormalizeProject(%q) = %q, want error", name, got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if IsNormalizedProject(name) {
				t.Fatalf("IsNormalizedProject(%q) = true", name)
			}
		})
	}
}

func FuzzNormalizeProject(f *testing.F) {
	for _, s := range []string{"Foo.Bar", "foo__bar", "FOO-BAR", "zope.interface", "a", "-foo", "foo bar", "", "café", "\u212a", "FrIeNdLy-._.-bArD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, err := NormalizeProject(name)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if IsNormalizedProject(name) {
				t.Fatalf("IsNormalizedProject(%q) = true, but NormalizeProject fails", name)
			}
			return
		}
		if !IsNormalizedProject(n) {
			t.Fatalf("NormalizeProject(%q) = %q, not normalized", name, n)
		}
		nn, err := NormalizeProject(n)
		if err != nil || nn != n {
			t.Fatalf("NormalizeProject(%q) = %q, %v; not idempotent", n, nn, err)
		}
		if len(n) > len(name) {
			t.Fatalf("NormalizeProject(%q) = %q is longer", name, n)
		}
		for i := 0; i < len(n); i++ {
			c := n[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				t.Fatalf("NormalizeProject(%q) = %q contains %q", name, n, c)
			}
		}
		if strings.Contains(n, "--") || strings.HasPrefix(n, "-") || strings.HasSuffix(n, "-") {
			t.Fatalf("NormalizeProject(%q) = %q", name, n)
		}
		if want := refNormalize(name); n != want {
			t.Fatalf("NormalizeProject(%q) = %q, want %q", name, n, want)
		}
	})
}

// refNormalize is PEP 503's re.sub(r"[-_.]+", "-", name).lower(), for
// ASCII names, written out.
func refNormalize(name string) string {
	var b strings.Builder
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			if !sep {
				b.WriteByte('-')
			}
			sep = true
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
		sep = false
	}
	return b.String()
}

// FuzzNormalizeProjectAgreesWithPEP508 checks the hand-written normalizer
// against PEP 508's and PEP 503's regular expressions.
func FuzzNormalizeProjectAgreesWithPEP508(f *testing.F) {
	valid := regexp.MustCompile(`^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$`)
	runs := regexp.MustCompile(`[-_.]+`)
	for _, s := range []string{"Foo.Bar", "a", "a-", "-a", "a__b", "A.-_B", "ü", "a b", "x--y", "Zope.Interface"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := NormalizeProject(name)
		ok := len(name) <= maxProjectLen && valid.MatchString(name)
		if (err == nil) != ok {
			t.Fatalf("NormalizeProject(%q) error %v, PEP 508 says valid=%v", name, err, ok)
		}
		if ok {
			if want := strings.ToLower(runs.ReplaceAllString(name, "-")); got != want {
				t.Fatalf("NormalizeProject(%q) = %q, PEP 503 says %q", name, got, want)
			}
			if !IsNormalizedProject(got) {
				t.Fatalf("IsNormalizedProject(%q) = false", got)
			}
		}
		if IsNormalizedProject(name) != (ok && got == name) {
			t.Fatalf("IsNormalizedProject(%q) = %v", name, IsNormalizedProject(name))
		}
	})
}
