package lockfile

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pysumdb/pysumdb/tiles"
)

// requirementsOption describes an option pip accepts in a requirements file.
type requirementsOption struct {
	takesValue     bool
	perRequirement bool // allowed after a requirement, on its line; others only alone on a line
}

// requirementsOptions are pip's requirements-file options (pip's
// req_file.SUPPORTED_OPTIONS and SUPPORTED_OPTIONS_REQ). Any other option is
// an error, as it is for pip.
var requirementsOptions = map[string]requirementsOption{
	"-i": {takesValue: true}, "--index-url": {takesValue: true},
	"--extra-index-url": {takesValue: true},
	"--no-index":        {},
	"-c":                {takesValue: true}, "--constraint": {takesValue: true},
	"-r": {takesValue: true}, "--requirement": {takesValue: true},
	"-e": {takesValue: true}, "--editable": {takesValue: true},
	"-f": {takesValue: true}, "--find-links": {takesValue: true},
	"--no-binary":       {takesValue: true},
	"--only-binary":     {takesValue: true},
	"--prefer-binary":   {},
	"--require-hashes":  {},
	"--pre":             {},
	"--trusted-host":    {takesValue: true},
	"--use-feature":     {takesValue: true},
	"--hash":            {takesValue: true, perRequirement: true},
	"--global-option":   {takesValue: true, perRequirement: true},
	"--config-settings": {takesValue: true, perRequirement: true},
	"--install-option":  {takesValue: true, perRequirement: true},
}

// requirementsParser reads a requirements file and its includes. Where files
// come from (index options) is known only once every file is read, since
// pip applies an index option wherever it appears.
type requirementsParser struct {
	readFile  func(string) ([]byte, error) // nil: includes are an error
	including []string                     // the files being read, outermost first, as absolute paths
	names     []string                     // the same, as named to the user
	outside   []bool                       // the same: whether the file is outside dir (see hidden)
	// dir is the real path of the lockfile's directory; "" when the
	// lockfile is not read from disk. The content of a file outside it
	// (an include of /etc/passwd, of a secret, through a symbolic link
	// too) is never shown: an error there names the file and line only,
	// and the lines without a hash it gives are not named.
	dir string
	// hidden are the index locations given only in files outside dir,
	// each with where it was given, to show instead of it.
	hidden    map[string]string
	visible   map[string]bool // index locations given in files within dir
	read      map[string]bool // absolute paths already read
	artifacts []Artifact

	indexURL     string   // the last --index-url; "" is pip's default, PyPI
	otherSources []string // --extra-index-url and --find-links locations
	noIndex      bool
}

func parseRequirements(name string, data []byte) ([]Artifact, error) {
	p := &requirementsParser{read: map[string]bool{}}
	if err := p.parse(name, name, data); err != nil {
		return nil, err
	}
	return p.finish(), nil
}

func parseRequirementsFile(path string) ([]Artifact, error) {
	data, err := readRegularFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read lockfile: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read lockfile: %w", err)
	}
	p := &requirementsParser{readFile: readRegularFile, read: map[string]bool{}, dir: realDir(abs)}
	if err := p.parse(path, abs, data); err != nil {
		return nil, err
	}
	return p.finish(), nil
}

// finish applies the index options to the artifacts: with no PyPI among the
// indexes nothing can be checked; with PyPI and others, a hash missing from
// the log may be a file of another index.
func (p *requirementsParser) finish() []Artifact {
	var skip, warning string
	switch {
	case p.noIndex:
		skip = "--no-index: files come from --find-links, not PyPI"
	case p.indexURL != "" && !isPyPIIndex(p.indexURL) && !p.hasPyPIExtraIndex():
		skip = notPyPIIndex(p.show(p.indexURL))
	default:
		others := p.otherSources
		if p.indexURL != "" && !isPyPIIndex(p.indexURL) {
			others = append([]string{p.indexURL}, others...)
		}
		var notPyPI []string
		for _, source := range others {
			if !isPyPIIndex(source) {
				notPyPI = append(notPyPI, p.show(source))
			}
		}
		if len(notPyPI) > 0 {
			warning = "files may also come from " + strings.Join(notPyPI, ", ") + ", which is not PyPI: a hash missing from the log may be one of its files"
		}
	}
	for i := range p.artifacts {
		a := &p.artifacts[i]
		if a.Skip != "" {
			continue
		}
		a.Skip = skip
		if skip == "" {
			a.Warning = warning
		}
	}
	return p.artifacts
}

// show returns an index location as it may be shown: itself, or where it
// was given if only files outside the lockfile's directory give it.
func (p *requirementsParser) show(location string) string {
	if where, ok := p.hidden[location]; ok {
		return where
	}
	return location
}

// source notes an index location given by option o of file, hidden if
// only files outside the lockfile's directory give it.
func (p *requirementsParser) source(file string, o option) string {
	switch {
	case !p.isOutside():
		if p.visible == nil {
			p.visible = map[string]bool{}
		}
		p.visible[o.value] = true
		delete(p.hidden, o.value)
	case !p.visible[o.value] && p.hidden[o.value] == "":
		if p.hidden == nil {
			p.hidden = map[string]string{}
		}
		p.hidden[o.value] = fmt.Sprintf("(the location given by %s at %s:%d)", o.name, file, o.line)
	}
	return o.value
}

// isOutside reports whether the file being read is outside the lockfile's
// directory.
func (p *requirementsParser) isOutside() bool {
	return len(p.outside) > 0 && p.outside[len(p.outside)-1]
}

func (p *requirementsParser) hasPyPIExtraIndex() bool {
	for _, source := range p.otherSources {
		if isPyPIIndex(source) {
			return true
		}
	}
	return false
}

// parse reads one requirements file: name as the user knows it, abs for
// cycle detection.
func (p *requirementsParser) parse(name, abs string, data []byte) error {
	outside := p.dir != "" && !isWithin(p.dir, abs)
	p.including = append(p.including, abs)
	p.names = append(p.names, name)
	p.outside = append(p.outside, outside)
	defer func() {
		p.including = p.including[:len(p.including)-1]
		p.names = p.names[:len(p.names)-1]
		p.outside = p.outside[:len(p.outside)-1]
	}()
	p.read[abs] = true
	first := len(p.artifacts)
	for _, line := range logicalLines(data) {
		if err := p.parseLine(name, line); err != nil {
			if outside {
				return hideContent(name, err)
			}
			return err
		}
	}
	if outside {
		for i := first; i < len(p.artifacts); i++ {
			if a := &p.artifacts[i]; a.File == name && a.SHA256 == "" {
				// A line without a hash names nothing worth showing
				// (and may be a secret's first line).
				*a = Artifact{File: a.File, Line: a.Line, Skip: "no hash, in a file outside the lockfile's directory (its content is not shown)"}
			}
		}
	}
	return nil
}

// errContentHidden is the error of a line of a file outside the lockfile's
// directory, in place of one that may quote the line.
var errContentHidden = errors.New("malformed (the file is outside the lockfile's directory: the error is not shown, as it may quote the file)")

// hideContent returns err, an error reading file, without what it may quote
// of file's content: file and line only. An error of a file it includes is
// that file's own (hidden there if it too is outside).
func hideContent(file string, err error) error {
	var parseErr *ParseError
	if !errors.As(err, &parseErr) {
		return &ParseError{File: file, Err: errContentHidden}
	}
	if parseErr.File != file {
		return err
	}
	return &ParseError{File: file, Line: parseErr.Line, Err: errContentHidden}
}

// realDir returns the real path (through symbolic links) of the directory
// of the file at abs, or that directory as it is if it has none.
func realDir(abs string) string {
	dir := filepath.Dir(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		return real
	}
	return dir
}

// logicalLine is a requirement or option line once continuations are joined
// and the comment removed, with the physical line each part came from.
type logicalLine struct {
	text     string
	segments []lineSegment
}

type lineSegment struct {
	offset int // where the physical line's text starts in the logical line
	line   int // 1-based physical line
}

// lineAt returns the physical line of an offset in the logical line.
func (l logicalLine) lineAt(offset int) int {
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].offset > offset })
	return l.segments[max(i-1, 0)].line
}

// logicalLines splits a requirements file as pip does: a line ending in a
// backslash continues on the next one, unless it is a comment line, and a
// comment line ends a continuation; then "#" at the start or after white
// space starts a comment.
func logicalLines(data []byte) []logicalLine {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var lines []logicalLine
	var open *logicalLine
	for i, raw := range strings.Split(string(data), "\n") {
		text := strings.TrimSuffix(raw, "\r")
		number := i + 1
		isComment := strings.HasPrefix(strings.TrimLeft(text, " \t"), "#")
		continues := strings.HasSuffix(text, `\`) && !isComment
		if continues {
			text = strings.Trim(text, `\`)
		}
		if isComment {
			text = ""
		}
		if open == nil {
			open = &logicalLine{}
		}
		open.segments = append(open.segments, lineSegment{offset: len(open.text), line: number})
		open.text += text
		if !continues {
			lines = append(lines, *open)
			open = nil
		}
	}
	if open != nil {
		lines = append(lines, *open)
	}
	for i := range lines {
		lines[i].text = stripComment(lines[i].text)
	}
	return lines
}

// stripComment cuts a line at the first "#" that starts it or follows white
// space; a "#" inside a word (a URL fragment) stays.
func stripComment(text string) string {
	for i := 0; i < len(text); i++ {
		if text[i] == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t') {
			return text[:i]
		}
	}
	return text
}

// token is a word of a line, with the offset where it starts in the
// logical line.
type token struct {
	value string
	start int
}

// fields splits text at white space, as pip does to find where a
// requirement's options start.
func fields(text string) []token {
	var tokens []token
	start := -1
	for i := 0; i <= len(text); i++ {
		space := i == len(text) || text[i] == ' ' || text[i] == '\t'
		switch {
		case space && start >= 0:
			tokens = append(tokens, token{value: text[start:i], start: start})
			start = -1
		case !space && start < 0:
			start = i
		}
	}
	return tokens
}

// shellFields splits options as pip does (shlex): at white space, except
// inside single or double quotes, which are removed.
func shellFields(text string, base int) ([]token, error) {
	var tokens []token
	i := 0
	for i < len(text) {
		if text[i] == ' ' || text[i] == '\t' {
			i++
			continue
		}
		start := i
		var value strings.Builder
		for i < len(text) && text[i] != ' ' && text[i] != '\t' {
			if quote := text[i]; quote == '"' || quote == '\'' {
				end := strings.IndexByte(text[i+1:], quote)
				if end < 0 {
					return nil, fmt.Errorf("unclosed %c quote", quote)
				}
				value.WriteString(text[i+1 : i+1+end])
				i += end + 2
				continue
			}
			value.WriteByte(text[i])
			i++
		}
		tokens = append(tokens, token{value: value.String(), start: base + start})
	}
	return tokens, nil
}

// option is one parsed option with its value and the line it is on.
type option struct {
	name, value string
	line        int
}

// parseOptions reads options such as "-r file", "-rfile", "--hash=x" and
// "--hash x". An error is placed at the option's line.
func parseOptions(file string, tokens []token, line logicalLine) ([]option, error) {
	var options []option
	for i := 0; i < len(tokens); i++ {
		t := tokens[i]
		fail := func(format string, args ...any) error {
			return &ParseError{File: file, Line: line.lineAt(t.start), Err: fmt.Errorf(format, args...)}
		}
		name, value, hasValue := t.value, "", false
		if strings.HasPrefix(name, "--") {
			name, value, hasValue = strings.Cut(name, "=")
		} else if len(name) > 2 {
			name, value, hasValue = name[:2], name[2:], true
		}
		spec, ok := requirementsOptions[name]
		if !ok {
			return nil, fail("unknown option %s", t.value)
		}
		if spec.takesValue && !hasValue {
			if i+1 == len(tokens) {
				return nil, fail("option %s needs a value", name)
			}
			i++
			value = tokens[i].value
		} else if !spec.takesValue && hasValue {
			return nil, fail("option %s takes no value", name)
		}
		options = append(options, option{name: name, value: value, line: line.lineAt(t.start)})
	}
	return options, nil
}

func (p *requirementsParser) parseLine(file string, line logicalLine) error {
	text := line.text
	firstLine := line.lineAt(0)
	fail := func(at int, err error) error { return &ParseError{File: file, Line: at, Err: err} }
	optionsStart := len(text)
	for _, t := range fields(text) {
		if strings.HasPrefix(t.value, "-") {
			optionsStart = t.start
			break
		}
	}
	requirement := strings.TrimSpace(text[:optionsStart])
	if requirement == "" && optionsStart == len(text) {
		return nil // blank or comment
	}
	tokens, err := shellFields(text[optionsStart:], optionsStart)
	if err != nil {
		return fail(line.lineAt(optionsStart), err)
	}
	options, err := parseOptions(file, tokens, line)
	if err != nil {
		return err
	}
	if requirement == "" {
		for _, o := range options {
			if err := p.applyOption(file, o); err != nil {
				return err
			}
		}
		return nil
	}
	var hashes []option
	for _, o := range options {
		if !requirementsOptions[o.name].perRequirement {
			return fail(o.line, fmt.Errorf("option %s is not allowed after a requirement", o.name))
		}
		if o.name == "--hash" {
			hashes = append(hashes, o)
		}
	}
	base, err := parseRequirement(requirement)
	if err != nil {
		return fail(firstLine, err)
	}
	base.File = file
	base.Line = firstLine
	if len(hashes) == 0 {
		if base.Skip == "" {
			base.Skip = "no hash"
		}
		p.artifacts = append(p.artifacts, base)
		return nil
	}
	for _, h := range hashes {
		a := base
		a.Line = h.line
		algorithm, digest, err := splitHash(h.value)
		if err != nil {
			return fail(h.line, fmt.Errorf("requirement %s: %w", requirement, err))
		}
		if err := pinFile(&a, map[string]string{algorithm: digest}); err != nil {
			return fail(h.line, fmt.Errorf("requirement %s: %w", requirement, err))
		}
		p.artifacts = append(p.artifacts, a)
	}
	return nil
}

// applyOption acts on an option alone on its line.
func (p *requirementsParser) applyOption(file string, o option) error {
	switch o.name {
	case "-r", "--requirement", "-c", "--constraint":
		// What pip does with hashes in a constraints file is loosely
		// defined (pypa/pip#12956), but each still claims what a PyPI
		// file's hash is, and one the log contradicts is worth
		// reporting: constraints files are read like requirements.
		return p.include(file, o)
	case "-e", "--editable":
		p.artifacts = append(p.artifacts, Artifact{File: file, Line: o.line, Skip: "editable install: not a PyPI file"})
	case "-i", "--index-url":
		p.indexURL = p.source(file, o)
	case "--extra-index-url", "-f", "--find-links":
		p.otherSources = append(p.otherSources, p.source(file, o))
	case "--no-index":
		p.noIndex = true
	case "--hash", "--global-option", "--config-settings", "--install-option":
		return &ParseError{File: file, Line: o.line, Err: fmt.Errorf("option %s needs a requirement before it", o.name)}
	}
	return nil
}

// include reads a -r or -c file, relative to the including file.
func (p *requirementsParser) include(file string, o option) error {
	if strings.Contains(o.value, "://") {
		p.artifacts = append(p.artifacts, Artifact{File: file, Line: o.line, Skip: "include " + o.value + " is a URL: not fetched"})
		return nil
	}
	fail := func(err error) error { return &ParseError{File: file, Line: o.line, Err: err} }
	if p.readFile == nil {
		return fail(fmt.Errorf("%s %s: includes are read only from files on disk", o.name, o.value))
	}
	name := o.value
	if !filepath.IsAbs(name) {
		name = filepath.Join(filepath.Dir(file), name)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return fail(err)
	}
	for i, including := range p.including {
		if including == abs {
			cycle := append(append([]string{}, p.names[i:]...), name)
			return fail(fmt.Errorf("include cycle: %s", strings.Join(cycle, " -> ")))
		}
	}
	if p.read[abs] {
		return nil // a file included twice pins the same things
	}
	data, err := p.readFile(name)
	if err != nil {
		return fail(fmt.Errorf("couldn't read include: %w", err))
	}
	return p.parse(name, abs, data)
}

// requirementName matches a PEP 508 requirement up to its name and extras.
var requirementName = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$`)

// versionSpecifiers matches a PEP 440 specifier list such as ">=1.0, !=1.3.*".
var versionSpecifiers = regexp.MustCompile(`^(~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9._+!*-]+(\s*,\s*(~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9._+!*-]+)*$`)

// archiveSuffixes tell a requirement that is a local file.
var archiveSuffixes = []string{".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar"}

// parseRequirement reads a requirement: a name with version specifiers and
// markers, a PEP 508 direct reference (name @ url) or a URL or path. The
// latter two are skipped.
func parseRequirement(requirement string) (Artifact, error) {
	first := fields(requirement)[0].value
	m := requirementName.FindStringSubmatch(requirement)
	if m != nil && strings.HasPrefix(m[3], "@") {
		project, err := tiles.NormalizeProject(m[1])
		return Artifact{Project: project, Skip: "direct URL reference: not a PyPI file"}, err
	}
	if m == nil || strings.ContainsAny(first, `/\`) || strings.HasPrefix(first, ".") || hasArchiveSuffix(first) {
		return Artifact{Skip: "URL or path requirement: not a PyPI file"}, nil
	}
	project, err := tiles.NormalizeProject(m[1])
	if err != nil {
		return Artifact{}, err
	}
	spec, _, _ := strings.Cut(m[3], ";")
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "(") && strings.HasSuffix(spec, ")") {
		spec = strings.TrimSpace(spec[1 : len(spec)-1])
	}
	if spec != "" && !versionSpecifiers.MatchString(spec) {
		return Artifact{}, fmt.Errorf("%q is not a requirement", requirement)
	}
	return Artifact{Project: project, Version: pinnedVersion(spec)}, nil
}

func hasArchiveSuffix(word string) bool {
	lower := strings.ToLower(word)
	for _, suffix := range archiveSuffixes {
		if strings.HasSuffix(lower, suffix) {
			return true
		}
	}
	return false
}

// pinnedVersion returns the version that a "==1.2.3" or "===1.2.3"
// specifier pins, or "" for any other specifier (a range, a wildcard, several
// clauses), which pins nothing.
func pinnedVersion(spec string) string {
	spec = strings.TrimSpace(spec)
	version, ok := strings.CutPrefix(spec, "===")
	if !ok {
		if version, ok = strings.CutPrefix(spec, "=="); !ok {
			return ""
		}
	}
	version = strings.TrimSpace(version)
	if version == "" || strings.ContainsAny(version, "*,<>=!~ \t") {
		return ""
	}
	return version
}
