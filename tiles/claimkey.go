package tiles

import (
	"fmt"
	"strings"
)

// ClaimsPrefix is where a maintainer-claims intake (package intake)
// publishes, beside the log, the claims it accepted and the claim
// identities of projects. These objects are public (anyone audits the
// identities' chains and the claims) but none is one of the log's signed
// objects: each holds its own evidence (see package claim).
//
//	claims/<project>/identity/<n>      the n-th identity record, n in 8 digits from 00000001
//	claims/<project>/claim/<id>        a claim record, id the 64 hex digits of its claim text's sha256
//	claims/<project>/file/<filename>   "sha256:<hex> <size>" of a claimed file
//	claims/<project>/token/<hash>      the sha256 of the text an OIDC token was used for
//
// <project> is a normalized project name. Every one of them is written
// create-only.
const ClaimsPrefix = "claims/"

// Kinds of claim objects, the third segment of their keys.
const (
	ClaimIdentityKind = "identity"
	ClaimRecordKind   = "claim"
	ClaimFileKind     = "file"
	ClaimTokenKind    = "token"
)

// ClaimIdentityDigits is the width of an identity record's number.
const ClaimIdentityDigits = 8

// MaxClaimIdentity is the largest number of an identity record.
const MaxClaimIdentity = 99_999_999

// ClaimIdentityKey returns the key of a project's n-th identity record
// (n from 1).
func ClaimIdentityKey(project string, n int64) string {
	return fmt.Sprintf("%s%s/%s/%0*d", ClaimsPrefix, project, ClaimIdentityKind, ClaimIdentityDigits, n)
}

// ClaimRecordKey returns the key of the claim record whose claim text has
// the sha256 digest id.
func ClaimRecordKey(project string, id [32]byte) string {
	return fmt.Sprintf("%s%s/%s/%x", ClaimsPrefix, project, ClaimRecordKind, id)
}

// ClaimFileKey returns the key of the object that fixes the bytes of a
// claimed file.
func ClaimFileKey(project, filename string) string {
	return ClaimsPrefix + project + "/" + ClaimFileKind + "/" + filename
}

// ClaimTokenKey returns the key of the object that records what an OIDC
// token (by its sha256 digest) was used for.
func ClaimTokenKey(project string, token [32]byte) string {
	return fmt.Sprintf("%s%s/%s/%x", ClaimsPrefix, project, ClaimTokenKind, token)
}

// ParseClaimKey splits a key under ClaimsPrefix into its project, kind and
// name, and reports whether it is one of the keys the functions above
// make: anything else under claims/ is not a claim object.
func ParseClaimKey(key string) (project, kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(key, ClaimsPrefix)
	if !ok {
		return "", "", "", false
	}
	project, rest, ok1 := strings.Cut(rest, "/")
	kind, name, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || !IsNormalizedProject(project) {
		return "", "", "", false
	}
	switch kind {
	case ClaimIdentityKind:
		ok = isClaimIdentityNumber(name)
	case ClaimRecordKind, ClaimTokenKind:
		ok = isLowerHex64(name)
	case ClaimFileKind:
		ok = IsClaimFilename(name) && CheckKey(key) == nil
	default:
		ok = false
	}
	if !ok {
		return "", "", "", false
	}
	return project, kind, name, true
}

// IsClaimKey reports whether key is a claim object's key (see
// ClaimsPrefix).
func IsClaimKey(key string) bool {
	_, _, _, ok := ParseClaimKey(key)
	return ok
}

// IsClaimFilename reports whether a filename can be claimed as far as
// object keys go: a loggable filename (CheckFilename) of printable ASCII,
// which every wheel and sdist filename is.
func IsClaimFilename(filename string) bool {
	if CheckFilename(filename) != nil {
		return false
	}
	for i := 0; i < len(filename); i++ {
		if c := filename[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func isClaimIdentityNumber(s string) bool {
	if len(s) != ClaimIdentityDigits || s == strings.Repeat("0", ClaimIdentityDigits) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
