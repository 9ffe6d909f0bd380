package tiles

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// VerifierKey returns the note verifier key of a note signer key
// ("PRIVATE+KEY+<name>+<hash>+<base64>"), so that a log needs only its
// private key file to verify what it published.
func VerifierKey(skey string) (string, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return "", err
	}
	// The key data is everything after the fourth "+": base64 may hold
	// "+" too.
	f := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(f[4])
	// note.NewSigner accepted it, so it is algorithm byte 1 (Ed25519) and
	// a 32-byte seed.
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return "", malformed("signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(signer.Name(), pub)
}
