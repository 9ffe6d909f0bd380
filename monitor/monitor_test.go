package monitor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/monitor"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// logAt is a log to monitor: its directory and verifier key.
type logAt struct {
	dir, vkey string
}

// config returns the configuration of a monitor of logs with its state
// in state, checking 256 entries at a time (so that the test logs take
// several chunks).
func config(t *testing.T, state string, logs ...logAt) monitor.Config {
	t.Helper()
	cfg := monitor.Config{StateDir: state, ChunkEntries: 256}
	for _, l := range logs {
		fetch := client.DirFetcher(l.dir)
		cl, err := client.NewLog(fetch, l.vkey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Logs = append(cfg.Logs, monitor.Log{Log: cl, VKey: l.vkey, Fetch: fetch, Location: l.dir})
	}
	return cfg
}

func openMonitor(t *testing.T, cfg monitor.Config) *monitor.Monitor {
	t.Helper()
	m, err := monitor.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// runOnce runs m once and fails t on an error.
func runOnce(t *testing.T, m *monitor.Monitor) *monitor.Report {
	t.Helper()
	rep, err := m.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

// monitorOnce opens a monitor of logs in state, runs it once and closes it.
func monitorOnce(t *testing.T, state string, logs ...logAt) *monitor.Report {
	t.Helper()
	m, err := monitor.Open(config(t, state, logs...))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	return runOnce(t, m)
}

func kinds(rep *monitor.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, f.Kind)
	}
	return out
}

func wantNoFindings(t *testing.T, rep *monitor.Report) {
	t.Helper()
	for _, f := range rep.Findings {
		t.Errorf("finding %s: %s", f.Kind, f.Message)
	}
}

// wantOnly checks that rep found exactly one finding, of kind, and
// returns it.
func wantOnly(t *testing.T, rep *monitor.Report, kind string) monitor.Finding {
	t.Helper()
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != kind {
		for _, f := range rep.Findings {
			t.Logf("finding %s: %s", f.Kind, f.Message)
		}
		t.Fatalf("findings %q, want one %s", kinds(rep), kind)
	}
	return rep.Findings[0]
}

func appendRecords(t *testing.T, store *publish.Dir, skey string, first, n int) {
	t.Helper()
	if _, err := seqtest.Append(context.Background(), store, skey, seqtest.Records(first, n), ""); err != nil {
		t.Fatal(err)
	}
}

// An honest log, with a file of a project its filename does not give,
// followed over several runs and chunks: nothing is found, every entry is
// checked once, and the state ends at the checkpoint.
func TestHonestLog(t *testing.T) {
	store, skey, vkey := clienttest.NewBarLog(t)
	state := t.TempDir()
	m := openMonitor(t, config(t, state, logAt{store.Root(), vkey}))
	rep := runOnce(t, m)
	wantNoFindings(t, rep)
	if lr := rep.Logs[0]; lr.Verified != 702 || lr.Entries != 702 || lr.Checkpoint.N != 702 || lr.Err != nil {
		t.Fatalf("first run: %+v", lr)
	}
	appendRecords(t, store, skey, 1000, 300)
	rep = runOnce(t, m)
	wantNoFindings(t, rep)
	if lr := rep.Logs[0]; lr.Verified != 1002 || lr.Entries != 300 {
		t.Fatalf("second run: %+v", lr)
	}
	rep = runOnce(t, m)
	wantNoFindings(t, rep)
	if lr := rep.Logs[0]; lr.Verified != 1002 || lr.Entries != 0 {
		t.Fatalf("third run: %+v", lr)
	}
	if files, _ := os.ReadDir(filepath.Join(state, "findings")); len(files) != 0 {
		t.Fatalf("%d finding files", len(files))
	}
}

// A second monitor on the same state is busy.
func TestBusy(t *testing.T) {
	store, _, vkey := clienttest.NewStoreLog(t)
	state := t.TempDir()
	openMonitor(t, config(t, state, logAt{store.Root(), vkey}))
	_, err := monitor.Open(config(t, state, logAt{store.Root(), vkey}))
	if !errors.Is(err, publish.ErrBusy) {
		t.Fatalf("second monitor: %v, want ErrBusy", err)
	}
}

// A run asked to stop commits the chunk in progress and stops; the next
// run goes on from there and checks every entry once.
func TestStopAndResume(t *testing.T) {
	store, _, vkey := clienttest.NewBarLog(t)
	state := t.TempDir()
	cfg := config(t, state, logAt{store.Root(), vkey})
	stop := make(chan struct{})
	cfg.Stop = stop
	fetch := &stopAfter{Fetcher: cfg.Logs[0].Fetch, key: "tile/entries/001", stop: stop}
	cfg.Logs[0].Fetch = fetch
	m, err := monitor.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.RunOnce(context.Background())
	m.Close()
	if !errors.Is(err, monitor.ErrStopped) {
		t.Fatalf("run: %v, want ErrStopped", err)
	}
	if lr := rep.Logs[0]; lr.Verified != 512 || lr.Entries != 512 {
		t.Fatalf("stopped run: %+v", lr)
	}
	rep = monitorOnce(t, state, logAt{store.Root(), vkey})
	wantNoFindings(t, rep)
	if lr := rep.Logs[0]; lr.Verified != 702 || lr.Entries != 190 {
		t.Fatalf("resumed run: %+v", lr)
	}
}

// stopAfter closes stop when key is fetched.
type stopAfter struct {
	client.Fetcher
	key  string
	stop chan struct{}
}

func (s *stopAfter) Fetch(ctx context.Context, key string) ([]byte, error) {
	if key == s.key {
		select {
		case <-s.stop:
		default:
			close(s.stop)
		}
	}
	return s.Fetcher.Fetch(ctx, key)
}

// The checkpoint the monitor verified and a checkpoint of the same size
// with another root, or a larger one of which it is not a prefix: a fork,
// with both checkpoints and the proof as evidence, and the state doesn't
// move.
func TestFork(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		forkSize  int
		wantProof bool
	}{
		{"same size", 50, false},
		{"larger", 400, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, skey, vkey := clienttest.NewStoreLog(t)
			forked := clienttest.CopyStore(t, store)
			appendRecords(t, store, skey, 1000, 50)
			appendRecords(t, forked, skey, 5000, tc.forkSize)
			state := t.TempDir()
			live := filepath.Join(t.TempDir(), "log")
			if err := os.Symlink(store.Root(), live); err != nil {
				t.Fatal(err)
			}
			rep := monitorOnce(t, state, logAt{live, vkey})
			wantNoFindings(t, rep)
			verified, _, _ := store.Read(ctx, tiles.CheckpointKey)

			// The log now serves the fork.
			os.Remove(live)
			if err := os.Symlink(forked.Root(), live); err != nil {
				t.Fatal(err)
			}
			served, _, _ := forked.Read(ctx, tiles.CheckpointKey)
			rep = monitorOnce(t, state, logAt{live, vkey})
			f := wantOnly(t, rep, monitor.KindFork)
			if f.Evidence.OldCheckpoint != string(verified) || f.Evidence.Checkpoint != string(served) {
				t.Fatalf("evidence checkpoints:\n%s\n%s\nwant\n%s\n%s", f.Evidence.OldCheckpoint, f.Evidence.Checkpoint, verified, served)
			}
			if got := len(f.Evidence.Proof) > 0; got != tc.wantProof {
				t.Fatalf("proof %q, want one: %v", f.Evidence.Proof, tc.wantProof)
			}
			if tc.wantProof {
				checkFailingProof(t, vkey, f)
			}
			if lr := rep.Logs[0]; lr.Verified != 750 || lr.Entries != 0 {
				t.Fatalf("the state moved: %+v", lr)
			}
			// The same fork again: found again, written once.
			path := filepath.Join(state, "findings", f.ID+".json")
			written, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rep = monitorOnce(t, state, logAt{live, vkey})
			if again, _ := os.ReadFile(path); string(again) != string(written) {
				t.Fatalf("the finding was written again:\n%s\n%s", written, again)
			}
			if g := wantOnly(t, rep, monitor.KindFork); g.ID != f.ID {
				t.Fatalf("finding %s, then %s", f.ID, g.ID)
			}
			if files, _ := os.ReadDir(filepath.Join(state, "findings")); len(files) != 1 {
				t.Fatalf("%d finding files, want 1", len(files))
			}
			// Back to the log verified: it goes on.
			os.Remove(live)
			os.Symlink(store.Root(), live)
			appendRecords(t, store, skey, 2000, 10)
			rep = monitorOnce(t, state, logAt{live, vkey})
			wantNoFindings(t, rep)
			if lr := rep.Logs[0]; lr.Verified != 760 || lr.Entries != 10 {
				t.Fatalf("after the fork: %+v", lr)
			}
		})
	}
}

// checkFailingProof checks that the proof of a fork finding is the
// consistency proof between its two checkpoints, and that it fails.
func checkFailingProof(t *testing.T, vkey string, f monitor.Finding) {
	t.Helper()
	verifier := verifierOf(t, vkey)
	old, _, err1 := tiles.OpenCheckpoint([]byte(f.Evidence.OldCheckpoint), verifier)
	cur, _, err2 := tiles.OpenCheckpoint([]byte(f.Evidence.Checkpoint), verifier)
	if err1 != nil || err2 != nil {
		t.Fatalf("evidence checkpoints don't verify: %v, %v", err1, err2)
	}
	var proof tlog.TreeProof
	for _, s := range f.Evidence.Proof {
		h, err := tlog.ParseHash(s)
		if err != nil {
			t.Fatal(err)
		}
		proof = append(proof, h)
	}
	if err := tlog.CheckTree(proof, cur.N, cur.Hash, old.N, old.Hash); err == nil {
		t.Fatal("the proof of the fork verifies")
	}
	// The proof is the log's: the right length for these sizes.
	if len(proof) < 2 {
		t.Fatalf("proof of %d hashes", len(proof))
	}
}

// A log that serves an older checkpoint, a prefix of the one verified (a
// stale copy in a cache), is no finding and no error.
func TestOlderCheckpoint(t *testing.T) {
	store, skey, vkey := clienttest.NewStoreLog(t)
	old := read(t, store, tiles.CheckpointKey)
	appendRecords(t, store, skey, 1000, 50)
	state := t.TempDir()
	wantNoFindings(t, monitorOnce(t, state, logAt{store.Root(), vkey}))
	clienttest.Put(t, store, tiles.CheckpointKey, old)
	rep := monitorOnce(t, state, logAt{store.Root(), vkey})
	wantNoFindings(t, rep)
	if lr := rep.Logs[0]; lr.Verified != 750 {
		t.Fatalf("%+v", lr)
	}
}

// A bundle byte flipped: the entries don't give the signed tree. Nothing
// of the chunk is stored.
func TestTreeMismatch(t *testing.T) {
	store, _, vkey := clienttest.NewStoreLog(t)
	key := "tile/entries/001"
	data := read(t, store, key)
	data[100] ^= 1
	if err := clienttest.WriteRaw(store, key, data); err != nil {
		t.Fatal(err)
	}
	rep := monitorOnce(t, t.TempDir(), logAt{store.Root(), vkey})
	f := wantOnly(t, rep, monitor.KindTreeMismatch)
	if !strings.Contains(f.Message, "leaves 256 to 511") {
		t.Fatalf("message %q", f.Message)
	}
	if lr := rep.Logs[0]; lr.Verified != 256 {
		t.Fatalf("%+v", lr)
	}
}

func verifierOf(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// read returns an object of store.
func read(t *testing.T, store *publish.Dir, key string) []byte {
	t.Helper()
	data, _, err := store.Read(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func leafOf(f monitor.Finding) int64 {
	if f.Leaf == nil {
		return -1
	}
	return *f.Leaf
}

// A bundle that extends one checked before must hold the same entries
// first: a changed old entry is found, though the new ones are right.
func TestChangedOldEntry(t *testing.T) {
	store, skey, vkey := clienttest.NewStoreLog(t)
	state := t.TempDir()
	wantNoFindings(t, monitorOnce(t, state, logAt{store.Root(), vkey}))
	appendRecords(t, store, skey, 1000, 100)
	key := "tile/entries/002"
	data := read(t, store, key)
	data[100] ^= 1 // in leaf 512, checked before
	if err := clienttest.WriteRaw(store, key, data); err != nil {
		t.Fatal(err)
	}
	rep := monitorOnce(t, state, logAt{store.Root(), vkey})
	f := wantOnly(t, rep, monitor.KindTreeMismatch)
	if !strings.Contains(f.Message, "the bundle's entry 512 differs from the one checked before") {
		t.Fatalf("message %q", f.Message)
	}
	if lr := rep.Logs[0]; lr.Verified != 700 {
		t.Fatalf("%+v", lr)
	}
}
