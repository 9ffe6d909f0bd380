package intake

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/pysumdb/pysumdb/claim"
)

// Issuers of CI OIDC tokens, the same PEP 740 trusts.
const (
	GitHubIssuer = "https://token.actions.githubusercontent.com"
	GitLabIssuer = "https://gitlab.com"
)

// DefaultAudience is the audience an intake requires of tokens by
// default ("aud"): `pysumdb claim --oidc` asks GitHub for it, and a GitLab
// job names it in its id_tokens.
const DefaultAudience = "pysumdb"

// Issuer is an OIDC issuer an intake trusts, for the identities of one
// kind.
type Issuer struct {
	// URL is the issuer, exactly as the tokens' "iss" names it: https, or
	// http on a loopback address (for tests).
	URL string
	// Kind is the kind of identity its tokens prove: claim.KindGitHub
	// (from job_workflow_ref) or claim.KindGitLab (from
	// ci_config_ref_uri, on the issuer's own host).
	Kind string
}

// DefaultIssuers are the issuers an intake trusts unless told otherwise:
// GitHub Actions and gitlab.com.
var DefaultIssuers = []Issuer{{URL: GitHubIssuer, Kind: claim.KindGitHub}, {URL: GitLabIssuer, Kind: claim.KindGitLab}}

// ParseIssuer parses "[github=|gitlab=]URL". Without a kind, the GitHub
// Actions issuer is github's and any other gitlab's (a self-managed
// GitLab, whose identities are on its own host); a github identity from
// another issuer must be asked for.
func ParseIssuer(s string) (Issuer, error) {
	iss := Issuer{URL: s}
	if kind, u, ok := strings.Cut(s, "="); ok && !strings.Contains(kind, "/") {
		iss = Issuer{URL: u, Kind: kind}
	} else if s == GitHubIssuer {
		iss.Kind = claim.KindGitHub
	} else {
		iss.Kind = claim.KindGitLab
	}
	return iss, checkIssuer(iss)
}

func checkIssuer(iss Issuer) error {
	if iss.Kind != claim.KindGitHub && iss.Kind != claim.KindGitLab {
		return fmt.Errorf("issuer %s: kind %q, want github or gitlab", iss.URL, iss.Kind)
	}
	if err := checkHTTPS(iss.URL); err != nil {
		return fmt.Errorf("issuer %w", err)
	}
	u, _ := url.Parse(iss.URL)
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(u.Path, "/") {
		return fmt.Errorf("issuer %s: want a URL without query, fragment, user or final slash, as tokens name it", iss.URL)
	}
	return nil
}

// checkHTTPS accepts an https URL, or an http one on a loopback IP address
// (for tests).
func checkHTTPS(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%s: http:// only on a loopback address (127.0.0.1, [::1]); use https://", s)
	}
	return fmt.Errorf("%s: not an https:// URL", s)
}

// Token verification limits.
const (
	// tokenLeeway is the clock skew allowed with the issuer (exp, nbf,
	// iat).
	tokenLeeway = time.Minute
	// maxDiscoverySize and maxJWKSSize bound the issuer's documents.
	maxDiscoverySize = 64 << 10
	maxJWKSSize      = 256 << 10
	// maxKeys bounds the keys of an issuer's set.
	maxKeys = 100
	// fetchTimeout bounds each fetch from an issuer.
	fetchTimeout = 10 * time.Second
	// keysTTL: keys are fetched again after this long.
	keysTTL = time.Hour
	// refetchInterval: an unknown key ID fetches the keys again at most
	// this often per issuer, so that forged tokens don't make the intake
	// hammer the issuer.
	refetchInterval = time.Minute
	// maxStale: keys that couldn't be fetched again are used this long,
	// not longer (an issuer's revoked key must stop working).
	maxStale = 24 * time.Hour
	// minRSABits refuses weak issuer keys.
	minRSABits = 2048
)

// signatureAlgorithms are the JWS algorithms accepted (GitHub and GitLab
// sign with RS256). "none" and the HMAC ones never are.
var signatureAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// errUnavailable marks a failure to get an issuer's keys: the intake's
// problem (503), not the client's.
var errUnavailable = errors.New("issuer's keys unavailable")

// errToken marks a token that does not prove an identity (401).
var errToken = errors.New("OIDC token refused")

func tokenErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errToken, fmt.Sprintf(format, args...))
}

// tokenClaims are the claims of a CI token the intake reads.
type tokenClaims struct {
	jwt.Claims
	// JobWorkflowRef is GitHub's <owner>/<repo>/<path>@<ref> of the
	// workflow that runs the job.
	JobWorkflowRef string `json:"job_workflow_ref"`
	// CIConfigRefURI is GitLab's <host>/<project>//<path>@<ref> of the
	// pipeline's configuration.
	CIConfigRefURI string `json:"ci_config_ref_uri"`
}

// verifier verifies OIDC tokens against the keys of trusted issuers.
type verifier struct {
	audience string
	issuers  map[string]*issuerKeys
	client   *http.Client
	now      func() time.Time
	logger   *slog.Logger
}

// issuerKeys caches an issuer's key set.
type issuerKeys struct {
	Issuer
	mu      sync.Mutex
	keys    *jose.JSONWebKeySet
	fetched time.Time // when keys were fetched
	tried   time.Time // the last attempt to fetch them
}

func newVerifier(audience string, issuers []Issuer, client *http.Client, now func() time.Time, logger *slog.Logger) (*verifier, error) {
	v := &verifier{audience: audience, issuers: make(map[string]*issuerKeys), client: client, now: now, logger: logger}
	for _, iss := range issuers {
		if err := checkIssuer(iss); err != nil {
			return nil, err
		}
		if v.issuers[iss.URL] != nil {
			return nil, fmt.Errorf("issuer %s listed twice", iss.URL)
		}
		v.issuers[iss.URL] = &issuerKeys{Issuer: iss}
	}
	return v, nil
}

// verify checks token: signed by a current key of a trusted issuer, for
// the intake's audience, valid now; and returns the identity it proves
// and the evidence to store.
func (v *verifier) verify(ctx context.Context, token string) (claim.Identity, *claim.OIDC, error) {
	tok, unverified, err := parseToken(token)
	if err != nil {
		return claim.Identity{}, nil, err
	}
	iss := v.issuers[unverified.Issuer]
	if iss == nil {
		return claim.Identity{}, nil, tokenErrorf("issuer %.200q is not one this intake trusts", unverified.Issuer)
	}
	kid := tok.Headers[0].KeyID
	key, err := iss.key(ctx, kid, v)
	if err != nil {
		return claim.Identity{}, nil, err
	}
	evidence := &claim.OIDC{Issuer: iss.URL, Audience: v.audience, Token: token}
	id, err := checkToken(tok, key, iss.Issuer, v.audience, v.now())
	if err != nil {
		return claim.Identity{}, nil, err
	}
	jwk, err := json.Marshal(key)
	if err != nil {
		return claim.Identity{}, nil, fmt.Errorf("encoding the issuer's key: %w", err)
	}
	evidence.JWK = string(jwk)
	return id, evidence, nil
}

// parseToken parses a compact JWS with one signature of an accepted
// algorithm and a key ID, and reads its claims without verifying them.
func parseToken(token string) (*jwt.JSONWebToken, *tokenClaims, error) {
	if len(token) > claim.MaxTokenSize {
		return nil, nil, tokenErrorf("token of %d bytes, more than %d", len(token), claim.MaxTokenSize)
	}
	tok, err := jwt.ParseSigned(token, signatureAlgorithms)
	if err != nil {
		return nil, nil, tokenErrorf("not a signed JWT (algorithms %v): %v", signatureAlgorithms, err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return nil, nil, tokenErrorf("token without a key ID (kid)")
	}
	var unverified tokenClaims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, nil, tokenErrorf("token claims: %v", err)
	}
	return tok, &unverified, nil
}

// checkToken verifies tok's signature with key and its claims against iss,
// audience and time t, and returns the identity it proves.
func checkToken(tok *jwt.JSONWebToken, key *jose.JSONWebKey, iss Issuer, audience string, t time.Time) (claim.Identity, error) {
	if err := checkKey(key, tok.Headers[0].Algorithm); err != nil {
		return claim.Identity{}, err
	}
	var c tokenClaims
	if err := tok.Claims(key.Key, &c); err != nil {
		return claim.Identity{}, tokenErrorf("signature does not verify with the issuer's key %s: %v", key.KeyID, err)
	}
	if c.Issuer != iss.URL {
		return claim.Identity{}, tokenErrorf("issuer %.200q, want %s", c.Issuer, iss.URL)
	}
	if len(c.Audience) != 1 || c.Audience[0] != audience {
		return claim.Identity{}, tokenErrorf("audience %.200q, want exactly %q", []string(c.Audience), audience)
	}
	if c.Expiry == nil || c.IssuedAt == nil {
		return claim.Identity{}, tokenErrorf("token without exp or iat")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Time: t}, tokenLeeway); err != nil {
		return claim.Identity{}, tokenErrorf("token not valid at %s: %v (expires %s)", claim.FormatTime(t), err, claim.FormatTime(c.Expiry.Time()))
	}
	var san string
	switch iss.Kind {
	case claim.KindGitHub:
		if c.JobWorkflowRef == "" {
			return claim.Identity{}, tokenErrorf("GitHub token without job_workflow_ref")
		}
		san = "https://github.com/" + c.JobWorkflowRef
	case claim.KindGitLab:
		u, _ := url.Parse(iss.URL)
		host, path, ok := strings.Cut(c.CIConfigRefURI, "/")
		if !ok || host != u.Host || path == "" {
			return claim.Identity{}, tokenErrorf("GitLab token's ci_config_ref_uri %.200q is not on the issuer's host %s", c.CIConfigRefURI, u.Host)
		}
		san = "https://" + c.CIConfigRefURI
	default:
		return claim.Identity{}, tokenErrorf("issuer kind %q", iss.Kind)
	}
	id, err := claim.OIDCIdentity(iss.Kind, san)
	if err != nil {
		return claim.Identity{}, tokenErrorf("token's identity: %v", err)
	}
	return id, nil
}

// checkKey accepts a public signing key for alg: RSA of at least 2048
// bits for RS256, P-256 for ES256, its use and algorithm (when the set
// names them) matching.
func checkKey(key *jose.JSONWebKey, alg string) error {
	if !key.Valid() || !key.IsPublic() {
		return tokenErrorf("issuer key %s is not a valid public key", key.KeyID)
	}
	if key.Use != "" && key.Use != "sig" {
		return tokenErrorf("issuer key %s is for %q, not signatures", key.KeyID, key.Use)
	}
	if key.Algorithm != "" && key.Algorithm != alg {
		return tokenErrorf("issuer key %s is for %s, the token is signed with %s", key.KeyID, key.Algorithm, alg)
	}
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		if alg != string(jose.RS256) || k.N.BitLen() < minRSABits {
			return tokenErrorf("issuer key %s: RSA key of %d bits for %s", key.KeyID, k.N.BitLen(), alg)
		}
	case *ecdsa.PublicKey:
		if alg != string(jose.ES256) || k.Curve != elliptic.P256() {
			return tokenErrorf("issuer key %s: EC key for %s", key.KeyID, alg)
		}
	default:
		return tokenErrorf("issuer key %s of type %T", key.KeyID, key.Key)
	}
	return nil
}

// key returns the issuer's key kid, fetching the issuer's keys when they
// are old, or unknown to the set held (at most once per refetchInterval).
func (k *issuerKeys) key(ctx context.Context, kid string, v *verifier) (*jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := v.now()
	find := func() []jose.JSONWebKey {
		if k.keys == nil {
			return nil
		}
		return k.keys.Key(kid)
	}
	keys := find()
	if (k.keys == nil || now.Sub(k.fetched) > keysTTL || len(keys) == 0) && now.Sub(k.tried) >= refetchInterval {
		k.tried = now
		set, err := v.fetchKeys(ctx, k.URL)
		if err != nil {
			v.logger.Warn("couldn't fetch the issuer's keys", "issuer", k.URL, "err", err)
		} else {
			k.keys, k.fetched = set, now
			keys = find()
		}
	}
	switch {
	case k.keys == nil || now.Sub(k.fetched) > maxStale:
		return nil, fmt.Errorf("%w: couldn't fetch the keys of %s; retry later", errUnavailable, k.URL)
	case len(keys) == 0:
		return nil, tokenErrorf("the issuer %s has no key %.100q", k.URL, kid)
	case len(keys) > 1:
		return nil, tokenErrorf("the issuer %s has %d keys %.100q", k.URL, len(keys), kid)
	}
	return &keys[0], nil
}

// fetchKeys reads the issuer's OIDC discovery document and then its key
// set, each bounded in size and time.
func (v *verifier) fetchKeys(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error) {
	var discovery struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.fetchJSON(ctx, issuer+"/.well-known/openid-configuration", maxDiscoverySize, &discovery); err != nil {
		return nil, err
	}
	if discovery.Issuer != issuer {
		return nil, fmt.Errorf("discovery document names issuer %.200q, want %s", discovery.Issuer, issuer)
	}
	if err := checkHTTPS(discovery.JWKSURI); err != nil {
		return nil, fmt.Errorf("jwks_uri %w", err)
	}
	var set jose.JSONWebKeySet
	if err := v.fetchJSON(ctx, discovery.JWKSURI, maxJWKSSize, &set); err != nil {
		return nil, err
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxKeys {
		return nil, fmt.Errorf("%s has %d keys, want 1 to %d", discovery.JWKSURI, len(set.Keys), maxKeys)
	}
	return &set, nil
}

func (v *verifier) fetchJSON(ctx context.Context, u string, limit int64, out any) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("GET %s: more than %d bytes", u, limit)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// newHTTPClient returns the client that fetches issuers' keys: no
// redirects (an issuer's documents are at the URLs it names), bounded.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: fetchTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("redirects are not followed")
		},
	}
}

// VerifyEvidence checks the OIDC evidence of a stored record again,
// offline: the token is signed by the key the record holds, by one of
// issuers (the one the record names, of id's kind), for the record's
// audience, valid when the intake received it, and proves id. That the key
// was the issuer's at the time is the intake's word (the issuer publishes
// its keys at its jwks_uri).
func VerifyEvidence(o claim.OIDC, id claim.Identity, received time.Time, issuers []Issuer) error {
	var iss *Issuer
	for i := range issuers {
		if issuers[i].URL == o.Issuer {
			iss = &issuers[i]
		}
	}
	if iss == nil {
		return tokenErrorf("issuer %.200q is not trusted", o.Issuer)
	}
	if iss.Kind != id.Kind {
		return tokenErrorf("identity %s from issuer %s of %s identities", id, iss.URL, iss.Kind)
	}
	tok, _, err := parseToken(o.Token)
	if err != nil {
		return err
	}
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON([]byte(o.JWK)); err != nil {
		return tokenErrorf("record's issuer key: %v", err)
	}
	if key.KeyID != tok.Headers[0].KeyID {
		return tokenErrorf("token signed with key %.100q, the record holds key %.100q", tok.Headers[0].KeyID, key.KeyID)
	}
	got, err := checkToken(tok, &key, *iss, o.Audience, received)
	if err != nil {
		return err
	}
	if got != id {
		return tokenErrorf("token proves %s, the record says %s", got, id)
	}
	return nil
}
