package claim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/tiles"
)

// Header is the first line of every claim text.
const Header = "pysumdb-claim/v1"

// Limits of a claim.
const (
	// MaxSize bounds a claim as sent: its text and its signatures.
	MaxSize = 256 << 10
	// MaxFiles bounds the files of one claim.
	MaxFiles = 1000
)

// TimeLayout is the form of every time in this package's formats: RFC
// 3339 in UTC, whole seconds.
const TimeLayout = "2006-01-02T15:04:05Z"

// ErrMalformed is wrapped by every parse error of this package (it is
// tiles.ErrMalformed, so that callers test one error).
var ErrMalformed = tiles.ErrMalformed

// ErrSignature is wrapped by the errors of a signature that is missing,
// extra or doesn't verify.
var ErrSignature = errors.New("signature does not verify")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// File is one file of a claim.
type File struct {
	// Filename is the distribution filename, as uploaded to PyPI.
	Filename string
	// SHA256 is the digest of the file's bytes.
	SHA256 [32]byte
	// Size is the file's size in bytes, at least 1.
	Size int64
}

// Claim is a maintainer's statement that these are the bytes of these
// files of a project.
type Claim struct {
	// Project is the normalized project name.
	Project string
	// Time is when the maintainer made the claim, whole seconds, UTC.
	Time time.Time
	// Files are the claimed files, sorted by filename, at least one.
	Files []File
}

// ID returns the identifier of a claim text: its SHA-256 digest. Two
// requests of the same text (signed with a key or sent with an OIDC token)
// are the same claim.
func ID(text []byte) [32]byte { return sha256.Sum256(text) }

// Format returns the claim text of c, or an error if c can't be written in
// a form Parse accepts back unchanged. Files must be sorted by filename.
func Format(c Claim) ([]byte, error) {
	if err := checkProject(c.Project); err != nil {
		return nil, err
	}
	ts, err := formatTime(c.Time)
	if err != nil {
		return nil, err
	}
	if len(c.Files) == 0 || len(c.Files) > MaxFiles {
		return nil, malformed("a claim names 1 to %d files, not %d", MaxFiles, len(c.Files))
	}
	var b bytes.Buffer
	b.WriteString(Header + "\nproject " + c.Project + "\ntime " + ts + "\n")
	for i, f := range c.Files {
		if i > 0 && c.Files[i-1].Filename >= f.Filename {
			return nil, malformed("files are not sorted by filename, without duplicates: %q before %q", c.Files[i-1].Filename, f.Filename)
		}
		if err := CheckFile(c.Project, f.Filename); err != nil {
			return nil, err
		}
		if f.Size <= 0 {
			return nil, malformed("file %s has size %d", f.Filename, f.Size)
		}
		fmt.Fprintf(&b, "%s %s %d\n", f.Filename, tiles.FormatSHA256(f.SHA256), f.Size)
	}
	if b.Len() > MaxSize {
		return nil, malformed("claim of %d bytes exceeds %d", b.Len(), MaxSize)
	}
	return b.Bytes(), nil
}

// Parse parses a claim text strictly: the lines of the format, each ending
// in LF, nothing else; 1 to MaxFiles files, sorted by filename without
// duplicates, each of the project (CheckFile) with a size of at least 1
// byte.
func Parse(text []byte) (Claim, error) {
	var c Claim
	if len(text) > MaxSize {
		return c, malformed("claim of %d bytes exceeds %d", len(text), MaxSize)
	}
	lines, err := splitLines(text, "claim")
	if err != nil {
		return c, err
	}
	if len(lines) < 4 {
		return c, malformed("claim has %d lines, want a header, project, time and 1 to %d files", len(lines), MaxFiles)
	}
	if len(lines)-3 > MaxFiles {
		return c, malformed("claim names %d files, more than %d", len(lines)-3, MaxFiles)
	}
	if lines[0] != Header {
		return c, malformed("claim header %.40q, want %q", lines[0], Header)
	}
	if c.Project, err = parseProjectLine(lines[1]); err != nil {
		return c, err
	}
	if c.Time, err = parseTimeLine(lines[2], "time"); err != nil {
		return c, err
	}
	c.Files = make([]File, 0, len(lines)-3)
	for i, line := range lines[3:] {
		f, err := parseFileLine(c.Project, line)
		if err != nil {
			return Claim{}, fmt.Errorf("line %d: %w", i+4, err)
		}
		if i > 0 && c.Files[i-1].Filename >= f.Filename {
			return Claim{}, malformed("line %d: files are not sorted by filename, without duplicates: %q after %q", i+4, f.Filename, c.Files[i-1].Filename)
		}
		c.Files = append(c.Files, f)
	}
	return c, nil
}

// parseFileLine parses "<filename> sha256:<hex> <size>".
func parseFileLine(project, line string) (File, error) {
	var f File
	fields := strings.Split(line, " ")
	if len(fields) != 3 {
		return f, malformed("file line %.80q is not \"<filename> sha256:<hex> <size>\"", line)
	}
	if err := CheckFile(project, fields[0]); err != nil {
		return f, err
	}
	f.Filename = fields[0]
	digest, err := tiles.ParseSHA256(fields[1])
	if err != nil {
		return f, err
	}
	f.SHA256 = digest
	if f.Size, err = parsePositive(fields[2]); err != nil {
		return f, malformed("size %.40q of %s is not a positive decimal integer", fields[2], f.Filename)
	}
	return f, nil
}

// parsePositive parses a decimal integer of at least 1, without sign or
// leading zeros.
func parsePositive(s string) (int64, error) {
	if s == "" || s[0] < '1' || s[0] > '9' || len(s) > 19 {
		return 0, malformed("%q", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, malformed("%q", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// Sign returns c as a signed note, signed by each of signers.
func Sign(c Claim, signers ...note.Signer) ([]byte, error) {
	text, err := Format(c)
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		return nil, err
	}
	if len(msg) > MaxSize {
		return nil, malformed("signed claim of %d bytes exceeds %d", len(msg), MaxSize)
	}
	return msg, nil
}

// Open verifies that msg is a claim signed by the key vkey (a note
// verifier key) and by no other, and returns it.
func Open(msg []byte, vkey string) (Claim, error) {
	if len(msg) > MaxSize {
		return Claim{}, malformed("claim of %d bytes exceeds %d", len(msg), MaxSize)
	}
	text, err := OpenSigned(msg, vkey)
	if err != nil {
		return Claim{}, err
	}
	return Parse(text)
}

// OpenSigned verifies that msg is a note signed by each of vkeys (note
// verifier keys) and by no other key, and returns its text.
func OpenSigned(msg []byte, vkeys ...string) ([]byte, error) {
	if len(vkeys) == 0 {
		return nil, fmt.Errorf("%w: no key to verify with", ErrSignature)
	}
	verifiers := make([]note.Verifier, len(vkeys))
	for i, vkey := range vkeys {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, malformed("verifier key %.100q: %v", vkey, err)
		}
		for _, w := range verifiers[:i] {
			if w.Name() == v.Name() && w.KeyHash() == v.KeyHash() {
				return nil, malformed("key %s twice", vkey)
			}
		}
		verifiers[i] = v
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		return nil, fmt.Errorf("%w: the note is not signed by %s", ErrSignature, vkeyNames(vkeys))
	case errors.As(err, &invalid):
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	case err != nil:
		return nil, malformed("signed note: %v", err)
	}
	// The formats have no empty line, so the text ends at the first one,
	// as SplitNote says: a text that has one would verify a signature of
	// another text than the one parsed.
	if strings.Contains(n.Text, "\n\n") {
		return nil, malformed("signed note text has an empty line")
	}
	if len(n.UnverifiedSigs) > 0 {
		return nil, fmt.Errorf("%w: the note carries a signature by %s+%08x, not by %s", ErrSignature, n.UnverifiedSigs[0].Name, n.UnverifiedSigs[0].Hash, vkeyNames(vkeys))
	}
	for _, v := range verifiers {
		if !slices.ContainsFunc(n.Sigs, func(s note.Signature) bool { return s.Name == v.Name() && s.Hash == v.KeyHash() }) {
			return nil, fmt.Errorf("%w: the note is not signed by %s+%08x", ErrSignature, v.Name(), v.KeyHash())
		}
	}
	for _, sig := range n.Sigs {
		// StdEncoding ignores the unused bits of the last character.
		if _, err := base64.StdEncoding.Strict().DecodeString(sig.Base64); err != nil {
			return nil, malformed("signature by %s+%08x is not canonical base64", sig.Name, sig.Hash)
		}
	}
	// Open ignores a repeated signature line of a key it verified once:
	// refuse it, so that a claim as sent has one form.
	if lines := bytes.Count(msg[len(n.Text)+1:], []byte("\n")); lines != len(verifiers) {
		return nil, fmt.Errorf("%w: the note carries %d signature lines, want %d", ErrSignature, lines, len(verifiers))
	}
	return []byte(n.Text), nil
}

func vkeyNames(vkeys []string) string {
	names := make([]string, len(vkeys))
	for i, vkey := range vkeys {
		name, rest, _ := strings.Cut(vkey, "+")
		hash, _, _ := strings.Cut(rest, "+")
		names[i] = name + "+" + hash
	}
	return strings.Join(names, " and ")
}

// SplitNote splits msg, a text of this package's formats (which have no
// empty line) optionally followed by note signatures, into the text and
// whether signatures follow: the text ends at the first empty line.
func SplitNote(msg []byte) (text []byte, signed bool) {
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		return msg[:i+1], true
	}
	return msg, false
}

// splitLines splits text into lines that each ended in LF, refusing
// anything but printable ASCII and LF, and an empty line.
func splitLines(text []byte, what string) ([]string, error) {
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, malformed("%s does not end in a newline", what)
	}
	for i, c := range text {
		if (c < ' ' || c >= 0x7f) && c != '\n' {
			return nil, malformed("%s has byte %#02x at offset %d: only printable ASCII and LF", what, c, i)
		}
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	for i, line := range lines {
		if line == "" {
			return nil, malformed("%s has an empty line %d", what, i+1)
		}
	}
	return lines, nil
}

func checkProject(project string) error {
	if !tiles.IsNormalizedProject(project) {
		return malformed("project %.210q is not a normalized project name", project)
	}
	return nil
}

func parseProjectLine(line string) (string, error) {
	project, ok := strings.CutPrefix(line, "project ")
	if !ok {
		return "", malformed("line %.80q is not \"project <name>\"", line)
	}
	return project, checkProject(project)
}

// formatTime writes t in TimeLayout; t must be whole seconds (in any
// location) and its year four digits.
func formatTime(t time.Time) (string, error) {
	if t.IsZero() || t.Nanosecond() != 0 {
		return "", malformed("time %v is not whole seconds", t)
	}
	s := t.UTC().Format(TimeLayout)
	if _, err := parseTime(s); err != nil {
		return "", err
	}
	return s, nil
}

// parseTime parses s in TimeLayout, strictly.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil || t.Format(TimeLayout) != s || t.Year() < 1970 {
		return time.Time{}, malformed("time %.40q is not RFC 3339 UTC in whole seconds (2006-01-02T15:04:05Z) from 1970", s)
	}
	return t, nil
}

// FormatTime writes t as this package's formats do (TimeLayout), after
// dropping its fraction of a second.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(TimeLayout)
}

func parseTimeLine(line, key string) (time.Time, error) {
	s, ok := strings.CutPrefix(line, key+" ")
	if !ok {
		return time.Time{}, malformed("line %.80q is not \"%s <RFC 3339 UTC>\"", line, key)
	}
	return parseTime(s)
}
