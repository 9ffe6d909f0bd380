package proxy

// The page model of the Simple API: a project page parsed from either of
// its formats (PEP 503 HTML, PEP 691 JSON), rendered in either, and the
// content negotiation that picks one. Bytes in, bytes out: no I/O.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/net/html"

	"github.com/pysumdb/pysumdb/tiles"
)

// Media types of the Simple API (PEP 691).
const (
	// MediaTypeJSON is the PEP 691 JSON serialization.
	MediaTypeJSON = "application/vnd.pypi.simple.v1+json"
	// MediaTypeHTML is the PEP 691 name of the HTML serialization.
	MediaTypeHTML = "application/vnd.pypi.simple.v1+html"
	// MediaTypeLegacy is the PEP 503 HTML page's type: what a client that
	// sends no Accept header gets.
	MediaTypeLegacy = "text/html"
)

// The "latest" meta-version aliases of PEP 691. A client asking for one
// is answered with the v1 type, since PEP 691 requires the Content-Type to
// name the version actually served.
const (
	mediaTypeLatestJSON = "application/vnd.pypi.simple.latest+json"
	mediaTypeLatestHTML = "application/vnd.pypi.simple.latest+html"
)

// MaxPageFiles bounds the files of a project page: ParseProjectPage
// refuses a page listing more. PyPI spends at least ~250 bytes on a file in
// either format (a URL with a 60-hex-digit path, the filename twice in
// HTML, a sha256), so that a real page of 1<<18 (262,144) files has 64 MiB
// or more, past what the proxy reads of a page; a hostile page of minimal
// entries (`<a href=a>`, 10 bytes) could list millions, each costing a
// few hundred bytes parsed.
const MaxPageFiles = 1 << 18

// simpleMaxHashes bounds the hashes of one file. hashlib guarantees 14
// algorithms; a file lists one or two.
const simpleMaxHashes = 16

// Page is one project page of the Simple API, as parsed from either format
// (PEP 503, 691, 592, 629, 700). What it keeps is what both formats can
// say, plus PEP 700's fields, which only JSON says.
type Page struct {
	// Name is the project name the page gives: JSON's "name", or the X of
	// an HTML page's <title> (else <h1>) "Links for X". It is "" when the
	// page gives none (an HTML page without that title, or one whose X is
	// not a valid project name): the caller fills it.
	Name string
	// Files are the page's files, in the page's order, with distinct
	// filenames. nil when the page lists none.
	Files []File
	// Versions are the project's versions (PEP 700); nil when the upstream
	// gave none, which HTML never does.
	Versions []string
}

// File is one file of a project page.
//
// The core metadata of PEP 658/714 (data-core-metadata,
// data-dist-info-metadata, "core-metadata"), the PGP signature
// (data-gpg-sig, "gpg-sig") and the PEP 740 provenance are deliberately
// not kept: the proxy strips them, so that every byte pip or uv uses
// comes from a file verified against the log. Without core metadata,
// installers read the metadata from the verified wheel itself.
type File struct {
	// Filename is the distribution filename; it passes
	// tiles.CheckFilename.
	Filename string
	// URL is absolute (http or https), resolved against the page's URL
	// (and an HTML page's <base href>), without a fragment.
	URL string
	// Hashes maps a hash name (hashlib's, lowercase) to the lowercase hex
	// digest the page gives: from JSON's "hashes" or the HTML link's
	// fragment (#sha256=...). nil when the page gives none.
	Hashes map[string]string
	// RequiresPython is the file's Requires-Python, "" if none.
	RequiresPython string
	// Yanked tells whether the file is yanked (PEP 592).
	Yanked bool
	// YankedReason is the reason a yanked file was yanked, "" if none
	// given. It is ignored when Yanked is false.
	YankedReason string
	// Size is the file's size in bytes, -1 if unknown (PEP 700; JSON
	// only).
	Size int64
	// UploadTime is the file's upload time (PEP 700; JSON only), RFC 3339
	// in UTC as PyPI gives it, "" if unknown.
	UploadTime string
}

// ParseProjectPage parses a project page body served with contentType
// (the Content-Type header, parameters allowed), resolving relative URLs
// against base, the page's URL. HTML (text/html or MediaTypeHTML, in
// UTF-8) and JSON (MediaTypeJSON) are accepted; anything else is an
// error naming the type.
//
// The page is checked, not trusted: a file without a valid filename or an
// http(s) URL, a filename listed twice, a malformed hash, a negative size,
// an unsupported major API version (PEP 629) or more than MaxPageFiles
// files make it an error, which says where (the file's number, a byte
// offset and an excerpt). Free text (Requires-Python, yanked reasons) has
// invalid UTF-8 replaced by U+FFFD and control characters by spaces, so
// that both formats carry it unchanged. Unknown JSON keys, HTML links
// without href and fragments that are not hashes (#egg=...) are ignored.
func ParseProjectPage(contentType string, body []byte, base *url.URL) (Page, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	// A malformed parameter still gives the media type.
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return Page{}, fmt.Errorf("couldn't parse the project page: Content-Type %.100q: %w", contentType, err)
	}
	var p Page
	switch mediaType {
	case MediaTypeLegacy, MediaTypeHTML:
		// The tokenizer reads UTF-8: a page in another charset would
		// have its non-ASCII text misread.
		if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
			return Page{}, fmt.Errorf("couldn't parse the project page: HTML in charset %.40q, not UTF-8", cs)
		}
		p, err = parseSimpleHTML(body, base)
	case MediaTypeJSON:
		p, err = parseSimpleJSON(body, base)
	default:
		return Page{}, fmt.Errorf("couldn't parse the project page: unsupported Content-Type %.100q (want %s, %s or %s)",
			contentType, MediaTypeJSON, MediaTypeHTML, MediaTypeLegacy)
	}
	if err != nil {
		return Page{}, fmt.Errorf("couldn't parse the project page: %w", err)
	}
	return p, nil
}

// simplePageFiles gathers a page's files, refusing a filename twice: the
// proxy finds a file by its filename, which must name one file only.
type simplePageFiles struct {
	files []File
	seen  map[string]bool
}

func (s *simplePageFiles) add(f File) error {
	if s.seen[f.Filename] {
		return fmt.Errorf("%.200q listed twice", f.Filename)
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[f.Filename] = true
	s.files = append(s.files, f)
	return nil
}

// simpleTooManyFiles is the error of a page listing more than MaxPageFiles
// files.
func simpleTooManyFiles() error {
	return fmt.Errorf("more than %d files", MaxPageFiles)
}

// checkSimpleAPIVersion checks a page's API version (PEP 629): a major
// version other than 1 may mean anything, so PEP 629 has clients fail.
func checkSimpleAPIVersion(v string) error {
	if major, _, _ := strings.Cut(v, "."); major != "1" {
		return fmt.Errorf("unsupported Simple API version %.40q, want 1.x", v)
	}
	return nil
}

// simpleAPIVersion is the API version a rendering of p declares: 1.1 when
// it carries PEP 700's data, which 1.1 introduced, 1.0 otherwise.
func (p Page) simpleAPIVersion() string {
	if p.Versions != nil {
		return "1.1"
	}
	for _, f := range p.Files {
		if f.Size >= 0 || f.UploadTime != "" {
			return "1.1"
		}
	}
	return "1.0"
}

// simpleHashLens are the hex lengths of hashlib's fixed-size digests.
var simpleHashLens = map[string]int{
	"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128,
	"sha3_224": 56, "sha3_256": 64, "sha3_384": 96, "sha3_512": 128, "blake2b": 128, "blake2s": 64,
}

// checkSimpleHash checks one hash of a file: a hashlib-style name
// ([a-z0-9_]+, as sha3_256 needs the underscore) and a lowercase hex
// digest of the algorithm's length when it is a known one.
func checkSimpleHash(name, value string) error {
	if name == "" || len(name) > 32 || strings.IndexFunc(name, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_'
	}) >= 0 {
		return fmt.Errorf("hash name %.40q is not lowercase letters, digits and _", name)
	}
	want, known := simpleHashLens[name]
	if !isSimpleLowerHex(value) || known && len(value) != want || !known && len(value) > 256 {
		if known {
			return fmt.Errorf("%s hash %.140q is not %d lowercase hex digits", name, value, want)
		}
		return fmt.Errorf("%s hash %.140q is not lowercase hex", name, value)
	}
	return nil
}

// isSimpleLowerHex reports whether s is non-empty lowercase hex.
func isSimpleLowerHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// resolveSimpleURL resolves a file's URL against base and splits off its
// fragment. The URL must come out absolute with an http or https scheme
// and a host: the proxy fetches it, and a file: or other URL from an
// upstream would have it read something else.
func resolveSimpleURL(base *url.URL, raw string) (u *url.URL, fragment string, err error) {
	// url.Parse keeps a query's bytes, which JSON can't carry unless
	// UTF-8. (What it unescapes, String escapes again.)
	if !utf8.ValidString(raw) {
		return nil, "", fmt.Errorf("URL %.200q is not UTF-8", raw)
	}
	// As the URL Standard does (and browsers and pip with them): leading
	// and trailing spaces and controls are dropped, tabs and newlines
	// anywhere, which an HTML page may wrap a long href with.
	raw = strings.TrimFunc(raw, func(r rune) bool { return r <= ' ' })
	raw = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, raw)
	ref, fragment, _ := strings.Cut(raw, "#")
	u, err = url.Parse(ref)
	if err != nil {
		return nil, "", fmt.Errorf("URL %.200q: %w", raw, err)
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, "", fmt.Errorf("URL %.200q is not an http or https URL", u.String())
	}
	return u, fragment, nil
}

// cleanSimpleText prepares a page's free text (Requires-Python, a yanked
// reason) for either format: bytes of invalid UTF-8, which JSON can't
// carry, become U+FFFD (as strings.Map reads them), and control
// characters, which the HTML tokenizer alters (CR into LF, NUL into
// U+FFFD), spaces.
func cleanSimpleText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// checkSimpleName checks the JSON page's project name: "" (unknown, as
// for HTML pages without a title) or a valid PEP 508 name.
func checkSimpleName(name string) error {
	if name == "" {
		return nil
	}
	if _, err := tiles.NormalizeProject(name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	return nil
}

// simpleLinksFor returns the X of a PEP 503 heading "Links for X", or ""
// when text isn't one or X isn't a valid project name.
func simpleLinksFor(text []byte) string {
	rest, ok := strings.CutPrefix(strings.TrimSpace(string(text)), "Links for")
	if !ok || rest == "" {
		return ""
	}
	if r, _ := utf8.DecodeRuneInString(rest); !unicode.IsSpace(r) {
		return ""
	}
	name := strings.TrimSpace(rest)
	if _, err := tiles.NormalizeProject(name); err != nil {
		return ""
	}
	return name
}

// simpleHeading gathers the text of the first element of a kind
// (<title>, <h1>).
type simpleHeading struct {
	text     []byte
	in, done bool
}

func (h *simpleHeading) start(tt html.TokenType) {
	if !h.done && tt == html.StartTagToken {
		h.in = true
	}
}

func (h *simpleHeading) end() {
	if h.in {
		h.in, h.done = false, true
	}
}

func (h *simpleHeading) write(text []byte) {
	if h.in {
		h.text = append(h.text, text...)
	}
}

// simpleAttr is an attribute of a tag: its value, and whether it is
// present at all.
type simpleAttr struct {
	value string
	ok    bool
}

// set keeps the first of duplicated attributes, as HTML does.
func (a *simpleAttr) set(value []byte) {
	if !a.ok {
		a.value, a.ok = string(value), true
	}
}

// simpleAttrs are the attributes of a tag that a page's parser uses.
type simpleAttrs struct {
	href, requiresPython, yanked, name, content simpleAttr
}

func readSimpleAttrs(z *html.Tokenizer, more bool) simpleAttrs {
	var a simpleAttrs
	for more {
		var key, val []byte
		key, val, more = z.TagAttr()
		switch string(key) {
		case "href":
			a.href.set(val)
		case "data-requires-python":
			a.requiresPython.set(val)
		case "data-yanked":
			// PEP 592: present, the file is yanked, the value its
			// reason.
			a.yanked.set(val)
		case "name":
			a.name.set(val)
		case "content":
			a.content.set(val)
		}
		// Others, data-core-metadata, data-dist-info-metadata,
		// data-gpg-sig and data-provenance among them, are not kept (see
		// File).
	}
	return a
}

// simpleAnchor is a link of an HTML page, as read: it is resolved once the
// whole page, and so its <base href>, is read.
type simpleAnchor struct {
	offset         int // of the <a> tag in the body, for errors
	href           string
	text           []byte
	requiresPython string
	yanked         bool
	yankedReason   string
}

// parseSimpleHTML parses a PEP 503 page: every <a href> is a file.
func parseSimpleHTML(body []byte, base *url.URL) (Page, error) {
	z := html.NewTokenizer(bytes.NewReader(body))
	var (
		anchors     []simpleAnchor
		inAnchor    bool
		title, h1   simpleHeading
		baseHref    string
		haveBase    bool
		haveVersion bool
		offset      int
	)
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		start := offset
		offset += len(z.Raw())
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			name, more := z.TagName()
			attrs := readSimpleAttrs(z, more)
			switch string(name) {
			case "a":
				// An <a> inside another ends it, as in HTML.
				inAnchor = false
				// Links without href aren't files (pip skips them too).
				if attrs.href.value == "" {
					continue
				}
				if len(anchors) == MaxPageFiles {
					return Page{}, simpleTooManyFiles()
				}
				anchors = append(anchors, simpleAnchor{
					offset:         start,
					href:           attrs.href.value,
					requiresPython: attrs.requiresPython.value,
					yanked:         attrs.yanked.ok,
					yankedReason:   attrs.yanked.value,
				})
				inAnchor = tt == html.StartTagToken
			case "base":
				// The first <base href> applies to the whole page, links
				// before it included.
				if attrs.href.ok && !haveBase {
					baseHref, haveBase = attrs.href.value, true
				}
			case "meta":
				if attrs.name.value == "pypi:repository-version" && !haveVersion {
					if err := checkSimpleAPIVersion(attrs.content.value); err != nil {
						return Page{}, fmt.Errorf("<meta> at byte %d: %w", start, err)
					}
					haveVersion = true
				}
			case "title":
				title.start(tt)
			case "h1":
				h1.start(tt)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "a":
				inAnchor = false
			case "title":
				title.end()
			case "h1":
				h1.end()
			}
		case html.TextToken:
			text := z.Text()
			if inAnchor {
				a := &anchors[len(anchors)-1]
				a.text = append(a.text, text...)
			}
			title.write(text)
			h1.write(text)
		}
	}
	if err := z.Err(); err != io.EOF {
		return Page{}, fmt.Errorf("HTML at byte %d: %w", offset, err)
	}
	if haveBase {
		u, err := url.Parse(strings.TrimFunc(baseHref, func(r rune) bool { return r <= ' ' }))
		if err != nil {
			return Page{}, fmt.Errorf("<base href>: %w", err)
		}
		if base != nil {
			u = base.ResolveReference(u)
		}
		base = u
	}
	files, err := simpleHTMLFiles(body, base, anchors)
	if err != nil {
		return Page{}, err
	}
	name := simpleLinksFor(title.text)
	if name == "" {
		name = simpleLinksFor(h1.text)
	}
	return Page{Name: name, Files: files}, nil
}

// simpleHTMLFiles resolves an HTML page's links into its files.
func simpleHTMLFiles(body []byte, base *url.URL, anchors []simpleAnchor) ([]File, error) {
	var files simplePageFiles
	for i, a := range anchors {
		f, err := a.file(base)
		if err == nil {
			err = files.add(f)
		}
		if err != nil {
			return nil, fmt.Errorf("link %d at byte %d (%.80q): %w", i+1, a.offset, body[a.offset:], err)
		}
	}
	return files.files, nil
}

func (a *simpleAnchor) file(base *url.URL) (File, error) {
	u, fragment, err := resolveSimpleURL(base, a.href)
	if err != nil {
		return File{}, err
	}
	hashes, err := parseSimpleFragment(fragment)
	if err != nil {
		return File{}, err
	}
	filename := strings.TrimSpace(string(a.text))
	if filename == "" {
		// PEP 503 has the text be the URL's last path segment.
		filename = u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	}
	if err := tiles.CheckFilename(filename); err != nil {
		return File{}, err
	}
	return File{
		Filename:       filename,
		URL:            u.String(),
		Hashes:         hashes,
		RequiresPython: cleanSimpleText(a.requiresPython),
		Yanked:         a.yanked,
		YankedReason:   cleanSimpleText(a.yankedReason),
		Size:           -1,
	}, nil
}

// parseSimpleFragment reads the hashes of an HTML link's fragment:
// "sha256=<hex>" (PEP 503), or several joined with "&" as pip also reads
// them. Names and digests are lowercased; only hashlib's fixed-size
// algorithms count as hashes, so that "#egg=cafe" or
// "#subdirectory=..." are ignored, not taken for a hash (and a fragment
// gives at most one hash of each of them).
func parseSimpleFragment(fragment string) (map[string]string, error) {
	var hashes map[string]string
	for part := range strings.SplitSeq(fragment, "&") {
		name, value, ok := strings.Cut(part, "=")
		name = strings.ToLower(name)
		if _, known := simpleHashLens[name]; !ok || !known {
			continue
		}
		value = strings.ToLower(value)
		if err := checkSimpleHash(name, value); err != nil {
			return nil, err
		}
		if _, dup := hashes[name]; dup {
			return nil, fmt.Errorf("two %s hashes in the fragment", name)
		}
		if hashes == nil {
			hashes = map[string]string{}
		}
		hashes[name] = value
	}
	return hashes, nil
}

// simpleJSONFile is a file of a PEP 691 page as decoded. Pointers tell a
// key absent (or null) from an empty value; hashes and yanked are decoded
// by hand, hashes to bound them, yanked as it is a boolean or a string.
// Other keys (core-metadata, gpg-sig, provenance, ...) are ignored.
type simpleJSONFile struct {
	Filename       *string        `json:"filename"`
	URL            *string        `json:"url"`
	Hashes         jsontext.Value `json:"hashes"`
	RequiresPython *string        `json:"requires-python"`
	Yanked         jsontext.Value `json:"yanked"`
	Size           *int64         `json:"size"`
	UploadTime     *string        `json:"upload-time"`
}

// parseSimpleJSON parses a PEP 691 page. It is decoded as a stream, the
// files one by one, so that MaxPageFiles bounds what is allocated, not
// only what is kept. The decoder refuses invalid UTF-8 and duplicated
// keys, which JSON parsers read differently.
func parseSimpleJSON(body []byte, base *url.URL) (Page, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.ReadToken(); err != nil {
		return Page{}, err
	} else if tok.Kind() != '{' {
		return Page{}, fmt.Errorf("JSON %s, want an object", simpleJSONKind(tok.Kind()))
	}
	var (
		p                   Page
		files               simplePageFiles
		haveMeta, haveFiles bool
	)
	for dec.PeekKind() != '}' {
		key, err := dec.ReadToken()
		if err != nil {
			return Page{}, err
		}
		switch key.String() {
		case "meta":
			var meta struct {
				APIVersion *string `json:"api-version"`
			}
			if err := json.UnmarshalDecode(dec, &meta); err != nil {
				return Page{}, fmt.Errorf("meta: %w", err)
			}
			if meta.APIVersion == nil {
				return Page{}, errors.New("meta without api-version")
			}
			if err := checkSimpleAPIVersion(*meta.APIVersion); err != nil {
				return Page{}, fmt.Errorf("meta: %w", err)
			}
			haveMeta = true
		case "name":
			if err := json.UnmarshalDecode(dec, &p.Name); err != nil {
				return Page{}, fmt.Errorf("name: %w", err)
			}
			if err := checkSimpleName(p.Name); err != nil {
				return Page{}, err
			}
		case "files":
			haveFiles = true
			err = readSimpleJSONArray(dec, "files", func(i int) error {
				if i == MaxPageFiles {
					return simpleTooManyFiles()
				}
				// Where the file's object starts, past the comma
				// before it, for errors.
				offset := int(dec.InputOffset())
				offset += len(body[offset:]) - len(bytes.TrimLeft(body[offset:], ", \t\r\n"))
				var jf simpleJSONFile
				err := json.UnmarshalDecode(dec, &jf)
				if err == nil {
					var f File
					if f, err = jf.file(base); err == nil {
						err = files.add(f)
					}
				}
				if err != nil {
					return fmt.Errorf("file %d at byte %d (%.80q): %w", i+1, offset, body[offset:], err)
				}
				return nil
			})
		case "versions":
			if dec.PeekKind() == 'n' {
				// null: no versions given.
				err = dec.SkipValue()
				break
			}
			p.Versions = []string{}
			err = readSimpleJSONArray(dec, "versions", func(i int) error {
				// A version without files is rare; as many versions as
				// files is plenty.
				if i == MaxPageFiles {
					return fmt.Errorf("more than %d versions", MaxPageFiles)
				}
				var v *string
				if err := json.UnmarshalDecode(dec, &v); err != nil {
					return fmt.Errorf("version %d: %w", i+1, err)
				}
				if v == nil {
					return fmt.Errorf("version %d is null", i+1)
				}
				p.Versions = append(p.Versions, *v)
				return nil
			})
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return Page{}, err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return Page{}, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("more JSON after the page's object, at byte %d", dec.InputOffset())
		}
		return Page{}, err
	}
	if !haveMeta {
		return Page{}, errors.New("no meta")
	}
	if !haveFiles {
		return Page{}, errors.New("no files")
	}
	p.Files = files.files
	return p, nil
}

// readSimpleJSONArray reads the array dec is at, calling each for every
// element, which each must read.
func readSimpleJSONArray(dec *jsontext.Decoder, what string, each func(i int) error) error {
	if k := dec.PeekKind(); k != '[' {
		return fmt.Errorf("%s is %s at byte %d, want an array", what, simpleJSONKind(k), dec.InputOffset())
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for i := 0; dec.PeekKind() != ']'; i++ {
		if err := each(i); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

func (jf *simpleJSONFile) file(base *url.URL) (File, error) {
	if jf.Filename == nil {
		return File{}, errors.New("no filename")
	}
	if err := tiles.CheckFilename(*jf.Filename); err != nil {
		return File{}, err
	}
	f, err := jf.fields(base)
	if err != nil {
		return File{}, fmt.Errorf("%.200q: %w", *jf.Filename, err)
	}
	return f, nil
}

// fields checks and converts what jf says besides its filename.
func (jf *simpleJSONFile) fields(base *url.URL) (File, error) {
	f := File{Filename: *jf.Filename, Size: -1}
	if jf.URL == nil || *jf.URL == "" {
		return File{}, errors.New("no url")
	}
	// A fragment is dropped: PEP 691's hashes are in "hashes".
	u, _, err := resolveSimpleURL(base, *jf.URL)
	if err != nil {
		return File{}, err
	}
	f.URL = u.String()
	if f.Hashes, err = parseSimpleJSONHashes(jf.Hashes); err != nil {
		return File{}, err
	}
	if jf.RequiresPython != nil {
		f.RequiresPython = cleanSimpleText(*jf.RequiresPython)
	}
	if f.Yanked, f.YankedReason, err = parseSimpleJSONYanked(jf.Yanked); err != nil {
		return File{}, err
	}
	if jf.Size != nil {
		if *jf.Size < 0 {
			return File{}, fmt.Errorf("size %d", *jf.Size)
		}
		f.Size = *jf.Size
	}
	if jf.UploadTime != nil && *jf.UploadTime != "" {
		// tiles' "-" stands for no time in the log, not on a page.
		if *jf.UploadTime == tiles.NoUploadTime {
			return File{}, fmt.Errorf("upload-time %q", *jf.UploadTime)
		}
		if err := tiles.CheckUploadTime(*jf.UploadTime); err != nil {
			return File{}, err
		}
		f.UploadTime = *jf.UploadTime
	}
	return f, nil
}

// parseSimpleJSONHashes reads a file's "hashes" object, absent or null
// meaning none.
func parseSimpleJSONHashes(raw jsontext.Value) (map[string]string, error) {
	if len(raw) == 0 || raw.Kind() == 'n' {
		return nil, nil
	}
	if raw.Kind() != '{' {
		return nil, fmt.Errorf("hashes is %s, want an object", simpleJSONKind(raw.Kind()))
	}
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	var hashes map[string]string
	for dec.PeekKind() != '}' {
		// A token is valid until the next read: its string is taken at
		// once.
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String()
		if len(hashes) == simpleMaxHashes {
			return nil, fmt.Errorf("more than %d hashes", simpleMaxHashes)
		}
		if tok, err = dec.ReadToken(); err != nil {
			return nil, err
		}
		if tok.Kind() != '"' {
			return nil, fmt.Errorf("hash %.40q is %s, want a string", name, simpleJSONKind(tok.Kind()))
		}
		value := tok.String()
		if err := checkSimpleHash(name, value); err != nil {
			return nil, err
		}
		if hashes == nil {
			hashes = map[string]string{}
		}
		hashes[name] = value
	}
	return hashes, nil
}

// parseSimpleJSONYanked reads a file's "yanked": false (or absent, or
// null), true, or the reason (PEP 691, 592). An empty reason is read as
// yanked without one.
func parseSimpleJSONYanked(raw jsontext.Value) (yanked bool, reason string, err error) {
	if len(raw) == 0 {
		return false, "", nil
	}
	switch raw.Kind() {
	case 'n', 'f':
		return false, "", nil
	case 't':
		return true, "", nil
	case '"':
		if err := json.Unmarshal(raw, &reason); err != nil {
			return false, "", fmt.Errorf("yanked: %w", err)
		}
		return true, cleanSimpleText(reason), nil
	}
	return false, "", fmt.Errorf("yanked is %s, want a boolean or a string", simpleJSONKind(raw.Kind()))
}

// simpleJSONKind names a kind of JSON value for errors.
func simpleJSONKind(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 'n', 't', 'f':
		return k.String()
	}
	return "invalid JSON"
}

// simpleJSONPage and simpleJSONPageFile are a page as RenderJSON writes
// it.
type simpleJSONPage struct {
	Meta struct {
		APIVersion string `json:"api-version"`
	} `json:"meta"`
	Name     string               `json:"name"`
	Files    []simpleJSONPageFile `json:"files"`
	Versions []string             `json:"versions,omitzero"`
}

type simpleJSONPageFile struct {
	Filename       string            `json:"filename"`
	URL            string            `json:"url"`
	Hashes         map[string]string `json:"hashes"`
	RequiresPython string            `json:"requires-python,omitzero"`
	Yanked         any               `json:"yanked"`
	Size           *int64            `json:"size,omitzero"`
	UploadTime     string            `json:"upload-time,omitzero"`
}

// RenderJSON renders p as a PEP 691 page: "meta" with the "api-version"
// ("1.1" when p has PEP 700 data, Versions or a file's size or upload
// time, else "1.0"), "name", "files" and "versions" when Versions is not
// nil. Each file has "filename", "url", "hashes" ({} when none), "yanked"
// (false, true, or the reason, per PEP 691 and 592), and
// "requires-python", "size" and "upload-time" when known. Hash names are
// sorted, so that a page renders to the same bytes every time. Invalid
// UTF-8, which ParseProjectPage never gives, is rendered as U+FFFD.
func (p Page) RenderJSON() []byte {
	var out simpleJSONPage
	out.Meta.APIVersion = p.simpleAPIVersion()
	out.Name = p.Name
	out.Versions = p.Versions
	out.Files = make([]simpleJSONPageFile, len(p.Files))
	for i, f := range p.Files {
		jf := simpleJSONPageFile{
			Filename:       f.Filename,
			URL:            f.URL,
			Hashes:         f.Hashes,
			RequiresPython: f.RequiresPython,
			Yanked:         false,
			UploadTime:     f.UploadTime,
		}
		if f.Yanked {
			jf.Yanked = true
			if f.YankedReason != "" {
				jf.Yanked = f.YankedReason
			}
		}
		if f.Size >= 0 {
			jf.Size = &f.Size
		}
		out.Files[i] = jf
	}
	b, err := json.Marshal(out, json.Deterministic(true), jsontext.AllowInvalidUTF8(true))
	if err != nil {
		// Unreachable: strings (invalid UTF-8 allowed), booleans,
		// integers, slices and maps of strings always encode.
		panic("proxy: couldn't render a project page as JSON: " + err.Error())
	}
	return append(b, '\n')
}

// RenderHTML renders p as a PEP 503 page (with PEP 629's version, PEP
// 592's data-yanked): one link a file, its URL's fragment the sha256 when
// Hashes has one (HTML carries no other hash), data-requires-python and
// data-yanked when they apply. Sizes, upload times and Versions have no
// place in HTML. Everything is escaped, so no value can end an attribute
// or an element.
func (p Page) RenderHTML() []byte {
	var b bytes.Buffer
	name := html.EscapeString(p.Name)
	b.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n")
	b.WriteString(`    <meta name="pypi:repository-version" content="` + p.simpleAPIVersion() + "\">\n")
	b.WriteString("    <title>Links for " + name + "</title>\n  </head>\n  <body>\n")
	b.WriteString("    <h1>Links for " + name + "</h1>\n")
	for _, f := range p.Files {
		href := f.URL
		if sha256, ok := f.Hashes["sha256"]; ok {
			href += "#sha256=" + sha256
		}
		b.WriteString(`    <a href="` + html.EscapeString(href) + `"`)
		if f.RequiresPython != "" {
			b.WriteString(` data-requires-python="` + html.EscapeString(f.RequiresPython) + `"`)
		}
		if f.Yanked {
			b.WriteString(` data-yanked="` + html.EscapeString(f.YankedReason) + `"`)
		}
		b.WriteString(">" + html.EscapeString(f.Filename) + "</a><br/>\n")
	}
	b.WriteString("  </body>\n</html>\n")
	return b.Bytes()
}

// simpleOffers are the media types a project page is served as, in the
// order warehouse (PyPI) lists them to WebOb's acceptable_offers, which
// breaks ties by that order.
var simpleOffers = [...]string{MediaTypeLegacy, MediaTypeHTML, MediaTypeJSON}

// Negotiate picks the media type to answer a Simple API request with, as
// PyPI (warehouse's _select_content_type, through WebOb) does, from the
// request's Accept header and the PEP 691 `format` query parameter.
//
// format, when not "", overrides Accept: it must name one of the types
// served (case-insensitively; a space stands for the "+" that a query
// string turns into one), else nothing is acceptable.
//
// Otherwise each type served takes the quality of the most specific media
// range of Accept that matches it (its own name, then the "latest" alias
// of PEP 691, then type/*, then */*; the first of equally specific ones);
// the type of highest quality wins, and a tie goes to text/html, then
// MediaTypeHTML, then MediaTypeJSON, as on PyPI (PEP 691 recommends the
// opposite, but PyPI's answer is what clients are used to, and those that
// prefer JSON say so with q=, as pip and uv do). q=0 means not
// acceptable. Media type parameters other than q are ignored in matching.
// The "latest" aliases are answered with the v1 types.
//
// An Accept header that is absent (""), empty or that doesn't parse as
// RFC 9110's grammar is treated as */* (WebOb does the same with one that
// doesn't parse): text/html. ok is false when nothing offered is
// acceptable (the caller answers 406 Not Acceptable; PyPI would answer
// text/html, as PEP 691 allows either).
//
// accept is the request's Accept header; several header lines must be
// joined with commas.
func Negotiate(accept, format string) (mediaType string, ok bool) {
	if format = strings.TrimSpace(format); format != "" {
		switch strings.ToLower(strings.ReplaceAll(format, " ", "+")) {
		case MediaTypeJSON, mediaTypeLatestJSON:
			return MediaTypeJSON, true
		case MediaTypeHTML, mediaTypeLatestHTML:
			return MediaTypeHTML, true
		case MediaTypeLegacy:
			return MediaTypeLegacy, true
		}
		return "", false
	}
	var quality, specificity [len(simpleOffers)]int
	ranges := 0
	valid := parseSimpleAccept(accept, func(mediaRange string, q int) {
		ranges++
		for i, offer := range simpleOffers {
			// Strictly more specific: the first of equals counts.
			if s := simpleSpecificity(mediaRange, offer); s > specificity[i] {
				quality[i], specificity[i] = q, s
			}
		}
	})
	if !valid || ranges == 0 {
		return MediaTypeLegacy, true
	}
	best := -1
	for i := range simpleOffers {
		if quality[i] > 0 && (best < 0 || quality[i] > quality[best]) {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return simpleOffers[best], true
}

// simpleSpecificity tells how specifically mediaRange matches offer: 4 by
// its name, 3 by its "latest" alias, 2 as type/*, 1 as */*, 0 not at all.
func simpleSpecificity(mediaRange, offer string) int {
	typ, _, _ := strings.Cut(offer, "/")
	switch {
	case strings.EqualFold(mediaRange, offer):
		return 4
	case offer == MediaTypeJSON && strings.EqualFold(mediaRange, mediaTypeLatestJSON),
		offer == MediaTypeHTML && strings.EqualFold(mediaRange, mediaTypeLatestHTML):
		return 3
	case len(mediaRange) == len(typ)+2 && strings.EqualFold(mediaRange[:len(typ)], typ) && mediaRange[len(typ):] == "/*":
		return 2
	case mediaRange == "*/*":
		return 1
	}
	return 0
}

// parseSimpleAccept parses an Accept header (RFC 9110, 12.5.1), calling
// each with every media range ("type/subtype") and its quality in
// thousandths, and reports whether the whole header is valid. It
// allocates nothing.
func parseSimpleAccept(s string, each func(mediaRange string, q int)) bool {
	i := 0
	for {
		i = skipSimpleOWS(s, i)
		if i == len(s) {
			return true
		}
		// Empty list elements are allowed (RFC 9110, 5.6.1).
		if s[i] == ',' {
			i++
			continue
		}
		end, ok := parseSimpleAcceptElement(s, i, each)
		if !ok {
			return false
		}
		i = skipSimpleOWS(s, end)
		if i < len(s) && s[i] != ',' {
			return false
		}
	}
}

// parseSimpleAcceptElement parses the media range at s[i:] with its
// parameters, its weight and the extension parameters after it, and
// returns where it ends.
func parseSimpleAcceptElement(s string, i int, each func(mediaRange string, q int)) (int, bool) {
	typeEnd := scanSimpleToken(s, i)
	if typeEnd == i || typeEnd == len(s) || s[typeEnd] != '/' {
		return 0, false
	}
	end := scanSimpleToken(s, typeEnd+1)
	if end == typeEnd+1 {
		return 0, false
	}
	mediaRange := s[i:end]
	q, weighted := 1000, false
	for {
		j := skipSimpleOWS(s, end)
		if j == len(s) || s[j] != ';' {
			break
		}
		j = skipSimpleOWS(s, j+1)
		nameEnd := scanSimpleToken(s, j)
		if nameEnd == j {
			return 0, false
		}
		name := s[j:nameEnd]
		j = nameEnd
		hasValue := j < len(s) && s[j] == '='
		ok := true
		switch {
		case weighted:
			// An extension parameter, after the weight: its value is
			// optional.
			if hasValue {
				j, ok = scanSimpleParamValue(s, j+1)
			}
		case !hasValue:
			return 0, false
		case name == "q" || name == "Q":
			q, j, ok = scanSimpleQValue(s, j+1)
			weighted = true
		default:
			j, ok = scanSimpleParamValue(s, j+1)
		}
		if !ok {
			return 0, false
		}
		end = j
	}
	each(mediaRange, q)
	return end, true
}

// scanSimpleQValue parses the qvalue at s[i:] ("0" to "1" with up to three
// decimals) in thousandths.
func scanSimpleQValue(s string, i int) (q, end int, ok bool) {
	if i == len(s) || s[i] != '0' && s[i] != '1' {
		return 0, 0, false
	}
	q = int(s[i]-'0') * 1000
	i++
	if i < len(s) && s[i] == '.' {
		i++
		for scale := 100; scale > 0 && i < len(s) && '0' <= s[i] && s[i] <= '9'; scale /= 10 {
			q += int(s[i]-'0') * scale
			i++
		}
	}
	return q, i, q <= 1000
}

// scanSimpleParamValue returns the end of the token or quoted string at
// s[i:].
func scanSimpleParamValue(s string, i int) (int, bool) {
	if i == len(s) || s[i] != '"' {
		end := scanSimpleToken(s, i)
		return end, end > i
	}
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			// quoted-pair: HTAB, SP, VCHAR or obs-text.
			if i++; i == len(s) || s[i] < ' ' && s[i] != '\t' || s[i] == 0x7f {
				return 0, false
			}
		case c < ' ' && c != '\t' || c == 0x7f:
			return 0, false
		}
	}
	return 0, false
}

// scanSimpleToken returns the end of the RFC 9110 token at s[i:], i if
// there is none.
func scanSimpleToken(s string, i int) int {
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			break
		}
	}
	return i
}

// skipSimpleOWS returns the end of the optional white space at s[i:].
func skipSimpleOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}
