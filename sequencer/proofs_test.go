package sequencer_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/storetest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// TestProofsOfEveryLeaf: every batch writes the tlog-proofs of the
// entries of each bundle it writes, against its own checkpoint, and each
// verifies; the entries a bundle carries from an earlier batch are proven
// again against the later one.
func TestProofsOfEveryLeaf(t *testing.T) {
	store := newTestStore(t)
	skey, vkey := testKey(t)
	appendOnce(t, store, skey, seqtest.Records(0, 300)...)
	appendOnce(t, store, skey, seqtest.Records(300, 7)...)
	seqtest.CheckProofs(t, store, vkey)
	keys, err := store.List(context.Background(), tiles.ProofPrefix)
	want := []string{"proof/000", "proof/001.p/44", "proof/001.p/51"}
	if err != nil || !slices.Equal(keys, want) {
		t.Fatalf("proofs %q, want %q: %v", keys, want, err)
	}
	// Each object's checkpoint is that of the batch that wrote it: 300 for
	// the first, 307 for the second, the log's signature alone.
	for key, size := range map[string]string{"proof/000": "\n300\n", "proof/001.p/44": "\n300\n", "proof/001.p/51": "\n307\n"} {
		data, _, err := store.Read(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		bundle, _ := tiles.ParseProofBundleKey(key)
		proofs, err := tiles.SplitProofBundle(data, bundle)
		if err != nil || !strings.Contains(string(proofs[0].Checkpoint), size) || proofs[0].Index != bundle.N*tiles.TileWidth {
			t.Fatalf("proofs of %s: %v\n%s", key, err, data)
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

	// After the key file, the tiles' group is the first writes of the
	// batch, the proofs last in it: a fault at each.
	for failAt := 2; failAt <= 7; failAt++ {
		crashed := newTestStore(t)
		appendOnce(t, crashed, skey, first...)
		faulty := &storetest.Faulty{Store: crashed, FailAt: failAt, AfterPersist: true}
		if err := appendErr(t, faulty, skey, second); !errors.Is(err, storetest.ErrInjected) {
			t.Fatalf("fault at write %d: %v", failAt, err)
		}
		if err := appendErr(t, crashed, skey, nil); err != nil {
			t.Fatalf("recovery after fault at write %d: %v", failAt, err)
		}
		compareProofs(t, clean, crashed)
	}
}

// appendErr appends records, returning the error.
func appendErr(t *testing.T, store publish.Store, skey string, records []sequencer.Record) error {
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
