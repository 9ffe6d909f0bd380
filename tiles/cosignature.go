package tiles

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signed-note key algorithm of a C2SP
// tlog-cosignature cosignature/v1 key: Ed25519 over a timestamped
// statement, not over the note text itself.
const algCosignatureV1 = 0x04

// cosignatureSize is the size of a cosignature/v1 signature after its key
// hash: an 8-byte big-endian timestamp, then the Ed25519 signature.
const cosignatureSize = 8 + ed25519.SignatureSize

// cosignedMessage returns what a cosignature/v1 signs: the statement that
// a witness saw checkpoint (a note text) at time t, in seconds since the
// Unix epoch.
func cosignedMessage(t uint64, checkpoint []byte) []byte {
	return fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, checkpoint)
}

// cosignatureVerifier is a note.Verifier of cosignature/v1 signatures.
type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosignatureVerifier) Name() string    { return v.name }
func (v *cosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify reports whether sig (timestamp || Ed25519 signature) is the
// witness's cosignature of msg, which must be a checkpoint: a witness
// cosigns nothing else.
func (v *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != cosignatureSize {
		return false
	}
	if _, err := ParseCheckpoint(string(msg)); err != nil {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	return ed25519.Verify(v.key, cosignedMessage(t, msg), sig[8:])
}

// NewCosignatureVerifier returns the verifier of a witness's C2SP
// tlog-cosignature (cosignature/v1) key, vkey being
// "<name>+<hash>+<base64(0x04 || Ed25519 public key)>". Give it to
// note.Open with the log's verifier: a cosignature that doesn't verify is
// then an error, as a bad log signature is.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	name, rest, _ := strings.Cut(vkey, "+")
	hash16, key64, _ := strings.Cut(rest, "+")
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.Strict().DecodeString(key64)
	if len(hash16) != 8 || err1 != nil || err2 != nil || !isValidKeyName(name) || len(key) == 0 {
		return nil, malformed("witness key %q: want <name>+<8 hex digits>+<base64 key>", vkey)
	}
	if key[0] != algCosignatureV1 || len(key) != 1+ed25519.PublicKeySize {
		return nil, malformed("witness key %q: not a cosignature/v1 Ed25519 key (algorithm %#x, %d bytes)", vkey, key[0], len(key)-1)
	}
	if uint32(hash) != keyHash(name, key) {
		return nil, malformed("witness key %q: key hash %s does not match the key", vkey, hash16)
	}
	return &cosignatureVerifier{name: name, hash: uint32(hash), key: ed25519.PublicKey(key[1:])}, nil
}

// NewCosignatureVerifiers returns the verifiers of the witnesses of vkeys
// (see NewCosignatureVerifier), which must have distinct names: two keys
// of one name would let one witness count twice toward a quorum.
func NewCosignatureVerifiers(vkeys []string) ([]note.Verifier, error) {
	verifiers := make([]note.Verifier, len(vkeys))
	names := map[string]bool{}
	for i, vkey := range vkeys {
		v, err := NewCosignatureVerifier(vkey)
		if err != nil {
			return nil, err
		}
		if names[v.Name()] {
			return nil, fmt.Errorf("two witness keys named %s: one witness can't count twice toward the quorum", v.Name())
		}
		names[v.Name()] = true
		verifiers[i] = v
	}
	return verifiers, nil
}

// IsCosignatureKey reports whether vkey is a cosignature/v1 verifier key
// (as opposed to a log's note key, or garbage).
func IsCosignatureKey(vkey string) bool {
	_, err := NewCosignatureVerifier(vkey)
	return err == nil
}

// CosignatureVerifierKey returns the cosignature/v1 verifier key of a
// witness whose private key is skey, a note Ed25519 signer key
// ("PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>") as `pysumdb keygen`
// writes it: the same Ed25519 key, named the same, with the cosignature
// algorithm's key hash.
func CosignatureVerifierKey(skey string) (string, error) {
	name, priv, err := ed25519SignerKey(skey)
	if err != nil {
		return "", err
	}
	key := append([]byte{algCosignatureV1}, priv.Public().(ed25519.PublicKey)...)
	return fmt.Sprintf("%s+%08x+%s", name, keyHash(name, key), base64.StdEncoding.EncodeToString(key)), nil
}

// cosigner is a note.Signer of cosignature/v1 signatures.
type cosigner struct {
	cosignatureVerifier
	priv ed25519.PrivateKey
	now  func() time.Time
}

// Sign cosigns msg, which must be a checkpoint, at the current time.
func (s *cosigner) Sign(msg []byte) ([]byte, error) {
	if _, err := ParseCheckpoint(string(msg)); err != nil {
		return nil, fmt.Errorf("a witness cosigns only checkpoints: %w", err)
	}
	now := s.now().Unix()
	if now < 0 {
		return nil, fmt.Errorf("clock before 1970: %d", now)
	}
	t := uint64(now)
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, cosignatureSize), t)
	return append(sig, ed25519.Sign(s.priv, cosignedMessage(t, msg))...), nil
}

// NewCosigner returns a signer of cosignature/v1 signatures by the witness
// whose private key is skey (see CosignatureVerifierKey), stamped with
// now() (time.Now if nil). Use it with note.Sign on a checkpoint's note
// text, and append the signature line to the log's signed checkpoint.
func NewCosigner(skey string, now func() time.Time) (note.Signer, error) {
	name, priv, err := ed25519SignerKey(skey)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	key := append([]byte{algCosignatureV1}, priv.Public().(ed25519.PublicKey)...)
	return &cosigner{
		cosignatureVerifier: cosignatureVerifier{name: name, hash: keyHash(name, key), key: ed25519.PublicKey(key[1:])},
		priv:                priv,
		now:                 now,
	}, nil
}

// CosignatureTime returns when a witness made a cosignature, in seconds
// since the Unix epoch, from the signature's bytes as note.Signature holds
// them (base64 of key hash || timestamp || signature). It does not verify
// it.
func CosignatureTime(sig note.Signature) (int64, error) {
	raw, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(raw) != 4+cosignatureSize {
		return 0, malformed("cosignature of %s", sig.Name)
	}
	t := binary.BigEndian.Uint64(raw[4:])
	if t > 1<<62 {
		return 0, malformed("cosignature of %s: time %d", sig.Name, t)
	}
	return int64(t), nil
}

// ed25519SignerKey parses a note Ed25519 signer key.
func ed25519SignerKey(skey string) (string, ed25519.PrivateKey, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return "", nil, fmt.Errorf("couldn't parse the private key: %w", err)
	}
	// The key data is everything after the fourth "+": base64 may hold
	// "+" too. note.NewSigner accepted it, so it is algorithm byte 1
	// (Ed25519) and a 32-byte seed.
	f := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(f[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return "", nil, malformed("signer key")
	}
	return signer.Name(), ed25519.NewKeyFromSeed(raw[1:]), nil
}

// keyHash is the signed-note key hash: the first four bytes of
// SHA-256(name || "\n" || algorithm || public key).
func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// isValidKeyName reports whether name can name a note key: non-empty,
// valid UTF-8, without spaces or '+'.
func isValidKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}
