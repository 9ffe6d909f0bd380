package claim

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/tiles"
)

// Fixed test keys (note.GenerateKey output), so that golden files are
// stable.
const (
	testSKey  = "PRIVATE+KEY+maintainer.test+f4056613+AdCAOx6FIOgOjpNFsOIruFiv8SrJR3ZqZCYnPzLi3ogw"
	testVKey  = "maintainer.test+f4056613+AeowCSg2YEcjPojTOaabyS1cfvNaX2VtHav0ShAY/8G+"
	otherSKey = "PRIVATE+KEY+maintainer.test+ee40b883+ActB/vBrEL3dBYhQcu8y9CTxGSoiZZW29bkjwQ6CvsJf"
	otherVKey = "maintainer.test+ee40b883+Ade74bEb8I8q3W3t3SpHLnW30Z1Nsp6AJi6BPMJTEsea"
)

func signer(t testing.TB, skey string) note.Signer {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testClaim() Claim {
	return Claim{
		Project: "foo-bar",
		Time:    time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC),
		Files: []File{
			{Filename: "foo_bar-1.0-py3-none-any.whl", SHA256: sha256.Sum256([]byte("wheel")), Size: 1234},
			{Filename: "foo_bar-1.0.tar.gz", SHA256: sha256.Sum256([]byte("sdist")), Size: 99},
		},
	}
}

// TestKeys checks that the test keys are a pair each.
func TestKeys(t *testing.T) {
	for skey, vkey := range map[string]string{testSKey: testVKey, otherSKey: otherVKey} {
		got, err := tiles.VerifierKey(skey)
		if err != nil || got != vkey {
			t.Fatalf("VerifierKey(%s) = %s, %v; want %s", skey, got, err, vkey)
		}
	}
}

func TestGolden(t *testing.T) {
	text, err := Format(testClaim())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := Sign(testClaim(), signer(t, testSKey))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "claim.note")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, msg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg, want) {
		t.Fatalf("signed claim:\n%s\nwant (%s):\n%s", msg, golden, want)
	}
	if !bytes.HasPrefix(msg, text) {
		t.Fatalf("signed claim does not start with its text")
	}
	wantText := "pysumdb-claim/v1\nproject foo-bar\ntime 2026-11-28T05:00:00Z\n" +
		"foo_bar-1.0-py3-none-any.whl sha256:" + fmt.Sprintf("%x", sha256.Sum256([]byte("wheel"))) + " 1234\n" +
		"foo_bar-1.0.tar.gz sha256:" + fmt.Sprintf("%x", sha256.Sum256([]byte("sdist"))) + " 99\n"
	if string(text) != wantText {
		t.Fatalf("text:\n%s\nwant:\n%s", text, wantText)
	}
	c, err := Open(want, testVKey)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, testClaim()) {
		t.Fatalf("Open = %+v, want %+v", c, testClaim())
	}
	if got, want := ID(text), sha256.Sum256(text); got != want {
		t.Fatal("ID is not the text's sha256")
	}
}

func TestRoundTrip(t *testing.T) {
	many := Claim{Project: "a", Time: time.Unix(1e9, 0)}
	for i := range MaxFiles {
		many.Files = append(many.Files, File{Filename: fmt.Sprintf("a-%04d.tar.gz", i), SHA256: [32]byte{byte(i)}, Size: int64(i + 1)})
	}
	for _, c := range []Claim{testClaim(), many, {Project: "x0", Time: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), Files: []File{{Filename: "X0-0.zip", Size: 1 << 60}}}} {
		text, err := Format(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Time.Equal(c.Time) || got.Time.Location() != time.UTC {
			t.Fatalf("time %v, want %v in UTC", got.Time, c.Time)
		}
		got.Time = c.Time
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("Parse(Format(c)) = %+v, want %+v", got, c)
		}
	}
}

func TestFormatRefuses(t *testing.T) {
	edits := map[string]func(*Claim){
		"unnormalized project": func(c *Claim) { c.Project = "Foo-Bar" },
		"no file":              func(c *Claim) { c.Files = nil },
		"unsorted":             func(c *Claim) { c.Files[0], c.Files[1] = c.Files[1], c.Files[0] },
		"duplicate":            func(c *Claim) { c.Files[1] = c.Files[0] },
		"size 0":               func(c *Claim) { c.Files[0].Size = 0 },
		"other project":        func(c *Claim) { c.Files[1].Filename = "foo-1.0.tar.gz" },
		"fraction of a second": func(c *Claim) { c.Time = c.Time.Add(time.Millisecond) },
		"zero time":            func(c *Claim) { c.Time = time.Time{} },
		"year 10000":           func(c *Claim) { c.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"too many files": func(c *Claim) {
			for i := range MaxFiles {
				c.Files = append(c.Files, File{Filename: fmt.Sprintf("foo_bar-9.%d.tar.gz", i), Size: 1})
			}
		},
	}
	for name, edit := range edits {
		c := testClaim()
		c.Files = append([]File(nil), c.Files...)
		edit(&c)
		if text, err := Format(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Format = %q, %v; want ErrMalformed", name, text, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	good, err := Format(testClaim())
	if err != nil {
		t.Fatal(err)
	}
	line := func(i int) string { return strings.Split(string(good), "\n")[i] }
	h := "sha256:" + strings.Repeat("ab", 32)
	bad := map[string]string{
		"empty":             "",
		"no newline at end": strings.TrimSuffix(string(good), "\n"),
		"CRLF":              strings.ReplaceAll(string(good), "\n", "\r\n"),
		"empty line":        string(good) + "\n",
		"trailing line":     string(good) + "x\n",
		"header only":       "pysumdb-claim/v1\n",
		"no file":           "pysumdb-claim/v1\nproject foo-bar\ntime 2026-11-28T05:00:00Z\n",
		"header v2":         strings.Replace(string(good), "/v1", "/v2", 1),
		"project first":     strings.Replace(string(good), "pysumdb-claim/v1\nproject foo-bar\n", "project foo-bar\npysumdb-claim/v1\n", 1),
		"unnormalized":      strings.Replace(string(good), "project foo-bar", "project Foo_Bar", 1),
		"project 2 spaces":  strings.Replace(string(good), "project foo-bar", "project  foo-bar", 1),
		"time with offset":  strings.Replace(string(good), "05:00:00Z", "05:00:00+00:00", 1),
		"time fraction":     strings.Replace(string(good), "05:00:00Z", "05:00:00.5Z", 1),
		"time lowercase z":  strings.Replace(string(good), "05:00:00Z", "05:00:00z", 1),
		"time before 1970":  strings.Replace(string(good), "2026", "1969", 1),
		"uppercase hex":     strings.Replace(string(good), line(3)[len("foo_bar-1.0-py3-none-any.whl sha256:"):][:8], "ABCDEF01", 1),
		"size 0":            strings.Replace(string(good), " 99\n", " 0\n", 1),
		"size leading 0":    strings.Replace(string(good), " 99\n", " 099\n", 1),
		"size negative":     strings.Replace(string(good), " 99\n", " -99\n", 1),
		"size plus":         strings.Replace(string(good), " 99\n", " +99\n", 1),
		"size huge":         strings.Replace(string(good), " 99\n", " 99999999999999999999\n", 1),
		"two spaces":        strings.Replace(string(good), " 99\n", "  99\n", 1),
		"tab":               strings.Replace(string(good), " 99\n", "\t99\n", 1),
		"unsorted":          "pysumdb-claim/v1\nproject foo-bar\ntime 2026-11-28T05:00:00Z\n" + line(4) + "\n" + line(3) + "\n",
		"duplicate":         "pysumdb-claim/v1\nproject foo-bar\ntime 2026-11-28T05:00:00Z\n" + line(4) + "\n" + line(4) + "\n",
		"other project":     "pysumdb-claim/v1\nproject foo-bar\ntime 2026-11-28T05:00:00Z\nfoo-1.0.tar.gz " + h + " 1\n",
		"not a dist":        "pysumdb-claim/v1\nproject foo-bar\ntime 2026-11-28T05:00:00Z\nfoo_bar-1.0.exe " + h + " 1\n",
		"egg":               "pysumdb-claim/v1\nproject foo-bar\ntime 2026-11-28T05:00:00Z\nfoo_bar-1.0-py3.8.egg " + h + " 1\n",
		"non-ASCII":         "pysumdb-claim/v1\nproject foo-bar\ntime 2026-11-28T05:00:00Z\nfoo_bar-1.0\u00e9.tar.gz " + h + " 1\n",
		"no sha256: prefix": strings.Replace(string(good), " sha256:", " ", 1),
		"md5":               strings.Replace(string(good), " sha256:", " md5:", 1),
		"signed note":       string(good) + "\n\u2014 maintainer.test abcd\n",
	}
	for name, text := range bad {
		if c, err := Parse([]byte(text)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse = %+v, %v; want ErrMalformed", name, c, err)
		}
	}
	var tooMany bytes.Buffer
	tooMany.WriteString("pysumdb-claim/v1\nproject a\ntime 2026-11-28T05:00:00Z\n")
	for i := range MaxFiles + 1 {
		fmt.Fprintf(&tooMany, "a-%04d.tar.gz %s 1\n", i, h)
	}
	if _, err := Parse(tooMany.Bytes()); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "more than 1000") {
		t.Errorf("1001 files: %v", err)
	}
	huge := append(bytes.Clone(good), bytes.Repeat([]byte("x"), MaxSize)...)
	if _, err := Parse(huge); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("huge: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	msg, err := Sign(testClaim(), signer(t, testSKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(msg, testVKey); err != nil {
		t.Fatal(err)
	}
	// Every byte of the text and of the signature matters.
	for i := range msg {
		if msg[i] == '\n' {
			continue
		}
		altered := bytes.Clone(msg)
		altered[i] ^= 0x01
		if c, err := Open(altered, testVKey); err == nil {
			t.Fatalf("byte %d altered (%q): Open = %+v", i, altered[i], c)
		}
	}
	both, err := Sign(testClaim(), signer(t, testSKey), signer(t, otherSKey))
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := Sign(testClaim(), signer(t, otherSKey))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := Format(testClaim())
	sigLine := msg[len(text)+1:]
	// A note whose text is the claim, an empty line and a signature line,
	// signed: its first part parses as the claim, but the key signed
	// another text.
	weird, err := note.Sign(&note.Note{Text: string(msg)}, signer(t, testSKey))
	if err != nil {
		t.Fatal(err)
	}
	if got, signed := SplitNote(weird); !signed || !bytes.Equal(got, text) {
		t.Fatalf("SplitNote(weird) = %q", got)
	}
	if _, err := OpenSigned(weird, testVKey); !errors.Is(err, ErrMalformed) {
		t.Errorf("OpenSigned of a text with an empty line = %v", err)
	}
	for name, tt := range map[string]struct {
		msg  []byte
		vkey string
	}{
		"another key":          {byOther, testVKey},
		"verified with other":  {msg, otherVKey},
		"an extra signature":   {both, testVKey},
		"unsigned":             {text, testVKey},
		"repeated signature":   {append(bytes.Clone(msg), sigLine...), testVKey},
		"signature of nothing": {append([]byte("\n"), sigLine...), testVKey},
	} {
		if c, err := Open(tt.msg, tt.vkey); err == nil {
			t.Errorf("%s: Open = %+v", name, c)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := Open(both, testVKey); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "carries a signature by maintainer.test+ee40b883") {
		t.Errorf("an extra signature: %v", err)
	}
	if _, err := Open(byOther, testVKey); !errors.Is(err, ErrSignature) {
		t.Errorf("another key: %v, want ErrSignature", err)
	}
	if _, err := OpenSigned(both, testVKey, otherVKey); err != nil {
		t.Errorf("OpenSigned by both: %v", err)
	}
	if _, err := OpenSigned(both, testVKey, testVKey); err == nil {
		t.Errorf("OpenSigned with a key twice succeeded")
	}
}

func TestCheckFile(t *testing.T) {
	good := map[string][]string{
		"foo":     {"foo-1.0.tar.gz", "foo-1.0.zip", "Foo-1.0-py3-none-any.whl", "foo-1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl", "foo-1!2.0rc1.post3.dev4+local.tar.gz"},
		"foo-bar": {"foo_bar-1.0.tar.gz", "foo-bar-1.0.tar.gz", "foo.bar-2.tar.gz", "foo_bar-1.0-py3-none-any.whl", "FOO__BAR-1-py2.py3-none-any.whl"},
		"a":       {"a-1b.tar.gz"},
	}
	for project, filenames := range good {
		for _, f := range filenames {
			if err := CheckFile(project, f); err != nil {
				t.Errorf("CheckFile(%s, %s): %v", project, f, err)
			}
		}
	}
	bad := map[string][]string{
		"foo": {
			"foo.tar.gz", "foo-.tar.gz", "foo-1.0.tar.bz2", "foo-1.0.egg", "foo-1.0-py3.8.egg", "foo-1.0.exe", "foo-1.0.tar.gz.asc",
			"foo-1.0-py3-none.whl", "foo-1.0-1-2-py3-none-any.whl", "foo-1.0--py3-none-any.whl", "foo-bar-1.0-py3-none-any.whl",
			"bar-1.0.tar.gz", "foobar-1.0.tar.gz", "-foo-1.0.tar.gz", "foo-1.0.TAR.GZ", "foo-1.0.WHL", "foo 1.0.tar.gz", "foo-1.0/x.tar.gz",
			"foo-1.0\u00e9.tar.gz", "", ".", "foo-1.0-py3-none-any.whl\n", "foo-v1.0.tar.gz", "foo-1.0-b1-py3-none-any.whl",
		},
		"foo-bar": {"foo-1.0.tar.gz", "foo_bar_baz-1.0.tar.gz", "foo-bar-py3-none-any-x.whl"},
		"a":       {"a-b.tar.gz"},
		"a-b-c-d-e-f": {
			// Beyond tiles.MaxFilenameProjects dashes, the log would not
			// look for the project: not claimable.
			"a-b-c-d-e-f-1.0.tar.gz",
		},
	}
	for project, filenames := range bad {
		for _, f := range filenames {
			if err := CheckFile(project, f); !errors.Is(err, ErrMalformed) {
				t.Errorf("CheckFile(%s, %q) = %v, want ErrMalformed", project, f, err)
			}
		}
	}
}

func TestProjectOf(t *testing.T) {
	tests := []struct {
		files   []string
		project string
		err     string
	}{
		{[]string{"foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz"}, "foo", ""},
		{[]string{"Foo_Bar-1.0.tar.gz"}, "foo-bar", ""},
		{[]string{"foo-bar-1.0.tar.gz"}, "foo-bar", ""},
		{[]string{"foo-bar-1.0.tar.gz", "foo-1.0-py3-none-any.whl"}, "", "different projects"},
		{[]string{"foo-bar-1.0-py3-none-any.whl"}, "", "is not a wheel"},
		{[]string{"foo_bar-1.0-py3-none-any.whl", "foo-bar-1.0.tar.gz"}, "foo-bar", ""},
		{[]string{"foo-1-2.tar.gz"}, "", "could be of projects foo or foo-1"},
		{[]string{"foo-bar-baz.tar.gz"}, "", "is not a wheel"},
		{[]string{"foo-1.0.tar.gz", "bar-1.0.tar.gz"}, "", "different projects"},
		{[]string{"foo-1.0.exe"}, "", "is not a wheel"},
		{[]string{"caf\u00e9-1.0.tar.gz"}, "", "not printable ASCII"},
		{nil, "", "no file"},
	}
	for _, tt := range tests {
		got, err := ProjectOf(tt.files)
		switch {
		case tt.err == "" && (err != nil || got != tt.project):
			t.Errorf("ProjectOf(%q) = %q, %v; want %q", tt.files, got, err, tt.project)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ProjectOf(%q) = %q, %v; want error %q", tt.files, got, err, tt.err)
		}
	}
}

func TestSplitNote(t *testing.T) {
	msg, _ := Sign(testClaim(), signer(t, testSKey))
	text, _ := Format(testClaim())
	if got, signed := SplitNote(msg); !signed || !bytes.Equal(got, text) {
		t.Errorf("SplitNote(signed) = %q, %v", got, signed)
	}
	if got, signed := SplitNote(text); signed || !bytes.Equal(got, text) {
		t.Errorf("SplitNote(text) = %q, %v", got, signed)
	}
}

// FuzzParseClaim checks that Parse never panics, accepts only what Format
// writes back byte for byte, and that Open agrees with Parse.
func FuzzParseClaim(f *testing.F) {
	good, _ := Format(testClaim())
	f.Add(good)
	msg, _ := Sign(testClaim(), signer(f, testSKey))
	f.Add(msg)
	f.Add([]byte("pysumdb-claim/v1\nproject a\ntime 2026-11-28T05:00:00Z\na-1.tar.gz sha256:" + strings.Repeat("0", 64) + " 1\n"))
	f.Add([]byte("pysumdb-claim/v1\nproject a\ntime 2026-11-28T05:00:00Z\n"))
	f.Add([]byte{})
	s := signer(f, testSKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := Format(c)
		if err != nil {
			t.Fatalf("Format(Parse(%q)): %v", data, err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("Format(Parse(%q)) = %q", data, again)
		}
		signed, err := note.Sign(&note.Note{Text: string(data)}, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(signed) <= MaxSize {
			opened, err := Open(signed, testVKey)
			if err != nil || !reflect.DeepEqual(opened, c) {
				t.Fatalf("Open(Sign(%q)) = %+v, %v", data, opened, err)
			}
		}
	})
}
