package tiles

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"
)

// pepExample is the example entry of the draft PEP "Index support for
// auditable package distribution", byte for byte.
const pepExample = "pypi-transparency/v1\n" +
	"sha256:bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4\n" +
	"urllib3-2.6.3-py3-none-any.whl\n" +
	"publisher github https://github.com/urllib3/urllib3/.github/workflows/publish.yml@refs/tags/2.6.3\n"

// pepExampleNoPublisher is pepExample without its publisher line.
const pepExampleNoPublisher = "pypi-transparency/v1\n" +
	"sha256:bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4\n" +
	"urllib3-2.6.3-py3-none-any.whl\n"

const (
	pepHex = "bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4"
	pepSAN = "https://github.com/urllib3/urllib3/.github/workflows/publish.yml@refs/tags/2.6.3"

	// Leaf hashes, SHA-256(0x00 || entry), computed once (also with
	// `(printf '\0'; cat entry) | sha256sum`) and pinned.
	pepLeafHash            = "c2fb1810a7c496abc1f736c1b8f56efd87e407b71425d22c6dd832e95c17349d"
	pepNoPublisherLeafHash = "8852e68e4585baf231f9c94c525e042a1ed95d498508a0f182f7f8aa4af214c8"
)

func mustDigest(t testing.TB, s string) [32]byte {
	t.Helper()
	d, err := ParseHexDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testEntry returns a valid, distinct entry for leaf i.
func testEntry(i int64) []byte {
	e := Entry{
		SHA256:   sha256.Sum256([]byte(fmt.Sprint(i))),
		Filename: fmt.Sprintf("pkg%d-1.0.%d-py3-none-any.whl", i%97, i),
	}
	if i%3 == 0 {
		e.Publisher = &Publisher{Kind: PublisherGitHub, SAN: fmt.Sprintf("https://github.com/o/pkg%d/.github/workflows/release.yml@refs/tags/v%d", i%97, i)}
	}
	b, err := FormatEntry(e)
	if err != nil {
		panic(err)
	}
	return b
}

func TestEntryGoldenPEPExample(t *testing.T) {
	want := Entry{
		SHA256:    mustDigest(t, pepHex),
		Filename:  "urllib3-2.6.3-py3-none-any.whl",
		Publisher: &Publisher{Kind: "github", SAN: pepSAN},
	}
	got, err := FormatEntry(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != pepExample {
		t.Fatalf("FormatEntry =\n%q\nwant\n%q", got, pepExample)
	}
	parsed, err := ParseEntry([]byte(pepExample))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, want) {
		t.Fatalf("ParseEntry = %+v (publisher %+v), want %+v", parsed, parsed.Publisher, want)
	}
	if h := tlog.RecordHash([]byte(pepExample)); hex.EncodeToString(h[:]) != pepLeafHash {
		t.Errorf("leaf hash = %x, want %s", h[:], pepLeafHash)
	}

	want.Publisher = nil
	got, err = FormatEntry(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != pepExampleNoPublisher {
		t.Fatalf("FormatEntry without publisher =\n%q\nwant\n%q", got, pepExampleNoPublisher)
	}
	if h := tlog.RecordHash(got); hex.EncodeToString(h[:]) != pepNoPublisherLeafHash {
		t.Errorf("leaf hash without publisher = %x, want %s", h[:], pepNoPublisherLeafHash)
	}
	// LeafHashes agrees with tlog.RecordHash.
	lh := LeafHashes([][]byte{[]byte(pepExample), got})
	if hex.EncodeToString(lh) != pepLeafHash+pepNoPublisherLeafHash {
		t.Errorf("LeafHashes = %x", lh)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	digest := mustDigest(t, pepHex)
	tests := []struct {
		name  string
		entry Entry
		text  string
	}{
		{
			name:  "no publisher",
			entry: Entry{SHA256: digest, Filename: "urllib3-2.6.3.tar.gz"},
			text:  "pypi-transparency/v1\nsha256:" + pepHex + "\nurllib3-2.6.3.tar.gz\n",
		},
		{
			name:  "github",
			entry: Entry{SHA256: digest, Filename: "urllib3-2.6.3-py3-none-any.whl", Publisher: &Publisher{Kind: PublisherGitHub, SAN: pepSAN}},
			text:  pepExample,
		},
		{
			name:  "gitlab",
			entry: Entry{SHA256: digest, Filename: "a-1.zip", Publisher: &Publisher{Kind: PublisherGitLab, SAN: "https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main"}},
			text:  "pypi-transparency/v1\nsha256:" + pepHex + "\na-1.zip\npublisher gitlab https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main\n",
		},
		{
			name:  "google",
			entry: Entry{SHA256: digest, Filename: "b-2.tar.gz", Publisher: &Publisher{Kind: PublisherGoogle, SAN: "release@example.iam.gserviceaccount.com"}},
			text:  "pypi-transparency/v1\nsha256:" + pepHex + "\nb-2.tar.gz\npublisher google release@example.iam.gserviceaccount.com\n",
		},
		{
			name:  "zero digest",
			entry: Entry{Filename: "z.whl"},
			text:  "pypi-transparency/v1\nsha256:" + strings.Repeat("0", 64) + "\nz.whl\n",
		},
		{
			name:  "non-ASCII printable filename",
			entry: Entry{SHA256: digest, Filename: "café-1.0.tar.gz"},
			text:  "pypi-transparency/v1\nsha256:" + pepHex + "\ncafé-1.0.tar.gz\n",
		},
		{
			name:  "filename of maximal length",
			entry: Entry{SHA256: digest, Filename: strings.Repeat("a", MaxFilenameLen)},
			text:  "pypi-transparency/v1\nsha256:" + pepHex + "\n" + strings.Repeat("a", MaxFilenameLen) + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatEntry(tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.text {
				t.Fatalf("FormatEntry =\n%q\nwant\n%q", got, tt.text)
			}
			e, err := ParseEntry(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e, tt.entry) {
				t.Fatalf("ParseEntry = %+v, want %+v", e, tt.entry)
			}
		})
	}
}

func TestParseEntryRejects(t *testing.T) {
	header := "pypi-transparency/v1\n"
	sha := "sha256:" + pepHex + "\n"
	file := "urllib3-2.6.3-py3-none-any.whl\n"
	pub := "publisher github " + pepSAN + "\n"
	withFile := func(name string) string { return header + sha + name + "\n" }
	withPub := func(line string) string { return header + sha + file + line + "\n" }
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"only header", header},
		{"two lines", header + sha},
		{"uppercase hex", header + "sha256:" + strings.ToUpper(pepHex) + "\n" + file},
		{"one uppercase hex digit", header + "sha256:B" + pepHex[1:] + "\n" + file},
		{"short hex", header + "sha256:" + pepHex[:63] + "\n" + file},
		{"long hex", header + "sha256:" + pepHex + "0\n" + file},
		{"non-hex digit", header + "sha256:g" + pepHex[1:] + "\n" + file},
		{"no sha256 prefix", header + pepHex + "\n" + file},
		{"SHA256 prefix", header + "SHA256:" + pepHex + "\n" + file},
		{"sha512 prefix", header + "sha512:" + pepHex + "\n" + file},
		{"space after sha256:", header + "sha256: " + pepHex + "\n" + file},
		{"missing trailing LF", strings.TrimSuffix(pepExample, "\n")},
		{"missing trailing LF without publisher", strings.TrimSuffix(pepExampleNoPublisher, "\n")},
		{"CRLF", strings.ReplaceAll(pepExample, "\n", "\r\n")},
		{"CR at end of last line", strings.TrimSuffix(pepExample, "\n") + "\r\n"},
		{"CR at end of filename", header + sha + "urllib3-2.6.3-py3-none-any.whl\r\n"},
		{"extra line", pepExample + "extra\n"},
		{"extra empty line", pepExample + "\n"},
		{"empty line instead of publisher", pepExampleNoPublisher + "\n"},
		{"empty line between", header + "\n" + sha + file},
		{"wrong version", "pypi-transparency/v2\n" + sha + file},
		{"header with trailing space", "pypi-transparency/v1 \n" + sha + file},
		{"leading BOM", "\ufeff" + pepExample},
		{"leading space", " " + pepExample},
		{"leading LF", "\n" + pepExample},
		{"empty filename", withFile("")},
		{"filename with space", withFile("a b.whl")},
		{"filename with trailing space", withFile("a.whl ")},
		{"filename with tab", withFile("a\tb.whl")},
		{"filename with slash", withFile("a/b.whl")},
		{"filename with backslash", withFile(`a\b.whl`)},
		{"filename with NUL", withFile("a\x00b.whl")},
		{"filename with control char", withFile("a\x01b.whl")},
		{"filename with DEL", withFile("a\x7fb.whl")},
		{"filename with ESC", withFile("a\x1b[31mb.whl")},
		{"filename with C1 control", withFile("a\u0085b.whl")},
		{"filename with NBSP", withFile("a\u00a0b.whl")},
		{"filename with zero-width space", withFile("a\u200bb.whl")},
		{"filename with line separator", withFile("a\u2028b.whl")},
		{"filename not UTF-8", withFile("a\xffb.whl")},
		{"filename with surrogate half", withFile("a\xed\xa0\x80b.whl")},
		{"filename dot", withFile(".")},
		{"filename dot dot", withFile("..")},
		{"filename too long", withFile(strings.Repeat("a", MaxFilenameLen+1))},
		{"unknown publisher kind", withPub("publisher bitbucket https://bitbucket.org/x")},
		{"capitalized publisher kind", withPub("publisher GitHub " + pepSAN)},
		{"publisher missing SAN", withPub("publisher github")},
		{"publisher empty SAN", withPub("publisher github ")},
		{"publisher missing kind and SAN", withPub("publisher")},
		{"publisher empty kind", withPub("publisher  " + pepSAN)},
		{"publisher double space", withPub("publisher github  " + pepSAN)},
		{"publisher SAN with space", withPub("publisher github https://github.com/a b")},
		{"publisher SAN with tab", withPub("publisher github https://github.com/a\tb")},
		{"publisher trailing space", withPub("publisher github " + pepSAN + " ")},
		{"publisher SAN with CR", withPub("publisher github " + pepSAN + "\r")},
		{"publisher SAN with control char", withPub("publisher github a\x01b")},
		{"publisher SAN not UTF-8", withPub("publisher github a\xffb")},
		{"publisher keyword capitalized", withPub("Publisher github " + pepSAN)},
		{"publisher keyword with colon", withPub("publisher: github " + pepSAN)},
		{"publisher leading space", withPub(" publisher github " + pepSAN)},
		{"publisher before filename", header + sha + pub + file},
		{"two publishers", pepExample + pub},
		{"too large", withPub("publisher github " + strings.Repeat("a", MaxEntrySize))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEntry([]byte(tt.text))
			if err == nil {
				t.Fatalf("ParseEntry(%q) = %+v, want error", tt.text, e)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseEntry(%q) error %v does not wrap ErrMalformed", tt.text, err)
			}
		})
	}
}

func TestFormatEntryRejects(t *testing.T) {
	digest := mustDigest(t, pepHex)
	tests := []struct {
		name  string
		entry Entry
	}{
		{"empty filename", Entry{SHA256: digest}},
		{"filename with newline", Entry{SHA256: digest, Filename: "a.whl\npublisher github x"}},
		{"filename with space", Entry{SHA256: digest, Filename: "a b.whl"}},
		{"filename with slash", Entry{SHA256: digest, Filename: "../a.whl"}},
		{"filename not UTF-8", Entry{SHA256: digest, Filename: "\xff.whl"}},
		{"filename too long", Entry{SHA256: digest, Filename: strings.Repeat("a", MaxFilenameLen+1)}},
		{"unknown kind", Entry{SHA256: digest, Filename: "a.whl", Publisher: &Publisher{Kind: "bitbucket", SAN: "x"}}},
		{"empty kind", Entry{SHA256: digest, Filename: "a.whl", Publisher: &Publisher{SAN: "x"}}},
		{"empty SAN", Entry{SHA256: digest, Filename: "a.whl", Publisher: &Publisher{Kind: PublisherGitHub}}},
		{"SAN with space", Entry{SHA256: digest, Filename: "a.whl", Publisher: &Publisher{Kind: PublisherGitHub, SAN: "a b"}}},
		{"SAN with newline", Entry{SHA256: digest, Filename: "a.whl", Publisher: &Publisher{Kind: PublisherGitHub, SAN: "a\nb"}}},
		{"SAN not UTF-8", Entry{SHA256: digest, Filename: "a.whl", Publisher: &Publisher{Kind: PublisherGitHub, SAN: "a\xff"}}},
		{"entry too large", Entry{SHA256: digest, Filename: "a.whl", Publisher: &Publisher{Kind: PublisherGitHub, SAN: strings.Repeat("a", MaxEntrySize)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := FormatEntry(tt.entry)
			if err == nil {
				t.Fatalf("FormatEntry = %q, want error", b)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("FormatEntry error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestEntryLargestSize(t *testing.T) {
	// An entry of exactly MaxEntrySize bytes is accepted both ways; one
	// more byte is not.
	base := "pypi-transparency/v1\nsha256:" + pepHex + "\na.whl\npublisher github \n"
	san := strings.Repeat("s", MaxEntrySize-len(base))
	e := Entry{SHA256: mustDigest(t, pepHex), Filename: "a.whl", Publisher: &Publisher{Kind: PublisherGitHub, SAN: san}}
	b, err := FormatEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MaxEntrySize {
		t.Fatalf("len = %d, want %d", len(b), MaxEntrySize)
	}
	if _, err := ParseEntry(b); err != nil {
		t.Fatal(err)
	}
	e.Publisher.SAN += "s"
	if _, err := FormatEntry(e); !errors.Is(err, ErrMalformed) {
		t.Fatalf("FormatEntry of %d bytes: err = %v, want ErrMalformed", MaxEntrySize+1, err)
	}
}

func TestParseSHA256(t *testing.T) {
	d, err := ParseSHA256("sha256:" + pepHex)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(d[:]) != pepHex {
		t.Fatalf("ParseSHA256 = %x", d)
	}
	if got := FormatSHA256(d); got != "sha256:"+pepHex {
		t.Fatalf("FormatSHA256 = %q", got)
	}
	d2, err := ParseHexDigest(pepHex)
	if err != nil || d2 != d {
		t.Fatalf("ParseHexDigest = %x, %v", d2, err)
	}
	for _, s := range []string{
		"", "sha256:", pepHex, "sha256:" + strings.ToUpper(pepHex), "sha256:" + pepHex[:62],
		"sha256:" + pepHex + "00", "sha256:" + pepHex + " ", " sha256:" + pepHex, "sha256:0x" + pepHex[2:],
		"sha256:" + pepHex[:63] + "\n",
	} {
		if d, err := ParseSHA256(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseSHA256(%q) = %x, %v; want ErrMalformed", s, d, err)
		}
	}
	for _, s := range []string{"", "sha256:" + pepHex, strings.ToUpper(pepHex), pepHex[:63] + "G"} {
		if d, err := ParseHexDigest(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseHexDigest(%q) = %x, %v; want ErrMalformed", s, d, err)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(pepExample))
	f.Add([]byte(pepExampleNoPublisher))
	f.Add([]byte(strings.ReplaceAll(pepExample, "\n", "\r\n")))
	f.Add([]byte("\ufeff" + pepExample))
	f.Add([]byte(pepExample + "\n"))
	f.Add([]byte(strings.Replace(pepExample, "github", "google", 1)))
	f.Add([]byte(strings.Replace(pepExample, "github", "gitlab", 1)))
	f.Add([]byte(strings.Replace(pepExample, "bf27", "BF27", 1)))
	f.Add([]byte(strings.Replace(pepExample, "urllib3-2.6.3", "urllib3 2.6.3", 1)))
	f.Add([]byte(strings.Replace(pepExample, "urllib3-2.6.3", "café\u00a0", 1)))
	f.Add([]byte("pypi-transparency/v1\nsha256:" + pepHex + "\n\xff\n"))
	f.Add(testEntry(3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := FormatEntry(e)
		if err != nil {
			t.Fatalf("ParseEntry(%q) = %+v, but FormatEntry fails: %v", data, e, err)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("FormatEntry(ParseEntry(%q)) = %q", data, b)
		}
	})
}

// FuzzFormatEntry checks the other direction: whatever FormatEntry
// accepts, ParseEntry reads back unchanged.
func FuzzFormatEntry(f *testing.F) {
	f.Add(pepHex, "urllib3-2.6.3-py3-none-any.whl", "github", pepSAN)
	f.Add(pepHex, "a.tar.gz", "", "")
	f.Add(pepHex, "a b", "google", "x@y")
	f.Add(pepHex, "a\nb", "gitlab", "x y")
	f.Add(pepHex, "é", "github", "\u2028")
	f.Fuzz(func(t *testing.T, digest, filename, kind, san string) {
		var d [32]byte
		copy(d[:], digest)
		e := Entry{SHA256: d, Filename: filename}
		if kind != "" || san != "" {
			e.Publisher = &Publisher{Kind: kind, SAN: san}
		}
		b, err := FormatEntry(e)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		got, err := ParseEntry(b)
		if err != nil {
			t.Fatalf("FormatEntry(%+v) = %q, which ParseEntry rejects: %v", e, b, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("ParseEntry(FormatEntry(%+v)) = %+v", e, got)
		}
	})
}

func BenchmarkFormatEntry(b *testing.B) {
	e := Entry{
		SHA256:    sha256.Sum256([]byte("x")),
		Filename:  "urllib3-2.6.3-py3-none-any.whl",
		Publisher: &Publisher{Kind: PublisherGitHub, SAN: pepSAN},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FormatEntry(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEntry(b *testing.B) {
	data := []byte(pepExample)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseEntry(data); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCheckFilename checks the ASCII fast path of CheckFilename against
// the plain rule, rune by rune.
func FuzzCheckFilename(f *testing.F) {
	for _, s := range []string{"foo-1.0.tar.gz", "a b", "a/b", `a\b`, "a\x7fb", "é.whl", "a\u00a0b", "a\u2028b", "", ".", ".."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := name != "" && len(name) <= MaxFilenameLen && utf8.ValidString(name) && name != "." && name != ".."
		for _, r := range name {
			if unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '/' || r == '\\' {
				want = false
			}
		}
		if err := CheckFilename(name); (err == nil) != want {
			t.Fatalf("CheckFilename(%q) = %v, want ok = %v", name, err, want)
		}
	})
}
