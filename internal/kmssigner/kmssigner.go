// Package kmssigner signs notes (golang.org/x/mod/sumdb/note) with an
// Ed25519 key held by Google Cloud KMS: the private key never leaves KMS,
// and the process that signs holds only the right to ask for signatures.
//
// A Signer reads the key version's public key once (GetPublicKey), checks
// that it is an EC_SIGN_ED25519 key, and names it as note does: the
// verifier key is "<name>+<hash>+<base64(0x01 || public key)>", so a
// checkpoint signed through KMS verifies with note.NewVerifier like one
// signed with a key file. Each Sign is one AsymmetricSign call with the
// message itself as its data (KMS signs Ed25519 as PureEdDSA, RFC 8032,
// which is what note signs), and the signature KMS returns is verified
// with the public key before Sign returns it: a signature that does not
// verify is an error, never a signature.
//
// Every response is checked as Google asks of its clients: the CRC32C of
// the public key's PEM and of the signature against the checksums KMS
// sends, KMS's word that it received the data with the checksum sent
// (verified_data_crc32c), and the key version named in the response. A
// checksum that does not match is retried a few times, then an error.
package kmssigner

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Client is what a Signer asks of Cloud KMS; *kms.KeyManagementClient
// has these methods.
type Client interface {
	GetPublicKey(ctx context.Context, req *kmspb.GetPublicKeyRequest, opts ...gax.CallOption) (*kmspb.PublicKey, error)
	AsymmetricSign(ctx context.Context, req *kmspb.AsymmetricSignRequest, opts ...gax.CallOption) (*kmspb.AsymmetricSignResponse, error)
}

var _ Client = (*kms.KeyManagementClient)(nil)

var (
	// ErrIntegrity reports a response whose checksums say it was damaged
	// on the way (after IntegrityAttempts tries, for a signature).
	ErrIntegrity = errors.New("kms: response failed its integrity check")
	// ErrNotEd25519 reports a key version that is not an Ed25519 signing
	// key.
	ErrNotEd25519 = errors.New("kms: not an EC_SIGN_ED25519 key")
	// ErrBadSignature reports a signature from KMS that does not verify
	// with the key version's public key. It is never returned as a
	// signature.
	ErrBadSignature = errors.New("kms: signature does not verify with the key version's public key")
	// ErrWrongKey reports a response about another key version than the
	// one asked for.
	ErrWrongKey = errors.New("kms: response names another key version")
)

// DefaultTimeout bounds one Sign, retries included, when Signer.Timeout
// is 0.
const DefaultTimeout = 30 * time.Second

// IntegrityAttempts is how many times Sign asks for a signature whose
// response fails its checksums before it gives up.
const IntegrityAttempts = 3

// retry retries the errors Google documents as transient for KMS (the
// client retries UNAVAILABLE and DEADLINE_EXCEEDED by default; quota
// errors, RESOURCE_EXHAUSTED, are enforced per second and pass the next
// second), within the call's deadline.
var retry = gax.WithRetry(func() gax.Retryer {
	return gax.OnCodes([]codes.Code{codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted},
		gax.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2})
})

// Signer is a note.Signer whose key is a Cloud KMS key version.
type Signer struct {
	// Timeout bounds each Sign (note.Signer's Sign has no context); 0
	// means DefaultTimeout. Set it before the first Sign.
	Timeout time.Duration

	client     Client
	version    string
	name       string
	hash       uint32
	vkey       string
	pub        ed25519.PublicKey
	protection kmspb.ProtectionLevel
}

var _ note.Signer = (*Signer)(nil)

// New returns a signer for the key version named keyVersion
// ("projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N")
// whose note key name is name (a log's origin). It reads the public key
// under ctx, once.
func New(ctx context.Context, client Client, keyVersion, name string) (*Signer, error) {
	if err := CheckKeyVersion(keyVersion); err != nil {
		return nil, err
	}
	pk, err := client.GetPublicKey(ctx, &kmspb.GetPublicKeyRequest{Name: keyVersion}, retry)
	if err != nil {
		return nil, fmt.Errorf("kms: couldn't read the public key of %s: %w%s", keyVersion, err, hint(err))
	}
	if pk.GetName() != keyVersion {
		return nil, fmt.Errorf("%w: asked for the public key of %s, got that of %q", ErrWrongKey, keyVersion, pk.GetName())
	}
	if pk.GetPemCrc32C() == nil || int64(crc32c([]byte(pk.GetPem()))) != pk.GetPemCrc32C().GetValue() {
		return nil, fmt.Errorf("%w: the public key of %s does not match its CRC32C checksum", ErrIntegrity, keyVersion)
	}
	if alg := pk.GetAlgorithm(); alg != kmspb.CryptoKeyVersion_EC_SIGN_ED25519 {
		return nil, fmt.Errorf("%w: %s is an %s key; create the key with --default-algorithm ec-sign-ed25519", ErrNotEd25519, keyVersion, alg)
	}
	pub, err := parsePEM(pk.GetPem())
	if err != nil {
		return nil, fmt.Errorf("%w: the public key of %s: %w", ErrNotEd25519, keyVersion, err)
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("kms: %q can't name a note key: %w", name, err)
	}
	return &Signer{client: client, version: keyVersion, name: name, hash: v.KeyHash(), vkey: vkey, pub: pub,
		protection: pk.GetProtectionLevel()}, nil
}

// parsePEM returns the Ed25519 public key of a PEM "PUBLIC KEY" block
// (SubjectPublicKeyInfo, RFC 8410) with nothing after it.
func parsePEM(text string) (ed25519.PublicKey, error) {
	block, rest := pem.Decode([]byte(text))
	if block == nil || block.Type != "PUBLIC KEY" || strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("not one PEM PUBLIC KEY block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the PEM holds a %T, not an Ed25519 key", key)
	}
	return pub, nil
}

// Name returns the note key name (the log's origin).
func (s *Signer) Name() string { return s.name }

// KeyHash returns the note key hash.
func (s *Signer) KeyHash() uint32 { return s.hash }

// VerifierKey returns the note verifier key of the key version, as
// `pysumdb keygen` prints it: what clients pin.
func (s *Signer) VerifierKey() string { return s.vkey }

// KeyVersion returns the resource name of the KMS key version.
func (s *Signer) KeyVersion() string { return s.version }

// ProtectionLevel returns where KMS keeps the key (SOFTWARE, HSM, ...).
func (s *Signer) ProtectionLevel() string { return s.protection.String() }

// Sign returns the Ed25519 signature of msg made by KMS, verified with
// the key version's public key, within s.Timeout.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.SignContext(ctx, msg)
}

// SignContext is Sign under ctx (and not s.Timeout).
func (s *Signer) SignContext(ctx context.Context, msg []byte) ([]byte, error) {
	var err error
	for range IntegrityAttempts {
		var sig []byte
		if sig, err = s.signOnce(ctx, msg); !errors.Is(err, ErrIntegrity) || ctx.Err() != nil {
			return sig, err
		}
	}
	return nil, fmt.Errorf("%w (%d attempts)", err, IntegrityAttempts)
}

func (s *Signer) signOnce(ctx context.Context, msg []byte) ([]byte, error) {
	resp, err := s.client.AsymmetricSign(ctx, &kmspb.AsymmetricSignRequest{
		Name:       s.version,
		Data:       msg,
		DataCrc32C: wrapperspb.Int64(int64(crc32c(msg))),
	}, retry)
	if err != nil {
		return nil, fmt.Errorf("kms: couldn't sign with %s: %w%s", s.version, err, hint(err))
	}
	if resp.GetName() != s.version {
		return nil, fmt.Errorf("%w: asked %s to sign, %q answered", ErrWrongKey, s.version, resp.GetName())
	}
	if !resp.GetVerifiedDataCrc32C() {
		return nil, fmt.Errorf("%w: KMS did not check the data it signed against its CRC32C checksum", ErrIntegrity)
	}
	sig := resp.GetSignature()
	if resp.GetSignatureCrc32C() == nil || int64(crc32c(sig)) != resp.GetSignatureCrc32C().GetValue() {
		return nil, fmt.Errorf("%w: the signature does not match its CRC32C checksum", ErrIntegrity)
	}
	if !ed25519.Verify(s.pub, msg, sig) {
		return nil, fmt.Errorf("%w (%s)", ErrBadSignature, s.version)
	}
	return sig, nil
}

// hint says what to do about an error of KMS, if something can be said.
func hint(err error) string {
	switch {
	case status.Code(err) == codes.PermissionDenied:
		return " (the credentials need the role roles/cloudkms.signerVerifier on the key)"
	case errors.Is(err, context.DeadlineExceeded):
		return " (KMS did not answer in time: is it reachable?)"
	}
	return ""
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(data []byte) uint32 { return crc32.Checksum(data, castagnoli) }
