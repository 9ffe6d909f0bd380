package tiles

import (
	"regexp"
	"strings"
)

// validProject is PEP 508's rule for a distribution name.
var validProject = regexp.MustCompile(`^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$`)

var separatorRun = regexp.MustCompile(`[-_.]+`)

// NormalizeProject returns the PEP 503 normalized form of a project name
// (runs of "-", "_", "." become one "-", lowercase), or an error if name is
// not a valid PEP 508 distribution name.
func NormalizeProject(name string) (string, error) {
	if len(name) > 200 || !validProject.MatchString(name) {
		return "", malformed("project name %q is not a valid distribution name", name)
	}
	return strings.ToLower(separatorRun.ReplaceAllString(name, "-")), nil
}

// IsNormalizedProject reports whether name is already in normalized form.
func IsNormalizedProject(name string) bool {
	n, err := NormalizeProject(name)
	return err == nil && n == name
}
