package proxy

import (
	"bytes"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var simpleUpdate = flag.Bool("update-simple", false, "rewrite the rendered golden files of testdata/simple")

// simpleTestBase is the URL the test pages are served from.
var simpleTestBase = mustParseSimpleURL("https://pypi.org/simple/idna/")

func mustParseSimpleURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// simpleIdnaPage is what testdata/simple/pypi-idna.json says.
func simpleIdnaPage() Page {
	const files = "https://files.pythonhosted.org/packages/"
	return Page{
		Name: "idna",
		Files: []File{
			{
				Filename:       "idna-3.6-py3-none-any.whl",
				URL:            files + "c2/e7/a82b05cf63a603df6e68d59ae6a68bf5064484a0718ea5033660af4b54a9/idna-3.6-py3-none-any.whl",
				Hashes:         map[string]string{"sha256": "c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f"},
				RequiresPython: ">=3.5",
				Size:           61567,
				UploadTime:     "2023-11-25T15:40:52.604Z",
			},
			{
				Filename:       "idna-3.6.tar.gz",
				URL:            files + "bf/3f/ea4b9117521a1e9c50344b909be7886dd00a519552724809bb1f486986c2/idna-3.6.tar.gz",
				Hashes:         map[string]string{"sha256": "9ecdbbd083b06798ae1e86adcbfe8ab1479cf864e4ee30fe4e46a003d12491ca"},
				RequiresPython: ">=3.5",
				Size:           175426,
				UploadTime:     "2023-11-25T15:40:54.902Z",
			},
			{
				Filename:       "idna-3.7-py3-none-any.whl",
				URL:            files + "e5/3e/741d8c82801c347547f8a2a06aa57dbb1992be9e948df2ea0eda2c8b79e8/idna-3.7-py3-none-any.whl",
				Hashes:         map[string]string{"sha256": "82fee1fc78add43492d3a1898bfa6d8a904cc97d8427f683ed8e798d07761aa0"},
				RequiresPython: ">=3.5",
				Size:           66836,
				UploadTime:     "2024-04-11T03:34:41.447Z",
			},
			{
				Filename:       "idna-3.7.tar.gz",
				URL:            files + "21/ed/f86a79a07470cb07819390452f178b3bef1d375f2ec021ecfc709fc7cf07/idna-3.7.tar.gz",
				Hashes:         map[string]string{"sha256": "028ff3aadf0609c1fd278d8ea3089299412a7a8b9bd005dd08b9f8285bcb5cfc"},
				RequiresPython: ">=3.5",
				Size:           189575,
				UploadTime:     "2024-04-11T03:34:43.276Z",
			},
		},
		Versions: []string{"3.6", "3.7"},
	}
}

// simpleHTMLView is what of p an HTML page can say: no sizes, upload
// times or versions, and of the hashes only sha256.
func simpleHTMLView(p Page) Page {
	view := Page{Name: p.Name}
	for _, f := range p.Files {
		f.Size, f.UploadTime = -1, ""
		hashes := f.Hashes
		f.Hashes = nil
		if h, ok := hashes["sha256"]; ok {
			f.Hashes = map[string]string{"sha256": h}
		}
		if !f.Yanked {
			f.YankedReason = ""
		}
		view.Files = append(view.Files, f)
	}
	return view
}

// checkSimpleRoundTrip checks that p, a page ParseProjectPage gave,
// renders to JSON that parses back to p, and to HTML that parses back to
// what HTML can say of p.
func checkSimpleRoundTrip(t testing.TB, p Page) {
	t.Helper()
	for _, format := range []struct {
		contentType string
		body        []byte
		want        Page
	}{
		{MediaTypeJSON, p.RenderJSON(), p},
		{MediaTypeHTML, p.RenderHTML(), simpleHTMLView(p)},
		{MediaTypeLegacy, p.RenderHTML(), simpleHTMLView(p)},
	} {
		// Another base than the page's: the URLs are absolute.
		got, err := ParseProjectPage(format.contentType, format.body, mustParseSimpleURL("http://proxy.example/simple/x/"))
		if err != nil {
			t.Fatalf("the page rendered as %s doesn't parse: %v\n%s", format.contentType, err, format.body)
		}
		if !reflect.DeepEqual(got, format.want) {
			t.Fatalf("the page rendered as %s parses to\n%s\nwant\n%s\nrendered:\n%s", format.contentType, simpleDump(got), simpleDump(format.want), format.body)
		}
	}
}

// simpleDump writes p for a test's failure, one file a line.
func simpleDump(p Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Name %q Versions %#v\n", p.Name, p.Versions)
	for _, f := range p.Files {
		fmt.Fprintf(&b, "  %#v\n", f)
	}
	return b.String()
}

func readSimpleTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "simple", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSimpleParsePyPI(t *testing.T) {
	for _, tt := range []struct {
		file, contentType string
		want              Page
	}{
		{"pypi-idna.json", MediaTypeJSON, simpleIdnaPage()},
		// What PyPI sends with each.
		{"pypi-idna.json", MediaTypeJSON + "; charset=utf-8", simpleIdnaPage()},
		{"pypi-idna.html", "text/html; charset=UTF-8", simpleHTMLView(simpleIdnaPage())},
		{"pypi-idna.html", MediaTypeHTML, simpleHTMLView(simpleIdnaPage())},
	} {
		t.Run(tt.file+" "+tt.contentType, func(t *testing.T) {
			got, err := ParseProjectPage(tt.contentType, readSimpleTestdata(t, tt.file), simpleTestBase)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got\n%s\nwant\n%s", simpleDump(got), simpleDump(tt.want))
			}
			checkSimpleRoundTrip(t, got)
		})
	}
}

func TestSimpleRenderGolden(t *testing.T) {
	p := simpleIdnaPage()
	for name, got := range map[string][]byte{
		"idna.rendered.json": p.RenderJSON(),
		"idna.rendered.html": p.RenderHTML(),
	} {
		path := filepath.Join("testdata", "simple", name)
		if *simpleUpdate {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want := readSimpleTestdata(t, name)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: rendered\n%s\nwant\n%s\n(go test ./proxy -run TestSimpleRenderGolden -update-simple rewrites it)", name, got, want)
		}
	}
}

// simpleHTMLPage wraps links in a page as PyPI shapes it.
func simpleHTMLPage(links ...string) string {
	return "<!DOCTYPE html>\n<html><head><title>Links for foo</title></head><body>\n" +
		strings.Join(links, "<br/>\n") + "\n</body></html>\n"
}

const (
	simpleSHA256 = "c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f"
	simpleMD5    = "0123456789abcdef0123456789abcdef"
)

func TestSimpleParseHTML(t *testing.T) {
	base := mustParseSimpleURL("https://example.org/simple/foo/")
	file := func(filename, url string, hashes map[string]string) File {
		return File{Filename: filename, URL: url, Hashes: hashes, Size: -1}
	}
	sha := map[string]string{"sha256": simpleSHA256}
	for _, tt := range []struct {
		name string
		body string
		want Page   // when err is ""
		err  string // a part of the error
	}{
		{
			name: "relative URL, hash",
			body: simpleHTMLPage(`<a href="../../files/foo-1.0.tar.gz#sha256=` + simpleSHA256 + `">foo-1.0.tar.gz</a>`),
			want: Page{Name: "foo", Files: []File{file("foo-1.0.tar.gz", "https://example.org/files/foo-1.0.tar.gz", sha)}},
		},
		{
			name: "no hash, uppercase hex, other algorithms, non-hash fragments",
			body: simpleHTMLPage(
				`<a href="/a/foo-1.0.tar.gz">foo-1.0.tar.gz</a>`,
				`<a href="/a/foo-1.1.tar.gz#SHA256=`+strings.ToUpper(simpleSHA256)+`">foo-1.1.tar.gz</a>`,
				`<a href="/a/foo-1.2.tar.gz#md5=`+simpleMD5+`&amp;sha256=`+simpleSHA256+`">foo-1.2.tar.gz</a>`,
				`<a href="/a/foo-1.3.tar.gz#egg=cafe">foo-1.3.tar.gz</a>`,
			),
			want: Page{Name: "foo", Files: []File{
				file("foo-1.0.tar.gz", "https://example.org/a/foo-1.0.tar.gz", nil),
				file("foo-1.1.tar.gz", "https://example.org/a/foo-1.1.tar.gz", sha),
				file("foo-1.2.tar.gz", "https://example.org/a/foo-1.2.tar.gz", map[string]string{"sha256": simpleSHA256, "md5": simpleMD5}),
				file("foo-1.3.tar.gz", "https://example.org/a/foo-1.3.tar.gz", nil),
			}},
		},
		{
			name: "requires-python and yanked, escaped; metadata attributes dropped",
			body: simpleHTMLPage(
				`<a href="foo-1.0-py3-none-any.whl" data-requires-python="&gt;=3.8,&lt;4" data-dist-info-metadata="sha256=`+simpleSHA256+`" data-core-metadata="true" data-gpg-sig="false">foo-1.0-py3-none-any.whl</a>`,
				`<a href="foo-0.9.tar.gz" data-yanked="">foo-0.9.tar.gz</a>`,
				`<a href="foo-0.8.tar.gz" data-yanked>foo-0.8.tar.gz</a>`,
				`<a href="foo-0.7.tar.gz" data-yanked="broken &amp; &quot;bad&quot;">foo-0.7.tar.gz</a>`,
			),
			want: Page{Name: "foo", Files: []File{
				{Filename: "foo-1.0-py3-none-any.whl", URL: "https://example.org/simple/foo/foo-1.0-py3-none-any.whl", RequiresPython: ">=3.8,<4", Size: -1},
				{Filename: "foo-0.9.tar.gz", URL: "https://example.org/simple/foo/foo-0.9.tar.gz", Yanked: true, Size: -1},
				{Filename: "foo-0.8.tar.gz", URL: "https://example.org/simple/foo/foo-0.8.tar.gz", Yanked: true, Size: -1},
				{Filename: "foo-0.7.tar.gz", URL: "https://example.org/simple/foo/foo-0.7.tar.gz", Yanked: true, YankedReason: `broken & "bad"`, Size: -1},
			}},
		},
		{
			name: "control characters in displayed text",
			body: simpleHTMLPage("<a href=\"foo-1.0.tar.gz\" data-requires-python=\"&gt;=3.8,\r\n&lt;4\xff\" data-yanked=\"a\x00b\x01\">foo-1.0.tar.gz</a>"),
			want: Page{Name: "foo", Files: []File{
				{Filename: "foo-1.0.tar.gz", URL: "https://example.org/simple/foo/foo-1.0.tar.gz", RequiresPython: ">=3.8, <4\uFFFD", Yanked: true, YankedReason: "a\uFFFDb ", Size: -1},
			}},
		},
		{
			name: "filename from the URL, escaped; text trimmed; nested tags",
			body: simpleHTMLPage(
				`<a href="https://files.example/x/foo%2B1-1.0.tar.gz"></a>`,
				`<a href="https://files.example/y/foo-1.1.tar.gz">  foo-1.1.tar.gz
				</a>`,
				`<a href="https://files.example/z/foo-1.2.tar.gz"><b>foo-1.2</b>.tar.gz</a>`,
				`<a href="https://files.example/w/foo-1.3.tar.gz"/>`,
			),
			want: Page{Name: "foo", Files: []File{
				file("foo+1-1.0.tar.gz", "https://files.example/x/foo%2B1-1.0.tar.gz", nil),
				file("foo-1.1.tar.gz", "https://files.example/y/foo-1.1.tar.gz", nil),
				file("foo-1.2.tar.gz", "https://files.example/z/foo-1.2.tar.gz", nil),
				file("foo-1.3.tar.gz", "https://files.example/w/foo-1.3.tar.gz", nil),
			}},
		},
		{
			name: "base href, even after the links; links without href skipped; script ignored",
			body: `<html><head><title>Links for Foo_Bar</title></head><body>
<a name="top">top</a><a href="">empty</a>
<a href="foo-1.0.tar.gz">foo-1.0.tar.gz</a>
<script>document.write('<a href="evil-1.0.tar.gz">evil-1.0.tar.gz</a>')</script>
<base href="https://mirror.example/files/"><base href="https://other.example/">
</body></html>`,
			want: Page{Name: "Foo_Bar", Files: []File{file("foo-1.0.tar.gz", "https://mirror.example/files/foo-1.0.tar.gz", nil)}},
		},
		{
			name: "a link in a link ends it",
			body: simpleHTMLPage(`<a href="foo-1.0.tar.gz">foo-1.0.tar.gz<a href="foo-1.1.tar.gz">foo-1.1.tar.gz</a>`),
			want: Page{Name: "foo", Files: []File{
				file("foo-1.0.tar.gz", "https://example.org/simple/foo/foo-1.0.tar.gz", nil),
				file("foo-1.1.tar.gz", "https://example.org/simple/foo/foo-1.1.tar.gz", nil),
			}},
		},
		{
			name: "first of duplicated attributes",
			body: simpleHTMLPage(`<a href="foo-1.0.tar.gz" href="evil-1.0.tar.gz" data-requires-python="&gt;=3" data-requires-python="&lt;3">foo-1.0.tar.gz</a>`),
			want: Page{Name: "foo", Files: []File{{Filename: "foo-1.0.tar.gz", URL: "https://example.org/simple/foo/foo-1.0.tar.gz", RequiresPython: ">=3", Size: -1}}},
		},
		{
			name: "href wrapped over lines",
			body: simpleHTMLPage("<a href=\" https://files.example/a/\n\tfoo-1.0.tar.gz#sha256=" + simpleSHA256 + " \">foo-1.0.tar.gz</a>"),
			want: Page{Name: "foo", Files: []File{file("foo-1.0.tar.gz", "https://files.example/a/foo-1.0.tar.gz", sha)}},
		},
		{
			name: "name from h1 without title; API version 1.x",
			body: `<meta name="pypi:repository-version" content="1.4"><h1>Links for foo</h1>`,
			want: Page{Name: "foo"},
		},
		{
			name: "no name: other title, invalid name",
			body: `<title>root/pypi: links for foo</title><h1>Links for -foo</h1><a href="foo-1.0.tar.gz">foo-1.0.tar.gz</a>`,
			want: Page{Files: []File{file("foo-1.0.tar.gz", "https://example.org/simple/foo/foo-1.0.tar.gz", nil)}},
		},
		{name: "empty", body: "", want: Page{}},
		{
			name: "API version 2",
			body: `<meta name="pypi:repository-version" content="2.0"><title>Links for foo</title>`,
			err:  `version "2.0", want 1.x`,
		},
		{
			name: "sha256 of the wrong length",
			body: simpleHTMLPage(`<a href="foo-1.0.tar.gz#sha256=` + simpleSHA256[1:] + `">foo-1.0.tar.gz</a>`),
			err:  "sha256 hash",
		},
		{
			name: "sha256 not hex",
			body: simpleHTMLPage(`<a href="foo-1.0.tar.gz#sha256=` + strings.Repeat("g", 64) + `">foo-1.0.tar.gz</a>`),
			err:  "sha256 hash",
		},
		{
			name: "two sha256",
			body: simpleHTMLPage(`<a href="foo-1.0.tar.gz#sha256=` + simpleSHA256 + `&sha256=` + simpleSHA256 + `">foo-1.0.tar.gz</a>`),
			err:  "two sha256",
		},
		{
			name: "file: URL",
			body: simpleHTMLPage(`<a href="file:///etc/passwd">foo-1.0.tar.gz</a>`),
			err:  "not an http or https URL",
		},
		{
			name: "URL without host",
			body: simpleHTMLPage(`<a href="https:foo-1.0.tar.gz">foo-1.0.tar.gz</a>`),
			err:  "not an http or https URL",
		},
		{
			name: "URL not UTF-8",
			body: simpleHTMLPage("<a href=\"https://files.example/foo-1.0.tar.gz?\xff\">foo-1.0.tar.gz</a>"),
			err:  "is not UTF-8",
		},
		{
			name: "bad URL",
			body: simpleHTMLPage(`<a href="https://[::1/foo-1.0.tar.gz">foo-1.0.tar.gz</a>`),
			err:  "link 1 at byte",
		},
		{
			name: "filename twice",
			body: simpleHTMLPage(`<a href="a/foo-1.0.tar.gz">foo-1.0.tar.gz</a>`, `<a href="b/foo-1.0.tar.gz">foo-1.0.tar.gz</a>`),
			err:  `link 2 at byte 121 ("<a href=\"b/foo-1.0.tar.gz\">foo-1.0.tar.gz</a>`,
		},
		{
			name: "no filename",
			body: simpleHTMLPage(`<a href="https://files.example/dir/"></a>`),
			err:  "empty filename",
		},
		{
			name: "filename with a space",
			body: simpleHTMLPage(`<a href="foo-1.0.tar.gz">foo 1.0.tar.gz</a>`),
			err:  "contains",
		},
		{
			name: "filename with a slash",
			body: simpleHTMLPage(`<a href="foo-1.0.tar.gz">../foo-1.0.tar.gz</a>`),
			err:  "contains",
		},
	} {
		t.Run(tt.name, func(t *testing.T) { checkSimpleParse(t, "text/html", tt.body, base, tt.want, tt.err) })
	}
}

// simpleJSONPageOf is a JSON page with files.
func simpleJSONPageOf(files ...string) string {
	return `{"meta":{"api-version":"1.1"},"name":"foo","files":[` + strings.Join(files, ",") + `]}`
}

func TestSimpleParseJSON(t *testing.T) {
	base := mustParseSimpleURL("https://example.org/simple/foo/")
	plain := `{"filename":"foo-1.0.tar.gz","url":"https://files.example/foo-1.0.tar.gz","hashes":{"sha256":"` + simpleSHA256 + `"}}`
	plainFile := File{Filename: "foo-1.0.tar.gz", URL: "https://files.example/foo-1.0.tar.gz", Hashes: map[string]string{"sha256": simpleSHA256}, Size: -1}
	withFile := func(f File) Page { return Page{Name: "foo", Files: []File{f}} }
	for _, tt := range []struct {
		name string
		body string
		want Page
		err  string
	}{
		{name: "plain", body: simpleJSONPageOf(plain), want: withFile(plainFile)},
		{
			name: "every field; unknown ones ignored",
			body: `{"meta":{"api-version":"1.4","_last-serial":5},"name":"Foo.Bar","project-status":{"status":"active"},"versions":["1.0","2.0"],"alternate-locations":[],
"files":[{"filename":"foo-1.0.tar.gz","url":"../../files/foo-1.0.tar.gz#sha256=ignored","hashes":{"sha256":"` + simpleSHA256 + `","md5":"` + simpleMD5 + `","blake2b_256":"ab"},
"requires-python":">=3.8","size":1234,"upload-time":"2024-01-02T03:04:05.123456Z","yanked":"broken","core-metadata":{"sha256":"` + simpleSHA256 + `"},"data-dist-info-metadata":true,"gpg-sig":false,"provenance":"https://x/p","future":[1,{"x":null}]}]}`,
			want: Page{Name: "Foo.Bar", Versions: []string{"1.0", "2.0"}, Files: []File{{
				Filename:       "foo-1.0.tar.gz",
				URL:            "https://example.org/files/foo-1.0.tar.gz",
				Hashes:         map[string]string{"sha256": simpleSHA256, "md5": simpleMD5, "blake2b_256": "ab"},
				RequiresPython: ">=3.8",
				Yanked:         true,
				YankedReason:   "broken",
				Size:           1234,
				UploadTime:     "2024-01-02T03:04:05.123456Z",
			}}},
		},
		{
			name: "nulls: requires-python, size, upload-time, yanked, hashes, versions",
			body: `{"meta":{"api-version":"1.0"},"name":"foo","versions":null,"files":[{"filename":"foo-1.0.tar.gz","url":"https://files.example/foo-1.0.tar.gz","hashes":null,"requires-python":null,"size":null,"upload-time":null,"yanked":null}]}`,
			want: withFile(File{Filename: "foo-1.0.tar.gz", URL: "https://files.example/foo-1.0.tar.gz", Size: -1}),
		},
		{
			name: "yanked true, false, empty reason; size 0; empty hashes; no name",
			body: `{"meta":{"api-version":"1.0"},"files":[
{"filename":"a-1.tar.gz","url":"https://f.example/a-1.tar.gz","hashes":{},"yanked":true,"size":0},
{"filename":"a-2.tar.gz","url":"https://f.example/a-2.tar.gz","hashes":{},"yanked":false},
{"filename":"a-3.tar.gz","url":"https://f.example/a-3.tar.gz","hashes":{},"yanked":""}]}`,
			want: Page{Files: []File{
				{Filename: "a-1.tar.gz", URL: "https://f.example/a-1.tar.gz", Yanked: true, Size: 0},
				{Filename: "a-2.tar.gz", URL: "https://f.example/a-2.tar.gz", Size: -1},
				{Filename: "a-3.tar.gz", URL: "https://f.example/a-3.tar.gz", Yanked: true, Size: -1},
			}},
		},
		{
			name: "empty versions and files",
			body: `{"meta":{"api-version":"1.1"},"name":"foo","versions":[],"files":[]}`,
			want: Page{Name: "foo", Versions: []string{}},
		},
		{
			name: "control characters in displayed text",
			body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://files.example/foo-1.0.tar.gz","requires-python":">=3\r\n","yanked":"a\u0000b"}`),
			want: withFile(File{Filename: "foo-1.0.tar.gz", URL: "https://files.example/foo-1.0.tar.gz", RequiresPython: ">=3  ", Yanked: true, YankedReason: "a b", Size: -1}),
		},
		{name: "not an object", body: `[]`, err: "JSON an array, want an object"},
		{name: "not JSON", body: `<html>`, err: "invalid character"},
		{name: "truncated", body: simpleJSONPageOf(plain)[:40], err: "EOF"},
		{name: "trailing data", body: simpleJSONPageOf(plain) + `{}`, err: "more JSON after"},
		{name: "no meta", body: `{"name":"foo","files":[]}`, err: "no meta"},
		{name: "no api-version", body: `{"meta":{},"name":"foo","files":[]}`, err: "meta without api-version"},
		{name: "api-version 2", body: `{"meta":{"api-version":"2.0"},"name":"foo","files":[]}`, err: `version "2.0", want 1.x`},
		{name: "no files", body: `{"meta":{"api-version":"1.0"},"name":"foo"}`, err: "no files"},
		{name: "files not an array", body: `{"meta":{"api-version":"1.0"},"files":{}}`, err: "files is an object"},
		{name: "duplicated key", body: `{"meta":{"api-version":"1.0"},"files":[],"files":[]}`, err: "duplicate"},
		{name: "invalid UTF-8", body: "{\"meta\":{\"api-version\":\"1.0\"},\"name\":\"foo\xff\",\"files\":[]}", err: "UTF-8"},
		{name: "invalid name", body: `{"meta":{"api-version":"1.0"},"name":"foo bar","files":[]}`, err: "not a valid distribution name"},
		{name: "null version", body: `{"meta":{"api-version":"1.1"},"versions":["1",null],"files":[]}`, err: "version 2 is null"},
		{name: "no filename", body: simpleJSONPageOf(`{"url":"https://files.example/foo-1.0.tar.gz"}`), err: `file 1 at byte 52 ("{\"url\":\"https://files.example/foo-1.0.tar.gz\"}]}"): no filename`},
		{name: "bad filename", body: simpleJSONPageOf(`{"filename":"../foo","url":"https://files.example/foo"}`), err: "contains"},
		{name: "no url", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz"}`), err: `"foo-1.0.tar.gz": no url`},
		{name: "empty url", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":""}`), err: "no url"},
		{name: "ftp url", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"ftp://files.example/foo-1.0.tar.gz"}`), err: "not an http or https URL"},
		{name: "uppercase sha256", body: simpleJSONPageOf(strings.Replace(plain, simpleSHA256, strings.ToUpper(simpleSHA256), 1)), err: "sha256 hash"},
		{name: "short sha256", body: simpleJSONPageOf(strings.Replace(plain, simpleSHA256, simpleSHA256[2:], 1)), err: "is not 64 lowercase hex digits"},
		{name: "short md5", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","hashes":{"md5":"00"}}`), err: "md5 hash"},
		{name: "hash not a string", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","hashes":{"sha256":1}}`), err: "is a number"},
		{name: "bad hash name", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","hashes":{"SHA256":"` + simpleSHA256 + `"}}`), err: "hash name"},
		{name: "hashes not an object", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","hashes":["` + simpleSHA256 + `"]}`), err: "hashes is an array"},
		{name: "too many hashes", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","hashes":{` + simpleManyHashes(simpleMaxHashes+1) + `}}`), err: "more than 16 hashes"},
		{name: "negative size", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","size":-1}`), err: "size -1"},
		{name: "fractional size", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","size":1.5}`), err: "size"},
		{name: "yanked number", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","yanked":1}`), err: "yanked is a number"},
		{name: "bad upload-time", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","upload-time":"yesterday"}`), err: "upload time"},
		{name: "dash upload-time", body: simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"https://f.example/x","upload-time":"-"}`), err: "upload-time"},
		{name: "filename twice", body: simpleJSONPageOf(plain, strings.Replace(plain, "files.example", "other.example", 1)), err: `file 2 at byte 214 ("{\"filename\":\"foo-1.0.tar.gz\",\"url\":\"https://other.example/foo-1.0.tar.gz\",\"hashe"): "foo-1.0.tar.gz" listed twice`},
	} {
		t.Run(tt.name, func(t *testing.T) { checkSimpleParse(t, MediaTypeJSON, tt.body, base, tt.want, tt.err) })
	}
}

// simpleManyHashes returns n distinct, valid JSON hash members.
func simpleManyHashes(n int) string {
	var members []string
	for i := range n {
		members = append(members, fmt.Sprintf(`"h%d":"00"`, i))
	}
	return strings.Join(members, ",")
}

func TestSimpleParseContentType(t *testing.T) {
	html := []byte(simpleHTMLPage(`<a href="foo-1.0.tar.gz">foo-1.0.tar.gz</a>`))
	json := []byte(simpleJSONPageOf(`{"filename":"foo-1.0.tar.gz","url":"foo-1.0.tar.gz"}`))
	for _, tt := range []struct {
		contentType string
		body        []byte
		err         string
	}{
		{"text/html", html, ""},
		{"Text/HTML; charset=\"utf-8\"", html, ""},
		{"text/html; charset=us-ascii", html, ""},
		{"text/html; charset", html, ""}, // a malformed parameter
		{MediaTypeHTML, html, ""},
		{MediaTypeJSON, json, ""},
		{MediaTypeJSON + "; charset=utf-8", json, ""},
		{"text/html; charset=iso-8859-1", html, `charset "iso-8859-1"`},
		{"application/json", json, `unsupported Content-Type "application/json"`},
		{"application/vnd.pypi.simple.v2+json", json, `unsupported Content-Type "application/vnd.pypi.simple.v2+json"`},
		{"text/plain", html, `unsupported Content-Type "text/plain"`},
		{"", html, "Content-Type"},
		{MediaTypeJSON, html, "invalid character"},
	} {
		_, err := ParseProjectPage(tt.contentType, tt.body, simpleTestBase)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.contentType, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: error %v, want one with %q", tt.contentType, err, tt.err)
		}
	}
}

func TestSimpleParseMaxFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pages of MaxPageFiles files")
	}
	html := func(n int) []byte {
		var b bytes.Buffer
		for i := range n {
			fmt.Fprintf(&b, "<a href=f%d>\n", i)
		}
		return b.Bytes()
	}
	json := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString(`{"meta":{"api-version":"1.0"},"files":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"filename":"f%d","url":"f"}`, i)
		}
		b.WriteString("]}")
		return b.Bytes()
	}
	for _, tt := range []struct {
		contentType string
		page        func(n int) []byte
	}{{MediaTypeLegacy, html}, {MediaTypeJSON, json}} {
		p, err := ParseProjectPage(tt.contentType, tt.page(MaxPageFiles), simpleTestBase)
		if err != nil || len(p.Files) != MaxPageFiles {
			t.Errorf("%s: %d files: %d parsed, error %v", tt.contentType, MaxPageFiles, len(p.Files), err)
		}
		_, err = ParseProjectPage(tt.contentType, tt.page(MaxPageFiles+1), simpleTestBase)
		if want := fmt.Sprintf("more than %d files", MaxPageFiles); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %d files: error %v, want one with %q", tt.contentType, MaxPageFiles+1, err, want)
		}
	}
	versions := func(n int) []byte {
		return []byte(`{"meta":{"api-version":"1.1"},"files":[],"versions":["1"` + strings.Repeat(`,"1"`, n-1) + "]}")
	}
	if p, err := ParseProjectPage(MediaTypeJSON, versions(MaxPageFiles), simpleTestBase); err != nil || len(p.Versions) != MaxPageFiles {
		t.Errorf("%d versions: %d parsed, error %v", MaxPageFiles, len(p.Versions), err)
	}
	_, err := ParseProjectPage(MediaTypeJSON, versions(MaxPageFiles+1), simpleTestBase)
	if want := fmt.Sprintf("more than %d versions", MaxPageFiles); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%d versions: error %v, want one with %q", MaxPageFiles+1, err, want)
	}
}

func TestSimpleRenderHostile(t *testing.T) {
	hostile := `"'<>&</a><script>alert(1)</script>`
	p := Page{
		Name: "foo",
		Files: []File{{
			Filename:       "foo-1.0.tar.gz<script>",
			URL:            "https://files.example/a?q=" + hostile,
			Hashes:         map[string]string{"sha256": simpleSHA256},
			RequiresPython: hostile,
			Yanked:         true,
			YankedReason:   hostile,
			Size:           -1,
		}},
	}
	h := p.RenderHTML()
	if bytes.Contains(h, []byte("<script>")) || bytes.Contains(h, []byte(`"'`)) {
		t.Errorf("markup in the rendered values:\n%s", h)
	}
	checkSimpleRoundTrip(t, p)
}

func TestSimpleRenderJSON(t *testing.T) {
	file := File{Filename: "foo-1.0.tar.gz", URL: "https://f.example/foo-1.0.tar.gz", Size: -1}
	for _, tt := range []struct {
		name string
		page Page
		want string
	}{
		{
			name: "1.0: no PEP 700 data; no hashes; not yanked",
			page: Page{Name: "foo", Files: []File{file}},
			want: `{"meta":{"api-version":"1.0"},"name":"foo","files":[{"filename":"foo-1.0.tar.gz","url":"https://f.example/foo-1.0.tar.gz","hashes":{},"yanked":false}]}` + "\n",
		},
		{
			name: "1.1 by versions; no files",
			page: Page{Name: "foo", Versions: []string{}},
			want: `{"meta":{"api-version":"1.1"},"name":"foo","files":[],"versions":[]}` + "\n",
		},
		{
			name: "1.1 by a size; yanked without reason; hashes sorted",
			page: Page{Name: "foo", Files: []File{{Filename: "a", URL: "https://f.example/a", Hashes: map[string]string{"sha256": simpleSHA256, "md5": simpleMD5}, Yanked: true, Size: 0}}},
			want: `{"meta":{"api-version":"1.1"},"name":"foo","files":[{"filename":"a","url":"https://f.example/a","hashes":{"md5":"` + simpleMD5 + `","sha256":"` + simpleSHA256 + `"},"yanked":true,"size":0}]}` + "\n",
		},
		{
			name: "1.1 by an upload time; yanked with a reason; requires-python",
			page: Page{Files: []File{{Filename: "a", URL: "https://f.example/a", RequiresPython: "<4", Yanked: true, YankedReason: "bad", Size: -1, UploadTime: "2024-01-02T03:04:05Z"}}},
			want: `{"meta":{"api-version":"1.1"},"name":"","files":[{"filename":"a","url":"https://f.example/a","hashes":{},"requires-python":"<4","yanked":"bad","upload-time":"2024-01-02T03:04:05Z"}]}` + "\n",
		},
		{
			name: "a reason without yanked is not rendered; invalid UTF-8 replaced",
			page: Page{Name: "foo", Files: []File{{Filename: "a", URL: "https://f.example/\xff", YankedReason: "bad", Size: -1}}},
			want: `{"meta":{"api-version":"1.0"},"name":"foo","files":[{"filename":"a","url":"https://f.example/` + "\uFFFD" + `","hashes":{},"yanked":false}]}` + "\n",
		},
	} {
		if got := string(tt.page.RenderJSON()); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestSimpleRenderHTML(t *testing.T) {
	p := Page{Name: "foo", Files: []File{
		{Filename: "a-1.tar.gz", URL: "https://f.example/a-1.tar.gz", Hashes: map[string]string{"md5": simpleMD5}, Size: -1},
		{Filename: "a-2.tar.gz", URL: "https://f.example/a-2.tar.gz", Hashes: map[string]string{"sha256": simpleSHA256, "md5": simpleMD5}, RequiresPython: ">=3", Yanked: true, Size: 5, UploadTime: "2024-01-02T03:04:05Z"},
		{Filename: "a-3.tar.gz", URL: "https://f.example/a-3.tar.gz", Yanked: true, YankedReason: "bad", Size: -1},
		{Filename: "a-4.tar.gz", URL: "https://f.example/a-4.tar.gz", YankedReason: "ignored", Size: -1},
	}}
	want := `<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Links for foo</title>
  </head>
  <body>
    <h1>Links for foo</h1>
    <a href="https://f.example/a-1.tar.gz">a-1.tar.gz</a><br/>
    <a href="https://f.example/a-2.tar.gz#sha256=` + simpleSHA256 + `" data-requires-python="&gt;=3" data-yanked="">a-2.tar.gz</a><br/>
    <a href="https://f.example/a-3.tar.gz" data-yanked="bad">a-3.tar.gz</a><br/>
    <a href="https://f.example/a-4.tar.gz">a-4.tar.gz</a><br/>
  </body>
</html>
`
	if got := string(p.RenderHTML()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// The Accept headers of real clients.
const (
	// pip since 22.3 (src/pip/_internal/index/collector.py).
	simplePipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
	// uv (crates/uv-client/src/registry_client.rs).
	simpleUVAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)

func TestNegotiate(t *testing.T) {
	const none = ""
	for _, tt := range []struct {
		accept, format string
		want           string // none: not acceptable
	}{
		// Real clients.
		{simplePipAccept, "", MediaTypeJSON},
		{simpleUVAccept, "", MediaTypeJSON},
		{"text/html", "", MediaTypeLegacy}, // pip before 22.3, browsers' first choice
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "", MediaTypeLegacy}, // a browser
		// No Accept, an empty one, */*: PyPI's default.
		{"", "", MediaTypeLegacy},
		{" , ,", "", MediaTypeLegacy},
		{"*/*", "", MediaTypeLegacy},
		// Single types.
		{MediaTypeJSON, "", MediaTypeJSON},
		{MediaTypeHTML, "", MediaTypeHTML},
		{"APPLICATION/VND.PYPI.SIMPLE.V1+JSON", "", MediaTypeJSON},
		{"application/vnd.pypi.simple.latest+json", "", MediaTypeJSON},
		{"application/vnd.pypi.simple.latest+html", "", MediaTypeHTML},
		{"application/*", "", MediaTypeHTML},
		{"text/*", "", MediaTypeLegacy},
		{MediaTypeJSON + "; charset=utf-8", "", MediaTypeJSON},
		// Ties: warehouse's order (test_simple.py's cases).
		{"text/html, application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json", "", MediaTypeLegacy},
		{"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html", "", MediaTypeHTML},
		{"application/vnd.pypi.simple.v1+json, text/html", "", MediaTypeLegacy},
		{"text/html;q=0.01, application/vnd.pypi.simple.v1+html;q=0.2, application/vnd.pypi.simple.v1+json", "", MediaTypeJSON},
		// Quality values, whatever the order.
		{"text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.6", "", MediaTypeJSON},
		{"application/vnd.pypi.simple.v1+json;q=0.499, text/html;q=0.5", "", MediaTypeLegacy},
		{"*/*;q=0.1, application/vnd.pypi.simple.v1+json", "", MediaTypeJSON},
		{"application/vnd.pypi.simple.v1+json;Q=1.000, text/html;q=0.999", "", MediaTypeJSON},
		{"application/vnd.pypi.simple.v1+json;q=0.5;ext;ext2=\"a,b\", text/html;q=0.4", "", MediaTypeJSON},
		// The most specific range decides.
		{"*/*, text/html;q=0.1", "", MediaTypeHTML},
		{"application/*;q=0.2, application/vnd.pypi.simple.v1+html;q=0.1", "", MediaTypeJSON},
		{"application/vnd.pypi.simple.latest+json;q=0.1, application/vnd.pypi.simple.v1+json;q=0.9, text/html;q=0.5", "", MediaTypeJSON},
		{"application/vnd.pypi.simple.v1+json;q=0.1, application/vnd.pypi.simple.latest+json;q=0.9, text/html;q=0.5", "", MediaTypeLegacy},
		// The first of equally specific ranges.
		{"application/vnd.pypi.simple.v1+json;q=0.1, application/vnd.pypi.simple.v1+json, text/html;q=0.5", "", MediaTypeLegacy},
		// q=0: not acceptable.
		{"application/vnd.pypi.simple.v1+json;q=0", "", none},
		{"text/html;q=0, application/vnd.pypi.simple.v1+html;q=0.000", "", none},
		{"*/*;q=0", "", none},
		{"*/*, text/html;q=0", "", MediaTypeHTML},
		{"*/*, text/html;q=0, application/vnd.pypi.simple.v1+html;q=0", "", MediaTypeJSON},
		{"text/html;q=0, text/html", "", none},
		// Nothing served asked for.
		{"application/json", "", none},
		{"text/plain", "", none},
		{"image/*", "", none},
		{"application/vnd.pypi.simple.v2+json", "", none},
		// Headers that don't parse are no header, as in WebOb.
		{"application/vnd.pypi.simple.v1+json;q=2", "", MediaTypeLegacy},
		{"application/vnd.pypi.simple.v1+json;q=0.1234", "", MediaTypeLegacy},
		{"application/vnd.pypi.simple.v1+json;q=1.5", "", MediaTypeLegacy},
		{"application/vnd.pypi.simple.v1+json;", "", MediaTypeLegacy},
		{"application/vnd.pypi.simple.v1+json text/plain", "", MediaTypeLegacy},
		{"application/vnd.pypi.simple.v1+json;charset", "", MediaTypeLegacy},
		{"application/vnd.pypi.simple.v1+json;a=\"unterminated", "", MediaTypeLegacy},
		{"application", "", MediaTypeLegacy},
		{"text/plain;q=0.5.5", "", MediaTypeLegacy},
		// format overrides Accept.
		{simplePipAccept, MediaTypeHTML, MediaTypeHTML},
		{"text/plain", MediaTypeJSON, MediaTypeJSON},
		{"", "text/html", MediaTypeLegacy},
		{"", "application/vnd.pypi.simple.v1 json", MediaTypeJSON}, // "+" unescaped from a query string
		{"", " Application/Vnd.Pypi.Simple.Latest+Json ", MediaTypeJSON},
		{"", "application/vnd.pypi.simple.latest+html", MediaTypeHTML},
		{"", "json", none},
		{MediaTypeJSON, "application/json", none},
		{"", "*/*", none},
		{"", MediaTypeJSON + ";q=0.5", none},
	} {
		got, ok := Negotiate(tt.accept, tt.format)
		if got != tt.want || ok != (tt.want != none) {
			t.Errorf("Negotiate(%q, %q) = %q, %v; want %q, %v", tt.accept, tt.format, got, ok, tt.want, tt.want != none)
		}
	}
}

// checkSimpleParse parses body as contentType: an error containing
// wantErr if that is set, else want, which must also survive a round
// trip.
func checkSimpleParse(t *testing.T, contentType, body string, base *url.URL, want Page, wantErr string) {
	t.Helper()
	got, err := ParseProjectPage(contentType, []byte(body), base)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.HasPrefix(err.Error(), "couldn't parse the project page: ") {
			t.Fatalf("error %v, want one with %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", simpleDump(got), simpleDump(want))
	}
	checkSimpleRoundTrip(t, got)
}
