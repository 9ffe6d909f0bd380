package tiles

import (
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Kinds of claimant: who may claim a project's files (package claim), as
// a project index line records it.
const (
	// ClaimantKey: an Ed25519 note key; the value is its verifier key.
	ClaimantKey = "key"
	// ClaimantGitHub: a GitHub Actions workflow; the value is
	// https://github.com/<owner>/<repo>/<workflow path>.
	ClaimantGitHub = PublisherGitHub
	// ClaimantGitLab: a GitLab CI configuration; the value is
	// https://<host>/<group>/<project>//<configuration path>.
	ClaimantGitLab = PublisherGitLab
)

// MaxClaimantLen bounds a claimant's value.
const MaxClaimantLen = 1024

// Claimant is who claimed a file before the log saw it on PyPI: a note
// key, or a CI workflow proven by an OIDC token of its issuer.
type Claimant struct {
	// Kind is ClaimantKey, ClaimantGitHub or ClaimantGitLab.
	Kind string
	// Value is the verifier key (ClaimantKey) or the workflow's URL
	// without its ref (ClaimantGitHub, ClaimantGitLab).
	Value string
}

// String returns "<kind> <value>", the form of the formats.
func (c Claimant) String() string { return c.Kind + " " + c.Value }

// IsOIDC reports whether the claimant is proven by OIDC tokens.
func (c Claimant) IsOIDC() bool { return c.Kind == ClaimantGitHub || c.Kind == ClaimantGitLab }

// CheckClaimant reports whether c can be written in the formats: a known
// kind, a value of printable ASCII without spaces, a verifier key for
// ClaimantKey, an https://github.com/ URL for ClaimantGitHub, an https://
// URL for ClaimantGitLab, neither with a ref.
func CheckClaimant(c Claimant) error {
	if c.Value == "" || len(c.Value) > MaxClaimantLen {
		return malformed("claimant %.40q: value empty or longer than %d bytes", c.Kind, MaxClaimantLen)
	}
	for i := 0; i < len(c.Value); i++ {
		if b := c.Value[i]; b <= ' ' || b >= 0x7f {
			return malformed("claimant %.100q is not printable ASCII without spaces", c.Value)
		}
	}
	switch c.Kind {
	case ClaimantKey:
		if _, err := note.NewVerifier(c.Value); err != nil {
			return malformed("claimant key %.100q is not a note verifier key: %v", c.Value, err)
		}
	case ClaimantGitHub:
		rest, ok := strings.CutPrefix(c.Value, "https://github.com/")
		if !ok || rest == "" || strings.Contains(c.Value, "@") {
			return malformed("github claimant %.100q is not https://github.com/<owner>/<repo>/<workflow> without a ref", c.Value)
		}
	case ClaimantGitLab:
		rest, ok := strings.CutPrefix(c.Value, "https://")
		if !ok || !strings.Contains(rest, "/") || strings.HasPrefix(rest, "/") || strings.Contains(c.Value, "@") {
			return malformed("gitlab claimant %.100q is not https://<host>/<project>//<configuration> without a ref", c.Value)
		}
	default:
		return malformed("claimant kind %.40q (want key, github or gitlab)", c.Kind)
	}
	return nil
}

// ParseClaimant parses "<kind> <value>".
func ParseClaimant(s string) (Claimant, error) {
	kind, value, ok := strings.Cut(s, " ")
	if !ok {
		return Claimant{}, malformed("claimant %.100q is not \"<kind> <value>\"", s)
	}
	c := Claimant{Kind: kind, Value: value}
	return c, CheckClaimant(c)
}
