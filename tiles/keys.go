package tiles

import (
	"crypto/ed25519"

	"golang.org/x/mod/sumdb/note"
)

// VerifierKey returns the note verifier key of a note signer key
// ("PRIVATE+KEY+<name>+<hash>+<base64>"), so that a log needs only its
// private key file to verify what it published.
func VerifierKey(skey string) (string, error) {
	name, priv, err := ed25519SignerKey(skey)
	if err != nil {
		return "", err
	}
	return note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
}
