package witness

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/internal/syncbuf"
	"github.com/pysumdb/pysumdb/tiles"
)

// testLog is an in-memory Merkle log with a signing key.
type testLog struct {
	origin string
	signer note.Signer
	vkey   string
	hashes []tlog.Hash // stored hashes
	n      int64
}

func newTestLog(t testing.TB, origin string) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{origin: origin, signer: signer, vkey: vkey}
}

// fork returns a copy of l sharing its first l.n leaves, signed by the
// same key, that grows on its own from there.
func (l *testLog) fork() *testLog {
	c := *l
	c.hashes = append([]tlog.Hash(nil), l.hashes...)
	return &c
}

func (l *testLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

// grow appends k leaves tagged with tag (so forks differ).
func (l *testLog) grow(t testing.TB, k int, tag string) {
	t.Helper()
	for range k {
		hs, err := tlog.StoredHashes(l.n, fmt.Appendf(nil, "%s leaf %d", tag, l.n), l)
		if err != nil {
			t.Fatal(err)
		}
		l.hashes = append(l.hashes, hs...)
		l.n++
	}
}

func (l *testLog) tree(t testing.TB) tlog.Tree {
	t.Helper()
	h, err := tlog.TreeHash(l.n, l)
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Tree{N: l.n, Hash: h}
}

// checkpoint returns the log's signed checkpoint at its current size.
func (l *testLog) checkpoint(t testing.TB) []byte {
	t.Helper()
	msg, err := tiles.SignCheckpoint(tiles.Checkpoint{Origin: l.origin, Tree: l.tree(t)}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// proof returns the consistency proof from size old to the current size.
func (l *testLog) proof(t testing.TB, old int64) tlog.TreeProof {
	t.Helper()
	if old == 0 || old == l.n {
		return nil
	}
	p, err := tlog.ProveTree(l.n, old, l)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// request returns the add-checkpoint body from old to the current size.
func (l *testLog) request(t testing.TB, old int64) []byte {
	return FormatAddCheckpoint(old, l.proof(t, old), l.checkpoint(t))
}

// fixture is a witness of one or more test logs in a temporary state
// directory.
type fixture struct {
	t       testing.TB
	skey    string
	dir     string
	logs    []*testLog
	w       *Witness
	logBuf  *syncbuf.Buffer
	cosigV  note.Verifier
	clockAt time.Time
}

func newFixture(t testing.TB, logs ...*testLog) *fixture {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, "witness.test/w1")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, skey: skey, dir: t.TempDir(), logs: logs, logBuf: &syncbuf.Buffer{}, clockAt: time.Unix(1700000000, 0)}
	f.open()
	vkey, err := tiles.CosignatureVerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	if vkey != f.w.VerifierKey() {
		t.Fatalf("VerifierKey() = %q, want %q", f.w.VerifierKey(), vkey)
	}
	f.cosigV, err = tiles.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) config() Config {
	cfg := Config{
		Key:      f.skey,
		StateDir: f.dir,
		Logger:   slog.New(slog.NewTextHandler(f.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      func() time.Time { return f.clockAt },
	}
	for _, l := range f.logs {
		cfg.Logs = append(cfg.Logs, Log{VKey: l.vkey})
	}
	return cfg
}

// open (re)opens the witness on the fixture's state.
func (f *fixture) open() {
	f.t.Helper()
	if f.w != nil {
		f.w.Close()
	}
	w, err := New(f.config())
	if err != nil {
		f.t.Fatal(err)
	}
	f.w = w
	f.t.Cleanup(func() { w.Close() })
}

// post sends body to the witness's handler.
func (f *fixture) post(body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/add-checkpoint", bytes.NewReader(body))
	rec := httptest.NewRecorder()
	f.w.ServeHTTP(rec, req)
	return rec
}

// mustCosign posts body and checks the answer is 200 with a valid
// cosignature of checkpoint.
func (f *fixture) mustCosign(l *testLog, body, checkpoint []byte) {
	f.t.Helper()
	rec := f.post(body)
	if rec.Code != http.StatusOK {
		f.t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
	}
	f.checkCosignature(l, checkpoint, rec.Body.Bytes())
}

// checkCosignature checks that sigLines hold a valid cosignature by the
// witness of checkpoint.
func (f *fixture) checkCosignature(l *testLog, checkpoint, sigLines []byte) {
	f.t.Helper()
	logV, err := note.NewVerifier(l.vkey)
	if err != nil {
		f.t.Fatal(err)
	}
	n, err := note.Open(append(append([]byte(nil), checkpoint...), sigLines...), note.VerifierList(logV, f.cosigV))
	if err != nil {
		f.t.Fatalf("cosigned checkpoint does not verify: %v\n%s%s", err, checkpoint, sigLines)
	}
	found := false
	for _, s := range n.Sigs {
		if s.Name == f.cosigV.Name() && s.Hash == f.cosigV.KeyHash() {
			found = true
			ts, err := tiles.CosignatureTime(s)
			if err != nil || ts != f.clockAt.Unix() {
				f.t.Errorf("cosignature time %d (%v), want %d", ts, err, f.clockAt.Unix())
			}
		}
	}
	if !found {
		f.t.Fatalf("no cosignature by the witness in %q", sigLines)
	}
}

// size returns the witness's latest size of l, asking as a client would
// (old 0 of a checkpoint larger than any).
func (f *fixture) latestSize(l *testLog) int64 {
	f.t.Helper()
	ls := f.w.logs[l.origin]
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.latest == nil {
		return 0
	}
	return ls.latest.tree.N
}
