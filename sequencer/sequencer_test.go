package sequencer_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
	"github.com/pysumdb/pysumdb/tiles"
)

func testKey(t testing.TB) (skey, vkey string) { return seqtest.NewKey(t) }

// digest returns n as a 256-bit big-endian number.
func digest(n int) [32]byte {
	var d [32]byte
	binary.BigEndian.PutUint64(d[24:], uint64(n))
	return d
}

// tileReader reads the hash tiles of a log from its store.
type tileReader struct {
	ctx   context.Context
	store publish.Store
}

func (tileReader) Height() int { return tiles.TileHeight }

func (r tileReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		data, _, err := r.store.Read(r.ctx, tiles.TilePath(t))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func openSeq(t testing.TB, store publish.Store, skey string) *sequencer.Sequencer {
	t.Helper()
	s, err := sequencer.Open(context.Background(), sequencer.Config{Store: store, Key: skey, Holder: t.Name()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func TestAppendBuildsAVerifiableLog(t *testing.T) {
	ctx := context.Background()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey := testKey(t)
	verifier, _ := note.NewVerifier(vkey)
	var trees []tlog.Tree
	total := 0
	for _, n := range []int{1, 254, 1, 300, 256, 1000} {
		s := openSeq(t, store, skey)
		res, err := s.Append(ctx, synthetic.Records(total, n), nil)
		if err != nil {
			t.Fatalf("Append(%d): %v", n, err)
		}
		total += n
		if res.Appended != n || res.TreeSize != int64(total) {
			t.Fatalf("Append(%d) = %+v, want %d appended, size %d", n, res, n, total)
		}
		s.Close(ctx)
		data, _, err := store.Read(ctx, tiles.CheckpointKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := tiles.OpenCheckpoint(data, verifier)
		if err != nil || c.N != int64(total) {
			t.Fatalf("checkpoint: %+v, %v", c, err)
		}
		trees = append(trees, c.Tree)
	}
	r := tileReader{ctx, store}
	last := trees[len(trees)-1]
	for _, old := range trees {
		if _, err := tiles.ProveConsistency(old, last, r); err != nil {
			t.Errorf("consistency %d → %d: %v", old.N, last.N, err)
		}
	}
	for _, leaf := range []int64{0, 1, 255, 256, 511, last.N - 1} {
		rec := synthetic.Records(0, total)
		// Appended batches keep input order here (upload times increase).
		e, _ := rec[leaf].Entry()
		if err := tiles.CheckInclusion(last, leaf, e, r); err != nil {
			t.Errorf("inclusion of %d: %v", leaf, err)
		}
	}
	// Appending the same records again appends nothing.
	s := openSeq(t, store, skey)
	res, err := s.Append(ctx, synthetic.Records(0, total), nil)
	if err != nil || res.Appended != 0 || res.Duplicates != total {
		t.Fatalf("re-append: %+v, %v", res, err)
	}
}

func TestSecondSequencerIsBusy(t *testing.T) {
	store, _ := publish.OpenDir(t.TempDir())
	skey, _ := testKey(t)
	openSeq(t, store, skey)
	_, err := sequencer.Open(context.Background(), sequencer.Config{Store: store, Key: skey})
	if !errors.Is(err, publish.ErrBusy) {
		t.Fatalf("second Open: %v, want ErrBusy", err)
	}
}

// TestAppendRefusesABadRecordAnywhere checks that a batch with an invalid
// record, wherever it is (records are checked in parallel, in chunks), is
// refused whole, naming the first bad record, and that nothing is logged.
func TestAppendRefusesABadRecordAnywhere(t *testing.T) {
	ctx := context.Background()
	skey, _ := testKey(t)
	s := openSeq(t, newDir(t), skey)
	const n = 5000
	for _, bad := range []int{0, 1, n / 2, n - 2, n - 1} {
		records := synthetic.Records(0, n)
		records[bad].Size = -1
		_, err := s.Append(ctx, records, nil)
		if !errors.Is(err, sequencer.ErrBadRecord) {
			t.Fatalf("bad record %d: Append = %v, want ErrBadRecord", bad, err)
		}
		if want := fmt.Sprintf("record %d:", bad); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("bad record %d: error %q doesn't start with %q", bad, err, want)
		}
		if s.TreeSize() != 0 {
			t.Fatalf("bad record %d: the log grew to %d", bad, s.TreeSize())
		}
	}
	// A record after the first bad one is bad too: the first is named.
	records := synthetic.Records(0, n)
	records[n-10].Size, records[10].Size = -1, -1
	if _, err := s.Append(ctx, records, nil); err == nil || !strings.HasPrefix(err.Error(), "record 10:") {
		t.Errorf("two bad records: Append = %v, want record 10 named", err)
	}
}
