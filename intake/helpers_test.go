package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/claim"
	"github.com/pysumdb/pysumdb/intake/oidctest"
	"github.com/pysumdb/pysumdb/publish"
)

// env is an intake on a directory store, trusting a test issuer as a
// github one.
type env struct {
	t     *testing.T
	dir   *publish.Dir
	store publish.Store
	srv   *Server
	iss   *oidctest.Issuer
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, configure ...func(*Config)) *env {
	t.Helper()
	dir, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, store: dir, iss: oidctest.New(t), logs: &syncBuffer{}}
	cfg := Config{
		Store:       dir,
		Issuers:     []Issuer{{URL: e.iss.URL, Kind: claim.KindGitHub}},
		ClientRate:  -1,
		ProjectRate: -1,
		Logger:      slog.New(slog.NewTextHandler(e.logs, nil)),
	}
	for _, f := range configure {
		f(&cfg)
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// response is an answer of the intake.
type response struct {
	status int
	body   string
	header http.Header
}

// post sends body to path with headers (name, value pairs).
func (e *env) post(path string, body []byte, headers ...string) response {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	resp := w.Result()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		e.t.Errorf("Content-Type %q", ct)
	}
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// want checks an answer's status and that its body contains each of
// substrings.
func (r response) want(t *testing.T, status int, substrings ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d (%s), want %d", r.status, strings.TrimSpace(r.body), status)
	}
	for _, s := range substrings {
		if !strings.Contains(r.body, s) {
			t.Fatalf("answer %q does not say %q", r.body, s)
		}
	}
}

// keys returns every key in the store.
func (e *env) keys() []string {
	e.t.Helper()
	keys, err := e.store.List(context.Background(), "")
	if err != nil {
		e.t.Fatal(err)
	}
	return keys
}

// unchanged fails the test if the store's keys are not before.
func (e *env) unchanged(before []string) {
	e.t.Helper()
	if after := e.keys(); !slices.Equal(after, before) {
		e.t.Fatalf("store changed:\nbefore %q\nafter  %q", before, after)
	}
}

// key is a maintainer's note key.
type key struct {
	signer note.Signer
	vkey   string
}

func newKey(t testing.TB, name string) key {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return key{s, vkey}
}

func (k key) id() claim.Identity { return claim.Identity{Kind: claim.KindKey, Value: k.vkey} }

// newClaim returns a claim of project's filenames made now, each file's
// bytes its name followed by salt.
func newClaim(project, salt string, filenames ...string) claim.Claim {
	c := claim.Claim{Project: project, Time: time.Now().UTC().Truncate(time.Second)}
	slices.Sort(filenames)
	for _, f := range filenames {
		c.Files = append(c.Files, claim.File{Filename: f, SHA256: sha256.Sum256([]byte(f + salt)), Size: int64(len(f + salt))})
	}
	return c
}

func (e *env) sign(c claim.Claim, keys ...key) []byte {
	e.t.Helper()
	var signers []note.Signer
	for _, k := range keys {
		signers = append(signers, k.signer)
	}
	msg, err := claim.Sign(c, signers...)
	if err != nil {
		e.t.Fatal(err)
	}
	return msg
}

func (e *env) text(c claim.Claim) []byte {
	e.t.Helper()
	text, err := claim.Format(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return text
}

// claimWithKey posts c signed by k.
func (e *env) claimWithKey(c claim.Claim, k key) response {
	e.t.Helper()
	return e.post("/v1/claim", e.sign(c, k), KeyHeader, k.vkey)
}

// claimWithToken posts c's text with token.
func (e *env) claimWithToken(c claim.Claim, token string) response {
	e.t.Helper()
	return e.post("/v1/claim", e.text(c), "Authorization", "Bearer "+token)
}

// change posts an identity change signed by keys, with token if not "".
func (e *env) change(ch claim.Change, token string, keys ...key) response {
	e.t.Helper()
	text, err := claim.FormatChange(ch)
	if err != nil {
		e.t.Fatal(err)
	}
	body := text
	if len(keys) > 0 {
		var signers []note.Signer
		for _, k := range keys {
			signers = append(signers, k.signer)
		}
		body, err = note.Sign(&note.Note{Text: string(text)}, signers...)
		if err != nil {
			e.t.Fatal(err)
		}
	}
	var headers []string
	if token != "" {
		headers = []string{"Authorization", "Bearer " + token}
	}
	return e.post("/v1/identity", body, headers...)
}

// readAll reads the store's claims back, trusting the test issuer.
func (e *env) readAll() []Project {
	e.t.Helper()
	projects, err := ReadAll(context.Background(), e.store, Issuer{URL: e.iss.URL, Kind: claim.KindGitHub})
	if err != nil {
		e.t.Fatal(err)
	}
	return projects
}

const workflow = "octo/demo/.github/workflows/release.yml"

func (e *env) githubToken(ref string) string {
	return e.iss.GitHubToken(e.t, DefaultAudience, workflow+"@"+ref)
}

var githubID = claim.Identity{Kind: claim.KindGitHub, Value: "https://github.com/" + workflow}
