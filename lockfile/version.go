package lockfile

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// pep440Version is PEP 440's grammar with the normalizations it allows
// (packaging's VERSION_PATTERN): any case, a leading "v", "alpha", "beta",
// "c", "pre", "preview", "rev", "r", "-N" as spellings, and "-", "_" or "."
// (or nothing) as separators.
var pep440Version = regexp.MustCompile(`(?i)^v?` +
	`(?:([0-9]+)!)?` + // epoch
	`([0-9]+(?:\.[0-9]+)*)` + // release
	`(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?` + // pre-release
	`(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?` + // post-release
	`(?:[-_.]?(dev)[-_.]?([0-9]+)?)?` + // development release
	`(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`) // local version

// version is a parsed PEP 440 version, every number as a decimal string
// without leading zeros (versions on PyPI have numbers beyond 64 bits).
type version struct {
	epoch    string
	release  []string
	preLabel string // "a", "b", "rc" or ""
	pre      string
	post     string // "" if none
	dev      string // "" if none
	local    []string
}

var preLabels = map[string]string{"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "rc": "rc", "pre": "rc", "preview": "rc"}

func parseVersion(s string) (version, error) {
	m := pep440Version.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return version{}, fmt.Errorf("%q is not a PEP 440 version", s)
	}
	v := version{epoch: number(m[1])}
	for _, n := range strings.Split(m[2], ".") {
		v.release = append(v.release, number(n))
	}
	if m[3] != "" {
		v.preLabel, v.pre = preLabels[strings.ToLower(m[3])], number(m[4])
	}
	switch {
	case m[5] != "":
		v.post = number(m[5])
	case m[6] != "":
		v.post = number(m[7])
	}
	if m[8] != "" {
		v.dev = number(m[9])
	}
	if m[10] != "" {
		for _, segment := range strings.FieldsFunc(strings.ToLower(m[10]), func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			if strings.Trim(segment, "0123456789") == "" {
				segment = number(segment)
			}
			v.local = append(v.local, segment)
		}
	}
	return v, nil
}

// number returns digits without leading zeros; "" (an omitted number) is 0.
func number(digits string) string {
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0"
	}
	return digits
}

func (v version) String() string {
	var b strings.Builder
	if v.epoch != "0" {
		b.WriteString(v.epoch + "!")
	}
	b.WriteString(strings.Join(v.release, "."))
	if v.preLabel != "" {
		b.WriteString(v.preLabel + v.pre)
	}
	if v.post != "" {
		b.WriteString(".post" + v.post)
	}
	if v.dev != "" {
		b.WriteString(".dev" + v.dev)
	}
	if len(v.local) > 0 {
		b.WriteString("+" + strings.Join(v.local, "."))
	}
	return b.String()
}

// EqualVersions reports whether a and b are the same version under PEP 440:
// normalized alike, with release segments compared as if padded with zeros
// (1.0 == 1.0.0). Versions that are not PEP 440 (legacy versions exist on
// PyPI) are equal only when the same but for case and surrounding space.
func EqualVersions(a, b string) bool {
	va, errA := parseVersion(a)
	vb, errB := parseVersion(b)
	if errA != nil || errB != nil {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	va.release, vb.release = trimTrailingZeros(va.release), trimTrailingZeros(vb.release)
	return va.epoch == vb.epoch && slices.Equal(va.release, vb.release) &&
		va.preLabel == vb.preLabel && va.pre == vb.pre && va.post == vb.post &&
		va.dev == vb.dev && slices.Equal(va.local, vb.local)
}

func trimTrailingZeros(release []string) []string {
	for len(release) > 1 && release[len(release)-1] == "0" {
		release = release[:len(release)-1]
	}
	return release
}
