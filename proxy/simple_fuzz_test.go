package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// simpleFuzzTypes are the content types FuzzParseProjectPage parses a body
// as, by its selector byte.
var simpleFuzzTypes = [...]string{MediaTypeJSON, MediaTypeLegacy, MediaTypeHTML}

// FuzzParseProjectPage checks that no page makes ParseProjectPage panic,
// that what it returns keeps its promises, and that every page it parses
// renders to JSON and HTML that parse back to the same page.
func FuzzParseProjectPage(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "simple", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		kind := byte(0)
		if strings.HasSuffix(name, ".html") {
			kind = 1
		}
		f.Add(kind, body)
	}
	f.Add(byte(1), []byte(simpleHTMLPage(
		`<a href="../../f/foo-1.0.tar.gz#sha256=`+simpleSHA256+`&md5=`+simpleMD5+`" data-requires-python="&gt;=3" data-yanked="r&amp;d">foo-1.0.tar.gz</a>`,
		`<a href="https://h.example/a%20b/foo-2.0.tar.gz?x=1&amp;y='2'"></a>`,
		`<base href="//cdn.example/x/">`,
	)))
	f.Add(byte(0), []byte(`{"meta":{"api-version":"1.1"},"name":"Foo","versions":["1"],"files":[{"filename":"foo-1.0.tar.gz","url":"/f?a=<b>&c","hashes":{"sha256":"`+simpleSHA256+`","x_1":"ab"},"yanked":"why\u2028\"not\"","size":0,"upload-time":"2024-01-02T03:04:05Z","requires-python":"\u00e9"}]}`))
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		contentType := simpleFuzzTypes[int(kind)%len(simpleFuzzTypes)]
		p, err := ParseProjectPage(contentType, body, simpleTestBase)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "couldn't parse the project page: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		checkSimplePage(t, p)
		checkSimpleRoundTrip(t, p)
	})
}

// checkSimplePage checks the promises Page and File make of a page
// ParseProjectPage returned.
func checkSimplePage(t *testing.T, p Page) {
	if len(p.Files) > MaxPageFiles {
		t.Fatalf("%d files", len(p.Files))
	}
	if p.Files != nil && len(p.Files) == 0 {
		t.Fatal("Files empty but not nil")
	}
	seen := map[string]bool{}
	for _, f := range p.Files {
		if seen[f.Filename] {
			t.Fatalf("%q twice", f.Filename)
		}
		seen[f.Filename] = true
		if !strings.HasPrefix(f.URL, "http://") && !strings.HasPrefix(f.URL, "https://") || strings.Contains(f.URL, "#") || !utf8.ValidString(f.URL) {
			t.Fatalf("URL %q", f.URL)
		}
		if f.Hashes != nil && len(f.Hashes) == 0 || len(f.Hashes) > simpleMaxHashes {
			t.Fatalf("hashes %#v", f.Hashes)
		}
		for name, value := range f.Hashes {
			if err := checkSimpleHash(name, value); err != nil {
				t.Fatal(err)
			}
		}
		if f.Size < -1 || !f.Yanked && f.YankedReason != "" {
			t.Fatalf("file %#v", f)
		}
		for _, s := range []string{f.RequiresPython, f.YankedReason} {
			if s != cleanSimpleText(s) {
				t.Fatalf("text %q not clean", s)
			}
		}
	}
}

// FuzzNegotiate checks that Negotiate doesn't panic and answers one of
// the types served, or nothing with ok false.
func FuzzNegotiate(f *testing.F) {
	for _, accept := range []string{
		simplePipAccept, simpleUVAccept, "", "*/*", "text/html;q=0", "application/*;q=0.5, text/*;level=\"a\\\"b\";q=1;x",
		"application/vnd.pypi.simple.latest+json;q=0.001", " ,, text/html ;  q=1.000 ,",
	} {
		f.Add(accept, "")
	}
	f.Add("", "application/vnd.pypi.simple.v1 json")
	f.Add("text/html", "text/plain")
	f.Fuzz(func(t *testing.T, accept, format string) {
		mediaType, ok := Negotiate(accept, format)
		switch {
		case !ok && mediaType != "":
			t.Fatalf("Negotiate(%q, %q) = %q, false", accept, format, mediaType)
		case ok && mediaType != MediaTypeJSON && mediaType != MediaTypeHTML && mediaType != MediaTypeLegacy:
			t.Fatalf("Negotiate(%q, %q) = %q", accept, format, mediaType)
		}
		// format overrides Accept.
		if got, ok := Negotiate(accept, MediaTypeJSON); got != MediaTypeJSON || !ok {
			t.Fatalf("Negotiate(%q, %q) = %q, %v", accept, MediaTypeJSON, got, ok)
		}
	})
}
