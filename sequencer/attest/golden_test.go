package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/tiles"
)

// goldenProvenance describes the real provenance objects in testdata; the
// values come from testdata/README.md.
type goldenProvenance struct {
	file          string // under testdata; the attested filename plus ".provenance"
	fileSHA256    string // of the provenance file itself
	subjectSHA256 string // of the attested distribution file
	publisher     ProvenancePublisher
	want          tiles.Publisher
}

var goldenProvenances = []goldenProvenance{
	{
		file:          "pypi_attestations-0.0.19.tar.gz.provenance",
		fileSHA256:    "2cfa62b3d64e20d0ea4921a19f4d658d80bda0ee1eb040dd97d82711ea69dde4",
		subjectSHA256: "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3",
		publisher:     ProvenancePublisher{Kind: "GitHub", Repository: "trailofbits/pypi-attestations", Workflow: "release.yml"},
		want:          tiles.Publisher{Kind: "github", SAN: "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19"},
	},
	{
		file:          "sigstore-3.6.1.tar.gz.provenance",
		fileSHA256:    "0a52ee87ade92ad863d921a771ac30a44725da96a0d98ea17baa96428719531c",
		subjectSHA256: "ee60fdc9236fd6709271ad53b44027461360c3fde155d2af15482e4c451ff865",
		publisher:     ProvenancePublisher{Kind: "GitHub", Repository: "sigstore/sigstore-python", Workflow: "release.yml"},
		want:          tiles.Publisher{Kind: "github", SAN: "https://github.com/sigstore/sigstore-python/.github/workflows/release.yml@refs/tags/v3.6.1"},
	},
	{
		file:          "gcb_attestation_test-0.0.0.tar.gz.provenance",
		fileSHA256:    "3f32689422c2aa9f3b36b4159cfd1e7fe868d24b97eed5266eff7e278bc9951f",
		subjectSHA256: "461317362419124b6012e855423a9078d6de8aed3e74fa78cc74d669b23dc6cf",
		publisher:     ProvenancePublisher{Kind: "Google", Email: "919436158236-compute@developer.gserviceaccount.com"},
		want:          tiles.Publisher{Kind: "google", SAN: "919436158236-compute@developer.gserviceaccount.com"},
	},
}

func (g goldenProvenance) filename() string { return strings.TrimSuffix(g.file, ".provenance") }

func (g goldenProvenance) digest(t testing.TB) [32]byte {
	t.Helper()
	return mustDigest(t, g.subjectSHA256)
}

// read returns the provenance file after checking it is byte for byte the
// one described in testdata/README.md.
func (g goldenProvenance) read(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", g.file))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != g.fileSHA256 {
		t.Fatalf("%s has sha256 %x, want %s: the file was altered", g.file, got, g.fileSHA256)
	}
	return data
}

func mustDigest(t testing.TB, s string) [32]byte {
	t.Helper()
	d, err := tiles.ParseHexDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pinnedVerifier verifies against the shipped public-good root only, so
// that tests run offline. Certificates are checked at the Rekor integrated
// time, so the result does not depend on the clock.
func pinnedVerifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{PinnedRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestShippedTrustedRootIsTheSnapshot(t *testing.T) {
	// testdata/README.md records where the shipped root comes from.
	const want = "4364d7724c04cc912ce2a6c45ed2610e8d8d1c4dc857fb500292738d4d9c8d2c"
	if got := sha256.Sum256(publicGoodTrustedRoot); hex.EncodeToString(got[:]) != want {
		t.Errorf("shipped trusted root has sha256 %x, want %s", got, want)
	}
}

func TestGoldenProvenance(t *testing.T) {
	v := pinnedVerifier(t)
	for _, g := range goldenProvenances {
		t.Run(g.file, func(t *testing.T) {
			p, err := ParseProvenance(g.read(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Bundles) != 1 || len(p.Bundles[0].Attestations) != 1 {
				t.Fatalf("parsed %d bundles, want 1 with 1 attestation", len(p.Bundles))
			}
			if got := p.Bundles[0].Publisher; got != g.publisher {
				t.Errorf("publisher %+v, want %+v", got, g.publisher)
			}
			a := p.Bundles[0].Attestations[0]
			if len(a.TransparencyEntries) != 1 || a.TransparencyEntries[0].GetInclusionPromise() == nil || a.TransparencyEntries[0].GetInclusionProof() == nil {
				t.Errorf("want 1 transparency entry with inclusion promise and proof, got %v", a.TransparencyEntries)
			}
			got, err := v.Verify(p, g.filename(), g.digest(t))
			if err != nil {
				t.Fatal(err)
			}
			if got != g.want {
				t.Errorf("Verify = %+v, want %+v", got, g.want)
			}
		})
	}
}

// TestGoldenGitLab verifies a real GitLab attestation. PyPI's provenance
// for it wasn't available, so the test wraps the attestation in the
// provenance object PyPI builds for a GitLab Trusted Publisher.
func TestGoldenGitLab(t *testing.T) {
	const (
		file       = "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation"
		fileSHA256 = "b790801779c2654a7138e0212b701582ade5785bc8299bbb29d2580e4586ffd2"
		filename   = "gitlab_oidc_project-0.0.3.tar.gz"
		subject    = "c1ca9b0d85df1606451098233018534497bf584362e10e4a8c21dfaea92c02a8"
	)
	attestation, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(attestation); hex.EncodeToString(got[:]) != fileSHA256 {
		t.Fatalf("%s has sha256 %x, want %s", file, got, fileSHA256)
	}
	publisher := `{"environment":"","kind":"GitLab","repository":"facutuesca/gitlab-oidc-project","workflow_filepath":".gitlab-ci.yml"}`
	data := []byte(`{"attestation_bundles":[{"attestations":[` + string(attestation) + `],"publisher":` + publisher + `}],"version":1}`)
	p, err := ParseProvenance(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pinnedVerifier(t).Verify(p, filename, mustDigest(t, subject))
	if err != nil {
		t.Fatal(err)
	}
	want := tiles.Publisher{Kind: "gitlab", SAN: "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main"}
	if got != want {
		t.Errorf("Verify = %+v, want %+v", got, want)
	}

	// The same attestation under another project's publisher is refused.
	p.Bundles[0].Publisher.Repository = "facutuesca/gitlab-oidc"
	if _, err := pinnedVerifier(t).Verify(p, filename, mustDigest(t, subject)); !errors.Is(err, ErrInvalidAttestation) {
		t.Errorf("Verify with another repository: err = %v, want ErrInvalidAttestation", err)
	}
}

func TestGoldenWrongFile(t *testing.T) {
	v := pinnedVerifier(t)
	for _, g := range goldenProvenances {
		t.Run(g.file, func(t *testing.T) {
			p, err := ParseProvenance(g.read(t))
			if err != nil {
				t.Fatal(err)
			}
			otherDigest := g.digest(t)
			otherDigest[31] ^= 1
			cases := []struct {
				name     string
				filename string
				digest   [32]byte
				reason   string
			}{
				{"another filename", "other-1.0.tar.gz", g.digest(t), `want "other-1.0.tar.gz"`},
				{"another sha256", g.filename(), otherDigest, hex.EncodeToString(otherDigest[:])},
				// A wheel of the same release is another file.
				{"same release, other format", strings.TrimSuffix(g.filename(), ".tar.gz") + ".zip", g.digest(t), "statement subject"},
			}
			for _, c := range cases {
				_, err := v.Verify(p, c.filename, c.digest)
				if !errors.Is(err, ErrInvalidAttestation) {
					t.Errorf("%s: err = %v, want ErrInvalidAttestation", c.name, err)
					continue
				}
				if !strings.Contains(err.Error(), c.reason) {
					t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.reason)
				}
			}
		})
	}
}

// TestGoldenWrongPublisher checks that the unsigned publisher object is
// checked against the certificate.
func TestGoldenWrongPublisher(t *testing.T) {
	v := pinnedVerifier(t)
	g := goldenProvenances[0]
	cases := []struct {
		name      string
		publisher ProvenancePublisher
	}{
		{"another repository", ProvenancePublisher{Kind: "GitHub", Repository: "trailofbits/pypi-attestation", Workflow: "release.yml"}},
		{"another workflow", ProvenancePublisher{Kind: "GitHub", Repository: "trailofbits/pypi-attestations", Workflow: "release.yaml"}},
		{"GitLab", ProvenancePublisher{Kind: "GitLab", Repository: "trailofbits/pypi-attestations", WorkflowFilepath: "release.yml"}},
		{"Google", ProvenancePublisher{Kind: "Google", Email: "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19"}},
	}
	for _, c := range cases {
		p, err := ParseProvenance(g.read(t))
		if err != nil {
			t.Fatal(err)
		}
		p.Bundles[0].Publisher = c.publisher
		if _, err := v.Verify(p, g.filename(), g.digest(t)); !errors.Is(err, ErrInvalidAttestation) {
			t.Errorf("%s: err = %v, want ErrInvalidAttestation", c.name, err)
		}
	}
}

// TestGoldenCorruption changes one base64 character of each signed field
// and checks that the result is refused.
func TestGoldenCorruption(t *testing.T) {
	v := pinnedVerifier(t)
	fields := []string{"statement", "signature", "certificate", "canonicalizedBody", "signedEntryTimestamp", "rootHash"}
	for _, g := range goldenProvenances {
		data := g.read(t)
		for _, field := range fields {
			for _, offset := range []int{0, 20, 40} {
				corrupted := corruptBase64Field(t, data, field, offset)
				p, err := ParseProvenance(corrupted)
				if err == nil {
					_, err = v.Verify(p, g.filename(), g.digest(t))
				}
				if !errors.Is(err, ErrInvalidAttestation) {
					t.Errorf("%s: %s corrupted at %d: err = %v, want ErrInvalidAttestation", g.file, field, offset, err)
				}
			}
		}
	}
}

// corruptBase64Field returns a copy of data in which the base64 character
// at offset in the value of the JSON field named field is replaced by
// another base64 character, so that the value still decodes.
func corruptBase64Field(t *testing.T, data []byte, field string, offset int) []byte {
	t.Helper()
	key := []byte(`"` + field + `":"`)
	if bytes.Count(data, key) != 1 {
		t.Fatalf("field %s appears %d times", field, bytes.Count(data, key))
	}
	i := bytes.Index(data, key) + len(key) + offset
	corrupted := bytes.Clone(data)
	if corrupted[i] == 'A' {
		corrupted[i] = 'B'
	} else {
		corrupted[i] = 'A'
	}
	return corrupted
}

// TestGoldenStatementReencoded checks that the signature covers the exact
// statement bytes: the same statement encoded differently passes the
// statement checks but not the signature.
func TestGoldenStatementReencoded(t *testing.T) {
	v := pinnedVerifier(t)
	for _, g := range goldenProvenances {
		p, err := ParseProvenance(g.read(t))
		if err != nil {
			t.Fatal(err)
		}
		a := &p.Bundles[0].Attestations[0]
		var statement map[string]any
		if err := json.Unmarshal(a.Statement, &statement); err != nil {
			t.Fatal(err)
		}
		if a.Statement, err = json.MarshalIndent(statement, "", " "); err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(p, g.filename(), g.digest(t))
		if !errors.Is(err, ErrInvalidAttestation) || !strings.Contains(err.Error(), "sigstore verification failed") {
			t.Errorf("%s: err = %v, want a failed signature", g.file, err)
		}
	}
}

// TestGoldenSignatureOfAnotherAttestation swaps the signatures of two real
// attestations: each is a valid signature, but not over this statement.
func TestGoldenSignatureOfAnotherAttestation(t *testing.T) {
	v := pinnedVerifier(t)
	first, second := goldenProvenances[0], goldenProvenances[1]
	p1, err := ParseProvenance(first.read(t))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ParseProvenance(second.read(t))
	if err != nil {
		t.Fatal(err)
	}
	p1.Bundles[0].Attestations[0].Signature = p2.Bundles[0].Attestations[0].Signature
	if _, err := v.Verify(p1, first.filename(), first.digest(t)); !errors.Is(err, ErrInvalidAttestation) {
		t.Errorf("err = %v, want ErrInvalidAttestation", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	v := pinnedVerifier(b)
	g := goldenProvenances[0]
	data := g.read(b)
	digest := g.digest(b)
	for b.Loop() {
		p, err := ParseProvenance(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(p, g.filename(), digest); err != nil {
			b.Fatal(err)
		}
	}
}
