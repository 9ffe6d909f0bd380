package tiles

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// NoUploadTime is written for a file whose upload time PyPI doesn't know.
const NoUploadTime = "-"

// IndexLine is one logged file of a project.
type IndexLine struct {
	// Leaf is the file's entry index in the log.
	Leaf int64
	// Filename is the distribution filename.
	Filename string
	// SHA256 is the logged digest.
	SHA256 [32]byte
	// Size is the file size in bytes.
	Size int64
	// UploadTime is RFC 3339 UTC, or NoUploadTime.
	UploadTime string
	// Claimant is who claimed the file, with these bytes, before the log
	// found it on PyPI (package claim), if anyone did.
	Claimant *Claimant
}

// Index is the body of a project index note.
type Index struct {
	// Origin is the log's origin.
	Origin string
	// Project is the normalized project name.
	Project string
	// TreeSize is the log size the index covers: it lists every file of
	// the project with a leaf index below it.
	TreeSize int64
	// Lines are the project's files in increasing leaf order.
	Lines []IndexLine
}

// CheckUploadTime reports whether s is NoUploadTime or an RFC 3339 time in
// UTC ("Z"), from 1970 on.
func CheckUploadTime(s string) error {
	if s == NoUploadTime {
		return nil
	}
	// The shape first, as it is cheap and time.Parse alone also accepts
	// one-digit hours and a comma before the fraction.
	if !isUploadTimeShape(s) {
		return malformed("upload time %q is not RFC 3339 UTC", s)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err != nil || t.Year() < 1970 {
		return malformed("upload time %q is not RFC 3339 UTC", s)
	}
	return nil
}

// isUploadTimeShape reports whether s is shaped like
// 2006-01-02T15:04:05Z, with an optional fraction of one digit or more
// before the Z.
func isUploadTimeShape(s string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(shape)+1 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' && !isDigit(s[i]) || shape[i] != 'd' && s[i] != shape[i] {
			return false
		}
	}
	fraction := s[len(shape) : len(s)-1]
	if fraction == "" {
		return true
	}
	if len(fraction) < 2 || fraction[0] != '.' {
		return false
	}
	for i := 1; i < len(fraction); i++ {
		if !isDigit(fraction[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// FormatIndex returns the index note text, checking every field.
func FormatIndex(x Index) ([]byte, error) {
	if err := CheckOrigin(x.Origin); err != nil {
		return nil, err
	}
	if !IsNormalizedProject(x.Project) {
		return nil, malformed("project %q is not normalized", x.Project)
	}
	if x.TreeSize < 0 || x.TreeSize > MaxTreeSize {
		return nil, malformed("tree size %d", x.TreeSize)
	}
	// Appends, not fmt: the sequencer formats an index for every project
	// of every batch. A line is about 150 bytes.
	b := make([]byte, 0, 64+len(x.Origin)+len(x.Project)+150*len(x.Lines))
	b = append(append(b, x.Origin...), "\nproject "...)
	b = append(append(b, x.Project...), "\nsize "...)
	b = append(strconv.AppendInt(b, x.TreeSize, 10), '\n')
	last := int64(-1)
	for _, l := range x.Lines {
		if l.Leaf <= last || l.Leaf >= x.TreeSize {
			return nil, malformed("index line for leaf %d out of order or beyond size %d", l.Leaf, x.TreeSize)
		}
		last = l.Leaf
		if err := CheckFilename(l.Filename); err != nil {
			return nil, err
		}
		if l.Size < 0 {
			return nil, malformed("negative size %d for %s", l.Size, l.Filename)
		}
		if err := CheckUploadTime(l.UploadTime); err != nil {
			return nil, err
		}
		b = append(strconv.AppendInt(b, l.Leaf, 10), ' ')
		b = append(append(b, l.Filename...), " sha256:"...)
		b = append(hex.AppendEncode(b, l.SHA256[:]), ' ')
		b = append(strconv.AppendInt(b, l.Size, 10), ' ')
		b = append(b, l.UploadTime...)
		if l.Claimant != nil {
			if err := CheckClaimant(*l.Claimant); err != nil {
				return nil, err
			}
			b = append(append(append(append(b, " claimed "...), l.Claimant.Kind...), ' '), l.Claimant.Value...)
		}
		b = append(b, '\n')
	}
	return b, nil
}

// ParseIndex parses an index note text strictly.
func ParseIndex(text string) (Index, error) {
	var x Index
	if !strings.HasSuffix(text, "\n") {
		return x, malformed("index does not end in newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return x, malformed("index has %d lines, want at least 3", len(lines))
	}
	if err := CheckOrigin(lines[0]); err != nil {
		return x, err
	}
	x.Origin = lines[0]
	project, ok := strings.CutPrefix(lines[1], "project ")
	if !ok || !IsNormalizedProject(project) {
		return x, malformed("index line 2 %q is not \"project <normalized name>\"", lines[1])
	}
	x.Project = project
	size, ok := strings.CutPrefix(lines[2], "size ")
	n, err := parseDecimal(size)
	if !ok || err != nil || n > MaxTreeSize {
		return x, malformed("index line 3 %q is not \"size <tree size>\"", lines[2])
	}
	x.TreeSize = n
	last := int64(-1)
	for i, line := range lines[3:] {
		f := strings.Split(line, " ")
		if len(f) != 5 && (len(f) != 8 || f[5] != "claimed") {
			return x, malformed("index line %d has %d fields, want 5, or 8 with a claimant", i+4, len(f))
		}
		var l IndexLine
		if l.Leaf, err = parseDecimal(f[0]); err != nil || l.Leaf <= last || l.Leaf >= x.TreeSize {
			return x, malformed("index line %d: leaf %q not increasing or not below size %d", i+4, f[0], x.TreeSize)
		}
		last = l.Leaf
		if err := CheckFilename(f[1]); err != nil {
			return x, fmt.Errorf("index line %d: %w", i+4, err)
		}
		l.Filename = f[1]
		if l.SHA256, err = ParseSHA256(f[2]); err != nil {
			return x, fmt.Errorf("index line %d: %w", i+4, err)
		}
		if l.Size, err = parseDecimal(f[3]); err != nil {
			return x, malformed("index line %d: size %q", i+4, f[3])
		}
		if err := CheckUploadTime(f[4]); err != nil {
			return x, fmt.Errorf("index line %d: %w", i+4, err)
		}
		l.UploadTime = f[4]
		if len(f) == 8 {
			c := Claimant{Kind: f[6], Value: f[7]}
			if err := CheckClaimant(c); err != nil {
				return x, fmt.Errorf("index line %d: %w", i+4, err)
			}
			l.Claimant = &c
		}
		x.Lines = append(x.Lines, l)
	}
	return x, nil
}

// SignIndex returns the signed note of x.
func SignIndex(x Index, signer note.Signer) ([]byte, error) {
	if signer.Name() != x.Origin {
		return nil, fmt.Errorf("key name %q differs from origin %q", signer.Name(), x.Origin)
	}
	text, err := FormatIndex(x)
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(text)}, signer)
}

// OpenIndex verifies a signed project index and parses it, checking that
// it is the index of project.
func OpenIndex(msg []byte, verifier note.Verifier, project string) (Index, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return Index{}, fmt.Errorf("index signature: %w", err)
	}
	x, err := ParseIndex(n.Text)
	if err != nil {
		return Index{}, err
	}
	if x.Origin != verifier.Name() {
		return Index{}, malformed("index origin %q is not the key name %q", x.Origin, verifier.Name())
	}
	if x.Project != project {
		return Index{}, malformed("index of project %q served for %q", x.Project, project)
	}
	return x, nil
}
