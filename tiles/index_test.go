package tiles

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const otherHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testIndexText is the text of testIndex.
const testIndexText = testOrigin + "\n" +
	"project urllib3\n" +
	"size 1000\n" +
	"5 urllib3-2.6.3-py3-none-any.whl sha256:" + pepHex + " 131182 2026-01-07T18:23:45.102938Z\n" +
	"7 urllib3-2.6.3.tar.gz sha256:" + otherHex + " 0 2026-01-07T18:23:47Z\n" +
	"999 urllib3-0.1.tar.gz sha256:" + otherHex + " 9223372036854775807 -\n"

// testClaimantKey is a note verifier key, a claimant's value.
const testClaimantKey = "maintainer+c6e2099f+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"

func testIndex(t testing.TB) Index {
	return Index{
		Origin:   testOrigin,
		Project:  "urllib3",
		TreeSize: 1000,
		Lines: []IndexLine{
			{Leaf: 5, Filename: "urllib3-2.6.3-py3-none-any.whl", SHA256: mustDigest(t, pepHex), Size: 131182, UploadTime: "2026-01-07T18:23:45.102938Z"},
			{Leaf: 7, Filename: "urllib3-2.6.3.tar.gz", SHA256: mustDigest(t, otherHex), Size: 0, UploadTime: "2026-01-07T18:23:47Z"},
			{Leaf: 999, Filename: "urllib3-0.1.tar.gz", SHA256: mustDigest(t, otherHex), Size: 1<<63 - 1, UploadTime: NoUploadTime},
		},
	}
}

func TestIndexRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		index Index
		text  string
	}{
		{"three files", testIndex(t), testIndexText},
		{"no files, empty log", Index{Origin: testOrigin, Project: "a"}, testOrigin + "\nproject a\nsize 0\n"},
		{"no files yet", Index{Origin: testOrigin, Project: "zope-interface", TreeSize: 70000}, testOrigin + "\nproject zope-interface\nsize 70000\n"},
		{
			"claimed files",
			Index{Origin: "o", Project: "p", TreeSize: 3, Lines: []IndexLine{
				{Leaf: 0, Filename: "p-1.whl", UploadTime: "-", Claimant: &Claimant{Kind: ClaimantGitHub, Value: "https://github.com/o/p/.github/workflows/release.yml"}},
				{Leaf: 1, Filename: "p-1.tar.gz", UploadTime: "-"},
				{Leaf: 2, Filename: "p-2.tar.gz", UploadTime: "-", Claimant: &Claimant{Kind: ClaimantKey, Value: testClaimantKey}},
			}},
			"o\nproject p\nsize 3\n" +
				"0 p-1.whl sha256:" + strings.Repeat("0", 64) + " 0 - claimed github https://github.com/o/p/.github/workflows/release.yml\n" +
				"1 p-1.tar.gz sha256:" + strings.Repeat("0", 64) + " 0 -\n" +
				"2 p-2.tar.gz sha256:" + strings.Repeat("0", 64) + " 0 - claimed key " + testClaimantKey + "\n",
		},
		{
			"leaf 0 in tree of size 1",
			Index{Origin: "o", Project: "p", TreeSize: 1, Lines: []IndexLine{{Leaf: 0, Filename: "p-1.whl", UploadTime: "1970-01-01T00:00:00Z"}}},
			"o\nproject p\nsize 1\n0 p-1.whl sha256:" + strings.Repeat("0", 64) + " 0 1970-01-01T00:00:00Z\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatIndex(tt.index)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.text {
				t.Fatalf("FormatIndex =\n%s\nwant\n%s", got, tt.text)
			}
			x, err := ParseIndex(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(x, tt.index) {
				t.Fatalf("ParseIndex = %+v, want %+v", x, tt.index)
			}
		})
	}
}

func TestParseIndexRejects(t *testing.T) {
	head := testOrigin + "\nproject urllib3\nsize 1000\n"
	sha := "sha256:" + pepHex
	line := "5 a.whl " + sha + " 10 2026-01-07T18:23:45Z\n"
	withTime := func(s string) string { return head + "5 a.whl " + sha + " 10 " + s + "\n" }
	withSize := func(s string) string { return head + "5 a.whl " + sha + " " + s + " -\n" }
	withLeaf := func(s string) string { return head + s + " a.whl " + sha + " 10 -\n" }
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"claimant without keyword", head + "5 a.whl " + sha + " 10 - key " + testClaimantKey + "\n"},
		{"claimant keyword misspelt", head + "5 a.whl " + sha + " 10 - claimant key " + testClaimantKey + "\n"},
		{"claimant of unknown kind", head + "5 a.whl " + sha + " 10 - claimed google a@b.c\n"},
		{"claimant key not a key", head + "5 a.whl " + sha + " 10 - claimed key k+1234\n"},
		{"claimant github with ref", head + "5 a.whl " + sha + " 10 - claimed github https://github.com/o/p/.github/workflows/r.yml@refs/tags/v1\n"},
		{"claimant without value", head + "5 a.whl " + sha + " 10 - claimed key\n"},
		{"claimant twice", head + "5 a.whl " + sha + " 10 - claimed key " + testClaimantKey + " claimed key " + testClaimantKey + "\n"},
		{"missing trailing LF", strings.TrimSuffix(testIndexText, "\n")},
		{"CRLF", strings.ReplaceAll(testIndexText, "\n", "\r\n")},
		{"only origin", testOrigin + "\n"},
		{"no size line", testOrigin + "\nproject urllib3\n"},
		{"bad origin", "pysumdb example\nproject urllib3\nsize 1000\n"},
		{"origin with plus", "a+b\nproject urllib3\nsize 1000\n"},
		{"project not normalized", testOrigin + "\nproject Urllib3\nsize 1000\n"},
		{"project with underscore", testOrigin + "\nproject zope_interface\nsize 1000\n"},
		{"project with dot", testOrigin + "\nproject zope.interface\nsize 1000\n"},
		{"project empty", testOrigin + "\nproject \nsize 1000\n"},
		{"project keyword missing", testOrigin + "\nurllib3\nsize 1000\n"},
		{"project keyword capitalized", testOrigin + "\nProject urllib3\nsize 1000\n"},
		{"project trailing space", testOrigin + "\nproject urllib3 \nsize 1000\n"},
		{"project double space", testOrigin + "\nproject  urllib3\nsize 1000\n"},
		{"size keyword missing", testOrigin + "\nproject urllib3\n1000\n"},
		{"size empty", testOrigin + "\nproject urllib3\nsize \n"},
		{"size 01", testOrigin + "\nproject urllib3\nsize 01\n"},
		{"size -1", testOrigin + "\nproject urllib3\nsize -1\n"},
		{"size +1", testOrigin + "\nproject urllib3\nsize +1\n"},
		{"size overflow", testOrigin + "\nproject urllib3\nsize 9223372036854775808\n"},
		{"size trailing space", testOrigin + "\nproject urllib3\nsize 1000 \n"},
		{"lines out of order", head + "7 b.whl " + sha + " 1 -\n" + "5 a.whl " + sha + " 1 -\n"},
		{"duplicate leaf", head + line + line},
		{"leaf equal to size", withLeaf("1000")},
		{"leaf beyond size", withLeaf("5000")},
		{"leaf in empty log", testOrigin + "\nproject urllib3\nsize 0\n0 a.whl " + sha + " 1 -\n"},
		{"leaf negative", withLeaf("-1")},
		{"leaf with leading zero", withLeaf("05")},
		{"leaf with plus", withLeaf("+5")},
		{"leaf not a number", withLeaf("five")},
		{"file size negative", withSize("-1")},
		{"file size with leading zero", withSize("010")},
		{"file size with plus", withSize("+10")},
		{"file size empty", withSize("")},
		{"file size fractional", withSize("1.5")},
		{"file size with unit", withSize("10kB")},
		{"file size overflow", withSize("9223372036854775808")},
		{"upload time with offset", withTime("2026-01-07T18:23:45+01:00")},
		{"upload time with zero offset", withTime("2026-01-07T18:23:45+00:00")},
		{"upload time with -00:00", withTime("2026-01-07T18:23:45-00:00")},
		{"upload time without zone", withTime("2026-01-07T18:23:45")},
		{"upload time lowercase z", withTime("2026-01-07T18:23:45z")},
		{"upload time lowercase t", withTime("2026-01-07t18:23:45Z")},
		{"upload time date only", withTime("2026-01-07")},
		{"upload time garbage", withTime("yesterday")},
		{"upload time unix", withTime("1767810225")},
		{"upload time empty", withTime("")},
		{"upload time two dashes", withTime("--")},
		{"upload time before 1970", withTime("1969-12-31T23:59:59Z")},
		{"upload time month 13", withTime("2026-13-07T18:23:45Z")},
		{"upload time February 30", withTime("2026-02-30T18:23:45Z")},
		{"upload time hour 24", withTime("2026-01-07T24:00:00Z")},
		{"upload time one-digit hour", withTime("2026-01-07T8:23:45Z")},
		{"upload time comma fraction", withTime("2026-01-07T18:23:45,5Z")},
		{"upload time empty fraction", withTime("2026-01-07T18:23:45.Z")},
		{"upload time with offset and Z", withTime("2026-01-07T18:23:45+00:00Z")},
		{"four fields", head + "5 a.whl " + sha + " 10\n"},
		{"six fields", head + "5 a.whl " + sha + " 10 - extra\n"},
		{"double space", head + "5  a.whl " + sha + " 10 -\n"},
		{"trailing space", head + "5 a.whl " + sha + " 10 - \n"},
		{"tab separated", head + "5\ta.whl\t" + sha + "\t10\t-\n"},
		{"empty line", head + "\n"},
		{"empty line between", head + line + "\n" + "7 b.whl " + sha + " 1 -\n"},
		{"uppercase digest", head + "5 a.whl sha256:" + strings.ToUpper(pepHex) + " 10 -\n"},
		{"digest without prefix", head + "5 a.whl " + pepHex + " 10 -\n"},
		{"short digest", head + "5 a.whl " + sha[:70] + " 10 -\n"},
		{"filename with slash", head + "5 a/b.whl " + sha + " 10 -\n"},
		{"filename not UTF-8", head + "5 \xff.whl " + sha + " 10 -\n"},
		{"filename with control char", head + "5 a\x01.whl " + sha + " 10 -\n"},
		{"filename dot dot", head + "5 .. " + sha + " 10 -\n"},
		{"fields in wrong order", head + "5 " + sha + " a.whl 10 -\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := ParseIndex(tt.text)
			if err == nil {
				t.Fatalf("ParseIndex(%q) = %+v, want error", tt.text, x)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestCheckUploadTime(t *testing.T) {
	for _, s := range []string{
		NoUploadTime,
		"1970-01-01T00:00:00Z",
		"2026-01-07T18:23:45Z",
		"2026-01-07T18:23:45.1Z",
		"2026-01-07T18:23:45.102938Z",
		"2026-01-07T18:23:45.123456789Z",
		"2024-02-29T23:59:59Z",
		"9999-12-31T23:59:59.999999999Z",
	} {
		if err := CheckUploadTime(s); err != nil {
			t.Errorf("CheckUploadTime(%q) = %v", s, err)
		}
		if s != NoUploadTime && !isRFC3339UTC(s) {
			t.Errorf("isRFC3339UTC(%q) = false", s)
		}
	}
	for _, s := range []string{
		"", " ", "-0", "--", "2026-01-07T18:23:45", "2026-01-07T18:23:45+00:00", "2026-01-07T18:23:45.5+02:00",
		"2026-01-07 18:23:45Z", "2026-01-07T18:23Z", "2026-1-07T18:23:45Z", "2026-01-7T18:23:45Z",
		"2026-01-07T8:23:45Z", "2026-01-07T18:3:45Z", "2026-01-07T18:23:5Z", "02026-01-07T18:23:45Z",
		"2026-01-07T18:23:45,5Z", "2026-01-07T18:23:45.Z", "2026-01-07T18:23:45.5.5Z",
		"2023-02-29T00:00:00Z", "2026-01-07T18:60:00Z", "2026-01-07T18:23:60Z", "1969-12-31T23:59:59Z",
		"2026-01-07T18:23:45Z ", " 2026-01-07T18:23:45Z", "2026-01-07T18:23:45ZZ", "2026-01-07T18:23:45\u200bZ",
	} {
		if err := CheckUploadTime(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("CheckUploadTime(%q) = %v, want ErrMalformed", s, err)
		}
		if isRFC3339UTC(s) {
			t.Errorf("isRFC3339UTC(%q) = true", s)
		}
	}
}

func TestFormatIndexRejects(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Index)
	}{
		{"bad origin", func(x *Index) { x.Origin = "a b" }},
		{"project not normalized", func(x *Index) { x.Project = "Urllib3" }},
		{"project empty", func(x *Index) { x.Project = "" }},
		{"negative tree size", func(x *Index) { x.TreeSize = -1; x.Lines = nil }},
		{"lines out of order", func(x *Index) { x.Lines[0], x.Lines[1] = x.Lines[1], x.Lines[0] }},
		{"duplicate leaf", func(x *Index) { x.Lines[1].Leaf = x.Lines[0].Leaf }},
		{"leaf equal to size", func(x *Index) { x.Lines[2].Leaf = x.TreeSize }},
		{"negative leaf", func(x *Index) { x.Lines[0].Leaf = -1 }},
		{"bad filename", func(x *Index) { x.Lines[0].Filename = "a b.whl" }},
		{"negative file size", func(x *Index) { x.Lines[0].Size = -1 }},
		{"bad upload time", func(x *Index) { x.Lines[0].UploadTime = "2026-01-07T18:23:45+01:00" }},
		{"empty upload time", func(x *Index) { x.Lines[0].UploadTime = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := testIndex(t)
			tt.modify(&x)
			b, err := FormatIndex(x)
			if err == nil {
				t.Fatalf("FormatIndex = %q, want error", b)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestSignOpenIndex(t *testing.T) {
	signer, verifier, _ := newKey(t, testOrigin)
	x := testIndex(t)
	msg, err := SignIndex(x, signer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), testIndexText+"\n— "+testOrigin+" ") {
		t.Fatalf("signed index =\n%s", msg)
	}
	got, err := OpenIndex(msg, verifier, "urllib3")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, x) {
		t.Fatalf("OpenIndex = %+v, want %+v", got, x)
	}

	t.Run("wrong project served", func(t *testing.T) {
		got, err := OpenIndex(msg, verifier, "requests")
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("OpenIndex(requests) = %+v, %v; want ErrMalformed", got, err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		_, other, _ := newKey(t, testOrigin)
		if got, err := OpenIndex(msg, other, "urllib3"); err == nil {
			t.Fatalf("OpenIndex with another key = %+v, want error", got)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		bad := strings.Replace(string(msg), " 131182 ", " 131183 ", 1)
		if got, err := OpenIndex([]byte(bad), verifier, "urllib3"); err == nil {
			t.Fatalf("OpenIndex of a tampered index = %+v, want error", got)
		}
	})
	t.Run("signer is not the origin", func(t *testing.T) {
		other, _, _ := newKey(t, "other.example.org/log")
		if msg, err := SignIndex(x, other); err == nil {
			t.Fatalf("SignIndex with key of another name = %s, want error", msg)
		}
	})
	t.Run("origin is not the key name", func(t *testing.T) {
		y := testIndex(t)
		y.Origin = "other.example.org/log"
		text, err := FormatIndex(y)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := OpenIndex(msg, verifier, "urllib3"); !errors.Is(err, ErrMalformed) {
			t.Fatalf("OpenIndex = %+v, %v; want ErrMalformed", got, err)
		}
	})
	t.Run("invalid index", func(t *testing.T) {
		y := testIndex(t)
		y.Lines[0].Leaf = 2000
		if msg, err := SignIndex(y, signer); err == nil {
			t.Fatalf("SignIndex of an invalid index = %s, want error", msg)
		}
	})
}

// TestIndexIsNotCheckpoint checks that neither kind of signed note can be
// taken for the other, even with the same key.
func TestIndexIsNotCheckpoint(t *testing.T) {
	signer, verifier, _ := newKey(t, testOrigin)
	for _, x := range []Index{
		testIndex(t),
		{Origin: testOrigin, Project: "a", TreeSize: 5},
		{Origin: testOrigin, Project: "5", TreeSize: 5},
	} {
		text, err := FormatIndex(x)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := ParseCheckpoint(string(text)); err == nil {
			t.Errorf("ParseCheckpoint(%q) = %+v, want error", text, c)
		}
		msg, err := SignIndex(x, signer)
		if err != nil {
			t.Fatal(err)
		}
		if c, _, err := OpenCheckpoint(msg, verifier); err == nil {
			t.Errorf("OpenCheckpoint(index) = %+v, want error", c)
		}
	}
	c := Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: 5, Hash: testHash}}
	if x, err := ParseIndex(string(FormatCheckpoint(c))); err == nil {
		t.Errorf("ParseIndex(checkpoint) = %+v, want error", x)
	}
	msg, err := SignCheckpoint(c, signer)
	if err != nil {
		t.Fatal(err)
	}
	if x, err := OpenIndex(msg, verifier, "5"); err == nil {
		t.Errorf("OpenIndex(checkpoint) = %+v, want error", x)
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add(testIndexText)
	f.Add(testOrigin + "\nproject a\nsize 1\n0 a.whl sha256:" + pepHex + " 1 - claimed key " + testClaimantKey + "\n")
	f.Add(testOrigin + "\nproject a\nsize 1\n0 a.whl sha256:" + pepHex + " 1 - claimed gitlab https://gitlab.com/g/p//.gitlab-ci.yml\n")
	f.Add(testOrigin + "\nproject a\nsize 0\n")
	f.Add(testOrigin + "\nproject a\nsize 1\n0 a.whl sha256:" + pepHex + " 1 -\n")
	f.Add(testOrigin + "\nproject a\nsize 1\n0 a.whl sha256:" + pepHex + " 1 2026-01-07T18:23:45,5Z\n")
	f.Add(testOrigin + "\nproject a\nsize 1\n0 a.whl sha256:" + pepHex + " 1 2026-01-07T18:23:45+01:00\n")
	f.Add(testOrigin + "\nproject a\nsize 1\n0 a.whl sha256:" + pepHex + " 1 2026-01-07T18:23:45.000000000000Z\n")
	f.Add(testOrigin + "\nproject A\nsize 01\n")
	f.Add(testOrigin + "\n5\n" + testHashBase64 + "\n")
	f.Add(strings.ReplaceAll(testIndexText, "\n", "\r\n"))
	f.Fuzz(func(t *testing.T, text string) {
		x, err := ParseIndex(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := FormatIndex(x)
		if err != nil {
			t.Fatalf("ParseIndex(%q) = %+v, which FormatIndex rejects: %v", text, x, err)
		}
		if string(b) != text {
			t.Fatalf("FormatIndex(ParseIndex(%q)) = %q", text, b)
		}
		if _, err := ParseCheckpoint(text); err == nil {
			t.Fatalf("%q parses both as a project index and as a checkpoint", text)
		}
		for _, l := range x.Lines {
			if l.UploadTime != NoUploadTime && !isRFC3339UTC(l.UploadTime) {
				t.Fatalf("ParseIndex(%q) accepts upload time %q", text, l.UploadTime)
			}
		}
	})
}

// isRFC3339UTC is an oracle for CheckUploadTime, written differently:
// "YYYY-MM-DDTHH:MM:SS", an optional "." and digits, "Z", a valid time
// since 1970.
func isRFC3339UTC(s string) bool {
	t, err := time.Parse("2006-01-02T15:04:05", s[:min(len(s), 19)])
	if err != nil || t.Year() < 1970 || t.Format("2006-01-02T15:04:05") != s[:19] {
		return false
	}
	rest := s[19:]
	if frac, ok := strings.CutPrefix(rest, "."); ok {
		afterDigits := strings.TrimLeft(frac, "0123456789")
		if len(afterDigits) == len(frac) {
			return false // no digit
		}
		rest = afterDigits
	}
	return rest == "Z"
}

// uploadTimeShape is the shape CheckUploadTime wants, as a regular
// expression: the reference its hand-written check must agree with.
var uploadTimeShape = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$`)

func FuzzUploadTimeShape(f *testing.F) {
	for _, s := range []string{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.Z",
		"2024-01-02T3:04:05Z", "2024-01-02T03:04:05,1Z", "2024-01-02 03:04:05Z", "2024-01-02T03:04:05+00:00", "-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isUploadTimeShape(s), uploadTimeShape.MatchString(s); got != want {
			t.Fatalf("isUploadTimeShape(%q) = %v, the regular expression says %v", s, got, want)
		}
	})
}
