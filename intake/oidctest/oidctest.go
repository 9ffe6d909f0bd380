// Package oidctest is an OIDC issuer for tests: it serves a discovery
// document and a key set (JWKS) on 127.0.0.1 and mints tokens like those
// of GitHub Actions and GitLab CI, signed with RS256.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// KeyID is the key ID of the issuer's key.
const KeyID = "test-key-1"

var (
	keysOnce sync.Once
	keys     [2]*rsa.PrivateKey
)

// rsaKeys returns two RSA keys, made once per process (making one takes
// a while).
func rsaKeys(t testing.TB) [2]*rsa.PrivateKey {
	keysOnce.Do(func() {
		for i := range keys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		}
	})
	return keys
}

// Issuer is a running test issuer.
type Issuer struct {
	// URL is the issuer's URL, http://127.0.0.1:<port>: its tokens' iss.
	URL string
	// Key signs its tokens; its public key is served as KeyID.
	Key *rsa.PrivateKey
	// Other is another key, which the issuer does not serve: tokens
	// signed with it are forged.
	Other *rsa.PrivateKey
	// Fetches counts the requests for the key set.
	Fetches atomic.Int64

	mu   sync.Mutex
	down bool
}

// New starts an issuer on 127.0.0.1, stopped when the test ends.
func New(t testing.TB) *Issuer {
	k := rsaKeys(t)
	iss := &Issuer{Key: k[0], Other: k[1]}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.URL = srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if iss.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, map[string]any{"issuer": iss.URL, "jwks_uri": iss.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		iss.Fetches.Add(1)
		if iss.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: iss.Key.Public(), KeyID: KeyID, Algorithm: string(jose.RS256), Use: "sig"}}})
	})
	return iss
}

// SetDown makes the issuer answer 503 (down) or serve again.
func (iss *Issuer) SetDown(down bool) {
	iss.mu.Lock()
	iss.down = down
	iss.mu.Unlock()
}

func (iss *Issuer) isDown() bool {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.down
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Claims returns the claims of a valid token of this issuer for audience,
// issued now and valid five minutes, with the claims of extra added
// (replacing those of the same name).
func (iss *Issuer) Claims(audience string, extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": iss.URL,
		"aud": audience,
		"sub": "repo:octo/demo:ref:refs/tags/v1.0",
		"iat": now.Unix(),
		"nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
		"jti": rand.Text(),
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// GitHubToken returns a token of this issuer for audience, as GitHub
// Actions mints them for a job of the workflow ref (owner/repo/path@ref).
func (iss *Issuer) GitHubToken(t testing.TB, audience, jobWorkflowRef string) string {
	return iss.Token(t, iss.Claims(audience, map[string]any{"job_workflow_ref": jobWorkflowRef}))
}

// Token signs claims with the issuer's key, as KeyID.
func (iss *Issuer) Token(t testing.TB, claims map[string]any) string {
	return Sign(t, iss.Key, KeyID, claims)
}

// Sign signs claims with key (RS256) under the key ID kid.
func Sign(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}
