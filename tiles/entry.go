package tiles

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// EntryHeader is the first line of every entry.
const EntryHeader = "pypi-transparency/v1"

// MaxEntrySize is the largest entry a bundle can hold (uint16 length).
const MaxEntrySize = 1<<16 - 1

// MaxFilenameLen bounds filenames; PyPI's own limit is far below it.
const MaxFilenameLen = 1024

// Publisher kinds that a verified PEP 740 attestation can prove.
const (
	PublisherGitHub = "github"
	PublisherGitLab = "gitlab"
	PublisherGoogle = "google"
)

// ErrMalformed is wrapped by every parse error in this package.
var ErrMalformed = errors.New("malformed")

// Publisher is the identity that signed a file's PEP 740 publish
// attestation.
type Publisher struct {
	// Kind is github, gitlab or google.
	Kind string
	// SAN is the Subject Alternative Name of the signing certificate: a
	// workflow URL for GitHub and GitLab, an email for Google.
	SAN string
}

// Entry is one logged PyPI file.
type Entry struct {
	// SHA256 is the digest of the file's bytes.
	SHA256 [32]byte
	// Filename is the distribution filename, unique on PyPI.
	Filename string
	// Publisher is set only when a verified attestation proved it.
	Publisher *Publisher
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// CheckFilename reports whether name can be logged: non-empty, valid UTF-8,
// printable, no white space, no slash or backslash, not "." or "..".
func CheckFilename(name string) error {
	if name == "" {
		return malformed("empty filename")
	}
	if len(name) > MaxFilenameLen {
		return malformed("filename longer than %d bytes", MaxFilenameLen)
	}
	if !utf8.ValidString(name) {
		return malformed("filename %q is not UTF-8", name)
	}
	if name == "." || name == ".." {
		return malformed("filename %q", name)
	}
	for i := 0; i < len(name); i++ {
		// The ASCII a filename is made of, fast: printable, not a space.
		if c := name[i]; c >= utf8.RuneSelf || c <= ' ' || c == 0x7f || c == '/' || c == '\\' {
			return checkFilenameRunes(name, name[i:])
		}
	}
	return nil
}

// checkFilenameRunes checks rest, the end of name, rune by rune.
func checkFilenameRunes(name, rest string) error {
	for _, r := range rest {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '/' || r == '\\' {
			return malformed("filename %q contains %q", name, r)
		}
	}
	return nil
}

// CheckPublisher reports whether p can be written in an entry.
func CheckPublisher(p Publisher) error {
	switch p.Kind {
	case PublisherGitHub, PublisherGitLab, PublisherGoogle:
	default:
		return malformed("publisher kind %q (want github, gitlab or google)", p.Kind)
	}
	if p.SAN == "" || !utf8.ValidString(p.SAN) {
		return malformed("publisher SAN %q", p.SAN)
	}
	for _, r := range p.SAN {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return malformed("publisher SAN %q contains %q", p.SAN, r)
		}
	}
	return nil
}

// FormatEntry returns the serialized entry, or an error if e can't be
// serialized in a form that ParseEntry accepts back unchanged.
func FormatEntry(e Entry) ([]byte, error) {
	if err := CheckFilename(e.Filename); err != nil {
		return nil, err
	}
	size := len(EntryHeader) + len("\nsha256:") + 2*len(e.SHA256) + 1 + len(e.Filename) + 1
	if e.Publisher != nil {
		if err := CheckPublisher(*e.Publisher); err != nil {
			return nil, err
		}
		size += len("publisher  \n") + len(e.Publisher.Kind) + len(e.Publisher.SAN)
	}
	if size > MaxEntrySize {
		return nil, malformed("entry of %d bytes exceeds %d", size, MaxEntrySize)
	}
	// One allocation of the exact size: the sequencer formats every entry.
	b := make([]byte, 0, size)
	b = append(b, EntryHeader+"\nsha256:"...)
	b = hex.AppendEncode(b, e.SHA256[:])
	b = append(append(append(b, '\n'), e.Filename...), '\n')
	if e.Publisher != nil {
		b = append(append(b, "publisher "...), e.Publisher.Kind...)
		b = append(append(append(b, ' '), e.Publisher.SAN...), '\n')
	}
	return b, nil
}

// ParseEntry parses a serialized entry strictly: exactly the lines of the
// format, each ending in LF, nothing before, after or in between.
func ParseEntry(data []byte) (Entry, error) {
	var e Entry
	if len(data) > MaxEntrySize {
		return e, malformed("entry of %d bytes exceeds %d", len(data), MaxEntrySize)
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		return e, malformed("entry does not end in newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 3 && len(lines) != 4 {
		return e, malformed("entry has %d lines, want 3 or 4", len(lines))
	}
	if lines[0] != EntryHeader {
		return e, malformed("entry header %q, want %q", lines[0], EntryHeader)
	}
	digest, err := ParseSHA256(lines[1])
	if err != nil {
		return e, err
	}
	e.SHA256 = digest
	if err := CheckFilename(lines[2]); err != nil {
		return e, err
	}
	e.Filename = lines[2]
	if len(lines) == 4 {
		kind, san, ok := strings.Cut(strings.TrimPrefix(lines[3], "publisher "), " ")
		if !strings.HasPrefix(lines[3], "publisher ") || !ok {
			return e, malformed("fourth line %q is not \"publisher <kind> <SAN>\"", lines[3])
		}
		p := Publisher{Kind: kind, SAN: san}
		if err := CheckPublisher(p); err != nil {
			return e, err
		}
		e.Publisher = &p
	}
	return e, nil
}

// ParseSHA256 parses "sha256:" followed by 64 lowercase hex digits.
func ParseSHA256(s string) ([32]byte, error) {
	var d [32]byte
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return d, malformed("digest %q does not start with sha256:", s)
	}
	if err := parseHexDigest(hexPart, &d); err != nil {
		return d, err
	}
	return d, nil
}

// ParseHexDigest parses a sha256 digest as 64 lowercase hex digits.
func ParseHexDigest(s string) ([32]byte, error) {
	var d [32]byte
	err := parseHexDigest(s, &d)
	return d, err
}

func parseHexDigest(s string, d *[32]byte) error {
	if len(s) != 64 {
		return malformed("sha256 %q is not 64 hex digits", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return malformed("sha256 %q is not lowercase hex", s)
		}
	}
	_, err := hex.Decode(d[:], []byte(s))
	return err
}

// FormatSHA256 returns "sha256:" and the lowercase hex digest.
func FormatSHA256(d [32]byte) string {
	return "sha256:" + hex.EncodeToString(d[:])
}
