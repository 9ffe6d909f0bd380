package claim

import (
	"fmt"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/tiles"
)

// Kinds of claim identities.
const (
	// KindKey: an Ed25519 note key; the value is its verifier key.
	KindKey = tiles.ClaimantKey
	// KindGitHub: a GitHub Actions workflow; the value is
	// https://github.com/<owner>/<repo>/<workflow path>.
	KindGitHub = tiles.ClaimantGitHub
	// KindGitLab: a GitLab CI configuration; the value is
	// https://<host>/<group>/<project>//<configuration path>.
	KindGitLab = tiles.ClaimantGitLab
)

// Identity is who may claim a project's files: a note key, or a CI
// workflow proven by an OIDC token of its issuer. Its syntax is that of
// the claimant a project index line records (tiles.CheckClaimant).
type Identity = tiles.Claimant

// KeyIdentity returns the identity of a note verifier key (name+hash+key,
// as note.NewVerifier parses it; the name printable ASCII).
func KeyIdentity(vkey string) (Identity, error) {
	id := Identity{Kind: KindKey, Value: vkey}
	return id, tiles.CheckClaimant(id)
}

// OIDCIdentity returns the identity of a workflow whose OIDC token names
// san, the Subject Alternative Name PEP 740 and Fulcio give it
// (https://github.com/<job_workflow_ref>, https://<ci_config_ref_uri>):
// san without its "@<ref>", since the ref changes with every release (a
// tag) while the workflow that may claim stays, as PyPI's trusted
// publishers match a repository and workflow, not a ref.
func OIDCIdentity(kind, san string) (Identity, error) {
	if i := strings.LastIndexByte(san, '@'); i >= 0 {
		san = san[:i]
	}
	id := Identity{Kind: kind, Value: san}
	return id, tiles.CheckClaimant(id)
}

// ChangeHeader is the first line of an identity change.
const ChangeHeader = "pysumdb-identity/v1"

// MaxChangeSize bounds an identity change as sent: its text and
// signatures.
const MaxChangeSize = 16 << 10

// Change is a request to replace a project's claim identity Old by New,
// made by Old (signed by its key, or sent with an OIDC token of its
// workflow) and, if New is a key, signed by New too: a key no one holds
// would lock the project.
type Change struct {
	// Project is the normalized project name.
	Project string
	// Time is when the change was made: later than the claim or change
	// that registered Old, so that an old change can't be replayed.
	Time time.Time
	// Old is the project's current identity.
	Old Identity
	// New is the identity that replaces it.
	New Identity
}

// FormatChange returns the text of c.
func FormatChange(c Change) ([]byte, error) {
	if err := checkProject(c.Project); err != nil {
		return nil, err
	}
	ts, err := formatTime(c.Time)
	if err != nil {
		return nil, err
	}
	for _, id := range []Identity{c.Old, c.New} {
		if err := tiles.CheckClaimant(id); err != nil {
			return nil, err
		}
	}
	if c.Old == c.New {
		return nil, malformed("the change replaces %s by itself", c.Old)
	}
	text := fmt.Sprintf("%s\nproject %s\ntime %s\nold %s\nnew %s\n", ChangeHeader, c.Project, ts, c.Old, c.New)
	if len(text) > MaxChangeSize {
		return nil, malformed("identity change of %d bytes exceeds %d", len(text), MaxChangeSize)
	}
	return []byte(text), nil
}

// ParseChange parses the text of an identity change strictly.
func ParseChange(text []byte) (Change, error) {
	var c Change
	if len(text) > MaxChangeSize {
		return c, malformed("identity change of %d bytes exceeds %d", len(text), MaxChangeSize)
	}
	lines, err := splitLines(text, "identity change")
	if err != nil {
		return c, err
	}
	if len(lines) != 5 {
		return c, malformed("identity change has %d lines, want 5", len(lines))
	}
	if lines[0] != ChangeHeader {
		return c, malformed("identity change header %.40q, want %q", lines[0], ChangeHeader)
	}
	if c.Project, err = parseProjectLine(lines[1]); err != nil {
		return c, err
	}
	if c.Time, err = parseTimeLine(lines[2], "time"); err != nil {
		return c, err
	}
	for i, id := range []*Identity{&c.Old, &c.New} {
		key := [...]string{"old", "new"}[i]
		s, ok := strings.CutPrefix(lines[3+i], key+" ")
		if !ok {
			return Change{}, malformed("line %.80q is not \"%s <identity>\"", lines[3+i], key)
		}
		if *id, err = tiles.ParseClaimant(s); err != nil {
			return Change{}, err
		}
	}
	if c.Old == c.New {
		return Change{}, malformed("the change replaces %s by itself", c.Old)
	}
	return c, nil
}

// SignerKeys returns the verifier keys that must sign a change, and only
// they: Old's if it is a key, New's if it is a key.
func (c Change) SignerKeys() []string {
	var vkeys []string
	for _, id := range []Identity{c.Old, c.New} {
		if id.Kind == KindKey {
			vkeys = append(vkeys, id.Value)
		}
	}
	return vkeys
}
