package tiles

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// countingHashes counts the calls to ReadHashes.
type countingHashes struct {
	tlog.HashReader
	calls int
}

func (c *countingHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	c.calls++
	return c.HashReader.ReadHashes(indexes)
}

// bundlesOf returns the entry bundles of the tree of size n, the first
// and last few only for a large tree.
func bundlesOf(n int64) []tlog.Tile {
	var out []tlog.Tile
	for k := int64(0); k*TileWidth < n; k++ {
		if last := (n - 1) / TileWidth; k < 3 || k > last-3 {
			out = append(out, BundleOf(k*TileWidth, n))
		}
	}
	return out
}

// TestProveBundlesMatchesFormatTlogProof checks the proofs of bundles,
// full and partial, at many places in trees of many sizes, against
// tlog.ProveRecord, and their formatting against FormatTlogProof.
func TestProveBundlesMatchesFormatTlogProof(t *testing.T) {
	signer, verifier := fixedLogKey(t)
	l := sharedMemLog(t, 70000)
	for _, n := range []int64{1, 2, 255, 256, 257, 511, 512, 513, 767, 768, 1000, 4096, 65535, 65536, 65537, 65792, 69999, 70000} {
		tree := l.tree(t, n)
		signed, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Tree: tree}, signer)
		if err != nil {
			t.Fatal(err)
		}
		bundles := bundlesOf(n)
		r := &countingHashes{HashReader: l}
		proofs, err := ProveBundles(n, bundles, r)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if r.calls != 1 {
			t.Errorf("n=%d: %d calls to ReadHashes, want 1", n, r.calls)
		}
		for i, bundle := range bundles {
			first := bundle.N * TileWidth
			var want []byte
			entries := l.entries[first : first+int64(bundle.W)]
			for k := range bundle.W {
				p, err := tlog.ProveRecord(n, first+int64(k), l)
				if err != nil {
					t.Fatal(err)
				}
				got := proofs[i].Proof(k)
				if len(got) != len(p) {
					t.Fatalf("n=%d leaf %d: %d hashes, want %d", n, first+int64(k), len(got), len(p))
				}
				for j := range p {
					if got[j] != p[j] {
						t.Fatalf("n=%d leaf %d: hash %d differs", n, first+int64(k), j)
					}
				}
				one, err := FormatTlogProof(TlogProof{Extra: entries[k], Index: first + int64(k), Hashes: p, Checkpoint: signed})
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, one...)
			}
			got, err := proofs[i].AppendTlogProofs([]byte("prefix"), entries, signed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Fatalf("n=%d: the proofs of %v differ from FormatTlogProof's", n, bundle)
			}
			split, err := SplitProofBundle(got[len("prefix"):], bundle)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, _, err := OpenTlogProof(must(FormatTlogProof(split[bundle.W-1])), verifier); err != nil {
				t.Fatalf("n=%d: the last proof of %v: %v", n, bundle, err)
			}
		}
	}
}

func must[T any](x T, err error) T {
	if err != nil {
		panic(err)
	}
	return x
}

func TestProveBundlesRejects(t *testing.T) {
	l := sharedMemLog(t, 1000)
	for _, bundle := range []tlog.Tile{
		EntryBundleTile(3, 256), // beyond the tree
		EntryBundleTile(3, 233), // one more than the tree
		{H: TileHeight, L: 0, N: 0, W: 256},
		EntryBundleTile(0, 0),
	} {
		if _, err := ProveBundles(1000, []tlog.Tile{bundle}, l); !errors.Is(err, ErrMalformed) {
			t.Errorf("ProveBundles(1000, %v) = %v, want ErrMalformed", bundle, err)
		}
	}
	proofs, err := ProveBundles(1000, []tlog.Tile{EntryBundleTile(0, 256), EntryBundleTile(3, 232)}, l)
	if err != nil {
		t.Fatal(err)
	}
	signed := []byte("checkpoint\n")
	for _, p := range proofs {
		entries := l.entries[p.Bundle.N*TileWidth : p.Bundle.N*TileWidth+int64(p.Bundle.W)]
		if _, err := p.AppendTlogProofs(nil, entries[1:], signed); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v: proofs of too few entries: %v", p.Bundle, err)
		}
		empty := append([][]byte{{}}, entries[1:]...)
		if _, err := p.AppendTlogProofs(nil, empty, signed); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v: an empty entry: %v", p.Bundle, err)
		}
		if _, err := p.AppendTlogProofs(nil, entries, []byte("no newline")); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v: a checkpoint without its newline: %v", p.Bundle, err)
		}
	}
}

// BenchmarkProveBundles proves and formats the entries of 64 full
// bundles in a tree of 70,000 entries, as the sequencer does for a
// batch (bundle), and as it did before, one proof at a time (each).
func BenchmarkProveBundles(b *testing.B) {
	const n = 70000
	l := sharedMemLog(b, n)
	var bundles []tlog.Tile
	for k := range int64(64) {
		bundles = append(bundles, EntryBundleTile(k+200, TileWidth))
	}
	signed := bytes.Repeat([]byte("c"), 300)
	signed[len(signed)-1] = '\n'
	entries := func(t tlog.Tile) [][]byte { return l.entries[t.N*TileWidth : t.N*TileWidth+TileWidth] }
	b.Run("bundle", func(b *testing.B) {
		for b.Loop() {
			proofs, err := ProveBundles(n, bundles, l)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range proofs {
				if _, err := p.AppendTlogProofs(nil, entries(p.Bundle), signed); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bundles)*TileWidth), "ns/entry")
	})
	b.Run("each", func(b *testing.B) {
		var leaves []int64
		for _, t := range bundles {
			for k := range int64(TileWidth) {
				leaves = append(leaves, t.N*TileWidth+k)
			}
		}
		for b.Loop() {
			proofs, err := ProveRecords(n, leaves, l)
			if err != nil {
				b.Fatal(err)
			}
			for i, leaf := range leaves {
				if _, err := FormatTlogProof(TlogProof{Extra: l.entries[leaf], Index: leaf, Hashes: proofs[i], Checkpoint: signed}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(leaves)), "ns/entry")
	})
}
