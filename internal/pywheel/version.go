package pywheel

import (
	"fmt"
	"regexp"
	"strings"
)

// canonicalPEP440 is PEP 440's canonical (normalized) version, with a
// local version label: what [PEP440Version] returns and wheels are named
// with.
var canonicalPEP440 = regexp.MustCompile(`^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*` +
	`((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?` +
	`(\+[a-z0-9]+(\.[a-z0-9]+)*)?$`)

// IsPEP440 reports whether v is a version in PEP 440's canonical form
// (such as 1.2.3, 1.2.3rc1, 1.2.3.dev0+abc1234).
func IsPEP440(v string) bool {
	return canonicalPEP440.MatchString(v)
}

var (
	// semver is a Go module or goreleaser version: v optional, a release
	// of numbers, a pre-release after '-', build metadata after '+'.
	semver = regexp.MustCompile(`^v?([0-9]+(?:\.[0-9]+)*)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$`)
	// snapshot is goreleaser's snapshot pre-release,
	// SNAPSHOT-<short commit> by default.
	snapshot = regexp.MustCompile(`^(?i)snapshot(?:[-.]([0-9a-z.-]+))?$`)
	// preRelease is an alpha, beta or release candidate: rc.1, rc1, beta.2.
	preRelease = regexp.MustCompile(`^(?i)(a|alpha|b|beta|c|rc|pre|preview)[.-]?([0-9]+)?$`)
	// pseudoVersion is the pre-release of a Go pseudo-version
	// (vX.Y.Z-yyyymmddhhmmss-abcdefabcdef) and of its forms after a
	// pre-release (-rc.1.0.yyyymmddhhmmss-…) or a release (-0.yyyy…).
	pseudoVersion = regexp.MustCompile(`^(?:.*\.)?([0-9]{14})-([0-9a-f]{12})$`)
)

// preReleaseTag is PEP 440's spelling of each pre-release word.
var preReleaseTag = map[string]string{
	"a": "a", "alpha": "a", "b": "b", "beta": "b", "c": "rc", "rc": "rc", "pre": "rc", "preview": "rc",
}

// PEP440Version converts a Go or goreleaser version to PEP 440's
// canonical form:
//
//	v1.2.3                          1.2.3
//	1.2.3-rc.1, 1.2.3-beta2         1.2.3rc1, 1.2.3b2
//	0.1.0-SNAPSHOT-abc1234          0.1.0.dev0+abc1234 (goreleaser --snapshot)
//	v0.0.0-20260101120000-abcdef123456   0.0.0.dev20260101120000+abcdef123456
//	1.2.3+build.5                   1.2.3+build.5
//
// A snapshot's or pseudo-version's commit becomes a local version label,
// which pip accepts in a file it is given but PyPI refuses: those are for
// local use. Any other pre-release is an error, not a guess.
func PEP440Version(v string) (string, error) {
	m := semver.FindStringSubmatch(v)
	if m == nil {
		return "", fmt.Errorf("version %q: not a version like 1.2.3, v1.2.3-rc.1 or 1.2.3-SNAPSHOT-abc1234", v)
	}
	release, pre, build := m[1], m[2], m[3]
	var suffix string
	var local []string
	switch sm, pm, gm := snapshot.FindStringSubmatch(pre), preRelease.FindStringSubmatch(pre), pseudoVersion.FindStringSubmatch(pre); {
	case pre == "":
	case sm != nil:
		suffix = ".dev0"
		if sm[1] != "" {
			local = append(local, sm[1])
		}
	case gm != nil:
		suffix = ".dev" + gm[1]
		local = append(local, gm[2])
	case pm != nil:
		n := pm[2]
		if n == "" {
			n = "0"
		}
		suffix = preReleaseTag[strings.ToLower(pm[1])] + n
	default:
		return "", fmt.Errorf("version %q: pre-release %q has no PEP 440 equivalent (rc.N, beta.N, alpha.N and SNAPSHOT-<commit> have)", v, pre)
	}
	if build != "" {
		local = append(local, build)
	}
	out := canonicalNumbers(release) + canonicalNumbers(suffix)
	if len(local) > 0 {
		out += "+" + strings.ToLower(strings.NewReplacer("-", ".", "_", ".").Replace(strings.Join(local, ".")))
	}
	if !IsPEP440(out) {
		return "", fmt.Errorf("version %q: its PEP 440 form %q is not canonical", v, out)
	}
	return out, nil
}

// leadingZeros are the zeros a number of a version may not start with.
var leadingZeros = regexp.MustCompile(`(^|[^0-9])0+([0-9])`)

// canonicalNumbers drops the leading zeros of the numbers in s, as PEP
// 440's normalization does (1.02 is 1.2).
func canonicalNumbers(s string) string {
	return leadingZeros.ReplaceAllString(s, "$1$2")
}
