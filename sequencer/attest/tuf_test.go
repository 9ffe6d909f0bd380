package attest

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/pysumdb/pysumdb/tiles"
)

// tufRepository is a TUF repository served over loopback HTTP, laid out
// like Sigstore's (consistent snapshots, hash-prefixed targets), whose only
// target is trusted_root.json.
type tufRepository struct {
	// rootJSON is the repository's root metadata, a client's trust anchor.
	rootJSON []byte
	url      string
	requests atomic.Int64
}

func newTUFRepository(t *testing.T, trustedRoot []byte) *tufRepository {
	t.Helper()
	dir := t.TempDir()
	expires := time.Now().AddDate(0, 0, 7).UTC()
	rootMetadata := metadata.Root(expires)
	targets := metadata.Targets(expires)
	snapshot := metadata.Snapshot(expires)
	timestamp := metadata.Timestamp(expires)

	target, err := metadata.TargetFile().FromBytes(trustedRootTarget, trustedRoot, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets[trustedRootTarget] = target

	signers := make(map[string]signature.Signer)
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		_, private, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, err := metadata.KeyFromPublicKey(private.Public())
		if err != nil {
			t.Fatal(err)
		}
		if err := rootMetadata.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
		if signers[role], err = signature.LoadSigner(private, crypto.Hash(0)); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = rootMetadata.Sign(signers[metadata.ROOT])
	sign(err)
	_, err = targets.Sign(signers[metadata.TARGETS])
	sign(err)
	_, err = snapshot.Sign(signers[metadata.SNAPSHOT])
	sign(err)
	_, err = timestamp.Sign(signers[metadata.TIMESTAMP])
	sign(err)

	r := &tufRepository{}
	if r.rootJSON, err = rootMetadata.ToBytes(false); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1.root.json", r.rootJSON, nil)
	b, err := targets.ToBytes(false)
	write("1.targets.json", b, err)
	b, err = snapshot.ToBytes(false)
	write("1.snapshot.json", b, err)
	b, err = timestamp.ToBytes(false)
	write("timestamp.json", b, err)
	digest := sha256.Sum256(trustedRoot)
	write("targets/"+hex.EncodeToString(digest[:])+"."+trustedRootTarget, trustedRoot, nil)

	files := http.FileServer(http.Dir(dir))
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		files.ServeHTTP(w, req)
	}))
	t.Cleanup(server.Close)
	r.url = server.URL
	return r
}

// logBuffer collects a Verifier's log output.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// verifiesGolden reports whether v accepts a real public-good attestation,
// that is whether v trusts the public-good root.
func verifiesGolden(t *testing.T, v *Verifier) bool {
	t.Helper()
	g := goldenProvenances[0]
	p, err := ParseProvenance(g.read(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(p, g.filename(), g.digest(t))
	if err != nil && !errors.Is(err, ErrInvalidAttestation) {
		t.Fatal(err)
	}
	return err == nil
}

// verifiesVirtual reports whether v accepts an attestation from vs, that
// is whether v trusts vs.
func verifiesVirtual(t *testing.T, v *Verifier, vs *virtualSigstore) bool {
	t.Helper()
	s := vs.attest(t, googleSAN, issuerGoogle, statementFor(t, publishPredicateType, exampleFilename, exampleHex))
	p, err := ParseProvenance(provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), s)))
	if err != nil {
		t.Fatal(err)
	}
	publisher, err := v.Verify(p, exampleFilename, exampleSHA256)
	if err != nil && !errors.Is(err, ErrInvalidAttestation) {
		t.Fatal(err)
	}
	if err == nil && publisher != (tiles.Publisher{Kind: "google", SAN: googleSAN}) {
		t.Fatalf("Verify = %+v", publisher)
	}
	return err == nil
}

func virtualTrustedRootJSON(t *testing.T, vs *virtualSigstore) []byte {
	t.Helper()
	b, err := vs.trustedRoot.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTUFRefresh serves a trusted root for a virtual Sigstore through TUF
// and checks that the Verifier trusts it instead of the shipped root.
func TestTUFRefresh(t *testing.T) {
	vs := newVirtualSigstore(t)
	repo := newTUFRepository(t, virtualTrustedRootJSON(t, vs))
	cacheDir := t.TempDir()
	logger, logs := logBuffer()
	v, err := NewVerifier(Config{Logger: logger, TUFURL: repo.url, TUFRoot: repo.rootJSON, TUFCacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if !verifiesVirtual(t, v, vs) {
		t.Error("the refreshed root was not used")
	}
	if verifiesGolden(t, v) {
		t.Error("the shipped root was used although the refresh succeeded")
	}
	if !strings.Contains(logs.String(), "refreshed the Sigstore trusted root") {
		t.Errorf("log %q does not report the refresh", logs.String())
	}
	if entries, err := os.ReadDir(cacheDir); err != nil || len(entries) == 0 {
		t.Errorf("TUF cache directory is empty (%v)", err)
	}
}

// TestTUFRefreshFallsBack checks that a refresh that fails, for whatever
// reason, leaves the Verifier with the shipped root and a warning.
func TestTUFRefreshFallsBack(t *testing.T) {
	vs := newVirtualSigstore(t)
	servedRoot := virtualTrustedRootJSON(t, vs)
	cases := []struct {
		name string
		cfg  func(t *testing.T) Config
	}{
		{"repository unreachable", func(t *testing.T) Config {
			repo := newTUFRepository(t, servedRoot)
			server := httptest.NewServer(http.NotFoundHandler())
			server.Close() // nothing listens at its address any more
			return Config{TUFURL: server.URL, TUFRoot: repo.rootJSON}
		}},
		{"repository signed by keys the client doesn't trust", func(t *testing.T) Config {
			repo := newTUFRepository(t, servedRoot)
			impostor := newTUFRepository(t, servedRoot)
			return Config{TUFURL: impostor.url, TUFRoot: repo.rootJSON}
		}},
		{"target is not a trusted root", func(t *testing.T) Config {
			repo := newTUFRepository(t, []byte(`{"mediaType":"text/plain"}`))
			return Config{TUFURL: repo.url, TUFRoot: repo.rootJSON}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg(t)
			logger, logs := logBuffer()
			cfg.Logger = logger
			v, err := NewVerifier(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !verifiesGolden(t, v) {
				t.Error("the shipped root is not in use")
			}
			if verifiesVirtual(t, v, vs) {
				t.Error("the served root is in use")
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "snapshot shipped in the binary") {
				t.Errorf("log %q has no warning about the fallback", logs.String())
			}
		})
	}
}

func TestPinnedRootDoesNotContactTUF(t *testing.T) {
	vs := newVirtualSigstore(t)
	repo := newTUFRepository(t, virtualTrustedRootJSON(t, vs))
	v, err := NewVerifier(Config{PinnedRoot: true, TUFURL: repo.url, TUFRoot: repo.rootJSON})
	if err != nil {
		t.Fatal(err)
	}
	if n := repo.requests.Load(); n != 0 {
		t.Errorf("%d requests to the TUF repository", n)
	}
	if !verifiesGolden(t, v) {
		t.Error("the shipped root is not in use")
	}
}
