package clienttest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// Witness is a witness's cosignature key, for tests that need
// cosignatures without a witness server.
type Witness struct {
	// Signer cosigns checkpoints (cosignature/v1).
	Signer note.Signer
	// SKey is the private key; VKey the cosignature verifier key.
	SKey, VKey string
}

// NewWitness returns a new witness key named name.
func NewWitness(t testing.TB, name string) Witness {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tiles.NewCosigner(skey, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := tiles.CosignatureVerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return Witness{Signer: signer, SKey: skey, VKey: vkey}
}

// Cosign returns the signed checkpoint with the cosignatures of witnesses
// added.
func Cosign(t testing.TB, signed []byte, witnesses ...Witness) []byte {
	t.Helper()
	_, err := note.Open(signed, note.VerifierList())
	if err == nil {
		t.Fatal("a checkpoint verified without keys")
	}
	unverified, ok := err.(*note.UnverifiedNoteError)
	if !ok {
		t.Fatalf("checkpoint: %v", err)
	}
	n := unverified.Note
	// Keep the signatures it has, in order, and add the witnesses'.
	n.Sigs, n.UnverifiedSigs = n.UnverifiedSigs, nil
	signers := make([]note.Signer, len(witnesses))
	for i, w := range witnesses {
		signers[i] = w.Signer
	}
	out, err := note.Sign(n, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// CosignCheckpoint replaces the checkpoint of the log in store by itself
// cosigned by witnesses, as the sequencer publishes it.
func CosignCheckpoint(t testing.TB, store publish.Store, witnesses ...Witness) []byte {
	t.Helper()
	signed, _, err := store.Read(context.Background(), tiles.CheckpointKey)
	if err != nil {
		t.Fatal(err)
	}
	cosigned := Cosign(t, signed, witnesses...)
	Put(t, store, tiles.CheckpointKey, cosigned)
	return cosigned
}
