package attest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/tiles"
)

// Statement and predicate types that PyPI attestations use.
const (
	inTotoStatementType = "https://in-toto.io/Statement/v1"
	// publishPredicateType is PyPI's publish attestation, the one that
	// proves which Trusted Publisher uploaded a file.
	publishPredicateType = "https://docs.pypi.org/attestations/publish/v1"
	// slsaProvenancePredicateType is the other type PyPI accepts at upload.
	slsaProvenancePredicateType = "https://slsa.dev/provenance/v1"
)

// OIDC issuers of the publishers' certificates.
const (
	issuerGitHub = "https://token.actions.githubusercontent.com"
	issuerGitLab = "https://gitlab.com"
	issuerGoogle = "https://accounts.google.com"
)

const (
	// inTotoPayloadType is the DSSE payload type of every PyPI attestation;
	// the provenance object leaves it implicit.
	inTotoPayloadType = "application/vnd.in-toto+json"
	// bundleMediaType is the Sigstore bundle version an attestation maps
	// to: a single leaf certificate and tlog entries with inclusion proofs.
	bundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// Config configures a Verifier.
type Config struct {
	// Logger receives the warning emitted when the trusted root can't be
	// refreshed through TUF. Nil discards log output.
	Logger *slog.Logger
	// PinnedRoot makes the Verifier trust only the public-good trusted root
	// shipped in the binary, without contacting TUF: for offline and
	// reproducible runs. Keys Sigstore adds or rotates after the snapshot
	// are then unknown, and attestations signed with them fail.
	PinnedRoot bool
	// TUFURL is the TUF repository the trusted root is refreshed from.
	// Empty means Sigstore's public-good repository.
	TUFURL string
	// TUFRoot is the TUF root.json trusted for TUFURL, the anchor of the
	// refresh. Nil means the public-good TUF root built into sigstore-go,
	// right only for the public-good repository and its mirrors.
	TUFRoot []byte
	// TUFCacheDir is where TUF metadata is kept between runs, so that a
	// refresh downloads only what changed. Empty keeps nothing on disk.
	TUFCacheDir string
	// TrustedMaterial, when set, replaces the Sigstore trust root: neither
	// TUF nor the shipped root is used. Tests set it to a virtual Sigstore
	// instance; it also suits a private Sigstore deployment.
	TrustedMaterial root.TrustedMaterial
}

// Verifier verifies provenance objects against one trust root. It is safe
// for concurrent use; build it once and reuse it.
type Verifier struct {
	sigstore *verify.Verifier
}

// NewVerifier returns a Verifier for cfg. Unless cfg pins the shipped root
// or supplies TrustedMaterial, it refreshes the trusted root through TUF,
// falling back to the shipped root with a warning when that fails.
func NewVerifier(cfg Config) (*Verifier, error) {
	logger := logging.OrDiscard(cfg.Logger)
	material := cfg.TrustedMaterial
	if material == nil {
		trustedRoot, err := loadTrustedRoot(cfg, logger)
		if err != nil {
			return nil, err
		}
		material = trustedRoot
	}
	options := []verify.VerifierOption{
		// A log entry is required: it is what makes a signature public.
		verify.WithTransparencyLog(1),
		// Fulcio certificates live ten minutes, so the certificate must be
		// checked at a time someone trusted observed: the log's signed
		// integrated time, or an RFC 3161 timestamp.
		verify.WithObserverTimestamps(1),
		// The predicate isn't used, and materializing it costs.
		verify.WithoutStatementPredicate(),
	}
	// Public-good Fulcio embeds an SCT in every certificate; a trust root
	// without CT logs (a private deployment) can't verify one.
	if len(material.CTLogs()) > 0 {
		options = append(options, verify.WithSignedCertificateTimestamps(1))
	}
	sigstoreVerifier, err := verify.NewVerifier(material, options...)
	if err != nil {
		return nil, fmt.Errorf("couldn't configure the sigstore verifier: %w", err)
	}
	return &Verifier{sigstore: sigstoreVerifier}, nil
}

// Verify checks every attestation of p for the file named filename whose
// content has the given sha256, and returns the publisher they prove. Any
// failure wraps ErrInvalidAttestation and names the check that failed;
// Verify does no I/O, so it returns no other kind of error.
//
// All attestations must verify, at least one must be a publish
// attestation, and all must prove the same publisher.
func (v *Verifier) Verify(p *Provenance, filename string, sha256 [32]byte) (tiles.Publisher, error) {
	if p == nil || len(p.Bundles) == 0 {
		return tiles.Publisher{}, invalid("provenance has no attestation bundles")
	}
	var proved tiles.Publisher
	sawPublish := false
	for i, b := range p.Bundles {
		if len(b.Attestations) == 0 {
			return tiles.Publisher{}, invalid("bundle %d has no attestations", i)
		}
		for j, a := range b.Attestations {
			publisher, predicateType, err := v.verifyAttestation(b.Publisher, a, filename, sha256)
			if err != nil {
				return tiles.Publisher{}, fmt.Errorf("bundle %d attestation %d: %w", i, j, err)
			}
			if proved != (tiles.Publisher{}) && publisher != proved {
				return tiles.Publisher{}, invalid("bundle %d attestation %d proves publisher %s %q, an earlier one %s %q",
					i, j, publisher.Kind, publisher.SAN, proved.Kind, proved.SAN)
			}
			proved = publisher
			sawPublish = sawPublish || predicateType == publishPredicateType
		}
	}
	if !sawPublish {
		return tiles.Publisher{}, invalid("no attestation has predicate type %s", publishPredicateType)
	}
	if err := tiles.CheckPublisher(proved); err != nil {
		return tiles.Publisher{}, fmt.Errorf("%w: publisher can't be logged: %w", ErrInvalidAttestation, err)
	}
	return proved, nil
}

// verifyAttestation verifies one attestation and returns the publisher it
// proves and its predicate type.
func (v *Verifier) verifyAttestation(claimed ProvenancePublisher, a Attestation, filename string, sha256 [32]byte) (tiles.Publisher, string, error) {
	// The statement is checked before the signature only so that a
	// mismatch gets a precise message; nothing is accepted before the
	// signature over these exact bytes is verified below.
	predicateType, err := checkStatement(a.Statement, filename, sha256)
	if err != nil {
		return tiles.Publisher{}, "", err
	}
	kind, identity, err := expectedIdentity(claimed)
	if err != nil {
		return tiles.Publisher{}, "", err
	}
	sigstoreBundle, err := toBundle(a)
	if err != nil {
		return tiles.Publisher{}, "", err
	}
	policy := verify.NewPolicy(
		verify.WithArtifactDigest("sha256", sha256[:]),
		verify.WithCertificateIdentity(identity),
	)
	result, err := v.sigstore.Verify(sigstoreBundle, policy)
	if err != nil {
		return tiles.Publisher{}, "", fmt.Errorf("%w: sigstore verification failed: %w", ErrInvalidAttestation, err)
	}
	return tiles.Publisher{Kind: kind, SAN: result.Signature.Certificate.SubjectAlternativeName}, predicateType, nil
}

// statementJSON holds the in-toto statement fields Verify checks; in-toto
// lets consumers ignore the others.
type statementJSON struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string `json:"predicateType"`
}

// checkStatement checks that the statement is about exactly this file and
// of a type PyPI accepts, and returns its predicate type. Names are
// compared exactly: PyPI logs the name as uploaded, and so do we.
func checkStatement(statement []byte, filename string, sha256 [32]byte) (string, error) {
	var s statementJSON
	if err := checkNoDuplicateKeys(statement); err != nil {
		return "", fmt.Errorf("%w: couldn't decode statement: %w", ErrInvalidAttestation, err)
	}
	if err := json.Unmarshal(statement, &s); err != nil {
		return "", fmt.Errorf("%w: couldn't decode statement: %w", ErrInvalidAttestation, err)
	}
	if s.Type != inTotoStatementType {
		return "", invalid("statement _type %q, want %q", s.Type, inTotoStatementType)
	}
	if len(s.Subject) != 1 {
		return "", invalid("statement has %d subjects, want 1", len(s.Subject))
	}
	subject := s.Subject[0]
	if subject.Name != filename {
		return "", invalid("statement subject is %q, want %q", subject.Name, filename)
	}
	want := hex.EncodeToString(sha256[:])
	if got, ok := subject.Digest["sha256"]; !ok || got != want {
		return "", invalid("statement subject %q has sha256 %q, want %q", subject.Name, got, want)
	}
	switch s.PredicateType {
	case publishPredicateType, slsaProvenancePredicateType:
	default:
		return "", invalid("statement predicate type %q, want %s or %s", s.PredicateType, publishPredicateType, slsaProvenancePredicateType)
	}
	return s.PredicateType, nil
}

// expectedIdentity returns the tiles publisher kind and the certificate
// identity that the claimed publisher requires, following
// pypi-attestations: a GitHub or GitLab workflow certificate's SAN is the
// workflow's URL followed by "@" and the ref; a Google certificate's SAN is
// the service account's email.
func expectedIdentity(claimed ProvenancePublisher) (string, verify.CertificateIdentity, error) {
	var kind, issuer, san, sanPrefix string
	switch claimed.Kind {
	case kindGitHub:
		kind, issuer = tiles.PublisherGitHub, issuerGitHub
		sanPrefix = "https://github.com/" + claimed.Repository + "/.github/workflows/" + claimed.Workflow + "@"
	case kindGitLab:
		kind, issuer = tiles.PublisherGitLab, issuerGitLab
		sanPrefix = "https://gitlab.com/" + claimed.Repository + "//" + claimed.WorkflowFilepath + "@"
	case kindGoogle:
		kind, issuer, san = tiles.PublisherGoogle, issuerGoogle, claimed.Email
	default:
		return "", verify.CertificateIdentity{}, invalid("publisher kind %q, want GitHub, GitLab or Google", claimed.Kind)
	}
	var sanRegexp string
	if sanPrefix != "" {
		sanRegexp = "^" + regexp.QuoteMeta(sanPrefix)
	}
	identity, err := verify.NewShortCertificateIdentity(issuer, "", san, sanRegexp)
	if err != nil {
		return "", verify.CertificateIdentity{}, fmt.Errorf("%w: couldn't build the identity of %s publisher: %w", ErrInvalidAttestation, claimed.Kind, err)
	}
	return kind, identity, nil
}

// toBundle maps an attestation to the Sigstore bundle it stands for, as
// pypi-attestations' Attestation.to_bundle does.
func toBundle(a Attestation) (*bundle.Bundle, error) {
	material := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{
			Certificate: &protocommon.X509Certificate{RawBytes: a.Certificate},
		},
		TlogEntries: a.TransparencyEntries,
	}
	if len(a.Timestamps) > 0 {
		data := &protobundle.TimestampVerificationData{}
		for _, timestamp := range a.Timestamps {
			data.Rfc3161Timestamps = append(data.Rfc3161Timestamps, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: timestamp})
		}
		material.TimestampVerificationData = data
	}
	b, err := bundle.NewBundle(&protobundle.Bundle{
		MediaType:            bundleMediaType,
		VerificationMaterial: material,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     a.Statement,
			PayloadType: inTotoPayloadType,
			Signatures:  []*protodsse.Signature{{Sig: a.Signature}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: couldn't build a sigstore bundle: %w", ErrInvalidAttestation, err)
	}
	return b, nil
}
