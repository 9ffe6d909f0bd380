// Package intaketest puts maintainers' claims into a store the way an
// intake does, for the tests of the packages that read them.
package intaketest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/claim"
	"github.com/pysumdb/pysumdb/intake"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// Maintainer is a claim key.
type Maintainer struct {
	// Signer signs the claims; VKey is its verifier key, the identity.
	Signer note.Signer
	VKey   string
}

// NewMaintainer returns a new claim key named name.
func NewMaintainer(t testing.TB, name string) Maintainer {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return Maintainer{Signer: signer, VKey: vkey}
}

// Claimant returns the identity index lines record for m's claims.
func (m Maintainer) Claimant() tiles.Claimant {
	return tiles.Claimant{Kind: tiles.ClaimantKey, Value: m.VKey}
}

// File returns the claim of a file of content.
func File(filename string, content []byte) claim.File {
	return claim.File{Filename: filename, SHA256: sha256.Sum256(content), Size: int64(len(content))}
}

// Claim has m claim files of project at when, through an intake on store
// whose clock says when, and fails t unless the intake accepts it.
func Claim(t testing.TB, store publish.Store, m Maintainer, project string, when time.Time, files ...claim.File) {
	t.Helper()
	srv, err := intake.New(intake.Config{
		Store: store, ClientRate: -1, ProjectRate: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return when },
	})
	if err != nil {
		t.Fatal(err)
	}
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b claim.File) int { return strings.Compare(a.Filename, b.Filename) })
	msg, err := claim.Sign(claim.Claim{Project: project, Time: when.UTC().Truncate(time.Second), Files: files}, m.Signer)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/claim", bytes.NewReader(msg))
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set(intake.KeyHeader, m.VKey)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("the intake refused the claim of %s: %d %s", project, w.Code, w.Body)
	}
}
