package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	rekorv1 "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// ErrInvalidAttestation is wrapped by every error that says a provenance
// object is malformed or does not prove what it claims. PyPI verifies
// attestations at upload, so such an error is suspicious: the caller
// should raise an alarm rather than treat the file as unattested.
var ErrInvalidAttestation = errors.New("invalid PEP 740 attestation")

// MaxProvenanceSize bounds the provenance objects ParseProvenance accepts.
// Real ones are about 10 KB per attestation; the bound keeps a hostile
// server from making the sequencer parse arbitrarily large documents.
const MaxProvenanceSize = 1 << 20

// Publisher kinds as PyPI spells them in the provenance object.
const (
	kindGitHub = "GitHub"
	kindGitLab = "GitLab"
	kindGoogle = "Google"
)

// Provenance is a parsed PEP 740 provenance object.
type Provenance struct {
	// Bundles groups the attestations by the publisher that uploaded them.
	Bundles []AttestationBundle
}

// AttestationBundle is a set of attestations and the publisher they claim.
type AttestationBundle struct {
	// Publisher is the Trusted Publisher PyPI names for the attestations.
	// It is not signed: Verify checks it against each certificate.
	Publisher ProvenancePublisher
	// Attestations are the signed statements about the file.
	Attestations []Attestation
}

// ProvenancePublisher is the publisher object of an attestation bundle.
// Which fields are set depends on Kind.
type ProvenancePublisher struct {
	// Kind is "GitHub", "GitLab" or "Google".
	Kind string
	// Repository is the GitHub "owner/name" or GitLab "namespace/project"
	// slug (GitHub and GitLab).
	Repository string
	// Workflow is the workflow file name under .github/workflows (GitHub).
	Workflow string
	// WorkflowFilepath is the path of the CI configuration file (GitLab).
	WorkflowFilepath string
	// Environment is the optional deployment environment (GitHub and
	// GitLab); the certificate does not prove it, so Verify ignores it.
	Environment string
	// Email is the service account's address (Google).
	Email string
}

// Attestation is one PEP 740 attestation, decoded from base64.
type Attestation struct {
	// Statement is the in-toto statement, the DSSE payload.
	Statement []byte
	// Signature is the DSSE signature over the statement.
	Signature []byte
	// Certificate is the DER signing certificate issued by Fulcio.
	Certificate []byte
	// TransparencyEntries are the Rekor entries for the signature.
	TransparencyEntries []*rekorv1.TransparencyLogEntry
	// Timestamps are RFC 3161 signed timestamps over the signature, which
	// newer attestations carry when the log entry has no signed time.
	Timestamps [][]byte
}

// The wire types mirror pypi-attestations' models field for field; the
// decoder rejects any field they don't list.
type provenanceJSON struct {
	Version            int                     `json:"version"`
	AttestationBundles []attestationBundleJSON `json:"attestation_bundles"`
}

type attestationBundleJSON struct {
	Publisher    publisherJSON     `json:"publisher"`
	Attestations []attestationJSON `json:"attestations"`
}

// publisherJSON uses pointers to tell an absent or null field from an
// empty string.
type publisherJSON struct {
	Kind             string  `json:"kind"`
	Repository       *string `json:"repository"`
	Workflow         *string `json:"workflow"`
	WorkflowFilepath *string `json:"workflow_filepath"`
	Environment      *string `json:"environment"`
	Email            *string `json:"email"`
}

type attestationJSON struct {
	Version              int                      `json:"version"`
	Envelope             envelopeJSON             `json:"envelope"`
	VerificationMaterial verificationMaterialJSON `json:"verification_material"`
}

type envelopeJSON struct {
	Statement string `json:"statement"`
	Signature string `json:"signature"`
}

type verificationMaterialJSON struct {
	Certificate         string            `json:"certificate"`
	TransparencyEntries []json.RawMessage `json:"transparency_entries"`
	Timestamps          []string          `json:"timestamps"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidAttestation, fmt.Sprintf(format, args...))
}

// ParseProvenance parses a provenance object as PyPI's Integrity API serves
// it. It is strict: unknown or duplicate fields, a version other than 1, a
// publisher kind other than GitHub, GitLab or Google, missing fields,
// empty lists and non-canonical base64 are all rejected with an error
// wrapping ErrInvalidAttestation. It checks the form only; Verify checks
// the signatures.
func ParseProvenance(data []byte) (*Provenance, error) {
	if len(data) > MaxProvenanceSize {
		return nil, invalid("provenance of %d bytes exceeds %d", len(data), MaxProvenanceSize)
	}
	var raw provenanceJSON
	if err := decodeStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: couldn't decode provenance: %w", ErrInvalidAttestation, err)
	}
	if raw.Version != 1 {
		return nil, invalid("provenance version %d, want 1", raw.Version)
	}
	if len(raw.AttestationBundles) == 0 {
		return nil, invalid("provenance has no attestation bundles")
	}
	p := &Provenance{Bundles: make([]AttestationBundle, len(raw.AttestationBundles))}
	for i, rawBundle := range raw.AttestationBundles {
		publisher, err := parsePublisher(rawBundle.Publisher)
		if err != nil {
			return nil, fmt.Errorf("bundle %d: %w", i, err)
		}
		if len(rawBundle.Attestations) == 0 {
			return nil, invalid("bundle %d has no attestations", i)
		}
		bundle := AttestationBundle{Publisher: publisher, Attestations: make([]Attestation, len(rawBundle.Attestations))}
		for j, rawAttestation := range rawBundle.Attestations {
			a, err := parseAttestation(rawAttestation)
			if err != nil {
				return nil, fmt.Errorf("bundle %d attestation %d: %w", i, j, err)
			}
			bundle.Attestations[j] = a
		}
		p.Bundles[i] = bundle
	}
	return p, nil
}

func parsePublisher(raw publisherJSON) (ProvenancePublisher, error) {
	p := ProvenancePublisher{Kind: raw.Kind}
	// Each kind names the fields it may carry, true marking the required
	// ones, as in pypi-attestations' publisher models.
	var allowed map[string]bool
	switch raw.Kind {
	case kindGitHub:
		allowed = map[string]bool{"repository": true, "workflow": true, "environment": false}
	case kindGitLab:
		allowed = map[string]bool{"repository": true, "workflow_filepath": true, "environment": false}
	case kindGoogle:
		allowed = map[string]bool{"email": true}
	default:
		return p, invalid("publisher kind %q, want GitHub, GitLab or Google", raw.Kind)
	}
	fields := []struct {
		name  string
		value *string
		dest  *string
	}{
		{"repository", raw.Repository, &p.Repository},
		{"workflow", raw.Workflow, &p.Workflow},
		{"workflow_filepath", raw.WorkflowFilepath, &p.WorkflowFilepath},
		{"environment", raw.Environment, &p.Environment},
		{"email", raw.Email, &p.Email},
	}
	for _, f := range fields {
		required, ok := allowed[f.name]
		switch {
		case !ok && f.value != nil:
			return p, invalid("%s publisher has unexpected field %s", raw.Kind, f.name)
		case required && (f.value == nil || *f.value == ""):
			return p, invalid("%s publisher has no %s", raw.Kind, f.name)
		case f.value != nil:
			*f.dest = *f.value
		}
	}
	return p, nil
}

func parseAttestation(raw attestationJSON) (Attestation, error) {
	var a Attestation
	if raw.Version != 1 {
		return a, invalid("attestation version %d, want 1", raw.Version)
	}
	var err error
	if a.Statement, err = decodeBase64("envelope.statement", raw.Envelope.Statement); err != nil {
		return a, err
	}
	if a.Signature, err = decodeBase64("envelope.signature", raw.Envelope.Signature); err != nil {
		return a, err
	}
	material := raw.VerificationMaterial
	if a.Certificate, err = decodeBase64("verification_material.certificate", material.Certificate); err != nil {
		return a, err
	}
	if len(material.TransparencyEntries) == 0 {
		return a, invalid("attestation has no transparency log entries")
	}
	for k, rawEntry := range material.TransparencyEntries {
		// The entries already use the protobuf JSON form of Sigstore
		// bundles; protojson rejects unknown fields by default.
		entry := new(rekorv1.TransparencyLogEntry)
		if err := protojson.Unmarshal(rawEntry, entry); err != nil {
			return a, fmt.Errorf("%w: couldn't decode transparency entry %d: %w", ErrInvalidAttestation, k, err)
		}
		a.TransparencyEntries = append(a.TransparencyEntries, entry)
	}
	for k, encoded := range material.Timestamps {
		timestamp, err := decodeBase64(fmt.Sprintf("verification_material.timestamps[%d]", k), encoded)
		if err != nil {
			return a, err
		}
		a.Timestamps = append(a.Timestamps, timestamp)
	}
	return a, nil
}

// strictBase64 rejects non-zero padding bits, so that each value has a
// single encoding.
var strictBase64 = base64.StdEncoding.Strict()

func decodeBase64(field, s string) ([]byte, error) {
	if s == "" {
		return nil, invalid("%s is missing or empty", field)
	}
	// The decoder skips CR and LF; a canonical encoding has none.
	if strings.ContainsAny(s, "\r\n") {
		return nil, invalid("%s contains a line break", field)
	}
	b, err := strictBase64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: couldn't decode %s: %w", ErrInvalidAttestation, field, err)
	}
	return b, nil
}

// decodeStrict decodes one JSON value into v, rejecting unknown fields,
// duplicate object keys (which parsers resolve differently) and trailing
// data.
func decodeStrict(data []byte, v any) error {
	if err := checkNoDuplicateKeys(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// checkNoDuplicateKeys walks every object of the JSON document in data and
// fails if one repeats a key.
func checkNoDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return walkValue(dec)
}

func walkValue(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := make(map[string]bool)
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return err
			}
			key := keyTok.(string) // the decoder only yields string keys
			if seen[key] {
				return fmt.Errorf("duplicate key %q", key)
			}
			seen[key] = true
			if err := walkValue(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token() // the closing brace
		return err
	case json.Delim('['):
		for dec.More() {
			if err := walkValue(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token() // the closing bracket
		return err
	}
	return nil
}
