package tiles

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Object key prefixes of the project list and the filename notes.
const (
	ProjectListPrefix = "projects/"
	FilenamesPrefix   = "filenames/"
)

// MaxFilenameProjects bounds how many projects a filename is taken to
// possibly belong to (see [FilenameProjects]), so that a filename full of
// dashes can't make the sequencer read hundreds of indexes.
const MaxFilenameProjects = 5

// noHome is the home of a filename none of whose prefixes is a project
// name; no normalized project name can be "_".
const noHome = "_"

// ProjectShard returns the shard of the project list that lists project:
// its first two characters (the whole name if it has one).
func ProjectShard(project string) string {
	return project[:min(2, len(project))]
}

// ProjectListKey returns the object key of a shard of the project list.
func ProjectListKey(shard string) string { return ProjectListPrefix + shard }

// ProjectShards returns every shard a project list can have, in order, so
// that a reader that can't list objects (over HTTP) finds them all.
func ProjectShards() []string {
	const first = "0123456789abcdefghijklmnopqrstuvwxyz"
	const second = "-0123456789abcdefghijklmnopqrstuvwxyz"
	out := make([]string, 0, len(first)*(len(second)+1))
	for _, a := range first {
		out = append(out, string(a))
		for _, b := range second {
			out = append(out, string(a)+string(b))
		}
	}
	slices.Sort(out)
	return out
}

// ProjectList is the body of one shard of the project list: every project
// of the shard with an index, that is with a logged file below TreeSize.
type ProjectList struct {
	// Origin is the log's origin.
	Origin string
	// Shard is the shard's name (see ProjectShard).
	Shard string
	// TreeSize is the log size the shard covers.
	TreeSize int64
	// Projects are the normalized names, sorted, each once.
	Projects []string
}

// FormatProjectList returns the project list note text, checking every
// field.
func FormatProjectList(l ProjectList) ([]byte, error) {
	if err := checkNoteHeader(l.Origin, l.TreeSize); err != nil {
		return nil, err
	}
	if !isProjectShard(l.Shard) {
		return nil, malformed("project list shard %q", l.Shard)
	}
	b := appendNoteHeader(nil, l.Origin, "projects", l.Shard, l.TreeSize)
	for i, p := range l.Projects {
		if err := checkListedProject(l.Shard, p, l.Projects[:i]); err != nil {
			return nil, err
		}
		b = append(append(b, p...), '\n')
	}
	return b, nil
}

func checkListedProject(shard, p string, before []string) error {
	if !IsNormalizedProject(p) || ProjectShard(p) != shard {
		return malformed("project %q in project list shard %q", p, shard)
	}
	if len(before) > 0 && before[len(before)-1] >= p {
		return malformed("project list shard %q: %q not after %q", shard, p, before[len(before)-1])
	}
	return nil
}

func isProjectShard(s string) bool {
	return len(s) >= 1 && len(s) <= 2 && IsNormalizedProject(s[:1]) && (len(s) == 1 || s[1] == '-' || IsNormalizedProject(s[1:]))
}

// ParseProjectList parses a project list note text strictly.
func ParseProjectList(text string) (ProjectList, error) {
	var l ProjectList
	lines, err := parseNoteHeader(text, "projects", &l.Origin, &l.Shard, &l.TreeSize)
	if err != nil {
		return l, err
	}
	if !isProjectShard(l.Shard) {
		return l, malformed("project list shard %q", l.Shard)
	}
	if len(lines) > 0 {
		// Not an empty non-nil slice: a shard without projects parses
		// to what it was formatted from.
		l.Projects = make([]string, 0, len(lines))
	}
	for _, p := range lines {
		if err := checkListedProject(l.Shard, p, l.Projects); err != nil {
			return l, err
		}
		l.Projects = append(l.Projects, p)
	}
	return l, nil
}

// SignProjectList returns the signed note of l.
func SignProjectList(l ProjectList, signer note.Signer) ([]byte, error) {
	return signNote(l.Origin, signer, func() ([]byte, error) { return FormatProjectList(l) })
}

// OpenProjectList verifies a signed project list shard and parses it,
// checking that it is shard.
func OpenProjectList(msg []byte, verifier note.Verifier, shard string) (ProjectList, error) {
	text, err := openNote(msg, verifier, "project list")
	if err != nil {
		return ProjectList{}, err
	}
	l, err := ParseProjectList(text)
	if err != nil {
		return ProjectList{}, err
	}
	if l.Origin != verifier.Name() || l.Shard != shard {
		return ProjectList{}, malformed("project list shard %q of %q served for shard %q of %q", l.Shard, l.Origin, shard, verifier.Name())
	}
	return l, nil
}

// FilenameProjects returns the normalized names of the projects a
// distribution filename can belong to, by its form: the text before each
// "-" of the filename, or before the first "-" only for a wheel or an egg
// (".whl", ".egg"), whose project names never hold a "-", or the whole
// filename if it holds no "-"; normalized, shortest first, those that are
// not valid names left out, the first MaxFilenameProjects. So the legacy
// sdist "foo-bar-1.0.tar.gz" gives foo and foo-bar. This is part of the
// format (see the package doc): changing it moves files between notes.
//
// PyPI files nearly always belong to one of these. A file logged under
// another project (a legacy upload, a renamed project) is listed in the
// filename note of its home (see [FilenameHome]), so that the sequencer
// can find every logged filename from the filename alone.
func FilenameProjects(filename string) []string {
	var out []string
	add := func(prefix string) {
		// The cheap checks first: most prefixes of a filename full of
		// dashes fail them, and NormalizeProject's error copies the prefix.
		if prefix == "" || len(prefix) > maxProjectLen || !isAlnum(prefix[0]) || !isAlnum(prefix[len(prefix)-1]) {
			return
		}
		if p, err := NormalizeProject(prefix); err == nil && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if !strings.Contains(filename, "-") {
		add(filename)
		return out
	}
	wheelOrEgg := strings.HasSuffix(filename, ".whl") || strings.HasSuffix(filename, ".egg")
	// One pass over at most the longest name: a prefix is cut at each
	// "-", and none beyond the first byte no name holds can be a name.
	for i := 0; i < len(filename) && i <= maxProjectLen && len(out) < MaxFilenameProjects; i++ {
		if c := filename[i]; c == '-' {
			add(filename[:i])
			if wheelOrEgg {
				break
			}
		} else if !isAlnum(c) && !isSeparator(c) {
			break
		}
	}
	return out
}

// FilenameHome returns the name of the filename note that lists filename
// if it is logged under a project not among FilenameProjects(filename):
// the first of those, or "_" if there is none.
func FilenameHome(filename string) string { return HomeOf(FilenameProjects(filename)) }

// HomeOf is FilenameHome of a filename whose FilenameProjects are
// candidates, for a caller that has them already.
func HomeOf(candidates []string) string {
	if len(candidates) > 0 {
		return candidates[0]
	}
	return noHome
}

// FilenamesKey returns the object key of a filename note.
func FilenamesKey(home string) string { return FilenamesPrefix + home }

// IsListedFilename reports whether a file of project must be listed in its
// home's filename note: project is not one FilenameProjects gives.
func IsListedFilename(filename, project string) bool {
	// Most files are named after their project up to the first "-" (every
	// wheel): that candidate, always the first, is compared without
	// building the list (a batch asks this of every file).
	if i := strings.IndexByte(filename, '-'); i > 0 && normalizesTo(filename[:i], project) {
		return false
	}
	return !slices.Contains(FilenameProjects(filename), project)
}

// normalizesTo reports whether NormalizeProject(name) is project, without
// building it.
func normalizesTo(name, project string) bool {
	if len(name) == 0 || len(name) > maxProjectLen || !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return false
	}
	j := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isSeparator(c):
			if isSeparator(name[i-1]) {
				continue
			}
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case !isAlnum(c):
			return false
		}
		if j == len(project) || project[j] != c {
			return false
		}
		j++
	}
	return j == len(project)
}

// FilenameLine is one file of a filename note.
type FilenameLine struct {
	// Leaf is the file's entry index in the log.
	Leaf int64
	// Filename is the distribution filename.
	Filename string
	// Project is the normalized project whose index lists the file.
	Project string
}

// FilenameNote is the body of a filename note: the logged files whose
// home is Home but whose project FilenameProjects does not give.
type FilenameNote struct {
	// Origin is the log's origin.
	Origin string
	// Home is the note's name (see FilenameHome).
	Home string
	// TreeSize is the log size the note covers.
	TreeSize int64
	// Lines are in increasing leaf order, all below TreeSize.
	Lines []FilenameLine
}

func checkFilenameLine(home string, treeSize, last int64, l FilenameLine) error {
	if l.Leaf <= last || l.Leaf >= treeSize {
		return malformed("filename note %q: leaf %d out of order or beyond size %d", home, l.Leaf, treeSize)
	}
	if err := CheckFilename(l.Filename); err != nil {
		return err
	}
	if !IsNormalizedProject(l.Project) || FilenameHome(l.Filename) != home || !IsListedFilename(l.Filename, l.Project) {
		return malformed("filename note %q can't list %s of project %q", home, l.Filename, l.Project)
	}
	return nil
}

func isFilenameHome(home string) bool { return home == noHome || IsNormalizedProject(home) }

// FormatFilenameNote returns the filename note text, checking every field.
func FormatFilenameNote(x FilenameNote) ([]byte, error) {
	if err := checkNoteHeader(x.Origin, x.TreeSize); err != nil {
		return nil, err
	}
	if !isFilenameHome(x.Home) {
		return nil, malformed("filename note name %q", x.Home)
	}
	b := appendNoteHeader(nil, x.Origin, "filenames", x.Home, x.TreeSize)
	last := int64(-1)
	for _, l := range x.Lines {
		if err := checkFilenameLine(x.Home, x.TreeSize, last, l); err != nil {
			return nil, err
		}
		last = l.Leaf
		b = append(strconv.AppendInt(b, l.Leaf, 10), ' ')
		b = append(append(b, l.Filename...), ' ')
		b = append(append(b, l.Project...), '\n')
	}
	return b, nil
}

// ParseFilenameNote parses a filename note text strictly.
func ParseFilenameNote(text string) (FilenameNote, error) {
	var x FilenameNote
	lines, err := parseNoteHeader(text, "filenames", &x.Origin, &x.Home, &x.TreeSize)
	if err != nil {
		return x, err
	}
	if !isFilenameHome(x.Home) {
		return x, malformed("filename note name %q", x.Home)
	}
	last := int64(-1)
	for i, line := range lines {
		f := strings.Split(line, " ")
		if len(f) != 3 {
			return x, malformed("filename note line %d has %d fields, want 3", i+4, len(f))
		}
		leaf, err := parseDecimal(f[0])
		if err != nil {
			return x, malformed("filename note line %d: leaf %q", i+4, f[0])
		}
		l := FilenameLine{Leaf: leaf, Filename: f[1], Project: f[2]}
		if err := checkFilenameLine(x.Home, x.TreeSize, last, l); err != nil {
			return x, fmt.Errorf("filename note line %d: %w", i+4, err)
		}
		last = leaf
		x.Lines = append(x.Lines, l)
	}
	return x, nil
}

// SignFilenameNote returns the signed note of x.
func SignFilenameNote(x FilenameNote, signer note.Signer) ([]byte, error) {
	return signNote(x.Origin, signer, func() ([]byte, error) { return FormatFilenameNote(x) })
}

// OpenFilenameNote verifies a signed filename note and parses it, checking
// that it is the note of home.
func OpenFilenameNote(msg []byte, verifier note.Verifier, home string) (FilenameNote, error) {
	text, err := openNote(msg, verifier, "filename note")
	if err != nil {
		return FilenameNote{}, err
	}
	x, err := ParseFilenameNote(text)
	if err != nil {
		return FilenameNote{}, err
	}
	if x.Origin != verifier.Name() || x.Home != home {
		return FilenameNote{}, malformed("filename note %q of %q served for %q of %q", x.Home, x.Origin, home, verifier.Name())
	}
	return x, nil
}

// checkNoteHeader checks the origin and size of a note of ours.
func checkNoteHeader(origin string, treeSize int64) error {
	if err := CheckOrigin(origin); err != nil {
		return err
	}
	if treeSize < 0 || treeSize > MaxTreeSize {
		return malformed("tree size %d", treeSize)
	}
	return nil
}

// appendNoteHeader appends the three first lines of a note of ours:
// origin, "<kind> <name>", "size <tree size>".
func appendNoteHeader(b []byte, origin, kind, name string, treeSize int64) []byte {
	b = append(append(b, origin...), '\n')
	b = append(append(append(append(b, kind...), ' '), name...), "\nsize "...)
	return append(strconv.AppendInt(b, treeSize, 10), '\n')
}

// parseNoteHeader parses the three first lines of a note of ours and
// returns the other lines.
func parseNoteHeader(text, kind string, origin, name *string, treeSize *int64) ([]string, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, malformed("%s note does not end in newline", kind)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, malformed("%s note has %d lines, want at least 3", kind, len(lines))
	}
	if err := CheckOrigin(lines[0]); err != nil {
		return nil, err
	}
	n, ok := strings.CutPrefix(lines[1], kind+" ")
	if !ok || n == "" {
		return nil, malformed("%s note line 2 %q is not \"%s <name>\"", kind, lines[1], kind)
	}
	size, ok := strings.CutPrefix(lines[2], "size ")
	s, err := parseDecimal(size)
	if !ok || err != nil || s > MaxTreeSize {
		return nil, malformed("%s note line 3 %q is not \"size <tree size>\"", kind, lines[2])
	}
	*origin, *name, *treeSize = lines[0], n, s
	return lines[3:], nil
}

func signNote(origin string, signer note.Signer, format func() ([]byte, error)) ([]byte, error) {
	if signer.Name() != origin {
		return nil, fmt.Errorf("key name %q differs from origin %q", signer.Name(), origin)
	}
	text, err := format()
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(text)}, signer)
}

func openNote(msg []byte, verifier note.Verifier, what string) (string, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return "", fmt.Errorf("%s signature: %w", what, err)
	}
	return n.Text, nil
}
