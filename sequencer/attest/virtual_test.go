package attest

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	rekorv1 "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pysumdb/pysumdb/tiles"
)

// virtualSigstore is a Sigstore instance made up for a test: its own Fulcio
// CA, Rekor log and timestamping authority, all in memory.
type virtualSigstore struct {
	*ca.VirtualSigstore
	// trustedRoot trusts exactly this instance.
	trustedRoot *root.TrustedRoot
}

func newVirtualSigstore(t *testing.T) *virtualSigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rekorLogs := make(map[string]*root.TransparencyLog)
	for id, log := range vs.RekorLogs() {
		copied := *log
		// The virtual instance stores the hex text of the key ID where a
		// trusted root stores the raw key ID; fix it so the root can be
		// serialized and read back (as the TUF test does).
		if copied.ID, err = hex.DecodeString(id); err != nil {
			t.Fatal(err)
		}
		rekorLogs[id] = &copied
	}
	// No CT logs: the virtual Fulcio issues certificates without SCTs.
	trustedRoot, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		vs.FulcioCertificateAuthorities(), nil, vs.TimestampingAuthorities(), rekorLogs)
	if err != nil {
		t.Fatal(err)
	}
	return &virtualSigstore{VirtualSigstore: vs, trustedRoot: trustedRoot}
}

func (vs *virtualSigstore) verifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{TrustedMaterial: vs.trustedRoot})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signed holds the parts of an attestation as the virtual Sigstore
// produced them.
type signed struct {
	statement, signature []byte
	certificate          *x509.Certificate
	entries              []*rekorv1.TransparencyLogEntry
	timestamps           [][]byte
}

func (vs *virtualSigstore) fromEntity(t *testing.T, e *ca.TestEntity) signed {
	t.Helper()
	sigContent, err := e.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	envelope := sigContent.EnvelopeContent().RawEnvelope()
	var s signed
	if s.statement, err = base64.StdEncoding.DecodeString(envelope.Payload); err != nil {
		t.Fatal(err)
	}
	if s.signature, err = base64.StdEncoding.DecodeString(envelope.Signatures[0].Sig); err != nil {
		t.Fatal(err)
	}
	verificationContent, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	s.certificate = verificationContent.Certificate()
	entries, err := e.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		tle := entry.TransparencyLogEntry()
		if !entry.IsRekorV2() {
			// The virtual instance keeps a Rekor v1 entry's inclusion
			// promise outside the protobuf entry, which then lacks it;
			// rebuild the entry around the same body.
			tle = vs.logV1(t, tle.CanonicalizedBody, tle.IntegratedTime)
		}
		s.entries = append(s.entries, tle)
	}
	if s.timestamps, err = e.Timestamps(); err != nil {
		t.Fatal(err)
	}
	return s
}

// logV1 returns a Rekor v1 dsse entry for body, with an inclusion promise
// and an inclusion proof signed by the virtual log.
func (vs *virtualSigstore) logV1(t *testing.T, body []byte, integratedTime int64) *rekorv1.TransparencyLogEntry {
	t.Helper()
	logID, err := vs.RekorLogID()
	if err != nil {
		t.Fatal(err)
	}
	set, err := vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(body),
		IntegratedTime: integratedTime,
		LogID:          logID,
	})
	if err != nil {
		t.Fatal(err)
	}
	proof, err := vs.GetInclusionProof(body)
	if err != nil {
		t.Fatal(err)
	}
	keyID, err := hex.DecodeString(logID)
	if err != nil {
		t.Fatal(err)
	}
	rootHash, err := hex.DecodeString(*proof.RootHash)
	if err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	for _, h := range proof.Hashes {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, b)
	}
	return &rekorv1.TransparencyLogEntry{
		LogId:            &protocommon.LogId{KeyId: keyID},
		KindVersion:      &rekorv1.KindVersion{Kind: "dsse", Version: "0.0.1"},
		IntegratedTime:   integratedTime,
		InclusionPromise: &rekorv1.InclusionPromise{SignedEntryTimestamp: set},
		InclusionProof: &rekorv1.InclusionProof{
			LogIndex:   *proof.LogIndex,
			RootHash:   rootHash,
			TreeSize:   *proof.TreeSize,
			Hashes:     hashes,
			Checkpoint: &rekorv1.Checkpoint{Envelope: *proof.Checkpoint},
		},
		CanonicalizedBody: body,
	}
}

// attest signs statement as san/issuer, logged in Rekor v1 with an
// inclusion promise and proof and without a signed timestamp, like the
// attestations PyPI serves.
func (vs *virtualSigstore) attest(t *testing.T, san, issuer string, statement []byte) signed {
	t.Helper()
	return vs.attestLoggedAt(t, san, issuer, statement, time.Now().Add(5*time.Minute))
}

// attestLoggedAt is attest with the log's integrated time. The leaf
// certificate is valid from now for ten minutes.
func (vs *virtualSigstore) attestLoggedAt(t *testing.T, san, issuer string, statement []byte, integratedTime time.Time) signed {
	t.Helper()
	e, err := vs.AttestAtTime(san, issuer, statement, integratedTime, false)
	if err != nil {
		t.Fatal(err)
	}
	s := vs.fromEntity(t, e)
	s.timestamps = nil
	return s
}

// relog returns s with a new Rekor v1 entry for its signature and
// certificate as they are now. Rekor refuses to log a signature that
// doesn't verify, so the entry is built by hand, as a compromised log
// could: only the DSSE signature check is left to catch a bad signature.
func (vs *virtualSigstore) relog(t *testing.T, s signed) signed {
	t.Helper()
	envelope, err := json.Marshal(dsse.Envelope{
		PayloadType: inTotoPayloadType,
		Payload:     base64.StdEncoding.EncodeToString(s.statement),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(s.signature)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	envelopeHash := sha256.Sum256(envelope)
	payloadHash := sha256.Sum256(s.statement)
	certificatePEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.certificate.Raw})
	body, err := json.Marshal(map[string]any{
		"apiVersion": "0.0.1",
		"kind":       "dsse",
		"spec": map[string]any{
			"envelopeHash": map[string]string{"algorithm": "sha256", "value": hex.EncodeToString(envelopeHash[:])},
			"payloadHash":  map[string]string{"algorithm": "sha256", "value": hex.EncodeToString(payloadHash[:])},
			"signatures": []map[string]string{{
				"signature": base64.StdEncoding.EncodeToString(s.signature),
				"verifier":  base64.StdEncoding.EncodeToString(certificatePEM),
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.entries = []*rekorv1.TransparencyLogEntry{vs.logV1(t, body, time.Now().Add(5*time.Minute).Unix())}
	return s
}

// document returns the JSON attestation object for s.
func (s signed) document(t *testing.T) map[string]any {
	t.Helper()
	var entries []json.RawMessage
	for _, entry := range s.entries {
		b, err := protojson.Marshal(entry)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, b)
	}
	material := map[string]any{
		"certificate":          base64.StdEncoding.EncodeToString(s.certificate.Raw),
		"transparency_entries": entries,
	}
	if len(s.timestamps) > 0 {
		var timestamps []string
		for _, ts := range s.timestamps {
			timestamps = append(timestamps, base64.StdEncoding.EncodeToString(ts))
		}
		material["timestamps"] = timestamps
	}
	return map[string]any{
		"version": 1,
		"envelope": map[string]any{
			"statement": base64.StdEncoding.EncodeToString(s.statement),
			"signature": base64.StdEncoding.EncodeToString(s.signature),
		},
		"verification_material": material,
	}
}

func bundleDocument(t *testing.T, publisher map[string]any, attestations ...signed) map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, a := range attestations {
		docs = append(docs, a.document(t))
	}
	return map[string]any{"publisher": publisher, "attestations": docs}
}

func provenanceDocument(t *testing.T, bundles ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"version": 1, "attestation_bundles": bundles})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func githubPublisher(repository, workflow string) map[string]any {
	return map[string]any{"kind": "GitHub", "repository": repository, "workflow": workflow, "environment": nil}
}

func gitlabPublisher(repository, workflowFilepath string) map[string]any {
	return map[string]any{"kind": "GitLab", "repository": repository, "workflow_filepath": workflowFilepath, "environment": "pypi"}
}

func googlePublisher(email string) map[string]any {
	return map[string]any{"kind": "Google", "email": email}
}

func statementFor(t *testing.T, predicateType string, subjects ...string) []byte {
	t.Helper()
	var subjectList []any
	for i := 0; i+1 < len(subjects); i += 2 {
		subjectList = append(subjectList, map[string]any{"name": subjects[i], "digest": map[string]string{"sha256": subjects[i+1]}})
	}
	b, err := json.Marshal(map[string]any{
		"_type":         inTotoStatementType,
		"subject":       subjectList,
		"predicateType": predicateType,
		"predicate":     nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The synthetic file every attestation below is about.
const (
	exampleFilename = "example-1.0.tar.gz"
	githubSAN       = "https://github.com/octo/example/.github/workflows/release.yml@refs/tags/v1.0"
	gitlabSAN       = "https://gitlab.com/group/sub/example//ci/release.yml@refs/heads/main"
	googleSAN       = "publisher@example-project.iam.gserviceaccount.com"
)

var (
	exampleSHA256 = sha256.Sum256([]byte("example 1.0"))
	exampleHex    = hex.EncodeToString(exampleSHA256[:])
	otherHex      = hex.EncodeToString(make([]byte, 32))
)

func TestVirtualSigstore(t *testing.T) {
	vs := newVirtualSigstore(t)
	publish := statementFor(t, publishPredicateType, exampleFilename, exampleHex)
	cases := []struct {
		name    string
		build   func(t *testing.T) []byte
		want    tiles.Publisher
		wantErr string // a substring of the error; empty when valid
	}{
		{
			name: "GitHub",
			build: func(t *testing.T) []byte {
				return provenanceDocument(t, bundleDocument(t, githubPublisher("octo/example", "release.yml"), vs.attest(t, githubSAN, issuerGitHub, publish)))
			},
			want: tiles.Publisher{Kind: "github", SAN: githubSAN},
		},
		{
			name: "GitLab",
			build: func(t *testing.T) []byte {
				return provenanceDocument(t, bundleDocument(t, gitlabPublisher("group/sub/example", "ci/release.yml"), vs.attest(t, gitlabSAN, issuerGitLab, publish)))
			},
			want: tiles.Publisher{Kind: "gitlab", SAN: gitlabSAN},
		},
		{
			name: "Google",
			build: func(t *testing.T) []byte {
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), vs.attest(t, googleSAN, issuerGoogle, publish)))
			},
			want: tiles.Publisher{Kind: "google", SAN: googleSAN},
		},
		{
			name: "subject digest of another file",
			build: func(t *testing.T) []byte {
				other := statementFor(t, publishPredicateType, exampleFilename, otherHex)
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), vs.attest(t, googleSAN, issuerGoogle, other)))
			},
			wantErr: `has sha256 "` + otherHex + `", want "` + exampleHex + `"`,
		},
		{
			name: "subject of another filename",
			build: func(t *testing.T) []byte {
				other := statementFor(t, publishPredicateType, "example-1.0-py3-none-any.whl", exampleHex)
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), vs.attest(t, googleSAN, issuerGoogle, other)))
			},
			wantErr: `statement subject is "example-1.0-py3-none-any.whl", want "example-1.0.tar.gz"`,
		},
		{
			name: "two subjects",
			build: func(t *testing.T) []byte {
				two := statementFor(t, publishPredicateType, exampleFilename, exampleHex, "example-1.0-py3-none-any.whl", otherHex)
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), vs.attest(t, googleSAN, issuerGoogle, two)))
			},
			wantErr: "statement has 2 subjects, want 1",
		},
		{
			name: "unknown predicate type",
			build: func(t *testing.T) []byte {
				other := statementFor(t, "https://example.com/predicate/v1", exampleFilename, exampleHex)
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), vs.attest(t, googleSAN, issuerGoogle, other)))
			},
			wantErr: `predicate type "https://example.com/predicate/v1"`,
		},
		{
			name: "workflow of another repository",
			build: func(t *testing.T) []byte {
				san := "https://github.com/octo/example-fork/.github/workflows/release.yml@refs/tags/v1.0"
				return provenanceDocument(t, bundleDocument(t, githubPublisher("octo/example", "release.yml"), vs.attest(t, san, issuerGitHub, publish)))
			},
			wantErr: "failed to verify certificate identity",
		},
		{
			name: "publisher repository is a prefix of the certificate's",
			build: func(t *testing.T) []byte {
				return provenanceDocument(t, bundleDocument(t, githubPublisher("octo/exam", "release.yml"), vs.attest(t, githubSAN, issuerGitHub, publish)))
			},
			wantErr: "failed to verify certificate identity",
		},
		{
			name: "another workflow of the repository",
			build: func(t *testing.T) []byte {
				san := "https://github.com/octo/example/.github/workflows/release.yml.bak@refs/tags/v1.0"
				return provenanceDocument(t, bundleDocument(t, githubPublisher("octo/example", "release.yml"), vs.attest(t, san, issuerGitHub, publish)))
			},
			wantErr: "failed to verify certificate identity",
		},
		{
			name: "GitHub SAN issued to another OIDC issuer",
			build: func(t *testing.T) []byte {
				return provenanceDocument(t, bundleDocument(t, githubPublisher("octo/example", "release.yml"), vs.attest(t, githubSAN, issuerGitLab, publish)))
			},
			wantErr: `expected issuer value "https://token.actions.githubusercontent.com", got "https://gitlab.com"`,
		},
		{
			name: "GitLab publisher, GitHub certificate",
			build: func(t *testing.T) []byte {
				return provenanceDocument(t, bundleDocument(t, gitlabPublisher("octo/example", "release.yml"), vs.attest(t, githubSAN, issuerGitHub, publish)))
			},
			wantErr: "failed to verify certificate identity",
		},
		{
			name: "another Google service account",
			build: func(t *testing.T) []byte {
				san := "attacker@example-project.iam.gserviceaccount.com"
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), vs.attest(t, san, issuerGoogle, publish)))
			},
			wantErr: `expected SAN value "` + googleSAN + `"`,
		},
		{
			name: "logged in another Rekor",
			build: func(t *testing.T) []byte {
				other := newVirtualSigstore(t)
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), other.attest(t, googleSAN, issuerGoogle, publish)))
			},
			wantErr: "not enough verified log entries from transparency log: 0 < 1",
		},
		{
			name: "certificate from another Fulcio",
			build: func(t *testing.T) []byte {
				other := newVirtualSigstore(t)
				s := vs.relog(t, other.attest(t, googleSAN, issuerGoogle, publish))
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), s))
			},
			wantErr: "failed to verify leaf certificate",
		},
		{
			name: "signature broken",
			build: func(t *testing.T) []byte {
				s := vs.attest(t, googleSAN, issuerGoogle, publish)
				s.signature[len(s.signature)/2] ^= 1
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), s))
			},
			wantErr: "transparency log signature does not match",
		},
		{
			name: "broken signature logged in Rekor",
			build: func(t *testing.T) []byte {
				s := vs.attest(t, googleSAN, issuerGoogle, publish)
				s.signature[len(s.signature)/2] ^= 1
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), vs.relog(t, s)))
			},
			wantErr: "failed to verify signature",
		},
		{
			name: "signature of another statement",
			build: func(t *testing.T) []byte {
				s := vs.attest(t, googleSAN, issuerGoogle, publish)
				other := vs.attest(t, googleSAN, issuerGoogle, statementFor(t, slsaProvenancePredicateType, exampleFilename, exampleHex))
				s.signature = other.signature
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), vs.relog(t, s)))
			},
			wantErr: "failed to verify signature",
		},
		{
			name: "certificate expired when logged",
			build: func(t *testing.T) []byte {
				s := vs.attestLoggedAt(t, googleSAN, issuerGoogle, publish, time.Now().Add(20*time.Minute))
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), s))
			},
			wantErr: "integrated time outside certificate validity",
		},
		{
			name: "log entry without a signed time",
			build: func(t *testing.T) []byte {
				s := vs.attest(t, googleSAN, issuerGoogle, publish)
				s.entries[0].InclusionPromise = nil
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), s))
			},
			wantErr: "failed to verify timestamps",
		},
		{
			name: "no transparency log entry",
			build: func(t *testing.T) []byte {
				s := vs.attest(t, googleSAN, issuerGoogle, publish)
				s.entries = nil
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), s))
			},
			wantErr: "no transparency log entries",
		},
		{
			name: "Rekor v2 entry, time from a timestamping authority",
			build: func(t *testing.T) []byte {
				e, err := vs.AttestHashedRekordV2(googleSAN, issuerGoogle, publish)
				if err != nil {
					t.Fatal(err)
				}
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), vs.fromEntity(t, e)))
			},
			want: tiles.Publisher{Kind: "google", SAN: googleSAN},
		},
		{
			name: "Rekor v2 entry without a signed time",
			build: func(t *testing.T) []byte {
				e, err := vs.AttestHashedRekordV2(googleSAN, issuerGoogle, publish)
				if err != nil {
					t.Fatal(err)
				}
				s := vs.fromEntity(t, e)
				s.timestamps = nil
				return provenanceDocument(t, bundleDocument(t, googlePublisher(googleSAN), s))
			},
			wantErr: "failed to verify timestamps",
		},
		{
			name: "publish and SLSA provenance attestations",
			build: func(t *testing.T) []byte {
				slsa := statementFor(t, slsaProvenancePredicateType, exampleFilename, exampleHex)
				return provenanceDocument(t, bundleDocument(t, githubPublisher("octo/example", "release.yml"),
					vs.attest(t, githubSAN, issuerGitHub, publish), vs.attest(t, githubSAN, issuerGitHub, slsa)))
			},
			want: tiles.Publisher{Kind: "github", SAN: githubSAN},
		},
		{
			name: "SLSA provenance attestation only",
			build: func(t *testing.T) []byte {
				slsa := statementFor(t, slsaProvenancePredicateType, exampleFilename, exampleHex)
				return provenanceDocument(t, bundleDocument(t, githubPublisher("octo/example", "release.yml"), vs.attest(t, githubSAN, issuerGitHub, slsa)))
			},
			wantErr: "no attestation has predicate type " + publishPredicateType,
		},
		{
			name: "one good and one bad attestation",
			build: func(t *testing.T) []byte {
				other := statementFor(t, slsaProvenancePredicateType, exampleFilename, otherHex)
				return provenanceDocument(t, bundleDocument(t, githubPublisher("octo/example", "release.yml"),
					vs.attest(t, githubSAN, issuerGitHub, publish), vs.attest(t, githubSAN, issuerGitHub, other)))
			},
			wantErr: "bundle 0 attestation 1: ",
		},
		{
			name: "bundles proving different publishers",
			build: func(t *testing.T) []byte {
				return provenanceDocument(t,
					bundleDocument(t, githubPublisher("octo/example", "release.yml"), vs.attest(t, githubSAN, issuerGitHub, publish)),
					bundleDocument(t, googlePublisher(googleSAN), vs.attest(t, googleSAN, issuerGoogle, publish)))
			},
			wantErr: `proves publisher google "` + googleSAN + `", an earlier one github "` + githubSAN + `"`,
		},
		{
			name: "SAN that can't be logged",
			build: func(t *testing.T) []byte {
				san := "pub lisher@example-project.iam.gserviceaccount.com"
				return provenanceDocument(t, bundleDocument(t, googlePublisher(san), vs.attest(t, san, issuerGoogle, publish)))
			},
			wantErr: "publisher can't be logged",
		},
	}
	v := vs.verifier(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseProvenance(c.build(t))
			var got tiles.Publisher
			if err == nil {
				got, err = v.Verify(p, exampleFilename, exampleSHA256)
			}
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("Verify = %+v, want %+v", got, c.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidAttestation) {
				t.Fatalf("err = %v, want ErrInvalidAttestation", err)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, c.wantErr)
			}
		})
	}
}

// TestVerifierConcurrent shares one Verifier and the same parsed
// provenance objects between goroutines; run with -race, it checks that
// Verify mutates neither.
func TestVerifierConcurrent(t *testing.T) {
	v := pinnedVerifier(t)
	type job struct {
		p        *Provenance
		filename string
		digest   [32]byte
	}
	var jobs []job
	for _, g := range goldenProvenances {
		p, err := ParseProvenance(g.read(t))
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{p, g.filename(), g.digest(t)})
	}
	const workers = 8
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for _, j := range jobs {
				if _, err := v.Verify(j.p, j.filename, j.digest); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
