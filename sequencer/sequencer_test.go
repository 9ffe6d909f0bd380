package sequencer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

func testKey(t testing.TB) (skey, vkey string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "pysumdb.test/log")
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

// syntheticRecords returns n records of distinct files, spread over
// projects, numbered from first.
func syntheticRecords(first, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		k := first + i
		out[i] = Record{
			Project:    fmt.Sprintf("project-%d", k%97),
			Filename:   fmt.Sprintf("project_%d-%d.0-py3-none-any.whl", k%97, k),
			SHA256:     fmt.Sprintf("%064x", k+1),
			Size:       int64(1000 + k),
			UploadTime: fmt.Sprintf("2024-01-01T00:%02d:%02dZ", k/60%60, k%60),
		}
	}
	return out
}

func openSeq(t testing.TB, store publish.Store, skey string) *Sequencer {
	t.Helper()
	s, err := Open(context.Background(), Config{Store: store, Key: skey, Holder: t.Name()})
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
		res, err := s.Append(ctx, syntheticRecords(total, n), nil)
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
	r := storeTileReader{ctx, store}
	last := trees[len(trees)-1]
	for _, old := range trees {
		if _, err := tiles.ProveConsistency(old, last, r); err != nil {
			t.Errorf("consistency %d → %d: %v", old.N, last.N, err)
		}
	}
	for _, leaf := range []int64{0, 1, 255, 256, 511, last.N - 1} {
		rec := syntheticRecords(0, total)
		// Appended batches keep input order here (upload times increase).
		e, _ := rec[leaf].Entry()
		if err := tiles.CheckInclusion(last, leaf, e, r); err != nil {
			t.Errorf("inclusion of %d: %v", leaf, err)
		}
	}
	// Appending the same records again appends nothing.
	s := openSeq(t, store, skey)
	res, err := s.Append(ctx, syntheticRecords(0, total), nil)
	if err != nil || res.Appended != 0 || res.Duplicates != total {
		t.Fatalf("re-append: %+v, %v", res, err)
	}
}

func TestSecondSequencerIsBusy(t *testing.T) {
	store, _ := publish.OpenDir(t.TempDir())
	skey, _ := testKey(t)
	openSeq(t, store, skey)
	_, err := Open(context.Background(), Config{Store: store, Key: skey})
	if !errors.Is(err, publish.ErrBusy) {
		t.Fatalf("second Open: %v, want ErrBusy", err)
	}
}
