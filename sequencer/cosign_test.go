package sequencer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/witnesstest"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/witness"
)

// testWitness is our own witness, served on loopback, that a test can take
// down and bring back with its state.
type testWitness struct {
	t        testing.TB
	skey     string
	vkey     string
	logVKeys []string
	dir      string

	mu   sync.Mutex
	w    *witness.Witness
	down bool
	srv  *httptest.Server
	// requests counts the add-checkpoint requests it got.
	requests int
}

func newTestWitness(t testing.TB, name string, logVKeys ...string) *testWitness {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	tw := &testWitness{t: t, skey: skey, logVKeys: logVKeys, dir: t.TempDir()}
	tw.up()
	tw.vkey = tw.w.VerifierKey()
	tw.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		tw.mu.Lock()
		w, down := tw.w, tw.down
		tw.requests++
		tw.mu.Unlock()
		if down {
			// As a witness that is down behind its proxy.
			http.Error(rw, "down", http.StatusBadGateway)
			return
		}
		w.ServeHTTP(rw, r)
	}))
	t.Cleanup(func() {
		tw.srv.Close()
		tw.mu.Lock()
		defer tw.mu.Unlock()
		if tw.w != nil {
			tw.w.Close()
		}
	})
	return tw
}

// up (re)starts the witness on its state.
func (tw *testWitness) up() {
	tw.t.Helper()
	logs := make([]witness.Log, len(tw.logVKeys))
	for i, v := range tw.logVKeys {
		logs[i] = witness.Log{VKey: v}
	}
	w, err := witness.New(witness.Config{Key: tw.skey, Logs: logs, StateDir: tw.dir})
	if err != nil {
		tw.t.Fatal(err)
	}
	tw.mu.Lock()
	tw.w, tw.down = w, false
	tw.mu.Unlock()
}

// stop takes the witness down (its state kept).
func (tw *testWitness) stop() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.w.Close()
	tw.w, tw.down = nil, true
}

func (tw *testWitness) config() sequencer.Witness {
	return sequencer.Witness{URL: tw.srv.URL, VKey: tw.vkey}
}

// appendCosigned sequences records with the witnesses configured.
func appendCosigned(t testing.TB, store publish.Store, skey string, records []sequencer.Record, logger *slog.Logger, witnesses ...sequencer.Witness) sequencer.Result {
	t.Helper()
	ctx := context.Background()
	s, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey, Witnesses: witnesses, WitnessTimeout: 5 * time.Second, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	res, err := s.Append(ctx, records, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkPolicy reads the log's checkpoint with a client requiring quorum
// of witnesses.
func checkPolicy(t testing.TB, store *publish.Dir, vkey string, quorum int, witnesses ...*testWitness) error {
	t.Helper()
	var vkeys []string
	for _, w := range witnesses {
		vkeys = append(vkeys, w.vkey)
	}
	p, err := client.NewWitnessPolicy(vkeys, quorum)
	if err != nil {
		t.Fatal(err)
	}
	l, err := client.NewLog(client.DirFetcher(store.Root()), vkey)
	if err != nil {
		t.Fatal(err)
	}
	l.RequireWitnesses(p)
	_, _, err = l.Checkpoint(context.Background())
	return err
}

func newDirStore(t testing.TB) *publish.Dir {
	t.Helper()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func TestCosignTwoWitnesses(t *testing.T) {
	store := newDirStore(t)
	skey, vkey := testKey(t)
	w1 := newTestWitness(t, "w1.example", vkey)
	w2 := newTestWitness(t, "w2.example", vkey)
	for i, batch := range [][2]int{{0, 300}, {300, 5}, {305, 600}} {
		appendCosigned(t, store, skey, seqtest.Records(batch[0], batch[1]), nil, w1.config(), w2.config())
		if err := checkPolicy(t, store, vkey, 2, w1, w2); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	// The cosigned log is still a log any client and auditor reads.
	seqtest.Audit(t, store, vkey)
}

func TestCosignWitnessDown(t *testing.T) {
	store := newDirStore(t)
	skey, vkey := testKey(t)
	w1 := newTestWitness(t, "w1.example", vkey)
	w2 := newTestWitness(t, "w2.example", vkey)
	appendCosigned(t, store, skey, seqtest.Records(0, 10), nil, w1.config(), w2.config())

	// Down for two batches: both publish, with one cosignature.
	w2.stop()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for _, b := range [][2]int{{10, 300}, {310, 20}} {
		res := appendCosigned(t, store, skey, seqtest.Records(b[0], b[1]), logger, w1.config(), w2.config())
		if res.Appended != b[1] {
			t.Fatalf("appended %d, want %d", res.Appended, b[1])
		}
	}
	if !strings.Contains(logs.String(), "witness did not cosign the checkpoint") || !strings.Contains(logs.String(), "witness=w2.example") {
		t.Errorf("the sequencer's log does not say which witness did not cosign:\n%s", logs.String())
	}
	if err := checkPolicy(t, store, vkey, 1, w1, w2); err != nil {
		t.Fatalf("1 of 2: %v", err)
	}
	err := checkPolicy(t, store, vkey, 2, w1, w2)
	var short *client.WitnessPolicyError
	if !errors.As(err, &short) || len(short.Missing) != 1 || short.Missing[0] != "w2.example" {
		t.Fatalf("2 of 2 with w2 down: %v, want a policy error naming w2.example", err)
	}

	// Back: a run with nothing new gets its cosignature onto the
	// published checkpoint, catching it up from the size it holds (10)
	// to 330 by a 409 and a proof.
	w2.up()
	appendCosigned(t, store, skey, seqtest.Records(0, 10), nil, w1.config(), w2.config())
	if err := checkPolicy(t, store, vkey, 2, w1, w2); err != nil {
		t.Fatalf("after the witness came back: %v", err)
	}
	// And the next batch gets both.
	appendCosigned(t, store, skey, seqtest.Records(330, 3), nil, w1.config(), w2.config())
	if err := checkPolicy(t, store, vkey, 2, w1, w2); err != nil {
		t.Fatalf("next batch: %v", err)
	}
	seqtest.Audit(t, store, vkey)
}

// TestCosignWitnessCatchesUp checks the next batch (not only a run with
// nothing new) catches up a witness that missed checkpoints.
func TestCosignWitnessCatchesUp(t *testing.T) {
	store := newDirStore(t)
	skey, vkey := testKey(t)
	w := newTestWitness(t, "w.example", vkey)
	appendCosigned(t, store, skey, seqtest.Records(0, 10), nil)
	appendCosigned(t, store, skey, seqtest.Records(10, 400), nil)
	// The witness has never seen the log: it answers 409 with size 0.
	appendCosigned(t, store, skey, seqtest.Records(410, 7), nil, w.config())
	if err := checkPolicy(t, store, vkey, 1, w); err != nil {
		t.Fatal(err)
	}
	if w.requests != 2 {
		t.Errorf("%d requests to the witness, want 2 (the 409 and the retry)", w.requests)
	}
}

// badWitness answers every add-checkpoint with a cosignature line of its
// name and key hash whose signature doesn't verify: made by another key.
func badWitness(t testing.TB, name string) sequencer.Witness {
	t.Helper()
	_, vkey := seqtestWitnessKey(t, name)
	v, err := tiles.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := seqtestWitnessKey(t, name)
	impostor, err := tiles.NewCosigner(otherKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _, signed, err := witness.ParseAddCheckpoint(mustRead(r))
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		text := signed[:bytes.Index(signed, []byte("\n\n"))+1]
		sig, err := impostor.Sign(text)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		withHash := binary.BigEndian.AppendUint32(nil, v.KeyHash())
		fmt.Fprintf(rw, "— %s %s\n", name, base64.StdEncoding.EncodeToString(append(withHash, sig...)))
	}))
	t.Cleanup(srv.Close)
	return sequencer.Witness{URL: srv.URL, VKey: vkey}
}

func mustRead(r *http.Request) []byte {
	var b bytes.Buffer
	b.ReadFrom(http.MaxBytesReader(nil, r.Body, witness.MaxRequestSize))
	return b.Bytes()
}

// TestCosignDropsBadCosignature checks that a cosignature that doesn't
// verify is never published: clients would take it for a witness's
// evidence against the log.
func TestCosignDropsBadCosignature(t *testing.T) {
	store := newDirStore(t)
	skey, vkey := testKey(t)
	good := newTestWitness(t, "good.example", vkey)
	bad := badWitness(t, "bad.example")
	var logs bytes.Buffer
	appendCosigned(t, store, skey, seqtest.Records(0, 10), slog.New(slog.NewTextHandler(&logs, nil)), good.config(), bad)
	signed, _, err := store.Read(context.Background(), tiles.CheckpointKey)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(signed), "bad.example") {
		t.Fatalf("a cosignature that doesn't verify was published:\n%s", signed)
	}
	if !strings.Contains(logs.String(), "witness=bad.example") {
		t.Errorf("the sequencer does not say bad.example failed:\n%s", logs.String())
	}
	if err := checkPolicy(t, store, vkey, 1, good); err != nil {
		t.Fatal(err)
	}
}

// TestCosignSlowWitness checks that a witness that never answers doesn't
// stop the batch: the timeout ends the wait.
func TestCosignSlowWitness(t *testing.T) {
	store := newDirStore(t)
	skey, vkey := testKey(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	w := newTestWitness(t, "w.example", vkey)
	_, slowVKey := seqtestWitnessKey(t, "slow.example")
	ctx := context.Background()
	s, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey, WitnessTimeout: 200 * time.Millisecond,
		Witnesses: []sequencer.Witness{w.config(), {URL: slow.URL, VKey: slowVKey}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if res, err := s.Append(ctx, seqtest.Records(0, 10), nil); err != nil || res.Appended != 10 {
		t.Fatalf("Append with a witness that never answers: %+v, %v", res, err)
	}
	if err := checkPolicy(t, store, vkey, 1, w); err != nil {
		t.Fatal(err)
	}
}

func seqtestWitnessKey(t testing.TB, name string) (string, string) {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := tiles.CosignatureVerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

func TestCosignConfigErrors(t *testing.T) {
	skey, vkey := testKey(t)
	_, wkey := seqtestWitnessKey(t, "w.example")
	for name, ws := range map[string][]sequencer.Witness{
		"a log key":              {{URL: "http://127.0.0.1:1", VKey: vkey}},
		"garbage":                {{URL: "http://127.0.0.1:1", VKey: "x"}},
		"the same witness twice": {{URL: "http://127.0.0.1:1", VKey: wkey}, {URL: "http://127.0.0.1:2", VKey: wkey}},
	} {
		if _, err := sequencer.Open(context.Background(), sequencer.Config{Store: newDirStore(t), Key: skey, Witnesses: ws}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkAppendCosigned measures what cosigning adds to a batch: each
// op appends a batch of 100 files to a log, with no witness, with two of
// ours, and with litewitness and omniwitness, on loopback (each op an
// add-checkpoint with a consistency proof to each, in parallel).
func BenchmarkAppendCosigned(b *testing.B) {
	for _, kind := range []string{"none", "ours×2", "litewitness+omniwitness"} {
		b.Run("witnesses="+kind, func(b *testing.B) {
			store := newDirStore(b)
			skey, vkey := testKey(b)
			var ws []sequencer.Witness
			switch kind {
			case "ours×2":
				for i := range 2 {
					ws = append(ws, newTestWitness(b, fmt.Sprintf("w%d.example", i), vkey).config())
				}
			case "litewitness+omniwitness":
				for _, w := range []*witnesstest.Witness{witnesstest.StartLitewitness(b, vkey), witnesstest.StartOmniwitness(b, vkey)} {
					ws = append(ws, sequencer.Witness{URL: w.URL, VKey: w.VKey})
				}
			}
			ctx := context.Background()
			s, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey, Witnesses: ws})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(ctx)
			if _, err := s.Append(ctx, seqtest.Records(0, 1000), nil); err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				if _, err := s.Append(ctx, seqtest.Records(1000+i*100, 100), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
