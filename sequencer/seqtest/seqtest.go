// Package seqtest holds the sequencer's crash and race tests, exported so
// that every publish.Store backend runs them: a fault at every write of a
// batch (before or after the write persists) must be recovered by the next
// run with nothing lost or appended twice, and racing sequencers must never
// fork the log.
package seqtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/mirror"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/storetest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
	"github.com/pysumdb/pysumdb/tiles"
)

// Records returns n synthetic records of distinct files numbered from
// first, spread over a few dozen projects.
func Records(first, n int) []sequencer.Record {
	return synthetic.Spread(first, n, 37)
}

// NewKey returns a new log key.
func NewKey(t testing.TB) (skey, vkey string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "pysumdb.test/log")
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

// Append opens a sequencer on store, appends records with cursor, and
// closes it.
func Append(ctx context.Context, store publish.Store, skey string, records []sequencer.Record, cursor string) (sequencer.Result, error) {
	s, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey, Holder: "seqtest"})
	if err != nil {
		return sequencer.Result{}, err
	}
	defer s.Close(ctx)
	return s.Append(ctx, records, json.RawMessage(cursor))
}

// Audit re-verifies the whole log in store and fails t on any problem.
func Audit(t testing.TB, store publish.Store, vkey string) *client.AuditReport {
	t.Helper()
	l, err := client.NewLog(mirror.StoreFetcher{Store: store}, vkey)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := l.Audit(context.Background(), nil)
	if err != nil {
		if rep != nil {
			for _, p := range rep.Problems {
				t.Errorf("audit: %s", p)
			}
		}
		t.Fatalf("audit: %v", err)
	}
	return rep
}

// RunFaultInjection makes the FailAt-th write of a batch fail, for every
// write of the batch, with the write lost or persisted, and checks that
// the next run recovers: the log ends with every record exactly once, the
// cursor of the batch, and passes a full audit, its tlog-proofs included
// (CheckProofs). newStore must return a new empty store on each call.
func RunFaultInjection(t *testing.T, newStore func(t *testing.T) publish.Store) {
	ctx := context.Background()
	skey, vkey := NewKey(t)
	// The first batch ends inside a tile, so the faulty batch extends
	// partial tiles, bundles, proofs and existing project indexes, and
	// crosses a tile boundary.
	first, second := Records(0, 20), Records(20, 240)
	for _, afterPersist := range []bool{false, true} {
		for failAt := 1; ; failAt++ {
			name := fmt.Sprintf("write%d", failAt)
			if afterPersist {
				name += "-persisted"
			}
			faulted := false
			t.Run(name, func(t *testing.T) {
				store := newStore(t)
				if _, err := Append(ctx, store, skey, first, `"one"`); err != nil {
					t.Fatalf("first batch: %v", err)
				}
				faulty := &storetest.Faulty{Store: store, FailAt: failAt, AfterPersist: afterPersist}
				_, err := Append(ctx, faulty, skey, append(second, first[:10]...), `"two"`)
				faulted = faulty.Writes() >= failAt
				if !faulted {
					if err != nil {
						t.Fatalf("batch without a fault: %v", err)
					}
					return
				}
				if err == nil && !afterPersist {
					t.Fatalf("write %d failed but the batch reported success", failAt)
				}
				if err != nil && !errors.Is(err, storetest.ErrInjected) {
					t.Fatalf("batch with fault at write %d: %v, want the injected fault", failAt, err)
				}
				// The next run finishes the batch, and a repeat of it
				// appends nothing.
				res, err := Append(ctx, store, skey, second, `"two"`)
				if err != nil {
					t.Fatalf("recovery run: %v", err)
				}
				if res.TreeSize != int64(len(first)+len(second)) || res.Appended != 0 && res.Appended != len(second) {
					t.Fatalf("recovery run: %+v, want size %d", res, len(first)+len(second))
				}
				checkCursor(t, store, skey, `"two"`)
				rep := Audit(t, store, vkey)
				if rep.Entries != int64(len(first)+len(second)) {
					t.Fatalf("audit saw %d entries, want %d", rep.Entries, len(first)+len(second))
				}
				CheckProofs(t, store, vkey)
				// And the log goes on normally.
				if res, err := Append(ctx, store, skey, Records(1000, 5), `"three"`); err != nil || res.Appended != 5 {
					t.Fatalf("batch after recovery: %+v, %v", res, err)
				}
				Audit(t, store, vkey)
			})
			if !faulted || t.Failed() {
				break
			}
		}
	}
}

func checkCursor(t testing.TB, store publish.Store, skey, want string) {
	t.Helper()
	s, err := sequencer.Open(context.Background(), sequencer.Config{Store: store, Key: skey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if got := string(s.Cursor()); got != want {
		t.Fatalf("cursor = %s, want %s", got, want)
	}
}

// brokenLease is a store whose lease always succeeds, as if it had
// expired under a paused sequencer or been deleted by hand.
type brokenLease struct{ publish.Store }

func (brokenLease) Lock(context.Context, string) (func(context.Context) error, error) {
	return func(context.Context) error { return nil }, nil
}

// RunRace checks that with the lease broken, two sequencers that opened
// the same log state can't both append: the loser fails with ErrBusy and
// writes nothing, the log passes an audit, and a third run appends
// normally.
func RunRace(t *testing.T, newStore func(t *testing.T) publish.Store) {
	ctx := context.Background()
	skey, vkey := NewKey(t)
	base := newStore(t)
	if _, err := Append(ctx, base, skey, Records(0, 100), `"zero"`); err != nil {
		t.Fatal(err)
	}
	store := brokenLease{base}
	open := func() *sequencer.Sequencer {
		s, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ctx) })
		return s
	}
	winner, loser := open(), open()
	if _, err := winner.Append(ctx, Records(100, 300), json.RawMessage(`"winner"`)); err != nil {
		t.Fatalf("winner: %v", err)
	}
	before, err := base.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = loser.Append(ctx, Records(1000, 7), json.RawMessage(`"loser"`))
	if !errors.Is(err, publish.ErrBusy) {
		t.Fatalf("loser: %v, want ErrBusy", err)
	}
	after, _ := base.List(ctx, "")
	if len(after) != len(before) {
		t.Fatalf("the loser wrote objects: %d before, %d after", len(before), len(after))
	}
	if rep := Audit(t, base, vkey); rep.Entries != 400 {
		t.Fatalf("audit saw %d entries, want 400", rep.Entries)
	}
	CheckProofs(t, base, vkey)
	res, err := Append(ctx, base, skey, Records(1000, 7), `"third"`)
	if err != nil || res.Appended != 7 || res.TreeSize != 407 {
		t.Fatalf("third run: %+v, %v", res, err)
	}
	Audit(t, base, vkey)
}

// RunConcurrent starts two sequencers at once on one store, with batches
// of different sizes: each either appends its batch or fails with ErrBusy
// (the lease, or the race for the state), the log holds exactly the
// batches that succeeded and passes an audit, and a third run appends
// normally.
func RunConcurrent(t *testing.T, newStore func(t *testing.T) publish.Store) {
	ctx := context.Background()
	skey, vkey := NewKey(t)
	store := newStore(t)
	batches := [][]sequencer.Record{Records(0, 1500), Records(5000, 40)}
	errs := make([]error, len(batches))
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Go(func() { _, errs[i] = Append(ctx, store, skey, b, "") })
	}
	wg.Wait()
	want := int64(0)
	for i, err := range errs {
		switch {
		case err == nil:
			want += int64(len(batches[i]))
		case !errors.Is(err, publish.ErrBusy):
			t.Fatalf("sequencer %d: %v, want success or ErrBusy", i, err)
		}
	}
	if want == 0 {
		t.Fatalf("no sequencer succeeded: %v", errs)
	}
	if rep := Audit(t, store, vkey); rep.Entries != want {
		t.Fatalf("audit saw %d entries, want %d", rep.Entries, want)
	}
	CheckProofs(t, store, vkey)
	res, err := Append(ctx, store, skey, append(batches[0], batches[1]...), "")
	if err != nil || res.TreeSize != 1540 {
		t.Fatalf("third run: %+v, %v", res, err)
	}
	Audit(t, store, vkey)
}

// ReportBench reports what appending cost as benchmark metrics: entries/s,
// bytes written per entry, objects written per batch.
func ReportBench(b *testing.B, total synthetic.BenchResult) {
	b.ReportMetric(total.EntriesPerSecond(), "entries/s")
	b.ReportMetric(float64(total.Bytes)/float64(total.Entries), "bytes/entry")
	b.ReportMetric(float64(total.Objects)/float64(total.Batches), "objects/batch")
}

// CheckProofs checks the tlog-proofs the sequencer wrote: every bundle
// of the published tree has its proofs, and every object of proofs in
// store (those of partial bundles that later batches filled too) holds,
// for each entry of its bundle, a proof signed by the log (and by it
// alone) of the log's entry at its leaf in a checkpoint that is a prefix
// of the published one, all of them against one checkpoint.
func CheckProofs(t testing.TB, store publish.Store, vkey string) {
	t.Helper()
	ctx := context.Background()
	l, err := client.NewLog(mirror.StoreFetcher{Store: store}, vkey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := store.List(ctx, tiles.ProofPrefix)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, key := range keys {
		listed[key] = true
	}
	for leaf := int64(0); leaf < cp.N; leaf += tiles.TileWidth {
		if key := tiles.ProofBundleKey(tiles.BundleOf(leaf, cp.N)); !listed[key] {
			t.Fatalf("no proofs of leaf %d: %s is missing", leaf, key)
		}
	}
	consistent := map[tlog.Tree]bool{}
	for _, key := range keys {
		bundle, err := tiles.ParseProofBundleKey(key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		data, _, err := store.Read(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		proofs, err := tiles.SplitProofBundle(data, bundle)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		for k, p := range proofs {
			if !bytes.Equal(p.Checkpoint, proofs[0].Checkpoint) {
				t.Fatalf("%s: the proof of leaf %d has another checkpoint than the first", key, p.Index)
			}
			one, err := tiles.FormatTlogProof(p)
			if err != nil {
				t.Fatal(err)
			}
			_, pcp, n, _, err := tiles.OpenTlogProof(one, verifier)
			if err != nil {
				t.Fatalf("%s: proof %d: %v", key, k, err)
			}
			if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
				t.Fatalf("%s: proof of leaf %d with %d signatures and %d unverified", key, p.Index, len(n.Sigs), len(n.UnverifiedSigs))
			}
			// Its checkpoint is a prefix of the published tree, so the
			// entry it proves is the log's at its leaf.
			if !consistent[pcp.Tree] {
				if _, err := tiles.ProveConsistency(pcp.Tree, cp.Tree, l.TileReader(ctx)); err != nil {
					t.Fatalf("%s: its checkpoint of size %d: %v", key, pcp.N, err)
				}
				consistent[pcp.Tree] = true
			}
		}
	}
}

// ReadIndex returns the index of project in the log in store, verified
// with vkey, and fails t if it can't.
func ReadIndex(t testing.TB, store publish.Store, vkey, project string) tiles.Index {
	t.Helper()
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := store.Read(context.Background(), tiles.IndexKey(project))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tiles.OpenIndex(data, verifier, project)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// IndexLine returns the line of filename in the index of project, in the
// log in store, and fails t if there is none.
func IndexLine(t testing.TB, store publish.Store, vkey, project, filename string) tiles.IndexLine {
	t.Helper()
	for _, l := range ReadIndex(t, store, vkey, project).Lines {
		if l.Filename == filename {
			return l
		}
	}
	t.Fatalf("%s is not in the index of %s", filename, project)
	return tiles.IndexLine{}
}
