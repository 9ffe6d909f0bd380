package claim

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/tiles"
)

// Headers of the records an intake stores.
const (
	ClaimRecordHeader    = "pysumdb-claim-record/v1"
	IdentityRecordHeader = "pysumdb-identity-record/v1"
)

// Limits of the evidence of an OIDC request.
const (
	// MaxTokenSize bounds an OIDC token (GitHub's and GitLab's are about
	// 1 to 2 KiB).
	MaxTokenSize = 16 << 10
	// MaxJWKSize bounds the JSON of the issuer's key that verified a
	// token (an RSA key of 4096 bits is under 1 KiB).
	MaxJWKSize = 8 << 10
	// MaxRecordSize bounds a record: a body of at most MaxSize, the token
	// and key, and a few short lines. It is within the store's bound for
	// these objects (tiles.MaxOtherSize).
	MaxRecordSize = MaxSize + MaxTokenSize + MaxJWKSize + 4<<10
)

// OIDC is the evidence of a request made with an OIDC token, as the
// intake verified it: anyone can check the token's signature with JWK
// again, and that JWK was the issuer's key (from the issuer's published
// keys at the time, which the record can't prove by itself).
type OIDC struct {
	// Issuer is the token's issuer ("iss"), one the intake trusts.
	Issuer string
	// Audience is the audience the intake required ("aud").
	Audience string
	// JWK is the issuer's public key that verified the token, as JSON on
	// one line (RFC 7517).
	JWK string
	// Token is the token, a JWT in compact serialization.
	Token string
}

// ClaimRecord is a claim an intake accepted, with its evidence, stored at
// tiles.ClaimRecordKey(project, ID(text)).
type ClaimRecord struct {
	// Project is the claim's project.
	Project string
	// Registration is the number of the project's identity record in
	// force when the claim was accepted (from 1).
	Registration int64
	// Identity is the identity that made the claim: the one that
	// identity record registered.
	Identity Identity
	// Received is when the intake accepted the claim, by its clock.
	Received time.Time
	// OIDC is the token that proved Identity, nil for a key.
	OIDC *OIDC
	// Body is the request as received: the claim signed by Identity's key,
	// or the claim text that came with the OIDC token.
	Body []byte
}

// IdentityRecord is one link of a project's chain of claim identities,
// stored at tiles.ClaimIdentityKey(project, Index).
type IdentityRecord struct {
	// Project is the normalized project name.
	Project string
	// Index numbers the project's identity records from 1.
	Index int64
	// Identity is the project's claim identity from this record on.
	Identity Identity
	// Received is when the intake accepted the request, by its clock.
	Received time.Time
	// OIDC is the token that proved the request, nil for a key.
	OIDC *OIDC
	// Body is the request as received. For record 1, the project's first
	// claim, made by Identity (which registers it: trust on first use).
	// For a later record, a Change from the previous record's identity to
	// Identity, signed or sent with a token as Change says.
	Body []byte
}

// Text returns the record's claim text: its body without signatures.
func (r ClaimRecord) Text() []byte {
	text, _ := SplitNote(r.Body)
	return text
}

// ID returns the claim's identifier, ID(r.Text()).
func (r ClaimRecord) ID() [32]byte { return ID(r.Text()) }

// FormatClaimRecord returns the stored form of r:
//
//	pysumdb-claim-record/v1
//	project <project>
//	registration <n>
//	identity <kind> <value>
//	received <time>
//	[the OIDC lines, see FormatIdentityRecord]
//	<empty line>
//	<body>
func FormatClaimRecord(r ClaimRecord) ([]byte, error) {
	if err := checkProject(r.Project); err != nil {
		return nil, err
	}
	if r.Registration < 1 || r.Registration > tiles.MaxClaimIdentity {
		return nil, malformed("registration %d", r.Registration)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nproject %s\nregistration %d\n", ClaimRecordHeader, r.Project, r.Registration)
	if err := formatEvidence(&b, r.Identity, r.Received, r.OIDC, r.Body, MaxSize); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ParseClaimRecord parses a stored claim record strictly. It checks the
// form only: CheckClaimRecord checks that the body is a claim of the
// project, signed by the identity's key if it is one.
func ParseClaimRecord(data []byte) (ClaimRecord, error) {
	var r ClaimRecord
	lines, body, err := splitRecord(data, ClaimRecordHeader)
	if err != nil {
		return r, err
	}
	if len(lines) < 2 {
		return r, malformed("claim record has %d header lines", len(lines))
	}
	if r.Project, err = parseProjectLine(lines[0]); err != nil {
		return r, err
	}
	if r.Registration, err = parseNumberLine(lines[1], "registration"); err != nil {
		return r, err
	}
	r.Identity, r.Received, r.OIDC, err = parseEvidence(lines[2:])
	r.Body = body
	if err == nil && len(body) > MaxSize {
		err = malformed("claim record body of %d bytes exceeds %d", len(body), MaxSize)
	}
	return r, err
}

// CheckClaimRecord checks that r's body is a claim of r.Project, as its
// evidence says: signed by the identity's key and no other (KindKey), or
// the claim text alone (an OIDC identity, whose token the caller verifies).
func CheckClaimRecord(r ClaimRecord) (Claim, error) {
	var c Claim
	var err error
	switch {
	case r.Identity.Kind == KindKey && r.OIDC == nil:
		c, err = Open(r.Body, r.Identity.Value)
	case r.Identity.IsOIDC() && r.OIDC != nil:
		if _, signed := SplitNote(r.Body); signed {
			return c, malformed("claim made with an OIDC token carries signatures")
		}
		c, err = Parse(r.Body)
	default:
		return c, malformed("claim record of identity %s has the evidence of another kind", r.Identity)
	}
	if err != nil {
		return c, err
	}
	if c.Project != r.Project {
		return Claim{}, malformed("claim of project %s in a record of project %s", c.Project, r.Project)
	}
	return c, nil
}

// FormatIdentityRecord returns the stored form of r:
//
//	pysumdb-identity-record/v1
//	project <project>
//	index <n>
//	identity <kind> <value>
//	received <time>
//	issuer <URL>          \
//	audience <audience>    | only when the request came with an OIDC
//	jwk <JSON>             | token
//	token <JWT>           /
//	<empty line>
//	<body>
func FormatIdentityRecord(r IdentityRecord) ([]byte, error) {
	if err := checkProject(r.Project); err != nil {
		return nil, err
	}
	if r.Index < 1 || r.Index > tiles.MaxClaimIdentity {
		return nil, malformed("identity record index %d", r.Index)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nproject %s\nindex %d\n", IdentityRecordHeader, r.Project, r.Index)
	limit := MaxSize
	if r.Index > 1 {
		limit = MaxChangeSize
	}
	if err := formatEvidence(&b, r.Identity, r.Received, r.OIDC, r.Body, limit); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ParseIdentityRecord parses a stored identity record strictly. It checks
// the form only: CheckIdentityRecord checks its evidence.
func ParseIdentityRecord(data []byte) (IdentityRecord, error) {
	var r IdentityRecord
	lines, body, err := splitRecord(data, IdentityRecordHeader)
	if err != nil {
		return r, err
	}
	if len(lines) < 2 {
		return r, malformed("identity record has %d header lines", len(lines))
	}
	if r.Project, err = parseProjectLine(lines[0]); err != nil {
		return r, err
	}
	if r.Index, err = parseNumberLine(lines[1], "index"); err != nil {
		return r, err
	}
	r.Identity, r.Received, r.OIDC, err = parseEvidence(lines[2:])
	r.Body = body
	return r, err
}

// CheckIdentityRecord checks r's evidence, given the project's previous
// identity record (nil for record 1): record 1's body is a claim of the
// project made by r.Identity (as CheckClaimRecord checks); a later
// record's body is a Change of the project from prev's identity to
// r.Identity, later than the request that registered prev's identity,
// signed by the keys it needs (Change.SignerKeys) and no other, and, if
// prev's identity is an OIDC one, sent with a token (which the caller
// verifies names prev's identity). It returns the time of the request:
// the claim's or the change's.
func CheckIdentityRecord(r IdentityRecord, prev *IdentityRecord) (time.Time, error) {
	if r.Index == 1 {
		if prev != nil {
			return time.Time{}, malformed("identity record 1 after another")
		}
		c, err := CheckClaimRecord(ClaimRecord{Project: r.Project, Registration: 1, Identity: r.Identity, Received: r.Received, OIDC: r.OIDC, Body: r.Body})
		return c.Time, err
	}
	if prev == nil || prev.Index != r.Index-1 || prev.Project != r.Project {
		return time.Time{}, malformed("identity record %d of %s does not follow the previous one", r.Index, r.Project)
	}
	prevTime, err := RequestTime(*prev)
	if err != nil {
		return time.Time{}, err
	}
	text, signed := SplitNote(r.Body)
	c, err := ParseChange(text)
	if err != nil {
		return time.Time{}, err
	}
	if c.Project != r.Project || c.Old != prev.Identity || c.New != r.Identity {
		return time.Time{}, malformed("identity record %d of %s holds a change of %s from %s to %s", r.Index, r.Project, c.Project, c.Old, c.New)
	}
	if !c.Time.After(prevTime) {
		return time.Time{}, malformed("identity change of %s at %s is not later than the registration it replaces (%s)", r.Project, FormatTime(c.Time), FormatTime(prevTime))
	}
	if (c.Old.IsOIDC()) != (r.OIDC != nil) {
		return time.Time{}, malformed("identity change from %s with the evidence of another kind", c.Old)
	}
	vkeys := c.SignerKeys()
	switch {
	case len(vkeys) == 0 && signed:
		return time.Time{}, malformed("identity change between OIDC identities carries signatures")
	case len(vkeys) > 0:
		if _, err := OpenSigned(r.Body, vkeys...); err != nil {
			return time.Time{}, err
		}
	}
	return c.Time, nil
}

// RequestTime returns the time of the request an identity record holds:
// its claim's (record 1) or its change's.
func RequestTime(r IdentityRecord) (time.Time, error) {
	text, _ := SplitNote(r.Body)
	if r.Index == 1 {
		c, err := Parse(text)
		return c.Time, err
	}
	c, err := ParseChange(text)
	return c.Time, err
}

func formatEvidence(b *bytes.Buffer, id Identity, received time.Time, oidc *OIDC, body []byte, limit int) error {
	if err := tiles.CheckClaimant(id); err != nil {
		return err
	}
	ts, err := formatTime(received)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "identity %s\nreceived %s\n", id, ts)
	if oidc != nil {
		if err := checkOIDC(*oidc); err != nil {
			return err
		}
		fmt.Fprintf(b, "issuer %s\naudience %s\njwk %s\ntoken %s\n", oidc.Issuer, oidc.Audience, oidc.JWK, oidc.Token)
	}
	if len(body) == 0 || len(body) > limit || body[len(body)-1] != '\n' {
		return malformed("record body of %d bytes: want 1 to %d, ending in a newline", len(body), limit)
	}
	b.WriteByte('\n')
	b.Write(body)
	return nil
}

func parseEvidence(lines []string) (id Identity, received time.Time, oidc *OIDC, err error) {
	if len(lines) != 2 && len(lines) != 6 {
		return id, received, nil, malformed("record has %d evidence lines, want 2 or 6", len(lines))
	}
	s, ok := strings.CutPrefix(lines[0], "identity ")
	if !ok {
		return id, received, nil, malformed("line %.80q is not \"identity <kind> <value>\"", lines[0])
	}
	if id, err = tiles.ParseClaimant(s); err != nil {
		return id, received, nil, err
	}
	if received, err = parseTimeLine(lines[1], "received"); err != nil {
		return id, received, nil, err
	}
	if len(lines) == 2 {
		return id, received, nil, nil
	}
	var o OIDC
	for i, f := range []*string{&o.Issuer, &o.Audience, &o.JWK, &o.Token} {
		key := [...]string{"issuer", "audience", "jwk", "token"}[i]
		v, ok := strings.CutPrefix(lines[2+i], key+" ")
		if !ok {
			return id, received, nil, malformed("line %.80q is not \"%s <value>\"", lines[2+i], key)
		}
		*f = v
	}
	if err := checkOIDC(o); err != nil {
		return id, received, nil, err
	}
	return id, received, &o, nil
}

// checkOIDC checks the form of OIDC evidence (not the token's signature).
func checkOIDC(o OIDC) error {
	if !strings.HasPrefix(o.Issuer, "https://") && !strings.HasPrefix(o.Issuer, "http://") || len(o.Issuer) > tiles.MaxClaimantLen {
		return malformed("issuer %.100q is not an http(s) URL", o.Issuer)
	}
	if o.Audience == "" || len(o.Audience) > tiles.MaxClaimantLen {
		return malformed("audience %.100q", o.Audience)
	}
	if len(o.JWK) > MaxJWKSize || !strings.HasPrefix(o.JWK, "{") || !strings.HasSuffix(o.JWK, "}") {
		return malformed("jwk of %d bytes is not a JSON object of at most %d bytes", len(o.JWK), MaxJWKSize)
	}
	if len(o.Token) > MaxTokenSize || strings.Count(o.Token, ".") != 2 {
		return malformed("token of %d bytes is not a JWT of at most %d bytes", len(o.Token), MaxTokenSize)
	}
	for i := 0; i < len(o.Token); i++ {
		if c := o.Token[i]; !(c == '.' || c == '-' || c == '_' || isAlnum(c)) {
			return malformed("token is not a JWT in compact serialization (base64url and dots)")
		}
	}
	for _, v := range []string{o.Issuer, o.Audience, o.JWK} {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < ' ' || c >= 0x7f || (c == ' ' && v != o.JWK) {
				return malformed("OIDC evidence %.100q is not printable ASCII", v)
			}
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// splitRecord checks a record's header line and splits it into its
// header lines (without the first) and its body (after the first empty
// line).
func splitRecord(data []byte, header string) ([]string, []byte, error) {
	if len(data) > MaxRecordSize {
		return nil, nil, malformed("record of %d bytes exceeds %d", len(data), MaxRecordSize)
	}
	i := bytes.Index(data, []byte("\n\n"))
	if i < 0 {
		return nil, nil, malformed("record has no empty line before its body")
	}
	lines, err := splitLines(data[:i+1], "record")
	if err != nil {
		return nil, nil, err
	}
	if lines[0] != header {
		return nil, nil, malformed("record header %.40q, want %q", lines[0], header)
	}
	body := data[i+2:]
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, nil, malformed("record body is empty or does not end in a newline")
	}
	return lines[1:], body, nil
}

func parseNumberLine(line, key string) (int64, error) {
	s, ok := strings.CutPrefix(line, key+" ")
	if !ok {
		return 0, malformed("line %.80q is not \"%s <number>\"", line, key)
	}
	n, err := parsePositive(s)
	if err != nil || n > tiles.MaxClaimIdentity {
		return 0, malformed("%s %.40q is not a number from 1 to %d", key, s, tiles.MaxClaimIdentity)
	}
	return n, nil
}

// FormatFileMarker returns the content of the object that fixes a claimed
// file's bytes (tiles.ClaimFileKey): "sha256:<hex> <size>" and LF.
func FormatFileMarker(f File) []byte {
	return []byte(tiles.FormatSHA256(f.SHA256) + " " + strconv.FormatInt(f.Size, 10) + "\n")
}
