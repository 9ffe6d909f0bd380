package tiles

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// witnessTime is the time the test witnesses cosign at.
var witnessTime = time.Unix(1_790_000_000, 0)

func newWitness(t testing.TB, name string) (note.Signer, note.Verifier, string) {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := NewCosigner(skey, func() time.Time { return witnessTime })
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := CosignatureVerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatalf("NewCosignatureVerifier(%q): %v", vkey, err)
	}
	return signer, verifier, vkey
}

// cosigned returns a checkpoint of testOrigin signed by the log and
// cosigned by each witness.
func cosigned(t testing.TB, log note.Signer, witnesses ...note.Signer) []byte {
	t.Helper()
	signed, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: 7, Hash: testHash}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(witnesses) == 0 {
		return signed
	}
	n, err := note.Open(signed, note.VerifierList(log.(interface{ Verifier() note.Verifier }).Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	out, err := note.Sign(n, witnesses...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// logKey returns a log signer that can also give its verifier.
type logKey struct {
	note.Signer
	v note.Verifier
}

func (k logKey) Verifier() note.Verifier { return k.v }

func newLogKey(t testing.TB) logKey {
	s, v, _ := newKey(t, testOrigin)
	return logKey{s, v}
}

func TestCosignatureRoundTrip(t *testing.T) {
	log := newLogKey(t)
	w1, v1, _ := newWitness(t, "witness1.example")
	w2, v2, _ := newWitness(t, "witness2.example")
	msg := cosigned(t, log, w1, w2)
	n, err := note.Open(msg, note.VerifierList(log.v, v1, v2))
	if err != nil {
		t.Fatalf("note.Open: %v\n%s", err, msg)
	}
	if len(n.Sigs) != 3 {
		t.Fatalf("%d verified signatures, want 3 (log and two witnesses)", len(n.Sigs))
	}
	for _, sig := range n.Sigs[1:] {
		got, err := CosignatureTime(sig)
		if err != nil || got != witnessTime.Unix() {
			t.Errorf("CosignatureTime(%s) = %d, %v; want %d", sig.Name, got, err, witnessTime.Unix())
		}
	}
	if v1.KeyHash() != w1.KeyHash() || v1.Name() != w1.Name() {
		t.Fatalf("witness signer and verifier disagree: %s %08x, %s %08x", w1.Name(), w1.KeyHash(), v1.Name(), v1.KeyHash())
	}
	// Without the witnesses' keys, their cosignatures are only unknown.
	if n, err := note.Open(msg, note.VerifierList(log.v)); err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 2 {
		t.Fatalf("note.Open with the log's key only: %v", err)
	}
}

// TestCosignatureSignedMessage checks the bytes a cosignature signs
// against the C2SP tlog-cosignature spec, by verifying it with a plain
// Ed25519 verification of the spec's message.
func TestCosignatureSignedMessage(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	seed := priv.Seed()
	// A note signer key's hash is that of its Ed25519 (algorithm 1) key.
	h := sha256.Sum256(append([]byte("w.example\n\x01"), pub...))
	skey := fmt.Sprintf("PRIVATE+KEY+w.example+%08x+%s", binary.BigEndian.Uint32(h[:]), base64.StdEncoding.EncodeToString(append([]byte{1}, seed...)))
	signer, err := NewCosigner(skey, func() time.Time { return witnessTime })
	if err != nil {
		t.Fatal(err)
	}
	checkpoint := FormatCheckpoint(Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: 7, Hash: testHash}})
	sig, err := signer.Sign(checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 72 || binary.BigEndian.Uint64(sig) != uint64(witnessTime.Unix()) {
		t.Fatalf("signature %x: want 8-byte timestamp %d then 64 bytes", sig, witnessTime.Unix())
	}
	want := fmt.Sprintf("cosignature/v1\ntime %d\n%s", witnessTime.Unix(), checkpoint)
	if !ed25519.Verify(pub, []byte(want), sig[8:]) {
		t.Fatalf("the signature is not over %q", want)
	}
	kh := sha256.Sum256(append([]byte("w.example\n\x04"), pub...))
	if got, want := signer.KeyHash(), binary.BigEndian.Uint32(kh[:]); got != want {
		t.Fatalf("key hash %08x, want %08x (SHA-256 of name, newline, 0x04, key)", got, want)
	}
	vkey, err := CosignatureVerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	// A witness cosigns checkpoints only: a cosignature of anything else,
	// even well signed, is not one.
	v, err := NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	notCheckpoint := []byte("hello\n")
	forged := binary.BigEndian.AppendUint64(nil, 5)
	forged = append(forged, ed25519.Sign(priv, []byte("cosignature/v1\ntime 5\nhello\n"))...)
	if v.Verify(notCheckpoint, forged) {
		t.Error("a cosignature of a message that is not a checkpoint verifies")
	}
	if !v.Verify(checkpoint, sig) {
		t.Error("the cosignature doesn't verify")
	}
	if want := fmt.Sprintf("w.example+%08x+%s", binary.BigEndian.Uint32(kh[:]), base64.StdEncoding.EncodeToString(append([]byte{4}, pub...))); vkey != want {
		t.Fatalf("vkey %s, want %s", vkey, want)
	}
}

func TestCosignatureRejects(t *testing.T) {
	log := newLogKey(t)
	w, v, vkey := newWitness(t, "witness.example")
	checkpoint := FormatCheckpoint(Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: 7, Hash: testHash}})
	sig, err := w.Sign(checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verify(checkpoint, sig) {
		t.Fatal("a good cosignature doesn't verify")
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), sig...)
		b[i] ^= 1
		return b
	}
	other := FormatCheckpoint(Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: 8, Hash: testHash}})
	bad := map[string]struct {
		msg, sig []byte
	}{
		"another checkpoint":     {other, sig},
		"time changed":           {checkpoint, flip(7)},
		"signature changed":      {checkpoint, flip(71)},
		"one byte short":         {checkpoint, sig[:71]},
		"one byte long":          {checkpoint, append(append([]byte(nil), sig...), 0)},
		"no time":                {checkpoint, sig[8:]},
		"not a checkpoint":       {[]byte("hello\n"), sig},
		"checkpoint with a line": {append(append([]byte(nil), checkpoint...), "extra\n"...), sig},
	}
	for name, tt := range bad {
		if v.Verify(tt.msg, tt.sig) {
			t.Errorf("%s: verifies", name)
		}
	}
	if _, err := w.Sign([]byte("not a checkpoint\n")); err == nil {
		t.Error("the cosigner signed something that is not a checkpoint")
	}

	// In a note, a cosignature that doesn't verify is an error, as a bad
	// log signature is.
	msg := cosigned(t, log, w)
	i := strings.LastIndex(string(msg), " ") + 1
	tampered := []byte(string(msg[:i]) + base64.StdEncoding.EncodeToString(append(mustDecode(t, string(msg[i:len(msg)-1]))[:4], flip(20)...)) + "\n")
	_, err = note.Open(tampered, note.VerifierList(log.v, v))
	var invalid *note.InvalidSignatureError
	if !errors.As(err, &invalid) || invalid.Name != "witness.example" {
		t.Fatalf("note.Open of a tampered cosignature: %v, want an InvalidSignatureError of witness.example", err)
	}
	// The witness's key given as the log's (algorithm 1) doesn't verify
	// its cosignatures.
	if _, err := note.NewVerifier(vkey); err == nil {
		t.Error("x/mod's note took a cosignature key as an Ed25519 note key")
	}
}

func mustDecode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewCosignatureVerifierRejects(t *testing.T) {
	_, _, vkey := newWitness(t, "witness.example")
	_, logVKey, err := note.GenerateKey(rand.Reader, "log.example")
	if err != nil {
		t.Fatal(err)
	}
	name, rest, _ := strings.Cut(vkey, "+")
	hash, key, _ := strings.Cut(rest, "+")
	raw := mustDecode(t, key)
	for _, bad := range []string{
		"",
		logVKey, // a log's Ed25519 note key (algorithm 1)
		name + "+" + hash,
		name + "+00000000+" + key, // wrong key hash
		name + "x+" + hash + "+" + key,
		"+" + hash + "+" + key,
		"with space+" + hash + "+" + key,
		name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(raw[:32]), // one byte short
		name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append(raw, 0)),
		name + "+" + hash + "+" + key + "=",
	} {
		if _, err := NewCosignatureVerifier(bad); err == nil {
			t.Errorf("NewCosignatureVerifier(%q) accepted", bad)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("NewCosignatureVerifier(%q): %v, want ErrMalformed", bad, err)
		}
	}
	if !IsCosignatureKey(vkey) || IsCosignatureKey(logVKey) {
		t.Error("IsCosignatureKey")
	}
}

func FuzzNewCosignatureVerifier(f *testing.F) {
	_, _, vkey := newWitness(f, "witness.example")
	f.Add(vkey)
	f.Add("a+00000000+BA==")
	f.Fuzz(func(t *testing.T, vkey string) {
		v, err := NewCosignatureVerifier(vkey)
		if err != nil {
			return
		}
		if !strings.HasPrefix(vkey, v.Name()+"+") {
			t.Fatalf("name %q is not the key's", v.Name())
		}
		v.Verify([]byte("x\n1\n"+testHashBase64+"\n"), make([]byte, 72))
	})
}

func TestOpenCheckpointWithWitnesses(t *testing.T) {
	log := newLogKey(t)
	w, v, _ := newWitness(t, "witness.example")
	_, other, _ := newWitness(t, "other.example")
	msg := cosigned(t, log, w)
	c, n, err := OpenCheckpoint(msg, log.v, v, other)
	if err != nil {
		t.Fatal(err)
	}
	if c.N != 7 || len(n.Sigs) != 2 || n.Sigs[1].Name != "witness.example" {
		t.Fatalf("OpenCheckpoint = %+v, sigs %+v", c, n.Sigs)
	}

	// Only the witness's cosignature, no log signature: the witness's key
	// must not stand in for the log's.
	text := FormatCheckpoint(Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: 7, Hash: testHash}})
	onlyWitness, err := note.Sign(&note.Note{Text: string(text)}, w)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenCheckpoint(onlyWitness, log.v, v); err == nil || !strings.Contains(err.Error(), "not signed by the log's key") {
		t.Fatalf("a checkpoint signed by a witness only: %v, want refused", err)
	}
	// A log signature by another key of the same name is no signature.
	impostor := newLogKey(t)
	if _, _, err := OpenCheckpoint(cosigned(t, impostor, w), log.v, v); err == nil {
		t.Fatal("a checkpoint signed by another key of the log's name verified")
	}
}
