package tiles

import "strings"

// maxProjectLen bounds project names (PyPI's own limit is lower).
const maxProjectLen = 200

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isSeparator(c byte) bool { return c == '-' || c == '_' || c == '.' }

// NormalizeProject returns the PEP 503 normalized form of a project name
// (runs of "-", "_", "." become one "-", lowercase), or an error if name is
// not a valid PEP 508 distribution name: ASCII letters and digits, with
// "-", "_" or "." inside but not at either end.
func NormalizeProject(name string) (string, error) {
	if len(name) == 0 || len(name) > maxProjectLen || !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return "", malformed("project name %q is not a valid distribution name", name)
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isSeparator(c):
			if !isSeparator(name[i-1]) {
				b.WriteByte('-')
			}
		case isAlnum(c):
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
		default:
			return "", malformed("project name %q is not a valid distribution name", name)
		}
	}
	return b.String(), nil
}

// IsNormalizedProject reports whether name is already in normalized form:
// lowercase letters and digits, single "-" inside.
func IsNormalizedProject(name string) bool {
	if len(name) == 0 || len(name) > maxProjectLen || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && name[i-1] != '-':
		default:
			return false
		}
	}
	return true
}
