// Package intake is a maintainer-claims intake: a small HTTP service,
// beside a log's batch sequencer, that verifies claims (package claim) and
// stores them, create-only, under claims/ in the log's store, where the
// sequencer reads them ([ReadAll], [ReadProject]) and anyone can audit
// them. The log itself stays static.
//
// # Protocol
//
//	POST /v1/claim      a claim (text/plain, at most claim.MaxSize bytes):
//	                    the signed note, with the header
//	                    Pysumdb-Claim-Key: <verifier key>; or the claim text
//	                    alone, with Authorization: Bearer <OIDC token>
//	POST /v1/identity   an identity change (at most claim.MaxChangeSize):
//	                    signed by the keys it needs, with a token if the
//	                    old identity is a workflow
//	GET  /healthz       "ok"
//
// Answers are plain text, one line saying what happened: 200 accepted (or
// already accepted: a request is idempotent), 400 malformed, 401 not
// authenticated (a signature or token that doesn't verify, a token of an
// issuer not trusted, expired, for another audience, already used for
// another request), 403 authenticated as an identity that is not the
// project's, 409 a conflict with what is stored (a filename already
// claimed with other bytes, a change from an identity that is no longer
// the project's), 413 too large, 415 not text/plain, 429 rate limited
// (Retry-After), 5xx the intake's failure (the client retries).
//
// # Rules
//
// Nothing is written before a request is fully verified: parsed strictly,
// authenticated, by the project's identity, consistent with the claims
// stored. Then, in this order, each create-only (a retried request
// writes the same objects again, or finds them):
//
//  1. for a project's first claim, identity record 1 (the claim
//     registers its identity: trust on first use);
//  2. for a request with a token, the token's record (claims/<project>/
//     token/<sha256 of the token>, holding the sha256 of the request's
//     text): a token is used for one request per project, so that no one
//     who reads it in the published evidence can use it for another;
//  3. each file's marker (claims/<project>/file/<filename>): a filename
//     is claimed once, with one content;
//  4. the claim record (claims/<project>/claim/<sha256 of the text>).
//
// A crash in between leaves objects that the retried request completes;
// the sequencer reads only records. An identity change writes the next
// identity record, after its token's record.
//
// Rate limits: per client address (before anything is read) and per
// project (once the request is authenticated as the project's identity,
// or as the first one, so that no one else uses up a project's limit).
package intake

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/claim"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// KeyHeader names, in a claim signed by a key, the key's verifier key:
// the intake needs it to register the key on a project's first claim (a
// note's signature names a key but does not hold it).
const KeyHeader = "Pysumdb-Claim-Key"

// Defaults of Config.
const (
	DefaultClientRate   = 1.0
	DefaultClientBurst  = 20
	DefaultProjectRate  = 0.2
	DefaultProjectBurst = 10
	// maxFuture is how far in the future a request's time may be (clock
	// skew).
	maxFuture = 5 * time.Minute
	// requestTimeout bounds the work of one request (fetching an issuer's
	// keys, reading and writing the store).
	requestTimeout = 30 * time.Second
	// readConcurrency bounds the store reads of one request.
	readConcurrency = 16
)

// Config configures an intake.
type Config struct {
	// Store is where claims are stored (under tiles.ClaimsPrefix).
	Store publish.Store
	// Audience is the "aud" tokens must have; DefaultAudience if empty.
	Audience string
	// Issuers are the OIDC issuers trusted; DefaultIssuers if nil.
	Issuers []Issuer
	// ClientRate and ClientBurst limit the requests of one client address
	// (per second; 0 means DefaultClientRate, a negative rate no limit).
	ClientRate  float64
	ClientBurst int
	// ProjectRate and ProjectBurst limit the authenticated requests for
	// one project, as ClientRate does.
	ProjectRate  float64
	ProjectBurst int
	// ProxyHops is the number of proxies in front of the intake that
	// append to X-Forwarded-For (a load balancer: 1); 0 counts a request
	// for its peer's address.
	ProxyHops int
	// HTTPClient fetches the issuers' keys; a client without redirects if
	// nil.
	HTTPClient *http.Client
	// Logger logs every request's outcome; slog.Default() if nil.
	Logger *slog.Logger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Server is an intake: an http.Handler.
type Server struct {
	store    publish.Store
	verifier *verifier
	clients  *limiters
	projects *limiters
	hops     int
	logger   *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux
}

// New returns an intake for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("intake: no store")
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.Issuers == nil {
		cfg.Issuers = DefaultIssuers
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = newHTTPClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rateOr := func(r, def float64) float64 {
		if r == 0 {
			return def
		}
		return r
	}
	burstOr := func(b, def int) int {
		if b <= 0 {
			return def
		}
		return b
	}
	v, err := newVerifier(cfg.Audience, cfg.Issuers, cfg.HTTPClient, cfg.Now, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{
		store:    cfg.Store,
		verifier: v,
		clients:  newLimiters(rateOr(cfg.ClientRate, DefaultClientRate), burstOr(cfg.ClientBurst, DefaultClientBurst)),
		projects: newLimiters(rateOr(cfg.ProjectRate, DefaultProjectRate), burstOr(cfg.ProjectBurst, DefaultProjectBurst)),
		hops:     cfg.ProxyHops,
		logger:   cfg.Logger,
		now:      cfg.Now,
		mux:      http.NewServeMux(),
	}
	s.mux.HandleFunc("POST /v1/claim", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, "claim", claim.MaxSize, s.acceptClaim)
	})
	s.mux.HandleFunc("POST /v1/identity", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, "identity change", claim.MaxChangeSize, s.acceptChange)
	})
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, "ok")
	})
	return s, nil
}

// ServeHTTP serves the intake's protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// request is what a handler gets of an HTTP request.
type request struct {
	body   []byte
	token  string // the Bearer token, if any
	vkey   string // the KeyHeader, if any
	client string
}

// answer is a handler's outcome.
type answer struct {
	status int
	msg    string
	// attrs are logged with the outcome.
	attrs []any
}

func answerf(status int, format string, args ...any) *answer {
	return &answer{status: status, msg: fmt.Sprintf(format, args...)}
}

// serve reads a request of at most limit bytes and answers it with
// handle's outcome.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, what string, limit int64, handle func(context.Context, *request) *answer) {
	req := &request{client: clientAddress(r, s.hops)}
	a := s.read(w, r, req, what, limit)
	if a == nil {
		// Writes go on if the client goes away: a request is not cut
		// half-way through its create-only sequence.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), requestTimeout)
		a = handle(ctx, req)
		cancel()
	}
	attrs := append([]any{"status", a.status, "client", req.client}, a.attrs...)
	switch {
	case a.status >= 500:
		s.logger.Error(what+" failed", append(attrs, "err", a.msg)...)
	case a.status >= 400:
		s.logger.Info(what+" refused", append(attrs, "reason", a.msg)...)
	default:
		s.logger.Info(what+" accepted", append(attrs, "result", a.msg)...)
	}
	if a.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	reply(w, a.status, a.msg)
}

// read checks the rate of the client and reads the request's body and
// headers into req; a non-nil answer refuses the request.
func (s *Server) read(w http.ResponseWriter, r *http.Request, req *request, what string, limit int64) *answer {
	if !s.clients.allow(req.client, s.now()) {
		return answerf(http.StatusTooManyRequests, "too many requests from %s; retry later", req.client)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/plain" {
			return answerf(http.StatusUnsupportedMediaType, "Content-Type %.100q: send the %s as text/plain", ct, what)
		}
	}
	if r.ContentLength > limit {
		return answerf(http.StatusRequestEntityTooLarge, "%s of %d bytes is larger than %d bytes", what, r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return answerf(http.StatusRequestEntityTooLarge, "%s larger than %d bytes", what, limit)
	case err != nil:
		return answerf(http.StatusBadRequest, "couldn't read the %s: %v", what, err)
	}
	req.body = body
	if auth := r.Header.Values("Authorization"); len(auth) > 0 {
		scheme, token, ok := strings.Cut(auth[0], " ")
		if len(auth) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return answerf(http.StatusUnauthorized, "Authorization must be one \"Bearer <OIDC token>\"")
		}
		req.token = token
	}
	if keys := r.Header.Values(KeyHeader); len(keys) > 0 {
		if len(keys) > 1 {
			return answerf(http.StatusBadRequest, "%s given %d times", KeyHeader, len(keys))
		}
		req.vkey = keys[0]
	}
	return nil
}

func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// internal answers a failure of the intake's (the store's): logged, and
// answered with a 500 that the client retries.
func internal(err error) *answer {
	return answerf(http.StatusInternalServerError, "internal error: %v; retry later", err)
}

// refuseParse answers a request that doesn't parse.
func refuseParse(what string, err error) *answer {
	return answerf(http.StatusBadRequest, "malformed %s: %v", what, err)
}

// authenticate verifies the request's signature or token and returns the
// identity it proves: a token (the text alone), or the key in KeyHeader
// that signed it (and only it).
func (s *Server) authenticate(ctx context.Context, req *request, what string, signed bool) (claim.Identity, *claim.OIDC, *answer) {
	switch {
	case req.token != "" && req.vkey != "":
		return claim.Identity{}, nil, answerf(http.StatusBadRequest, "a %s comes with an OIDC token or with %s, not both", what, KeyHeader)
	case req.token != "":
		if signed {
			return claim.Identity{}, nil, answerf(http.StatusBadRequest, "a %s sent with an OIDC token is its text alone, without signatures", what)
		}
		return s.verifyToken(ctx, req.token)
	case req.vkey != "":
		id, err := claim.KeyIdentity(req.vkey)
		if err != nil {
			return claim.Identity{}, nil, answerf(http.StatusBadRequest, "%s: %v", KeyHeader, err)
		}
		if !signed {
			return claim.Identity{}, nil, answerf(http.StatusUnauthorized, "the %s is not signed (by %s)", what, req.vkey)
		}
		if _, err := claim.OpenSigned(req.body, req.vkey); err != nil {
			return claim.Identity{}, nil, refuseSignature(what, err)
		}
		return id, nil, nil
	}
	return claim.Identity{}, nil, answerf(http.StatusUnauthorized, "a %s must be signed by a key (named in %s) or sent with an OIDC token (Authorization: Bearer)", what, KeyHeader)
}

func (s *Server) verifyToken(ctx context.Context, token string) (claim.Identity, *claim.OIDC, *answer) {
	id, evidence, err := s.verifier.verify(ctx, token)
	switch {
	case errors.Is(err, errToken):
		return id, nil, answerf(http.StatusUnauthorized, "%v", err)
	case errors.Is(err, errUnavailable):
		return id, nil, answerf(http.StatusServiceUnavailable, "%v", err)
	case err != nil:
		return id, nil, internal(err)
	}
	return id, evidence, nil
}

func refuseSignature(what string, err error) *answer {
	if errors.Is(err, claim.ErrSignature) {
		return answerf(http.StatusUnauthorized, "the %s's signature: %v", what, err)
	}
	return refuseParse(what, err)
}

// checkTime refuses a request from the future.
func (s *Server) checkTime(what string, t time.Time) *answer {
	if t.After(s.now().Add(maxFuture)) {
		return answerf(http.StatusBadRequest, "the %s's time %s is in the future (the intake's clock says %s)", what, claim.FormatTime(t), claim.FormatTime(s.now()))
	}
	return nil
}

// acceptClaim handles POST /v1/claim.
func (s *Server) acceptClaim(ctx context.Context, req *request) *answer {
	text, signed := claim.SplitNote(req.body)
	c, err := claim.Parse(text)
	if err != nil {
		return refuseParse("claim", err)
	}
	if a := s.checkTime("claim", c.Time); a != nil {
		return a
	}
	id, evidence, a := s.authenticate(ctx, req, "claim", signed)
	if a != nil {
		return a
	}
	attrs := []any{"project", c.Project, "identity", id.String()}
	a = s.storeClaim(ctx, c, text, id, evidence, req)
	a.attrs = append(attrs, a.attrs...)
	return a
}

func (s *Server) storeClaim(ctx context.Context, c claim.Claim, text []byte, id claim.Identity, evidence *claim.OIDC, req *request) *answer {
	current, a := s.currentIdentity(ctx, c.Project)
	if a != nil {
		return a
	}
	if current != nil && current.Identity != id {
		return answerf(http.StatusForbidden, "claim made by %s, but the claim identity of %s is %s (registered by record %s); an identity change signed by it replaces it",
			id, c.Project, current.Identity, tiles.ClaimIdentityKey(c.Project, current.Index))
	}
	if !s.projects.allow(c.Project, s.now()) {
		return answerf(http.StatusTooManyRequests, "too many requests for project %s; retry later", c.Project)
	}
	claimID := claim.ID(text)
	recordKey := tiles.ClaimRecordKey(c.Project, claimID)
	done := answerf(http.StatusOK, "already accepted: claim %x of %s", claimID, c.Project)
	done.attrs = []any{"claim", recordKey}
	switch _, _, err := s.store.Read(ctx, recordKey); {
	case err == nil:
		return done
	case !errors.Is(err, publish.ErrNotExist):
		return internal(err)
	}
	if a := s.checkFiles(ctx, c); a != nil {
		return a
	}
	received := s.now().UTC().Truncate(time.Second)
	registration := int64(1)
	if current != nil {
		registration = current.Index
	} else {
		r := claim.IdentityRecord{Project: c.Project, Index: 1, Identity: id, Received: received, OIDC: evidence, Body: req.body}
		if a := s.createIdentityRecord(ctx, r, nil); a != nil {
			return a
		}
	}
	if a := s.useToken(ctx, c.Project, evidence, text); a != nil {
		return a
	}
	for _, f := range c.Files {
		switch err := s.store.Create(ctx, tiles.ClaimFileKey(c.Project, f.Filename), claim.FormatFileMarker(f)); {
		case errors.Is(err, publish.ErrIntegrity):
			return answerf(http.StatusConflict, "%s was claimed with other bytes (concurrently); a filename is published once", f.Filename)
		case err != nil:
			return internal(err)
		}
	}
	record := claim.ClaimRecord{Project: c.Project, Registration: registration, Identity: id, Received: received, OIDC: evidence, Body: req.body}
	if _, err := claim.CheckClaimRecord(record); err != nil {
		return internal(fmt.Errorf("claim record does not check: %w", err))
	}
	data, err := claim.FormatClaimRecord(record)
	if err != nil {
		return internal(err)
	}
	switch err := s.store.Create(ctx, recordKey, data); {
	case errors.Is(err, publish.ErrIntegrity):
		// The same claim, accepted concurrently with other evidence.
		return done
	case err != nil:
		return internal(err)
	}
	accepted := answerf(http.StatusOK, "accepted: claim %x of %s, %d files, by %s", claimID, c.Project, len(c.Files), id)
	accepted.attrs = []any{"claim", recordKey, "files", len(c.Files)}
	return accepted
}

// checkFiles refuses a claim naming a file already claimed with other
// bytes, before anything is written.
func (s *Server) checkFiles(ctx context.Context, c claim.Claim) *answer {
	answers := make([]*answer, len(c.Files))
	sem := make(chan struct{}, readConcurrency)
	done := make(chan struct{})
	for i, f := range c.Files {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem; done <- struct{}{} }()
			data, _, err := s.store.Read(ctx, tiles.ClaimFileKey(c.Project, f.Filename))
			switch {
			case errors.Is(err, publish.ErrNotExist):
			case err != nil:
				answers[i] = internal(err)
			case string(data) != string(claim.FormatFileMarker(f)):
				answers[i] = answerf(http.StatusConflict, "%s was already claimed as %s, not %s %d; a filename is published once",
					f.Filename, strings.TrimSpace(string(data)), tiles.FormatSHA256(f.SHA256), f.Size)
			}
		}()
	}
	for range c.Files {
		<-done
	}
	for _, a := range answers {
		if a != nil {
			return a
		}
	}
	return nil
}

// useToken records that a token was used for text, or refuses a token
// already used for another text of the project.
func (s *Server) useToken(ctx context.Context, project string, evidence *claim.OIDC, text []byte) *answer {
	if evidence == nil {
		return nil
	}
	key := tiles.ClaimTokenKey(project, sha256.Sum256([]byte(evidence.Token)))
	marker := []byte(tiles.FormatSHA256(sha256.Sum256(text)) + "\n")
	switch err := s.store.Create(ctx, key, marker); {
	case errors.Is(err, publish.ErrIntegrity):
		return answerf(http.StatusUnauthorized, "this OIDC token was already used for another request for %s; get a new token", project)
	case err != nil:
		return internal(err)
	}
	return nil
}

// currentIdentity returns the project's last identity record, nil if it
// has none.
func (s *Server) currentIdentity(ctx context.Context, project string) (*claim.IdentityRecord, *answer) {
	keys, err := s.store.List(ctx, tiles.ClaimsPrefix+project+"/"+tiles.ClaimIdentityKind+"/")
	if err != nil {
		return nil, internal(err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	n := int64(len(keys))
	for i, key := range keys {
		if key != tiles.ClaimIdentityKey(project, int64(i+1)) {
			return nil, internal(fmt.Errorf("claims store damaged: identity records of %s are not numbered 1 to %d (%s)", project, n, key))
		}
	}
	data, _, err := s.store.Read(ctx, keys[n-1])
	if err != nil {
		return nil, internal(err)
	}
	r, err := claim.ParseIdentityRecord(data)
	if err != nil || r.Project != project || r.Index != n {
		return nil, internal(fmt.Errorf("claims store damaged: %s: %v", keys[n-1], err))
	}
	return &r, nil
}

// createIdentityRecord writes r (checked against prev), or finds it
// written by a concurrent request with the same identity (and, for a
// change, the same change).
func (s *Server) createIdentityRecord(ctx context.Context, r claim.IdentityRecord, prev *claim.IdentityRecord) *answer {
	if _, err := claim.CheckIdentityRecord(r, prev); err != nil {
		return internal(fmt.Errorf("identity record does not check: %w", err))
	}
	data, err := claim.FormatIdentityRecord(r)
	if err != nil {
		return internal(err)
	}
	key := tiles.ClaimIdentityKey(r.Project, r.Index)
	err = s.store.Create(ctx, key, data)
	if !errors.Is(err, publish.ErrIntegrity) {
		if err != nil {
			return internal(err)
		}
		return nil
	}
	// A concurrent request wrote the record first.
	data, _, err = s.store.Read(ctx, key)
	if err != nil {
		return internal(err)
	}
	other, err := claim.ParseIdentityRecord(data)
	if err != nil {
		return internal(fmt.Errorf("claims store damaged: %s: %w", key, err))
	}
	if other.Identity != r.Identity {
		return answerf(http.StatusConflict, "the claim identity of %s was just set to %s by another request; retry", r.Project, other.Identity)
	}
	if r.Index > 1 {
		mine, _ := claim.SplitNote(r.Body)
		theirs, _ := claim.SplitNote(other.Body)
		if string(mine) != string(theirs) {
			return answerf(http.StatusConflict, "the claim identity of %s was just changed by another request; retry", r.Project)
		}
	}
	return nil
}

// acceptChange handles POST /v1/identity.
func (s *Server) acceptChange(ctx context.Context, req *request) *answer {
	text, signed := claim.SplitNote(req.body)
	ch, err := claim.ParseChange(text)
	if err != nil {
		return refuseParse("identity change", err)
	}
	if a := s.checkTime("identity change", ch.Time); a != nil {
		return a
	}
	a := s.change(ctx, ch, text, signed, req)
	a.attrs = append([]any{"project", ch.Project, "old", ch.Old.String(), "new", ch.New.String()}, a.attrs...)
	return a
}

func (s *Server) change(ctx context.Context, ch claim.Change, text []byte, signed bool, req *request) *answer {
	// Authenticate first: the old identity, and the new key.
	var evidence *claim.OIDC
	if ch.Old.IsOIDC() {
		if req.token == "" {
			return answerf(http.StatusUnauthorized, "a change from %s comes with an OIDC token of that workflow (Authorization: Bearer)", ch.Old)
		}
		var id claim.Identity
		var a *answer
		if id, evidence, a = s.verifyToken(ctx, req.token); a != nil {
			return a
		}
		if id != ch.Old {
			return answerf(http.StatusForbidden, "the token is of %s, not of %s", id, ch.Old)
		}
	} else if req.token != "" {
		return answerf(http.StatusBadRequest, "a change from a key is signed by it, without an OIDC token")
	}
	switch vkeys := ch.SignerKeys(); {
	case len(vkeys) > 0 && !signed:
		return answerf(http.StatusUnauthorized, "the identity change must be signed by %s", strings.Join(vkeys, " and "))
	case len(vkeys) > 0:
		if _, err := claim.OpenSigned(req.body, vkeys...); err != nil {
			return refuseSignature("identity change", err)
		}
	case signed:
		return answerf(http.StatusBadRequest, "a change between OIDC identities is its text alone, without signatures")
	}

	current, a := s.currentIdentity(ctx, ch.Project)
	switch {
	case a != nil:
		return a
	case current == nil:
		return answerf(http.StatusConflict, "%s has no claim identity yet: its first claim registers one", ch.Project)
	}
	if current.Index > 1 {
		if done, _ := claim.SplitNote(current.Body); string(done) == string(text) {
			return answerf(http.StatusOK, "already accepted: the claim identity of %s is %s (record %d)", ch.Project, current.Identity, current.Index)
		}
	}
	if ch.Old != current.Identity {
		return answerf(http.StatusConflict, "the change is from %s, but the claim identity of %s is %s", ch.Old, ch.Project, current.Identity)
	}
	prevTime, err := claim.RequestTime(*current)
	if err != nil {
		return internal(fmt.Errorf("claims store damaged: %s: %w", tiles.ClaimIdentityKey(ch.Project, current.Index), err))
	}
	if !ch.Time.After(prevTime) {
		return answerf(http.StatusConflict, "the change's time %s is not later than that of the request that registered %s (%s): make a new change",
			claim.FormatTime(ch.Time), current.Identity, claim.FormatTime(prevTime))
	}
	if current.Index >= tiles.MaxClaimIdentity {
		return answerf(http.StatusConflict, "%s has had %d claim identities, the most there can be", ch.Project, current.Index)
	}
	if !s.projects.allow(ch.Project, s.now()) {
		return answerf(http.StatusTooManyRequests, "too many requests for project %s; retry later", ch.Project)
	}
	if a := s.useToken(ctx, ch.Project, evidence, text); a != nil {
		return a
	}
	r := claim.IdentityRecord{Project: ch.Project, Index: current.Index + 1, Identity: ch.New, Received: s.now().UTC().Truncate(time.Second), OIDC: evidence, Body: req.body}
	if a := s.createIdentityRecord(ctx, r, current); a != nil {
		return a
	}
	key := tiles.ClaimIdentityKey(ch.Project, r.Index)
	a = answerf(http.StatusOK, "accepted: the claim identity of %s is now %s (record %s)", ch.Project, ch.New, key)
	a.attrs = []any{"record", key}
	return a
}
