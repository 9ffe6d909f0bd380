package claim

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/tiles"
	"golang.org/x/mod/sumdb/note"
)

func TestIdentity(t *testing.T) {
	good := []string{
		"key " + testVKey,
		"github https://github.com/octo/repo/.github/workflows/release.yml",
		"gitlab https://gitlab.com/group/project//.gitlab-ci.yml",
	}
	for _, s := range good {
		id, err := tiles.ParseClaimant(s)
		if err != nil || id.String() != s {
			t.Errorf("ParseClaimant(%q) = %v, %v", s, id, err)
		}
	}
	bad := []string{
		"", "key", "key ", "key x", "key " + testVKey + " ", "Key " + testVKey, "ssh " + testVKey,
		"github http://github.com/o/r/w.yml", "github https://example.com/o/r/w.yml", "github https://github.com/",
		"github https://github.com/o/r/w.yml@refs/tags/v1", "github https://github.com/o/r/w\u00e9.yml",
		"gitlab https://", "gitlab gitlab.com/g/p//x.yml", "gitlab https:///g", "gitlab https://gitlab.com/g/p//x.yml@refs/heads/main",
		"google someone@example.com",
	}
	for _, s := range bad {
		if id, err := tiles.ParseClaimant(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseClaimant(%q) = %v, %v; want ErrMalformed", s, id, err)
		}
	}
	for san, want := range map[string]string{
		"https://github.com/octo/repo/.github/workflows/release.yml@refs/tags/v1.0": "https://github.com/octo/repo/.github/workflows/release.yml",
		"https://github.com/octo/repo/.github/workflows/release.yml@refs/heads/a@b": "https://github.com/octo/repo/.github/workflows/release.yml@refs/heads/a",
		"https://github.com/octo/repo/.github/workflows/release.yml":                "https://github.com/octo/repo/.github/workflows/release.yml",
	} {
		id, err := OIDCIdentity(KindGitHub, san)
		if want == "https://github.com/octo/repo/.github/workflows/release.yml@refs/heads/a" {
			// A ref with "@" leaves an identity with "@": refused, never
			// another workflow's.
			if err == nil {
				t.Errorf("OIDCIdentity(%q) = %v", san, id)
			}
			continue
		}
		if err != nil || id.Value != want {
			t.Errorf("OIDCIdentity(%q) = %v, %v; want %s", san, id, err, want)
		}
	}
	if _, err := KeyIdentity("PRIVATE+KEY+x"); err == nil {
		t.Errorf("KeyIdentity of a private key succeeded")
	}
}

func testChange(t *testing.T) Change {
	t.Helper()
	return Change{
		Project: "foo-bar",
		Time:    time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Old:     Identity{Kind: KindKey, Value: testVKey},
		New:     Identity{Kind: KindKey, Value: otherVKey},
	}
}

func TestChange(t *testing.T) {
	c := testChange(t)
	text, err := FormatChange(c)
	if err != nil {
		t.Fatal(err)
	}
	want := "pysumdb-identity/v1\nproject foo-bar\ntime 2026-12-01T00:00:00Z\nold key " + testVKey + "\nnew key " + otherVKey + "\n"
	if string(text) != want {
		t.Fatalf("FormatChange = %q, want %q", text, want)
	}
	got, err := ParseChange(text)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("ParseChange = %+v, %v", got, err)
	}
	if keys := c.SignerKeys(); !reflect.DeepEqual(keys, []string{testVKey, otherVKey}) {
		t.Fatalf("SignerKeys = %q", keys)
	}
	c.New = Identity{Kind: KindGitHub, Value: "https://github.com/o/r/.github/workflows/w.yml"}
	if keys := c.SignerKeys(); !reflect.DeepEqual(keys, []string{testVKey}) {
		t.Fatalf("SignerKeys = %q", keys)
	}
	for name, text := range map[string]string{
		"same identity":  strings.Replace(want, otherVKey, testVKey, 1),
		"lines swapped":  strings.Replace(want, "old key "+testVKey+"\nnew key "+otherVKey, "new key "+otherVKey+"\nold key "+testVKey, 1),
		"missing new":    strings.Replace(want, "new key "+otherVKey+"\n", "", 1),
		"extra line":     want + "x\n",
		"claim header":   strings.Replace(want, ChangeHeader, Header, 1),
		"bad identity":   strings.Replace(want, "new key", "new ssh", 1),
		"no newline":     strings.TrimSuffix(want, "\n"),
		"unnormalized":   strings.Replace(want, "foo-bar", "Foo-Bar", 1),
		"time with zone": strings.Replace(want, "00:00:00Z", "00:00:00+01:00", 1),
	} {
		if c, err := ParseChange([]byte(text)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseChange = %+v, %v; want ErrMalformed", name, c, err)
		}
	}
}

func TestRecords(t *testing.T) {
	msg, err := Sign(testClaim(), signer(t, testSKey))
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2026, 11, 28, 5, 0, 1, 0, time.UTC)
	keyID := Identity{Kind: KindKey, Value: testVKey}
	cr := ClaimRecord{Project: "foo-bar", Registration: 1, Identity: keyID, Received: received, Body: msg}
	data, err := FormatClaimRecord(cr)
	if err != nil {
		t.Fatal(err)
	}
	wantHead := "pysumdb-claim-record/v1\nproject foo-bar\nregistration 1\nidentity key " + testVKey + "\nreceived 2026-11-28T05:00:01Z\n\n"
	if !bytes.Equal(data, append([]byte(wantHead), msg...)) {
		t.Fatalf("FormatClaimRecord:\n%s", data)
	}
	got, err := ParseClaimRecord(data)
	if err != nil || !reflect.DeepEqual(got, cr) {
		t.Fatalf("ParseClaimRecord = %+v, %v", got, err)
	}
	if c, err := CheckClaimRecord(got); err != nil || !reflect.DeepEqual(c, testClaim()) {
		t.Fatalf("CheckClaimRecord = %+v, %v", c, err)
	}
	text, _ := Format(testClaim())
	if got.ID() != ID(text) {
		t.Fatal("record ID is not its text's")
	}

	// OIDC evidence.
	oidc := &OIDC{Issuer: "https://token.actions.githubusercontent.com", Audience: "pysumdb", JWK: `{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}`, Token: "eyJh.eyJi.c2ln"}
	ghID := Identity{Kind: KindGitHub, Value: "https://github.com/o/r/.github/workflows/w.yml"}
	or := ClaimRecord{Project: "foo-bar", Registration: 2, Identity: ghID, Received: received, OIDC: oidc, Body: text}
	data, err = FormatClaimRecord(or)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseClaimRecord(data); err != nil || !reflect.DeepEqual(got, or) {
		t.Fatalf("ParseClaimRecord(OIDC) = %+v, %v", got, err)
	}
	if _, err := CheckClaimRecord(or); err != nil {
		t.Fatal(err)
	}

	// Evidence that doesn't fit.
	for name, r := range map[string]ClaimRecord{
		"key without signature":  {Project: "foo-bar", Registration: 1, Identity: keyID, Received: received, Body: text},
		"key signed by other":    {Project: "foo-bar", Registration: 1, Identity: Identity{Kind: KindKey, Value: otherVKey}, Received: received, Body: msg},
		"key with a token":       {Project: "foo-bar", Registration: 1, Identity: keyID, Received: received, OIDC: oidc, Body: msg},
		"OIDC without token":     {Project: "foo-bar", Registration: 1, Identity: ghID, Received: received, Body: text},
		"OIDC with a signature":  {Project: "foo-bar", Registration: 1, Identity: ghID, Received: received, OIDC: oidc, Body: msg},
		"claim of other project": {Project: "foo", Registration: 1, Identity: keyID, Received: received, Body: msg},
	} {
		if c, err := CheckClaimRecord(r); err == nil {
			t.Errorf("%s: CheckClaimRecord = %+v", name, c)
		}
	}

	// Malformed records.
	good := string(data)
	for name, s := range map[string]string{
		"no body":          strings.SplitN(good, "\n\n", 2)[0] + "\n\n",
		"no empty line":    strings.Replace(good, "\n\n", "\n", 1),
		"header":           strings.Replace(good, ClaimRecordHeader, IdentityRecordHeader, 1),
		"registration 0":   strings.Replace(good, "registration 2", "registration 0", 1),
		"registration 02":  strings.Replace(good, "registration 2", "registration 02", 1),
		"no audience":      strings.Replace(good, "audience pysumdb\n", "", 1),
		"token not a JWT":  strings.Replace(good, "token eyJh.eyJi.c2ln", "token eyJh.eyJi", 1),
		"token with space": strings.Replace(good, "token eyJh.eyJi.c2ln", "token eyJh.ey Ji.c2ln", 1),
		"issuer ftp":       strings.Replace(good, "issuer https://", "issuer ftp://", 1),
		"received zone":    strings.Replace(good, "05:00:01Z", "05:00:01+00:00", 1),
		"identity kind":    strings.Replace(good, "identity github", "identity google", 1),
	} {
		if r, err := ParseClaimRecord([]byte(s)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseClaimRecord = %+v, %v; want ErrMalformed", name, r, err)
		}
	}
}

func TestIdentityRecords(t *testing.T) {
	msg, _ := Sign(testClaim(), signer(t, testSKey))
	received := time.Date(2026, 11, 28, 5, 0, 1, 0, time.UTC)
	keyID := Identity{Kind: KindKey, Value: testVKey}
	r1 := IdentityRecord{Project: "foo-bar", Index: 1, Identity: keyID, Received: received, Body: msg}
	data, err := FormatIdentityRecord(r1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseIdentityRecord(data); err != nil || !reflect.DeepEqual(got, r1) {
		t.Fatalf("ParseIdentityRecord = %+v, %v", got, err)
	}
	if tm, err := CheckIdentityRecord(r1, nil); err != nil || !tm.Equal(testClaim().Time) {
		t.Fatalf("CheckIdentityRecord(1) = %v, %v", tm, err)
	}

	change := testChange(t)
	changeText, _ := FormatChange(change)
	sign := func(skeys ...string) []byte {
		var signers []noteSigner
		for _, k := range skeys {
			signers = append(signers, signer(t, k))
		}
		return signNote(t, changeText, signers...)
	}
	r2 := IdentityRecord{Project: "foo-bar", Index: 2, Identity: change.New, Received: received, Body: sign(testSKey, otherSKey)}
	data, err = FormatIdentityRecord(r2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseIdentityRecord(data); err != nil || !reflect.DeepEqual(got, r2) {
		t.Fatalf("ParseIdentityRecord = %+v, %v", got, err)
	}
	if tm, err := CheckIdentityRecord(r2, &r1); err != nil || !tm.Equal(change.Time) {
		t.Fatalf("CheckIdentityRecord(2) = %v, %v", tm, err)
	}

	fromOther, err := FormatChange(Change{Project: "foo-bar", Time: change.Time, Old: change.New, New: keyID})
	if err != nil {
		t.Fatal(err)
	}
	early := change
	early.Time = testClaim().Time
	earlyText, _ := FormatChange(early)
	for name, r := range map[string]IdentityRecord{
		"signed by old only": {Project: "foo-bar", Index: 2, Identity: change.New, Received: received, Body: sign(testSKey)},
		"signed by new only": {Project: "foo-bar", Index: 2, Identity: change.New, Received: received, Body: sign(otherSKey)},
		"unsigned":           {Project: "foo-bar", Index: 2, Identity: change.New, Received: received, Body: changeText},
		"not later":          {Project: "foo-bar", Index: 2, Identity: change.New, Received: received, Body: signNote(t, earlyText, signer(t, testSKey), signer(t, otherSKey))},
		"other identity":     {Project: "foo-bar", Index: 2, Identity: keyID, Received: received, Body: sign(testSKey, otherSKey)},
		"index 3":            {Project: "foo-bar", Index: 3, Identity: change.New, Received: received, Body: sign(testSKey, otherSKey)},
		"from another key":   {Project: "foo-bar", Index: 2, Identity: keyID, Received: received, Body: signNote(t, fromOther, signer(t, otherSKey), signer(t, testSKey))},
	} {
		if tm, err := CheckIdentityRecord(r, &r1); err == nil {
			t.Errorf("%s: CheckIdentityRecord = %v", name, tm)
		}
	}
	if _, err := CheckIdentityRecord(r1, &r1); err == nil {
		t.Errorf("record 1 after record 1 accepted")
	}
}

type noteSigner = note.Signer

func signNote(t *testing.T, text []byte, signers ...note.Signer) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}
