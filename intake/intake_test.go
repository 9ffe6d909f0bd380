package intake

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/claim"
	"github.com/pysumdb/pysumdb/intake/oidctest"
	"github.com/pysumdb/pysumdb/tiles"
)

func TestClaimWithKey(t *testing.T) {
	e := newEnv(t)
	k := newKey(t, "maintainer")
	c := newClaim("foo", "", "foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz")
	e.claimWithKey(c, k).want(t, http.StatusOK, "accepted: claim", "of foo, 2 files, by key "+k.vkey)
	id := claim.ID(e.text(c))
	want := []string{
		tiles.ClaimRecordKey("foo", id),
		tiles.ClaimFileKey("foo", "foo-1.0-py3-none-any.whl"),
		tiles.ClaimFileKey("foo", "foo-1.0.tar.gz"),
		tiles.ClaimIdentityKey("foo", 1),
	}
	slices.Sort(want)
	if got := e.keys(); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	for _, key := range want {
		if !tiles.IsPublicKey(key) {
			t.Errorf("%s is not public", key)
		}
	}
	data, _, err := e.store.Read(context.Background(), tiles.ClaimFileKey("foo", "foo-1.0.tar.gz"))
	if err != nil || string(data) != string(claim.FormatFileMarker(c.Files[1])) {
		t.Fatalf("file marker %q, %v", data, err)
	}

	// Idempotent, and a claim naming a claimed file with the same bytes
	// is accepted.
	e.claimWithKey(c, k).want(t, http.StatusOK, "already accepted")
	e.unchanged(e.keys())
	c2 := newClaim("foo", "", "foo-1.0.tar.gz", "foo-1.0-cp312-cp312-win_amd64.whl")
	c2.Time = c2.Time.Add(time.Second)
	e.claimWithKey(c2, k).want(t, http.StatusOK, "accepted: claim")

	projects := e.readAll()
	if len(projects) != 1 || projects[0].Name != "foo" || len(projects[0].Identities) != 1 || len(projects[0].Claims) != 2 {
		t.Fatalf("ReadAll = %+v", projects)
	}
	p := projects[0]
	if p.Identities[0].Identity != k.id() {
		t.Errorf("identity %v, want %v", p.Identities[0].Identity, k.id())
	}
	for _, s := range p.Claims {
		if s.Identity != k.id() || s.Registration != 1 || s.Project != "foo" || s.Key != tiles.ClaimRecordKey("foo", s.ID) {
			t.Errorf("claim %+v", s)
		}
	}
	if one, err := ReadProject(context.Background(), e.store, "foo"); err != nil || len(one.Claims) != 2 {
		t.Fatalf("ReadProject = %+v, %v", one, err)
	}
	if none, err := ReadProject(context.Background(), e.store, "bar"); err != nil || none.Name != "bar" || len(none.Claims)+len(none.Identities) != 0 {
		t.Fatalf("ReadProject(bar) = %+v, %v", none, err)
	}
	if !strings.Contains(e.logs.String(), "claim accepted") || !strings.Contains(e.logs.String(), "project=foo") {
		t.Errorf("logs:\n%s", e.logs)
	}
}

func TestClaimConflict(t *testing.T) {
	e := newEnv(t)
	k := newKey(t, "maintainer")
	e.claimWithKey(newClaim("foo", "", "foo-1.0.tar.gz"), k).want(t, http.StatusOK, "accepted")
	before := e.keys()
	// Other bytes for a claimed filename: refused, whatever else the
	// claim names, and nothing written.
	other := newClaim("foo", "other bytes", "foo-0.9.tar.gz", "foo-1.0.tar.gz", "foo-1.1.tar.gz")
	e.claimWithKey(other, k).want(t, http.StatusConflict, "foo-1.0.tar.gz was already claimed as sha256:", "a filename is published once")
	e.unchanged(before)
}

func TestClaimByAnotherKey(t *testing.T) {
	e := newEnv(t)
	registered, other := newKey(t, "maintainer"), newKey(t, "attacker")
	e.claimWithKey(newClaim("foo", "", "foo-1.0.tar.gz"), registered).want(t, http.StatusOK, "accepted")
	before := e.keys()
	c := newClaim("foo", "", "foo-2.0.tar.gz")
	e.claimWithKey(c, other).want(t, http.StatusForbidden, "claim made by key "+other.vkey, "the claim identity of foo is key "+registered.vkey)
	// Signed by another key than the header names.
	e.post("/v1/claim", e.sign(c, other), KeyHeader, registered.vkey).want(t, http.StatusUnauthorized, "signature")
	// Signed by both.
	e.post("/v1/claim", e.sign(c, registered, other), KeyHeader, registered.vkey).want(t, http.StatusUnauthorized, "signature")
	// Signed by the registered key but a byte of the text altered.
	msg := e.sign(c, registered)
	i := bytes.Index(msg, []byte("sha256:")) + 10
	if msg[i] == '0' { // another hex digit
		msg[i] = '1'
	} else {
		msg[i] = '0'
	}
	e.post("/v1/claim", msg, KeyHeader, registered.vkey).want(t, http.StatusUnauthorized, "signature")
	e.unchanged(before)
	// Another project is the other key's to register.
	e.claimWithKey(newClaim("bar", "", "bar-1.0.tar.gz"), other).want(t, http.StatusOK, "accepted")
}

func TestClaimAlteredEveryByte(t *testing.T) {
	e := newEnv(t)
	k := newKey(t, "maintainer")
	msg := e.sign(newClaim("foo", "", "foo-1.0.tar.gz"), k)
	for i := range msg {
		if msg[i] == '\n' {
			continue
		}
		altered := bytes.Clone(msg)
		altered[i] ^= 1
		if r := e.post("/v1/claim", altered, KeyHeader, k.vkey); r.status == http.StatusOK || r.status >= 500 {
			t.Fatalf("byte %d altered: %d %s", i, r.status, r.body)
		}
	}
	e.unchanged(nil)
}

func TestClaimMalformed(t *testing.T) {
	e := newEnv(t)
	k := newKey(t, "maintainer")
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	text := string(e.text(c))
	future := c
	future.Time = time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	// The key signed a text of the claim, an empty line and a signature:
	// not the claim.
	nested, err := note.Sign(&note.Note{Text: string(e.sign(c, k))}, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		body    string
		headers []string
		status  int
		says    string
	}{
		"empty":          {"", []string{KeyHeader, k.vkey}, 400, "malformed claim"},
		"garbage":        {"hello\n", []string{KeyHeader, k.vkey}, 400, "malformed claim"},
		"CRLF":           {strings.ReplaceAll(text, "\n", "\r\n"), []string{KeyHeader, k.vkey}, 400, "malformed claim"},
		"other project":  {strings.Replace(text, "project foo", "project bar", 1), []string{KeyHeader, k.vkey}, 400, "is not a wheel (.whl) or sdist (.tar.gz, .zip) of project bar"},
		"unsorted":       {text + "foo-0.9.tar.gz sha256:" + strings.Repeat("0", 64) + " 1\n", []string{KeyHeader, k.vkey}, 400, "sorted"},
		"unsigned":       {text, []string{KeyHeader, k.vkey}, 401, "not signed"},
		"no key":         {string(e.sign(c, k)), nil, 401, "must be signed by a key"},
		"bad key header": {string(e.sign(c, k)), []string{KeyHeader, "not a key"}, 400, KeyHeader},
		"key and token":  {string(e.sign(c, k)), []string{KeyHeader, k.vkey, "Authorization", "Bearer " + e.githubToken("refs/tags/v1")}, 400, "not both"},
		"basic auth":     {text, []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401, "Bearer"},
		"token + signed": {string(e.sign(c, k)), []string{"Authorization", "Bearer " + e.githubToken("refs/tags/v1")}, 400, "without signatures"},
		"future":         {string(e.sign(future, k)), []string{KeyHeader, k.vkey}, 400, "in the future"},
		"content type":   {string(e.sign(c, k)), []string{KeyHeader, k.vkey, "Content-Type", "application/json"}, 415, "text/plain"},
		"nested note":    {string(nested), []string{KeyHeader, k.vkey}, 400, "empty line"},
	} {
		t.Run(name, func(t *testing.T) {
			e.post("/v1/claim", []byte(tt.body), tt.headers...).want(t, tt.status, tt.says)
			e.unchanged(nil)
		})
	}
	// Not a route, not a method.
	if r := e.post("/v1/claims", []byte(text)); r.status != http.StatusNotFound {
		t.Errorf("POST /v1/claims: %d", r.status)
	}
	if r := e.do(httptest.NewRequest(http.MethodGet, "/v1/claim", nil)); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/claim: %d", r.status)
	}
	e.do(httptest.NewRequest(http.MethodGet, "/healthz", nil)).want(t, http.StatusOK, "ok")
	e.unchanged(nil)
}

func TestClaimOversized(t *testing.T) {
	e := newEnv(t)
	k := newKey(t, "maintainer")
	// A claim of 1000 files with long names, over 256 KiB.
	var names []string
	for i := range claim.MaxFiles {
		names = append(names, fmt.Sprintf("foo-1.%d.%s.tar.gz", i, strings.Repeat("0", 300)))
	}
	c := newClaim("foo", "", names...)
	text := []byte(claim.Header + "\nproject foo\ntime " + claim.FormatTime(c.Time) + "\n")
	for _, f := range c.Files {
		text = fmt.Appendf(text, "%s %s %d\n", f.Filename, tiles.FormatSHA256(f.SHA256), f.Size)
	}
	if len(text) <= claim.MaxSize {
		t.Fatalf("claim of %d bytes", len(text))
	}
	// Refused from its Content-Length, before reading.
	e.post("/v1/claim", text, KeyHeader, k.vkey).want(t, http.StatusRequestEntityTooLarge, fmt.Sprintf("claim of %d bytes is larger than 262144 bytes", len(text)))
	// Without a Content-Length (chunked): cut while reading.
	req := httptest.NewRequest(http.MethodPost, "/v1/claim", bytes.NewReader(text))
	req.ContentLength = -1
	req.Header.Set(KeyHeader, k.vkey)
	e.do(req).want(t, http.StatusRequestEntityTooLarge, "larger than 262144 bytes")
	// An identity change has a smaller bound.
	e.post("/v1/identity", bytes.Repeat([]byte("x"), claim.MaxChangeSize+1)).want(t, http.StatusRequestEntityTooLarge, "larger than 16384")
	e.unchanged(nil)
}

func TestRateLimits(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.ClientRate, c.ClientBurst = 0.001, 2 })
		k := newKey(t, "maintainer")
		e.claimWithKey(newClaim("foo", "", "foo-1.0.tar.gz"), k).want(t, http.StatusOK)
		e.post("/v1/claim", []byte("garbage")).want(t, http.StatusBadRequest)
		before := e.keys()
		r := e.claimWithKey(newClaim("foo", "", "foo-2.0.tar.gz"), k)
		r.want(t, http.StatusTooManyRequests, "too many requests from 192.0.2.1")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After")
		}
		e.unchanged(before)
		// Another client is not limited.
		req := httptest.NewRequest(http.MethodPost, "/v1/claim", bytes.NewReader(e.sign(newClaim("foo", "", "foo-2.0.tar.gz"), k)))
		req.RemoteAddr = "198.51.100.7:4242"
		req.Header.Set(KeyHeader, k.vkey)
		e.do(req).want(t, http.StatusOK, "accepted")
	})
	t.Run("project", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.ProjectRate, c.ProjectBurst = 0.001, 1 })
		k, other := newKey(t, "maintainer"), newKey(t, "other")
		e.claimWithKey(newClaim("foo", "", "foo-1.0.tar.gz"), k).want(t, http.StatusOK)
		// Requests that are not the project's identity don't count...
		e.claimWithKey(newClaim("foo", "", "foo-2.0.tar.gz"), other).want(t, http.StatusForbidden)
		// ... and the project's limit is used up.
		before := e.keys()
		e.claimWithKey(newClaim("foo", "", "foo-2.0.tar.gz"), k).want(t, http.StatusTooManyRequests, "too many requests for project foo")
		e.unchanged(before)
		e.claimWithKey(newClaim("bar", "", "bar-2.0.tar.gz"), k).want(t, http.StatusOK)
	})
}

func TestClientAddress(t *testing.T) {
	for _, tt := range []struct {
		remote string
		xff    []string
		hops   int
		want   string
	}{
		{"192.0.2.1:1234", nil, 0, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"10.0.0.1"}, 0, "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:1234", nil, 0, "2001:db8:1:2::/64"},
		{"10.0.0.9:1234", []string{"spoofed, 203.0.113.5"}, 1, "203.0.113.5"},
		{"10.0.0.9:1234", []string{"spoofed", "203.0.113.5, 10.0.0.8"}, 2, "203.0.113.5"},
		{"10.0.0.9:1234", nil, 1, "direct 10.0.0.9"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddress(r, tt.hops); got != tt.want {
			t.Errorf("clientAddress(%s, %q, %d) = %q, want %q", tt.remote, tt.xff, tt.hops, got, tt.want)
		}
	}
}

func TestClaimWithOIDC(t *testing.T) {
	e := newEnv(t)
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	e.claimWithToken(c, e.githubToken("refs/tags/v1.0")).want(t, http.StatusOK, "accepted", "by "+githubID.String())
	// The next release, from another tag of the same workflow.
	c2 := newClaim("foo", "", "foo-2.0.tar.gz")
	e.claimWithToken(c2, e.githubToken("refs/tags/v2.0")).want(t, http.StatusOK, "accepted")
	// Another workflow is another identity.
	other := e.iss.GitHubToken(t, DefaultAudience, "octo/demo/.github/workflows/other.yml@refs/tags/v3.0")
	e.claimWithToken(newClaim("foo", "", "foo-3.0.tar.gz"), other).want(t, http.StatusForbidden, "the claim identity of foo is "+githubID.String())

	p := e.readAll()[0]
	if len(p.Claims) != 2 || p.Identities[0].Identity != githubID || p.Identities[0].OIDC == nil {
		t.Fatalf("ReadAll = %+v", p)
	}
	record := p.Identities[0]
	if record.OIDC.Issuer != e.iss.URL || record.OIDC.Audience != DefaultAudience || !strings.Contains(record.OIDC.JWK, oidctest.KeyID) {
		t.Errorf("evidence %+v", record.OIDC)
	}
	// ReadAll needs the issuer trusted.
	if _, err := ReadAll(context.Background(), e.store); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("ReadAll with the default issuers: %v", err)
	}
	if fetches := e.iss.Fetches.Load(); fetches != 1 {
		t.Errorf("the issuer's keys were fetched %d times, want once (cached)", fetches)
	}
}

// b64 is base64url without padding, as JWTs are written.
func b64(v any) string {
	data, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(data)
}

func TestClaimTokenRefused(t *testing.T) {
	e := newEnv(t)
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	ref := map[string]any{"job_workflow_ref": workflow + "@refs/tags/v1.0"}
	claims := func(extra map[string]any) map[string]any {
		c := e.iss.Claims(DefaultAudience, ref)
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	good := e.iss.Token(t, claims(nil))
	parts := strings.Split(good, ".")
	alteredPayload := claims(map[string]any{"job_workflow_ref": "attacker/repo/.github/workflows/x.yml@refs/heads/main"})
	now := time.Now()
	otherIssuer := oidctest.New(t)
	for name, tt := range map[string]struct {
		token string
		says  string
	}{
		"expired":          {e.iss.Token(t, claims(map[string]any{"exp": now.Add(-10 * time.Minute).Unix(), "iat": now.Add(-20 * time.Minute).Unix()})), "not valid"},
		"not yet valid":    {e.iss.Token(t, claims(map[string]any{"nbf": now.Add(10 * time.Minute).Unix()})), "not valid"},
		"issued in future": {e.iss.Token(t, claims(map[string]any{"iat": now.Add(10 * time.Minute).Unix()})), "not valid"},
		"no exp":           {e.iss.Token(t, claims(map[string]any{"exp": nil})), "without exp"},
		"no iat":           {e.iss.Token(t, claims(map[string]any{"iat": nil})), "without exp or iat"},
		"wrong audience":   {e.iss.Token(t, claims(map[string]any{"aud": "sigstore"})), "audience"},
		"two audiences":    {e.iss.Token(t, claims(map[string]any{"aud": []string{"pysumdb", "other"}})), "audience"},
		"no audience":      {e.iss.Token(t, claims(map[string]any{"aud": nil})), "audience"},
		"untrusted issuer": {otherIssuer.Token(t, otherIssuer.Claims(DefaultAudience, ref)), "is not one this intake trusts"},
		"issuer claim":     {e.iss.Token(t, claims(map[string]any{"iss": e.iss.URL + "/"})), "is not one this intake trusts"},
		"forged":           {oidctest.Sign(t, e.iss.Other, oidctest.KeyID, claims(nil)), "signature does not verify"},
		"unknown key":      {oidctest.Sign(t, e.iss.Other, "other-key", claims(nil)), "has no key"},
		"altered payload":  {parts[0] + "." + b64(alteredPayload) + "." + parts[2], "signature does not verify"},
		"alg none":         {b64(map[string]string{"alg": "none", "kid": oidctest.KeyID, "typ": "JWT"}) + "." + parts[1] + ".", "not a signed JWT"},
		"alg HS256":        {b64(map[string]string{"alg": "HS256", "kid": oidctest.KeyID}) + "." + parts[1] + "." + parts[2], "not a signed JWT"},
		"no kid":           {b64(map[string]string{"alg": "RS256"}) + "." + parts[1] + "." + parts[2], "key ID"},
		"no workflow":      {e.iss.Token(t, claims(map[string]any{"job_workflow_ref": nil})), "without job_workflow_ref"},
		"not a JWT":        {"hello", "not a signed JWT"},
		"huge":             {strings.Repeat("a", claim.MaxTokenSize+1), "more than"},
	} {
		t.Run(name, func(t *testing.T) {
			e.claimWithToken(c, tt.token).want(t, http.StatusUnauthorized, tt.says)
			e.unchanged(nil)
		})
	}
	e.claimWithToken(c, good).want(t, http.StatusOK)
}

func TestGitLabToken(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Issuers[0].Kind = claim.KindGitLab })
	host := strings.TrimPrefix(e.iss.URL, "http://")
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	token := func(uri string) string {
		return e.iss.Token(t, e.iss.Claims(DefaultAudience, map[string]any{"ci_config_ref_uri": uri}))
	}
	// Another host's project: refused.
	e.claimWithToken(c, token("gitlab.com/group/foo//.gitlab-ci.yml@refs/heads/main")).want(t, http.StatusUnauthorized, "not on the issuer's host")
	// A GitHub claim from a GitLab issuer: refused.
	e.claimWithToken(c, e.githubToken("refs/tags/v1")).want(t, http.StatusUnauthorized, "ci_config_ref_uri")
	e.unchanged(nil)
	e.claimWithToken(c, token(host+"/group/foo//.gitlab-ci.yml@refs/tags/v1.0")).want(t, http.StatusOK, "by gitlab https://"+host+"/group/foo//.gitlab-ci.yml")
	if _, err := ReadAll(context.Background(), e.store, Issuer{URL: e.iss.URL, Kind: claim.KindGitLab}); err != nil {
		t.Fatal(err)
	}
	// Evidence of a gitlab issuer read as a github one's: refused.
	if _, err := ReadAll(context.Background(), e.store, Issuer{URL: e.iss.URL, Kind: claim.KindGitHub}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("ReadAll with the issuer of another kind: %v", err)
	}
}

func TestTokenUsedOnce(t *testing.T) {
	e := newEnv(t)
	token := e.githubToken("refs/tags/v1.0")
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	e.claimWithToken(c, token).want(t, http.StatusOK, "accepted")
	// A retry is fine; another claim with the same token is not.
	e.claimWithToken(c, token).want(t, http.StatusOK, "already accepted")
	before := e.keys()
	e.claimWithToken(newClaim("foo", "", "foo-9.0.tar.gz"), token).want(t, http.StatusUnauthorized, "already used")
	e.unchanged(before)
	// Another project's claim may use it (one job, two projects).
	e.claimWithToken(newClaim("bar", "", "bar-1.0.tar.gz"), token).want(t, http.StatusOK, "accepted")
}

func TestIssuerDown(t *testing.T) {
	e := newEnv(t)
	e.iss.SetDown(true)
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	e.claimWithToken(c, e.githubToken("refs/tags/v1")).want(t, http.StatusServiceUnavailable, "couldn't fetch the keys")
	e.unchanged(nil)
}

func TestIdentityChange(t *testing.T) {
	e := newEnv(t)
	a, b, attacker := newKey(t, "a"), newKey(t, "b"), newKey(t, "attacker")
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	e.claimWithKey(c, a).want(t, http.StatusOK)
	ch := claim.Change{Project: "foo", Time: c.Time.Add(time.Second), Old: a.id(), New: b.id()}

	before := e.keys()
	e.change(ch, "", a).want(t, http.StatusUnauthorized, "not signed by")               // the new key did not sign
	e.change(ch, "", b).want(t, http.StatusUnauthorized, "not signed by")               // the old key did not sign
	e.change(ch, "").want(t, http.StatusUnauthorized, "must be signed by")              // nobody signed
	e.change(ch, "", attacker, b).want(t, http.StatusUnauthorized, "not")               // another key as the old one
	e.change(ch, "", a, b, attacker).want(t, http.StatusUnauthorized, "a signature by") // an extra signature
	toAttacker := ch
	toAttacker.Old, toAttacker.New = attacker.id(), b.id()
	e.change(toAttacker, "", attacker, b).want(t, http.StatusConflict, "the claim identity of foo is key "+a.vkey)
	e.change(claim.Change{Project: "bar", Time: ch.Time, Old: a.id(), New: b.id()}, "", a, b).want(t, http.StatusConflict, "no claim identity yet")
	notLater := ch
	notLater.Time = c.Time
	e.change(notLater, "", a, b).want(t, http.StatusConflict, "not later")
	e.unchanged(before)

	e.change(ch, "", a, b).want(t, http.StatusOK, "the claim identity of foo is now key "+b.vkey, tiles.ClaimIdentityKey("foo", 2))
	e.change(ch, "", a, b).want(t, http.StatusOK, "already accepted")
	// The new key claims; the old one can't any more.
	e.claimWithKey(newClaim("foo", "", "foo-2.0.tar.gz"), b).want(t, http.StatusOK, "accepted")
	e.claimWithKey(newClaim("foo", "", "foo-3.0.tar.gz"), a).want(t, http.StatusForbidden, "the claim identity of foo is key "+b.vkey)
	// Back to a, then the old change from a to b can't be replayed.
	back := claim.Change{Project: "foo", Time: ch.Time.Add(time.Second), Old: b.id(), New: a.id()}
	e.change(back, "", b, a).want(t, http.StatusOK, tiles.ClaimIdentityKey("foo", 3))
	before = e.keys()
	e.change(ch, "", a, b).want(t, http.StatusConflict, "not later")
	e.unchanged(before)

	// The chain is published in order and verifies.
	p := e.readAll()[0]
	if len(p.Identities) != 3 {
		t.Fatalf("%d identity records", len(p.Identities))
	}
	for i, want := range []claim.Identity{a.id(), b.id(), a.id()} {
		if r := p.Identities[i]; r.Index != int64(i+1) || r.Identity != want {
			t.Errorf("record %d: %d %v, want %v", i+1, r.Index, r.Identity, want)
		}
	}
	if len(p.Claims) != 2 {
		t.Fatalf("claims %+v", p.Claims)
	}
	for _, s := range p.Claims {
		if want := map[string]claim.Identity{"foo-1.0.tar.gz": a.id(), "foo-2.0.tar.gz": b.id()}[s.Files[0].Filename]; s.Identity != want || s.Registration != map[claim.Identity]int64{a.id(): 1, b.id(): 2}[want] {
			t.Errorf("claim %+v", s)
		}
	}
}

func TestIdentityChangeOIDC(t *testing.T) {
	e := newEnv(t)
	k := newKey(t, "k")
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	e.claimWithToken(c, e.githubToken("refs/tags/v1")).want(t, http.StatusOK)
	ch := claim.Change{Project: "foo", Time: c.Time.Add(time.Second), Old: githubID, New: k.id()}
	before := e.keys()
	e.change(ch, "", k).want(t, http.StatusUnauthorized, "a change from "+githubID.String()+" comes with an OIDC token of that workflow")
	other := e.iss.GitHubToken(t, DefaultAudience, "octo/demo/.github/workflows/other.yml@refs/heads/main")
	e.change(ch, other, k).want(t, http.StatusForbidden, "the token is of github https://github.com/octo/demo/.github/workflows/other.yml")
	e.change(ch, e.githubToken("refs/heads/main")).want(t, http.StatusUnauthorized, "must be signed by "+k.vkey)
	e.unchanged(before)
	e.change(ch, e.githubToken("refs/heads/main"), k).want(t, http.StatusOK, "now key "+k.vkey)
	e.claimWithKey(newClaim("foo", "", "foo-2.0.tar.gz"), k).want(t, http.StatusOK)
	p := e.readAll()[0]
	if len(p.Identities) != 2 || p.Identities[1].OIDC == nil || p.Identities[1].Identity != k.id() {
		t.Fatalf("identities %+v", p.Identities)
	}
}

func TestReadAllDamaged(t *testing.T) {
	ctx := context.Background()
	// Each case writes, beside what the intake stored, an object it would
	// never have written (or overwrites one, as only a damaged store
	// would), and ReadAll must name it.
	for name, damage := range map[string]func(e *env, k key) string{
		"claim signed by another key": func(e *env, k key) string {
			r := claim.ClaimRecord{Project: "foo", Registration: 1, Identity: k.id(), Received: time.Unix(1e9, 0), Body: e.sign(newClaim("foo", "", "foo-2.0.tar.gz"), newKey(t, "k"))}
			return e.write(tiles.ClaimRecordKey("foo", r.ID()), claimRecord(t, r))
		},
		"claim by a key the chain does not register": func(e *env, k key) string {
			other := newKey(t, "other")
			r := claim.ClaimRecord{Project: "foo", Registration: 1, Identity: other.id(), Received: time.Unix(1e9, 0), Body: e.sign(newClaim("foo", "", "foo-2.0.tar.gz"), other)}
			return e.write(tiles.ClaimRecordKey("foo", r.ID()), claimRecord(t, r))
		},
		"claim of other bytes for a claimed file": func(e *env, k key) string {
			r := claim.ClaimRecord{Project: "foo", Registration: 1, Identity: k.id(), Received: time.Unix(1e9, 0), Body: e.sign(newClaim("foo", "other bytes", "foo-1.0.tar.gz"), k)}
			return e.write(tiles.ClaimRecordKey("foo", r.ID()), claimRecord(t, r))
		},
		"identity change signed by the new key only": func(e *env, k key) string {
			other := newKey(t, "other")
			ch, _ := claim.FormatChange(claim.Change{Project: "foo", Time: time.Now().Add(time.Hour).Truncate(time.Second), Old: k.id(), New: other.id()})
			body, _ := note.Sign(&note.Note{Text: string(ch)}, other.signer)
			data, err := claim.FormatIdentityRecord(claim.IdentityRecord{Project: "foo", Index: 2, Identity: other.id(), Received: time.Unix(1e9, 0), Body: body})
			if err != nil {
				t.Fatal(err)
			}
			return e.write(tiles.ClaimIdentityKey("foo", 2), data)
		},
		"identity record 2 at number 3": func(e *env, k key) string {
			other := newKey(t, "other")
			ch, _ := claim.FormatChange(claim.Change{Project: "foo", Time: time.Now().Add(time.Hour).Truncate(time.Second), Old: k.id(), New: other.id()})
			body, _ := note.Sign(&note.Note{Text: string(ch)}, k.signer, other.signer)
			data, err := claim.FormatIdentityRecord(claim.IdentityRecord{Project: "foo", Index: 2, Identity: other.id(), Received: time.Unix(1e9, 0), Body: body})
			if err != nil {
				t.Fatal(err)
			}
			return e.write(tiles.ClaimIdentityKey("foo", 3), data)
		},
		"OIDC claim with a forged token": func(e *env, k key) string {
			return e.forgeToken(tiles.ClaimRecordKey("bar", claim.ID(e.text(newClaim("bar", "", "bar-1.0.tar.gz")))))
		},
		"OIDC registration with a forged token": func(e *env, k key) string {
			return e.forgeToken(tiles.ClaimIdentityKey("bar", 1))
		},
		"unknown object": func(e *env, k key) string {
			return e.write("claims/foo/notes/x", []byte("x\n"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			k := newKey(t, "k")
			e.claimWithKey(newClaim("foo", "", "foo-1.0.tar.gz"), k).want(t, http.StatusOK)
			e.claimWithToken(newClaim("bar", "", "bar-1.0.tar.gz"), e.githubToken("refs/tags/v1")).want(t, http.StatusOK)
			e.readAll()
			key := damage(e, k)
			_, err := ReadAll(ctx, e.store, Issuer{URL: e.iss.URL, Kind: claim.KindGitHub})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), key) {
				t.Fatalf("ReadAll = %v, want ErrDamaged naming %s", err, key)
			}
			project, _, _, _ := tiles.ParseClaimKey(key)
			if project == "" {
				project = "foo"
			}
			if _, err := ReadProject(ctx, e.store, project, Issuer{URL: e.iss.URL, Kind: claim.KindGitHub}); !errors.Is(err, ErrDamaged) {
				t.Fatalf("ReadProject = %v", err)
			}
		})
	}
}

// TestDamagedChain checks that the intake stops at identity records that
// are not numbered 1 to n, rather than read the wrong one as the current.
func TestDamagedChain(t *testing.T) {
	e := newEnv(t)
	a, b := newKey(t, "a"), newKey(t, "b")
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	e.claimWithKey(c, a).want(t, http.StatusOK)
	ch, _ := claim.FormatChange(claim.Change{Project: "foo", Time: c.Time.Add(time.Second), Old: a.id(), New: b.id()})
	body, _ := note.Sign(&note.Note{Text: string(ch)}, a.signer, b.signer)
	data, err := claim.FormatIdentityRecord(claim.IdentityRecord{Project: "foo", Index: 2, Identity: b.id(), Received: time.Unix(1e9, 0), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	e.write(tiles.ClaimIdentityKey("foo", 3), data)
	before := e.keys()
	e.claimWithKey(newClaim("foo", "", "foo-2.0.tar.gz"), b).want(t, http.StatusInternalServerError, "claims store damaged: identity records of foo are not numbered 1 to 2")
	e.unchanged(before)
}

func claimRecord(t *testing.T, r claim.ClaimRecord) []byte {
	t.Helper()
	data, err := claim.FormatClaimRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// write writes an object into the directory store directly, over
// anything there.
func (e *env) write(key string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir.Root(), filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return key
}

// forgeToken replaces the token of the record at key by one of the same
// claims signed with a key the issuer does not have.
func (e *env) forgeToken(key string) string {
	e.t.Helper()
	data, _, err := e.store.Read(context.Background(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	forged := oidctest.Sign(e.t, e.iss.Other, oidctest.KeyID, e.iss.Claims(DefaultAudience, map[string]any{"job_workflow_ref": workflow + "@refs/tags/v1"}))
	i := bytes.Index(data, []byte("\ntoken ")) + len("\ntoken ")
	j := i + bytes.IndexByte(data[i:], '\n')
	return e.write(key, append(append(bytes.Clone(data[:i]), forged...), data[j:]...))
}

func TestConcurrentRegistration(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, b := newKey(t, "a"), newKey(t, "b")
	c := newClaim("foo", "", "foo-1.0.tar.gz")
	// b's first claim is being accepted when a's registers a first.
	e.claimWithKey(c, a).want(t, http.StatusOK)
	r := claim.IdentityRecord{Project: "foo", Index: 1, Identity: b.id(), Received: time.Now().UTC().Truncate(time.Second), Body: e.sign(c, b)}
	if got := e.srv.createIdentityRecord(ctx, r, nil); got == nil || got.status != http.StatusConflict {
		t.Fatalf("createIdentityRecord over another identity = %+v", got)
	}
	// The same identity, another claim: fine.
	r.Identity, r.Body = a.id(), e.sign(newClaim("foo", "", "foo-2.0.tar.gz"), a)
	if got := e.srv.createIdentityRecord(ctx, r, nil); got != nil {
		t.Fatalf("createIdentityRecord of the same identity = %+v", got)
	}
}

func TestCheckKey(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	strong := newEnv(t).iss.Key.Public()
	for name, tt := range map[string]struct {
		key jose.JSONWebKey
		alg string
		ok  bool
	}{
		"RSA 2048":        {jose.JSONWebKey{Key: strong, KeyID: "k"}, "RS256", true},
		"RSA for sig":     {jose.JSONWebKey{Key: strong, KeyID: "k", Use: "sig", Algorithm: "RS256"}, "RS256", true},
		"P-256":           {jose.JSONWebKey{Key: p256.Public(), KeyID: "k"}, "ES256", true},
		"RSA 1024":        {jose.JSONWebKey{Key: weak.Public(), KeyID: "k"}, "RS256", false},
		"P-384":           {jose.JSONWebKey{Key: p384.Public(), KeyID: "k"}, "ES256", false},
		"RSA for ES256":   {jose.JSONWebKey{Key: strong, KeyID: "k"}, "ES256", false},
		"EC for RS256":    {jose.JSONWebKey{Key: p256.Public(), KeyID: "k"}, "RS256", false},
		"for encryption":  {jose.JSONWebKey{Key: strong, KeyID: "k", Use: "enc"}, "RS256", false},
		"for another alg": {jose.JSONWebKey{Key: strong, KeyID: "k", Algorithm: "PS256"}, "RS256", false},
		"a private key":   {jose.JSONWebKey{Key: weak, KeyID: "k"}, "RS256", false},
		"a symmetric key": {jose.JSONWebKey{Key: []byte("secret"), KeyID: "k"}, "RS256", false},
	} {
		if err := checkKey(&tt.key, tt.alg); (err == nil) != tt.ok {
			t.Errorf("%s: checkKey = %v, want ok %v", name, err, tt.ok)
		}
	}
}

func TestParseIssuer(t *testing.T) {
	for s, want := range map[string]Issuer{
		GitHubIssuer:                       {GitHubIssuer, claim.KindGitHub},
		GitLabIssuer:                       {GitLabIssuer, claim.KindGitLab},
		"https://gitlab.example.org":       {"https://gitlab.example.org", claim.KindGitLab},
		"github=http://127.0.0.1:8080":     {"http://127.0.0.1:8080", claim.KindGitHub},
		"gitlab=https://git.example.org/x": {"https://git.example.org/x", claim.KindGitLab},
		"http://[::1]:99":                  {"http://[::1]:99", claim.KindGitLab},
	} {
		if got, err := ParseIssuer(s); err != nil || got != want {
			t.Errorf("ParseIssuer(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"http://token.actions.githubusercontent.com", "http://localhost:8080", "http://10.0.0.1", "google=https://accounts.google.com",
		"https://gitlab.com/", "ftp://x", "token.actions.githubusercontent.com", "https://x?y=1", "",
	} {
		if got, err := ParseIssuer(s); err == nil {
			t.Errorf("ParseIssuer(%q) = %v", s, got)
		}
	}
	if _, err := New(Config{Store: newEnv(t).store, Issuers: []Issuer{{URL: "http://example.org", Kind: claim.KindGitHub}}}); err == nil {
		t.Errorf("New with an http issuer not on loopback succeeded")
	}
}

func TestVerifyEvidence(t *testing.T) {
	e := newEnv(t)
	e.claimWithToken(newClaim("foo", "", "foo-1.0.tar.gz"), e.githubToken("refs/tags/v1")).want(t, http.StatusOK)
	r := e.readAll()[0].Identities[0]
	issuers := []Issuer{{URL: e.iss.URL, Kind: claim.KindGitHub}}
	if err := VerifyEvidence(*r.OIDC, r.Identity, r.Received, issuers); err != nil {
		t.Fatal(err)
	}
	otherKey, err := json.Marshal(map[string]string{"kty": "RSA", "kid": oidctest.KeyID, "e": "AQAB",
		"n": base64.RawURLEncoding.EncodeToString(e.iss.Other.N.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		edit func(o *claim.OIDC, id *claim.Identity, received *time.Time, issuers *[]Issuer)
		says string
	}{
		"another issuer": {func(o *claim.OIDC, _ *claim.Identity, _ *time.Time, iss *[]Issuer) {
			*iss = append(*iss, Issuer{URL: "https://example.org", Kind: claim.KindGitHub})
			o.Issuer = "https://example.org"
		}, "issuer"},
		"issuer not trusted": {func(_ *claim.OIDC, _ *claim.Identity, _ *time.Time, iss *[]Issuer) { *iss = DefaultIssuers }, "not trusted"},
		"issuer of gitlab":   {func(_ *claim.OIDC, _ *claim.Identity, _ *time.Time, iss *[]Issuer) { (*iss)[0].Kind = claim.KindGitLab }, "gitlab identities"},
		"another audience":   {func(o *claim.OIDC, _ *claim.Identity, _ *time.Time, _ *[]Issuer) { o.Audience = "other" }, "audience"},
		"received later":     {func(_ *claim.OIDC, _ *claim.Identity, t *time.Time, _ *[]Issuer) { *t = t.Add(time.Hour) }, "not valid"},
		"received earlier":   {func(_ *claim.OIDC, _ *claim.Identity, t *time.Time, _ *[]Issuer) { *t = t.Add(-time.Hour) }, "not valid"},
		"another identity":   {func(_ *claim.OIDC, id *claim.Identity, _ *time.Time, _ *[]Issuer) { id.Value += "x" }, "the record says"},
		"another key":        {func(o *claim.OIDC, _ *claim.Identity, _ *time.Time, _ *[]Issuer) { o.JWK = string(otherKey) }, "signature does not verify"},
		"another key ID": {func(o *claim.OIDC, _ *claim.Identity, _ *time.Time, _ *[]Issuer) {
			o.JWK = strings.Replace(o.JWK, oidctest.KeyID, "k2", 1)
		}, "holds key"},
		"token of other repo": {func(o *claim.OIDC, _ *claim.Identity, _ *time.Time, _ *[]Issuer) {
			o.Token = e.iss.GitHubToken(t, DefaultAudience, "a/b/.github/workflows/c.yml@refs/heads/x")
		}, "the record says"},
	} {
		o, id, received, iss := *r.OIDC, r.Identity, r.Received, slices.Clone(issuers)
		tt.edit(&o, &id, &received, &iss)
		if err := VerifyEvidence(o, id, received, iss); err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: VerifyEvidence = %v, want %q", name, err, tt.says)
		}
	}
}
