//go:build !pysumdb_client

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/claim"
	"github.com/pysumdb/pysumdb/intake"
	"github.com/pysumdb/pysumdb/intake/oidctest"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

var intakeURLPattern = regexp.MustCompile(`msg="intake listening" url=(http://127\.0\.0\.1:\d+)/`)

// startIntake runs `pysumdb intake --listen 127.0.0.1:0` (and args) in
// the test's process until the test ends.
func startIntake(t *testing.T, args ...string) *runningServer {
	t.Helper()
	return startServer(t, "intake", intakeURLPattern, append([]string{"intake", "--listen", "127.0.0.1:0"}, args...))
}

// claimRun runs the command in the test's process and checks its exit
// status; it returns its stdout and stderr.
func claimRun(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if got := runContext(context.Background(), args, &stdout, &stderr); got != want {
		t.Fatalf("pysumdb %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, want, &stdout, &stderr)
	}
	return stdout.String(), stderr.String()
}

func wantContains(t *testing.T, what, text string, substrings ...string) {
	t.Helper()
	for _, s := range substrings {
		if !strings.Contains(text, s) {
			t.Fatalf("%s does not say %q:\n%s", what, s, text)
		}
	}
}

// TestClaimIntake runs `pysumdb intake` on 127.0.0.1 with a directory
// store and a test OIDC issuer, and `pysumdb claim` against it.
func TestClaimIntake(t *testing.T) {
	for _, env := range []string{"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "PYSUMDB_ID_TOKEN", "PYSUMDB_INTAKES", "PORT"} {
		t.Setenv(env, "")
	}
	saved := claimRetryDelay
	claimRetryDelay = time.Millisecond
	t.Cleanup(func() { claimRetryDelay = saved })

	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	if err := os.Mkdir(storeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	iss := oidctest.New(t)
	in := startIntake(t, "--store", storeDir, "--oidc-issuer", "github="+iss.URL, "--rate", "-1")
	wantContains(t, "the intake's log", in.stderr.String(), "audience=pysumdb", `issuers="github=`+iss.URL+`"`)
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wheel, sdist := file("foo-1.0-py3-none-any.whl", "a wheel"), file("foo-1.0.tar.gz", "an sdist")
	key, key2 := filepath.Join(dir, "claim.key"), filepath.Join(dir, "other.key")

	// keygen.
	vkey, _ := claimRun(t, exitOK, "claim", "keygen", "--out", key)
	if !regexp.MustCompile(`^pysumdb-claim\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n$`).MatchString(vkey) {
		t.Fatalf("keygen printed %q", vkey)
	}
	if info, err := os.Stat(key); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", info, err)
	}
	_, stderr := claimRun(t, exitUsage, "claim", "keygen", "--out", key)
	wantContains(t, "keygen again", stderr, "exists; refusing to overwrite")
	claimRun(t, exitOK, "claim", "keygen", "--name", "maintainer.example", "--out", key2)

	// A claim, stored.
	stdout, _ := claimRun(t, exitOK, "claim", "--key", key, "--intake", in.url, wheel, sdist)
	wantContains(t, "claim", stdout, in.url+": accepted: claim ", " of foo, 2 files, by key "+strings.TrimSpace(vkey))
	store, err := publish.OpenDir(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := intake.ReadProject(ctx, store, "foo")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Claims) != 1 || len(p.Identities) != 1 || p.Identities[0].Identity.String() != "key "+strings.TrimSpace(vkey) {
		t.Fatalf("stored %+v", p)
	}
	for _, name := range []string{"foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz"} {
		if _, _, err := store.Read(ctx, tiles.ClaimFileKey("foo", name)); err != nil {
			t.Fatal(err)
		}
	}
	// Served by `pysumdb serve` as public objects.
	h := publish.Handler(store, slog.New(slog.DiscardHandler))
	for _, key := range []string{p.Claims[0].Key, tiles.ClaimIdentityKey("foo", 1)} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/"+key, nil))
		if w.Code != http.StatusOK {
			t.Errorf("GET /%s: %d", key, w.Code)
		}
	}

	// Again: accepted, nothing new; from $PYSUMDB_INTAKES.
	t.Setenv("PYSUMDB_INTAKES", in.url+"/")
	stdout, _ = claimRun(t, exitOK, "claim", "--key", key, sdist)
	wantContains(t, "claim again", stdout, ": accepted: claim")
	t.Setenv("PYSUMDB_INTAKES", "")

	// Refusals, exit 1: another key; other bytes for a claimed filename;
	// an intake that does not answer, after retries.
	foo2 := file("foo-2.0.tar.gz", "foo 2")
	stdout, _ = claimRun(t, exitFailure, "claim", "--key", key2, "--intake", in.url, foo2)
	wantContains(t, "claim by another key", stdout, "refused (HTTP 403): claim made by key maintainer.example+", "the claim identity of foo is key "+strings.TrimSpace(vkey))
	changed := file("foo-1.0.tar.gz", "other bytes")
	stdout, _ = claimRun(t, exitFailure, "claim", "--key", key, "--intake", in.url, changed)
	wantContains(t, "claim of other bytes", stdout, "refused (HTTP 409): foo-1.0.tar.gz was already claimed as sha256:")
	closed := closedPort(t)
	stdout, stderr = claimRun(t, exitFailure, "claim", "--key", key, "--intake", in.url, "--intake", closed, foo2)
	wantContains(t, "claim to a dead intake", stdout, in.url+": accepted", closed+": unreachable: ")
	wantContains(t, "claim to a dead intake", stderr, "intake failed, retrying", "1 of 2 intakes did not accept it")

	// Usage errors, exit 2.
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"claim", "--intake", in.url, foo2}, "needs one of --key KEYFILE and --oidc"},
		{[]string{"claim", "--key", key, "--oidc", "--intake", in.url, foo2}, "needs one of --key KEYFILE and --oidc"},
		{[]string{"claim", "--key", key, foo2}, "needs --intake URL"},
		{[]string{"claim", "--key", key, "--intake", "http://example.org", foo2}, "http:// only on a loopback address"},
		{[]string{"claim", "--key", key, "--intake", in.url}, "needs the files to claim"},
		{[]string{"claim", "--key", key, "--intake", in.url, filepath.Join(dir, "missing-1.0.tar.gz")}, "couldn't read"},
		{[]string{"claim", "--key", key, "--intake", in.url, foo2, file("bar-1.0.tar.gz", "bar")}, "different projects"},
		{[]string{"claim", "--key", key, "--intake", in.url, file("foo-1.0.exe", "x")}, "is not a wheel"},
		{[]string{"claim", "--key", vkeyFile(t, dir, vkey), "--intake", in.url, foo2}, "is not a private note key"},
		{[]string{"claim", "--oidc", "--intake", in.url, foo2}, "needs an OIDC token"},
		{[]string{"intake", "--listen", "127.0.0.1:0"}, "needs --store"},
		{[]string{"intake", "--store", storeDir, "--oidc-issuer", "http://example.org"}, "http:// only on a loopback address"},
	} {
		_, stderr := claimRun(t, exitUsage, tt.args...)
		wantContains(t, strings.Join(tt.args, " "), stderr, tt.says)
	}

	// OIDC: $PYSUMDB_ID_TOKEN (GitLab, or any CI).
	bar := file("bar-1.0.tar.gz", "bar")
	t.Setenv("PYSUMDB_ID_TOKEN", iss.GitHubToken(t, "pysumdb", "octo/bar/.github/workflows/release.yml@refs/tags/v1.0"))
	stdout, _ = claimRun(t, exitOK, "claim", "--oidc", "--intake", in.url, bar)
	wantContains(t, "claim with a token", stdout, "accepted: claim", "by github https://github.com/octo/bar/.github/workflows/release.yml")
	bar2 := file("bar-2.0.tar.gz", "bar 2")
	now := time.Now()
	for _, tt := range []struct {
		name   string
		claims map[string]any
		says   string
	}{
		{"expired", map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()}, "refused (HTTP 401): OIDC token refused: token not valid"},
		{"wrong audience", map[string]any{"aud": "sigstore"}, "refused (HTTP 401): OIDC token refused: audience"},
	} {
		tt.claims["job_workflow_ref"] = "octo/bar/.github/workflows/release.yml@refs/tags/v2.0"
		t.Setenv("PYSUMDB_ID_TOKEN", iss.Token(t, iss.Claims("pysumdb", tt.claims)))
		stdout, _ = claimRun(t, exitFailure, "claim", "--oidc", "--intake", in.url, bar2)
		wantContains(t, tt.name, stdout, tt.says)
	}
	t.Setenv("PYSUMDB_ID_TOKEN", oidctest.Sign(t, iss.Other, oidctest.KeyID, iss.Claims("pysumdb", map[string]any{"job_workflow_ref": "octo/bar/.github/workflows/release.yml@refs/tags/v2.0"})))
	stdout, _ = claimRun(t, exitFailure, "claim", "--oidc", "--intake", in.url, bar2)
	wantContains(t, "forged token", stdout, "refused (HTTP 401): OIDC token refused: signature does not verify")
	t.Setenv("PYSUMDB_ID_TOKEN", "")

	// OIDC: GitHub Actions' token service.
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer request-token" || r.URL.Query().Get("audience") != "pysumdb" || r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "bad token request", http.StatusForbidden)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": iss.GitHubToken(t, "pysumdb", "octo/bar/.github/workflows/release.yml@refs/tags/v2.0")})
	}))
	defer tokens.Close()
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", tokens.URL+"/token?api-version=2.0")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token")
	stdout, _ = claimRun(t, exitOK, "claim", "--oidc", "--intake", in.url, bar2)
	wantContains(t, "claim with a GitHub token", stdout, "accepted: claim", "of bar, 1 files")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")

	// An identity change signed by the old and the new key; then the new
	// key claims and the old one can't.
	stdout, _ = claimRun(t, exitOK, "claim", "identity", "--project", "foo", "--key", key, "--new-key", key2, "--intake", in.url)
	wantContains(t, "identity change", stdout, "accepted: the claim identity of foo is now key maintainer.example+", tiles.ClaimIdentityKey("foo", 2))
	claimRun(t, exitOK, "claim", "--key", key2, "--intake", in.url, foo2)
	stdout, _ = claimRun(t, exitFailure, "claim", "--key", key, "--intake", in.url, file("foo-3.0.tar.gz", "foo 3"))
	wantContains(t, "claim by the old key", stdout, "refused (HTTP 403)")
	_, stderr = claimRun(t, exitUsage, "claim", "identity", "--project", "foo", "--key", key2, "--intake", in.url)
	wantContains(t, "identity without a new one", stderr, "needs one of --new-key KEYFILE and --new-identity ID")

	projects, err := intake.ReadAll(ctx, store, intake.Issuer{URL: iss.URL, Kind: claim.KindGitHub})
	if err != nil {
		t.Fatal(err)
	}
	// bar: two claims; foo: the first, the sdist again, foo-2.0 (and
	// foo-2.0 by the new key, unless it was the same claim, made in the
	// same second).
	if len(projects) != 2 || len(projects[0].Claims) != 2 || len(projects[1].Claims) < 3 || len(projects[1].Identities) != 2 {
		t.Fatalf("ReadAll = %+v", projects)
	}

	// The first signal stops the intake.
	in.stop()
	if status := <-in.status; status != exitOK {
		t.Fatalf("intake exited %d: %s", status, in.stderr)
	}
	in.status <- exitOK
	wantContains(t, "the intake's log", in.stderr.String(), "claim accepted", "claim refused", "intake stopped")
}

// closedPort returns the URL of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// vkeyFile writes a verifier key where a private key is expected.
func vkeyFile(t *testing.T, dir, vkey string) string {
	t.Helper()
	p := filepath.Join(dir, "vkey")
	if err := os.WriteFile(p, []byte(vkey), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
