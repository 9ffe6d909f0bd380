package witnesstest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

func TestLitewitness(t *testing.T) { testWitness(t, StartLitewitness) }

func TestOmniwitness(t *testing.T) { testWitness(t, StartOmniwitness) }

// testWitness runs a witness through the C2SP tlog-witness protocol: a
// first checkpoint (old 0), a second with a consistency proof, refusals
// (stale old size, bad proof), and a restart that keeps its state.
func testWitness(t *testing.T, start func(testing.TB, string) *Witness) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "witnesstest.invalid/log")
	if err != nil {
		t.Fatal(err)
	}
	logSigner, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	logVerifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	tree := newTree(t, 20)

	w := start(t, vkey)
	if !strings.HasPrefix(w.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want http://127.0.0.1:PORT", w.URL)
	}
	if !strings.HasPrefix(w.VKey, w.Name+"+") {
		t.Errorf("VKey %q is not named %q", w.VKey, w.Name)
	}

	// The first checkpoint: old 0, no proof.
	body3, signed3 := tree.checkpoint(t, logSigner, 3)
	status, resp := addCheckpoint(t, w, 0, nil, signed3)
	if status != http.StatusOK {
		t.Fatalf("add-checkpoint old 0, size 3: %d %q", status, resp)
	}
	checkCosignature(t, w, body3, resp, logVerifier, signed3)

	// The next, with the consistency proof from 3.
	body7, signed7 := tree.checkpoint(t, logSigner, 7)
	status, resp = addCheckpoint(t, w, 3, tree.proof(t, 7, 3), signed7)
	if status != http.StatusOK {
		t.Fatalf("add-checkpoint old 3, size 7: %d %q", status, resp)
	}
	checkCosignature(t, w, body7, resp, logVerifier, signed7)

	// A stale old size: 409 and the size the witness is at.
	checkConflict(t, w, signed7, 7)

	// A proof that doesn't prove consistency: 422.
	_, signed9 := tree.checkpoint(t, logSigner, 9)
	bad := tree.proof(t, 9, 7)
	bad[0][0] ^= 1
	if status, resp := addCheckpoint(t, w, 7, bad, signed9); status != http.StatusUnprocessableEntity {
		t.Errorf("add-checkpoint with a bad proof: %d %q, want 422", status, resp)
	}

	// Down, then back up with its state: it is still at 7, and cosigns
	// with the same key.
	w.Stop()
	if _, err := http.Get(w.URL + "/"); err == nil {
		t.Errorf("%s answers after Stop", w.Name)
	}
	w.Stop() // does nothing
	w.Restart()
	checkConflict(t, w, signed7, 7)
	body12, signed12 := tree.checkpoint(t, logSigner, 12)
	status, resp = addCheckpoint(t, w, 7, tree.proof(t, 12, 7), signed12)
	if status != http.StatusOK {
		t.Fatalf("add-checkpoint old 7, size 12, after restart: %d %q", status, resp)
	}
	checkCosignature(t, w, body12, resp, logVerifier, signed12)
	w.Restart() // while running: stop, then start
	checkConflict(t, w, signed12, 12)
}

// tree is a Merkle tree (RFC 6962, as golang.org/x/mod/sumdb/tlog builds
// it) of a few leaves.
type tree struct {
	origin string
	hashes []tlog.Hash // stored hashes, by tlog.StoredHashIndex
}

func newTree(t *testing.T, n int64) *tree {
	tr := &tree{origin: "witnesstest.invalid/log"}
	for i := range n {
		hs, err := tlog.StoredHashes(i, fmt.Appendf(nil, "leaf %d", i), tr)
		if err != nil {
			t.Fatal(err)
		}
		tr.hashes = append(tr.hashes, hs...)
	}
	return tr
}

func (tr *tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(tr.hashes)) {
			return nil, errors.New("no such hash")
		}
		out[i] = tr.hashes[x]
	}
	return out, nil
}

// checkpoint returns the checkpoint body of the tree's first n leaves, and
// it signed by the log.
func (tr *tree) checkpoint(t *testing.T, signer note.Signer, n int64) (body string, signed []byte) {
	t.Helper()
	root, err := tlog.TreeHash(n, tr)
	if err != nil {
		t.Fatal(err)
	}
	body = fmt.Sprintf("%s\n%d\n%s\n", tr.origin, n, base64.StdEncoding.EncodeToString(root[:]))
	signed, err = note.Sign(&note.Note{Text: body}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return body, signed
}

// proof returns the consistency proof of the tree's first n leaves with
// its first old ones.
func (tr *tree) proof(t *testing.T, n, old int64) tlog.TreeProof {
	t.Helper()
	p, err := tlog.ProveTree(n, old, tr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// addCheckpoint sends w an add-checkpoint request (C2SP tlog-witness) and
// returns the response's status and body.
func addCheckpoint(t *testing.T, w *Witness, old int64, proof tlog.TreeProof, signed []byte) (int, string) {
	t.Helper()
	var req bytes.Buffer
	fmt.Fprintf(&req, "old %d\n", old)
	for _, h := range proof {
		fmt.Fprintf(&req, "%s\n", base64.StdEncoding.EncodeToString(h[:]))
	}
	req.WriteString("\n")
	req.Write(signed)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post(w.URL+"/add-checkpoint", "", &req)
	if err != nil {
		t.Fatalf("add-checkpoint to %s: %v", w.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("add-checkpoint to %s: %v", w.Name, err)
	}
	return resp.StatusCode, string(b)
}

// checkConflict checks that w refuses signed from old 0 with a 409 that
// says it is at size.
func checkConflict(t *testing.T, w *Witness, signed []byte, size int64) {
	t.Helper()
	status, resp := addCheckpoint(t, w, 0, nil, signed)
	if status != http.StatusConflict || resp != fmt.Sprintf("%d\n", size) {
		t.Errorf("add-checkpoint old 0 to a witness at %d: %d %q, want 409 %q", size, status, resp, fmt.Sprintf("%d\n", size))
	}
}

// checkCosignature checks that resp, a witness's answer to add-checkpoint,
// is one cosignature line of w on body: with the verifier below, written
// from C2SP tlog-cosignature, and with tiles' verifier through note.Open.
func checkCosignature(t *testing.T, w *Witness, body, resp string, logVerifier note.Verifier, signed []byte) {
	t.Helper()
	if !strings.HasSuffix(resp, "\n") || strings.Count(resp, "\n") != 1 {
		t.Fatalf("%s's response is not one line: %q", w.Name, resp)
	}
	ts, err := verifyCosignature(w.VKey, body, strings.TrimSuffix(resp, "\n"))
	if err != nil {
		t.Fatalf("%s's cosignature %q: %v", w.Name, resp, err)
	}
	if d := time.Since(time.Unix(int64(ts), 0)); d < -time.Minute || d > time.Hour {
		t.Errorf("%s's cosignature time %d is %v from now", w.Name, ts, d)
	}

	v, err := tiles.NewCosignatureVerifier(w.VKey)
	if err != nil {
		t.Fatalf("tiles.NewCosignatureVerifier(%q): %v", w.VKey, err)
	}
	n, err := note.Open(append(bytes.Clone(signed), resp...), note.VerifierList(logVerifier, v))
	if err != nil {
		t.Fatalf("note.Open of the cosigned checkpoint: %v", err)
	}
	if len(n.Sigs) != 2 || n.Sigs[1].Name != w.Name {
		t.Errorf("note.Open: verified %+v, want the log's and %s's", n.Sigs, w.Name)
	}
}

// verifyCosignature verifies a cosignature/v1 signature line ("— name
// base64(sig)") of the checkpoint body by the witness of vkey, and returns
// its timestamp. The key is "<name>+<hash>+<base64(0x04 || pub)>", the hash
// the first 4 bytes of SHA-256(name || "\n" || 0x04 || pub); the signature
// is hash(4) || timestamp(8, big-endian) || Ed25519 signature(64) of
// "cosignature/v1\ntime <timestamp>\n" || body.
func verifyCosignature(vkey, body, line string) (uint64, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return 0, fmt.Errorf("malformed key %q", vkey)
	}
	name, hashHex := parts[0], parts[1]
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != 0x04 {
		return 0, fmt.Errorf("key %q is not a cosignature/v1 key", vkey)
	}
	keyHash := sha256.Sum256(append([]byte(name+"\n"), key...))
	if hex.EncodeToString(keyHash[:4]) != hashHex {
		return 0, fmt.Errorf("key %q: hash %s, want %x", vkey, hashHex, keyHash[:4])
	}

	rest, ok := strings.CutPrefix(line, "\u2014 ")
	if !ok {
		return 0, fmt.Errorf("not a signature line")
	}
	sigName, sig64, ok := strings.Cut(rest, " ")
	if !ok || sigName != name {
		return 0, fmt.Errorf("signed by %q, want %q", sigName, name)
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil || len(sig) != 4+8+ed25519.SignatureSize {
		return 0, fmt.Errorf("malformed signature (%d bytes, %v)", len(sig), err)
	}
	if !bytes.Equal(sig[:4], keyHash[:4]) {
		return 0, fmt.Errorf("signature key hash %x, want %x", sig[:4], keyHash[:4])
	}
	ts := binary.BigEndian.Uint64(sig[4:12])
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, body)
	if !ed25519.Verify(ed25519.PublicKey(key[1:]), []byte(msg), sig[12:]) {
		return 0, errors.New("signature does not verify")
	}
	return ts, nil
}
