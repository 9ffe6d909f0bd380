package sequencer_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/storetest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// TestProofsOfEveryLeaf: every batch writes the tlog-proof of each of its
// entries, against its own checkpoint, and each verifies.
func TestProofsOfEveryLeaf(t *testing.T) {
	store := newTestStore(t)
	skey, vkey := testKey(t)
	appendOnce(t, store, skey, seqtest.Records(0, 300)...)
	appendOnce(t, store, skey, seqtest.Records(300, 7)...)
	seqtest.CheckProofs(t, store, vkey)
	keys, err := store.List(context.Background(), tiles.ProofPrefix)
	if err != nil || len(keys) != 307 {
		t.Fatalf("%d proofs, want 307: %v", len(keys), err)
	}
	// Each proof's checkpoint is its batch's: 300 for the first, 307 for
	// the second, the log's signature alone.
	for leaf, size := range map[int64]string{0: "\n300\n", 299: "\n300\n", 300: "\n307\n", 306: "\n307\n"} {
		data, _, err := store.Read(context.Background(), tiles.ProofKey(leaf))
		if err != nil {
			t.Fatal(err)
		}
		p, err := tiles.ParseTlogProof(data)
		if err != nil || !strings.Contains(string(p.Checkpoint), size) {
			t.Fatalf("proof of %d: %v\n%s", leaf, err, data)
		}
	}
}

// TestProofsReplayIdentical: a batch that crashed after its proofs were
// written, and was finished by the next run, leaves the very bytes an
// uninterrupted batch writes (the proofs are create-only: other bytes
// would be an integrity error).
func TestProofsReplayIdentical(t *testing.T) {
	skey, _ := testKey(t)
	first, second := seqtest.Records(0, 300), seqtest.Records(300, 200)
	clean := newTestStore(t)
	appendOnce(t, clean, skey, first...)
	appendOnce(t, clean, skey, second...)

	for _, failAt := range []int{3, 100, 150} {
		crashed := newTestStore(t)
		appendOnce(t, crashed, skey, first...)
		faulty := &storetest.Faulty{Store: crashed, FailAt: failAt, AfterPersist: true}
		if err := appendWithProofs(t, faulty, skey, second); !errors.Is(err, storetest.ErrInjected) {
			t.Fatalf("fault at write %d: %v", failAt, err)
		}
		if err := appendWithProofs(t, crashed, skey, nil); err != nil {
			t.Fatalf("recovery after fault at write %d: %v", failAt, err)
		}
		compareProofs(t, clean, crashed)
	}
}

// appendWithProofs appends records with a sequencer that writes proofs
// (openSeq), returning its error.
func appendWithProofs(t *testing.T, store publish.Store, skey string, records []sequencer.Record) error {
	s := openSeq(t, store, skey)
	defer s.Close(context.Background())
	_, err := s.Append(context.Background(), records, nil)
	return err
}

func compareProofs(t *testing.T, a, b publish.Store) {
	t.Helper()
	ctx := context.Background()
	ka, _ := a.List(ctx, tiles.ProofPrefix)
	kb, _ := b.List(ctx, tiles.ProofPrefix)
	if len(ka) != len(kb) || len(ka) == 0 {
		t.Fatalf("%d proofs and %d proofs", len(ka), len(kb))
	}
	for _, key := range ka {
		da, _, err := a.Read(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		db, _, err := b.Read(ctx, key)
		if err != nil || !bytes.Equal(da, db) {
			t.Fatalf("%s differs after a replay: %v\n%s\n%s", key, err, da, db)
		}
	}
}
