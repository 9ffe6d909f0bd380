package verify

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// ErrBadExclusion is wrapped by the error of a pattern Exclusions.Add
// refuses.
var ErrBadExclusion = errors.New("bad exclusion pattern")

// ErrExcluded is wrapped by the error of ComparePublished for a private
// project.
var ErrExcluded = errors.New("the project is private")

// Exclusions are the private projects: globs (path.Match syntax, as Go's
// GOPRIVATE) of normalized project names. A Verifier asks no log about a
// project they match, so that its name never leaves the machine: its
// artifacts are skipped, with the pattern and where it was configured as
// the reason. The zero value (and nil) excludes nothing.
type Exclusions struct {
	list []Exclusion
}

// Exclusion is one pattern of Exclusions.
type Exclusion struct {
	// Pattern is the glob.
	Pattern string
	// Source says where it was configured (a flag, a variable, a file),
	// for the reason of a skip.
	Source string
}

// Reason is why an artifact the pattern matches is skipped.
func (x Exclusion) Reason() string {
	return fmt.Sprintf("private (matches %s pattern %q)", x.Source, x.Pattern)
}

// separators are the runs of characters PEP 503 normalization turns into
// one "-".
var separators = regexp.MustCompile(`[-_.]+`)

// Add adds pattern, configured at source. A pattern that is not a valid
// glob is an error; so is one that can't match a normalized name
// (uppercase letters, "_", ".", "--"): it would let the very names it was
// written for be sent, so it is refused with the pattern to write instead.
func (e *Exclusions) Add(source, pattern string) error {
	if pattern == "" {
		return fmt.Errorf("%w: an empty pattern matches no project", ErrBadExclusion)
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("%w %q: %v (the syntax is Go's path.Match: *, ?, [a-z])", ErrBadExclusion, pattern, err)
	}
	if n := separators.ReplaceAllString(strings.ToLower(pattern), "-"); n != pattern {
		return fmt.Errorf("%w %q: project names are matched normalized (lowercase, \"-\" for each run of \"-\", \"_\" and \".\"), so it would never match: write %q", ErrBadExclusion, pattern, n)
	}
	e.list = append(e.list, Exclusion{Pattern: pattern, Source: source})
	return nil
}

// Match returns the first exclusion matching project, a normalized name.
func (e *Exclusions) Match(project string) (Exclusion, bool) {
	if e == nil {
		return Exclusion{}, false
	}
	for _, x := range e.list {
		if ok, _ := path.Match(x.Pattern, project); ok {
			return x, true
		}
	}
	return Exclusion{}, false
}

// List returns the exclusions, in the order added.
func (e *Exclusions) List() []Exclusion {
	if e == nil {
		return nil
	}
	return append([]Exclusion(nil), e.list...)
}
