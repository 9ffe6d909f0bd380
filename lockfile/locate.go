package lockfile

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"

	"github.com/pysumdb/pysumdb/tiles"
)

// The headers of the arrays of tables that hold packages: [[packages]] in
// pylock.toml, [[package]] in uv.lock and poetry.lock.
var (
	pylockPackageHeader = regexp.MustCompile(`(?m)^[ \t]*\[\[[ \t]*packages[ \t]*\]\]`)
	packageHeader       = regexp.MustCompile(`(?m)^[ \t]*\[\[[ \t]*package[ \t]*\]\]`)
)

// locator finds the lines of values in a lockfile's text. Decoders of TOML
// and JSON do not say where a decoded value was, and a user needs the line of
// a bad or mismatching hash; a hash is unique enough in a lockfile that
// finding its text, searching from where its package starts, gives the line.
type locator struct {
	lower      []byte // the text with ASCII letters lowercased, so hashes match whatever their case
	lineStarts []int  // offset of the first byte of each line
}

func newLocator(data []byte) *locator {
	lineStarts := []int{0}
	for i, c := range data {
		if c == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	return &locator{lower: asciiLower(data), lineStarts: lineStarts}
}

// asciiLower returns a copy of b with ASCII letters lowercased and every
// other byte unchanged, so that offsets in it are offsets in b.
func asciiLower(b []byte) []byte {
	lower := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return lower
}

// line returns the 1-based line of a byte offset.
func (l *locator) line(offset int) int {
	return sort.Search(len(l.lineStarts), func(i int) bool { return l.lineStarts[i] > offset })
}

// find returns the line of the first occurrence of needle (compared without
// ASCII case) at or after offset from, or 0 if there is none.
func (l *locator) find(needle string, from int) int {
	if needle == "" || from < 0 || from > len(l.lower) {
		return 0
	}
	i := bytes.Index(l.lower[from:], asciiLower([]byte(needle)))
	if i < 0 {
		return 0
	}
	return l.line(from + i)
}

// tableStarts returns the offsets of the headers that header matches, if
// there are exactly want of them; otherwise (an inline array of tables, a
// header inside a multi-line string) zeros, so that searches start at the
// top of the file.
func (l *locator) tableStarts(header *regexp.Regexp, want int) []int {
	starts := make([]int, want)
	found := header.FindAllIndex(l.lower, -1)
	if len(found) == want {
		for i, m := range found {
			starts[i] = m[0]
		}
	}
	return starts
}

// pinFile sets a's SHA256 from the digests a lockfile lists for one file
// (algorithm, lowercase, to hex digest), or its Skip when sha256 is not among
// them. The error, for a bad sha256 or filename, has no place: the caller
// knows the line.
func pinFile(a *Artifact, digests map[string]string) error {
	digest, ok := digests["sha256"]
	if !ok {
		if a.Skip == "" {
			algorithms := make([]string, 0, len(digests))
			for algorithm := range digests {
				algorithms = append(algorithms, algorithm)
			}
			a.Skip = noSHA256(algorithms)
		}
		return nil
	}
	sha, err := normalizeSHA256(digest)
	if err != nil {
		return err
	}
	a.SHA256 = sha
	if a.Skip == "" && a.Filename != "" {
		if err := tiles.CheckFilename(a.Filename); err != nil {
			return err
		}
	}
	return nil
}

// reader gathers the artifacts of a TOML or JSON lockfile.
type reader struct {
	file      string
	text      *locator
	artifacts []Artifact
}

// addFile appends the artifact of one file. from is the offset where its
// package starts: the line of its hash is searched from there (as the end of
// a string, so that a short bad digest does not match inside a URL),
// and packageLine is used when no hash is found.
func (r *reader) addFile(a Artifact, digests map[string]string, from, packageLine int) error {
	a.File = r.file
	a.Line = packageLine
	for _, algorithm := range []string{"sha256", "sha512", "sha384", "md5"} {
		digest, ok := digests[algorithm]
		if !ok {
			continue
		}
		if line := r.text.find(digest+`"`, from); line > 0 {
			a.Line = line
			break
		}
	}
	if err := pinFile(&a, digests); err != nil {
		return &ParseError{File: r.file, Line: a.Line, Err: fmt.Errorf("package %s %s: %w", a.Project, a.Version, err)}
	}
	r.artifacts = append(r.artifacts, a)
	return nil
}

// addHash appends the artifact of a file given by one "algorithm:hexdigest"
// string (uv, poetry, Pipfile.lock).
func (r *reader) addHash(a Artifact, hash string, from, packageLine int) error {
	if hash == "" {
		return r.addFile(a, nil, from, packageLine)
	}
	algorithm, digest, err := splitHash(hash)
	if err != nil {
		line := r.text.find(hash, from)
		if line == 0 {
			line = packageLine
		}
		return &ParseError{File: r.file, Line: line, Err: fmt.Errorf("package %s %s: %w", a.Project, a.Version, err)}
	}
	return r.addFile(a, map[string]string{algorithm: digest}, from, packageLine)
}

// packageLine returns the line of a package's quoted name after from, or of
// from itself.
func (r *reader) packageLine(name string, from int) int {
	if line := r.text.find(`"`+name+`"`, from); line > 0 {
		return line
	}
	return r.text.line(from)
}
