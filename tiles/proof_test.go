package tiles

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// memLog is a log built in memory: its entries and stored hashes, with
// the hash tiles of any tree size served by TilePath.
type memLog struct {
	entries [][]byte
	hashes  []tlog.Hash // stored hashes, as tlog.StoredHashes appends them

	mu    sync.Mutex
	tiles map[int64]map[string][]byte // tree size → TilePath → tile data
}

func (l *memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("stored hash %d not in log", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func newMemLog(t testing.TB, n int64) *memLog {
	t.Helper()
	l := &memLog{tiles: make(map[int64]map[string][]byte)}
	for i := int64(0); i < n; i++ {
		e := testEntry(i)
		h, err := tlog.StoredHashes(i, e, l)
		if err != nil {
			t.Fatal(err)
		}
		l.entries = append(l.entries, e)
		l.hashes = append(l.hashes, h...)
	}
	return l
}

var (
	memLogsMu sync.Mutex
	memLogs   = map[int64]*memLog{}
)

// sharedMemLog returns a log of n entries, built once per test binary.
func sharedMemLog(t testing.TB, n int64) *memLog {
	memLogsMu.Lock()
	defer memLogsMu.Unlock()
	if l := memLogs[n]; l != nil {
		return l
	}
	l := newMemLog(t, n)
	memLogs[n] = l
	return l
}

func (l *memLog) tree(t testing.TB, n int64) tlog.Tree {
	t.Helper()
	h, err := tlog.TreeHash(n, l)
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Tree{N: n, Hash: h}
}

// published returns the tiles a log of size n publishes: every tile of
// tlog.NewTiles(8, 0, n), by path.
func (l *memLog) published(t testing.TB, n int64) map[string][]byte {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := l.tiles[n]; m != nil {
		return m
	}
	m := make(map[string][]byte)
	for _, tile := range tlog.NewTiles(TileHeight, 0, n) {
		data, err := tlog.ReadTileData(tile, l)
		if err != nil {
			t.Fatal(err)
		}
		m[TilePath(tile)] = data
	}
	l.tiles[n] = m
	return m
}

// tileReader serves tiles from a map keyed by TilePath, optionally
// altered by corrupt.
type tileReader struct {
	tiles   map[string][]byte
	corrupt func(path string, data []byte) ([]byte, error)
	paths   []string // every path read
}

func (r *tileReader) Height() int { return TileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		p := TilePath(tile)
		r.paths = append(r.paths, p)
		data, ok := r.tiles[p]
		if !ok {
			return nil, fmt.Errorf("reading %s: %w", p, fs.ErrNotExist)
		}
		data = bytes.Clone(data)
		if r.corrupt != nil {
			var err error
			if data, err = r.corrupt(p, data); err != nil {
				return nil, err
			}
		}
		out[i] = data
	}
	return out, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func TestMemLogTiles(t *testing.T) {
	// The test log itself: its level-0 tiles are the leaf hashes of its
	// entry bundles, and tiles of a smaller tree are prefixes.
	l := sharedMemLog(t, 1000)
	tiles := l.published(t, 1000)
	want := []string{"tile/0/000", "tile/0/001", "tile/0/002", "tile/0/003.p/232", "tile/1/000.p/3"}
	if len(tiles) != len(want) {
		t.Fatalf("published %d tiles, want %d", len(tiles), len(want))
	}
	for _, p := range want {
		if _, ok := tiles[p]; !ok {
			t.Fatalf("%s not published", p)
		}
	}
	for n := int64(0); n < 4; n++ {
		w := min(TileWidth, 1000-int(n)*TileWidth)
		bundle, err := EncodeBundle(l.entries[n*TileWidth : n*TileWidth+int64(w)])
		if err != nil {
			t.Fatal(err)
		}
		entries, err := ParseBundle(bundle, w)
		if err != nil {
			t.Fatal(err)
		}
		tile := tlog.Tile{H: TileHeight, L: 0, N: n, W: w}
		if got := LeafHashes(entries); !bytes.Equal(got, tiles[TilePath(tile)]) {
			t.Fatalf("LeafHashes of bundle %d differ from tile %s", n, TilePath(tile))
		}
	}
	if !bytes.HasPrefix(tiles["tile/0/003.p/232"], l.published(t, 800)["tile/0/003.p/32"]) {
		t.Fatal("partial tile of tree 800 is not a prefix of that of tree 1000")
	}
}

func TestCheckInclusion(t *testing.T) {
	for _, tc := range []struct {
		size   int64
		leaves []int64
	}{
		{1, []int64{0}},
		{2, []int64{0, 1}},
		{256, []int64{0, 255}},
		{257, []int64{0, 255, 256}},
		{1000, []int64{0, 1, 254, 255, 256, 257, 511, 512, 767, 768, 998, 999}},
		{70000, []int64{0, 255, 256, 65535, 65536, 69887, 69888, 69999}},
	} {
		l := sharedMemLog(t, tc.size)
		tree := l.tree(t, tc.size)
		tiles := l.published(t, tc.size)
		for _, leaf := range tc.leaves {
			t.Run(fmt.Sprintf("%d-of-%d", leaf, tc.size), func(t *testing.T) {
				r := &tileReader{tiles: tiles}
				if err := CheckInclusion(tree, leaf, l.entries[leaf], r); err != nil {
					t.Fatal(err)
				}
				if len(r.paths) == 0 && tc.size > 1 {
					t.Fatal("no tile read")
				}

				// Another entry at that index is not included.
				other := l.entries[(leaf+1)%tc.size]
				if tc.size == 1 {
					other = testEntry(1)
				}
				err := CheckInclusion(tree, leaf, other, &tileReader{tiles: tiles})
				if !errors.Is(err, ErrVerification) {
					t.Fatalf("CheckInclusion of another entry: %v, want ErrVerification", err)
				}
				// Nor is the entry at another index.
				if tc.size > 1 {
					err := CheckInclusion(tree, (leaf+1)%tc.size, l.entries[leaf], &tileReader{tiles: tiles})
					if !errors.Is(err, ErrVerification) {
						t.Fatalf("CheckInclusion at another index: %v, want ErrVerification", err)
					}
				}
			})
		}
	}
}

func TestCheckInclusionOutOfRange(t *testing.T) {
	l := sharedMemLog(t, 1000)
	tree := l.tree(t, 1000)
	r := &tileReader{tiles: l.published(t, 1000)}
	for _, leaf := range []int64{-1, 1000, 1001, 1 << 40} {
		if err := CheckInclusion(tree, leaf, testEntry(0), r); !errors.Is(err, ErrVerification) {
			t.Errorf("CheckInclusion(leaf %d): %v, want ErrVerification", leaf, err)
		}
	}
	if err := CheckInclusion(tlog.Tree{}, 0, testEntry(0), r); !errors.Is(err, ErrVerification) {
		t.Errorf("CheckInclusion in empty tree: %v, want ErrVerification", err)
	}
	if len(r.paths) != 0 {
		t.Errorf("tiles read: %v", r.paths)
	}
}

func TestProveConsistency(t *testing.T) {
	for _, tc := range []struct{ old, new int64 }{
		{0, 1000},
		{1, 2},
		{1, 1000},
		{255, 1000},
		{256, 1000},
		{257, 1000},
		{512, 1000},
		{999, 1000},
		{1000, 1000},
		{1, 70000},
		{256, 65537},
		{1000, 70000},
		{65535, 70000},
		{65536, 70000},
		{69888, 70000},
		{69999, 70000},
		{70000, 70000},
	} {
		t.Run(fmt.Sprintf("%d-%d", tc.old, tc.new), func(t *testing.T) {
			l := sharedMemLog(t, 1000)
			if tc.new > 1000 {
				l = sharedMemLog(t, 70000)
			}
			old, newer := l.tree(t, tc.old), l.tree(t, tc.new)
			r := &tileReader{tiles: l.published(t, tc.new)}
			p, err := ProveConsistency(old, newer, r)
			if err != nil {
				t.Fatal(err)
			}
			if tc.old == 0 || tc.old == tc.new {
				if p != nil {
					t.Fatalf("proof %v, want none", p)
				}
				return
			}
			if len(p) == 0 {
				t.Fatal("empty proof")
			}
			if err := tlog.CheckTree(p, newer.N, newer.Hash, old.N, old.Hash); err != nil {
				t.Fatalf("returned proof does not check: %v", err)
			}

			// An old tree of the same size and another hash is not a prefix.
			forged := old
			forged.Hash[0] ^= 1
			p, err = ProveConsistency(forged, newer, &tileReader{tiles: l.published(t, tc.new)})
			if !errors.Is(err, ErrVerification) {
				t.Fatalf("ProveConsistency of a forged old tree: %v, want ErrVerification", err)
			}
			if len(p) == 0 {
				t.Fatal("no proof returned as evidence")
			}
		})
	}
}

func TestProveConsistencyRollback(t *testing.T) {
	l := sharedMemLog(t, 1000)
	a, b := l.tree(t, 999), l.tree(t, 1000)
	r := &tileReader{tiles: l.published(t, 1000)}
	if _, err := ProveConsistency(b, a, r); !errors.Is(err, ErrVerification) {
		t.Fatalf("rollback from %d to %d: %v, want ErrVerification", b.N, a.N, err)
	}
	forked := b
	forked.Hash[31] ^= 0x80
	if _, err := ProveConsistency(b, forked, r); !errors.Is(err, ErrVerification) {
		t.Fatalf("same size, different hash: %v, want ErrVerification", err)
	}
	if _, err := ProveConsistency(tlog.Tree{}, tlog.Tree{N: 0, Hash: b.Hash}, r); !errors.Is(err, ErrVerification) {
		t.Fatalf("empty trees with different hashes: %v, want ErrVerification", err)
	}
	if len(r.paths) != 0 {
		t.Fatalf("tiles read: %v", r.paths)
	}
}

// flipByte returns a corrupt function flipping one bit of byte i of the
// tiles whose path is in paths (all tiles if paths is empty).
func flipByte(i int, paths ...string) func(string, []byte) ([]byte, error) {
	return func(p string, data []byte) ([]byte, error) {
		match := len(paths) == 0
		for _, q := range paths {
			match = match || p == q
		}
		if match {
			data[i%len(data)] ^= 1
		}
		return data, nil
	}
}

func TestCorruptTiles(t *testing.T) {
	l := sharedMemLog(t, 70000)
	tree := l.tree(t, 70000)
	old := l.tree(t, 6) // its proof needs tile/0/000
	tiles := l.published(t, 70000)
	for _, tc := range []struct {
		name    string
		corrupt func(string, []byte) ([]byte, error)
	}{
		{"first byte of every tile", flipByte(0)},
		{"last byte of every tile", flipByte(-1 + 256*32)},
		{"leaf's level-0 tile", flipByte(5*32+7, "tile/0/000")},
		{"level-0 hash of another leaf", flipByte(200*32, "tile/0/000")},
		{"level-1 tile", flipByte(100, "tile/1/000")},
		{"level-1 partial tile", flipByte(3, "tile/1/001.p/17")},
		{"level-2 partial tile", flipByte(31, "tile/2/000.p/1")},
		{"truncated tile", func(p string, data []byte) ([]byte, error) { return data[:len(data)-1], nil }},
		{"tile with an extra hash", func(p string, data []byte) ([]byte, error) { return append(data, make([]byte, 32)...), nil }},
		{"empty tile", func(p string, data []byte) ([]byte, error) { return []byte{}, nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			corrupted := false
			corrupt := func(p string, data []byte) ([]byte, error) {
				bad, err := tc.corrupt(p, bytes.Clone(data))
				corrupted = corrupted || !bytes.Equal(bad, data)
				return bad, err
			}
			r := &tileReader{tiles: tiles, corrupt: corrupt}
			err := CheckInclusion(tree, 5, l.entries[5], r)
			if !corrupted {
				t.Fatalf("no corrupted tile among those read: %v", r.paths)
			}
			if !errors.Is(err, ErrVerification) {
				t.Fatalf("CheckInclusion: %v, want ErrVerification", err)
			}
			corrupted = false
			r = &tileReader{tiles: tiles, corrupt: corrupt}
			_, err = ProveConsistency(old, tree, r)
			if !corrupted {
				t.Fatalf("no corrupted tile among those read: %v", r.paths)
			}
			if !errors.Is(err, ErrVerification) {
				t.Fatalf("ProveConsistency: %v, want ErrVerification", err)
			}
		})
	}
}

type ioError struct{ path string }

func (e *ioError) Error() string { return "connection reset reading " + e.path }

func TestTileReadErrors(t *testing.T) {
	l := sharedMemLog(t, 70000)
	tree := l.tree(t, 70000)
	old := l.tree(t, 1000)
	tiles := l.published(t, 70000)
	failing := func(p string, data []byte) ([]byte, error) { return nil, &ioError{p} }

	for _, tc := range []struct {
		name string
		r    *tileReader
		want error
	}{
		{"I/O error", &tileReader{tiles: tiles, corrupt: failing}, nil},
		{"tile not found", &tileReader{tiles: map[string][]byte{}}, fs.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s succeeded", what)
				}
				if errors.Is(err, ErrVerification) {
					t.Fatalf("%s: %v wraps ErrVerification", what, err)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("%s: %v does not wrap %v", what, err, tc.want)
				}
				var ioe *ioError
				if tc.want == nil && !errors.As(err, &ioe) {
					t.Fatalf("%s: %v does not wrap the I/O error", what, err)
				}
			}
			check("CheckInclusion", CheckInclusion(tree, 69999, l.entries[69999], tc.r))
			_, err := ProveConsistency(old, tree, tc.r)
			check("ProveConsistency", err)
		})
	}

	// A tree size of which no tiles are published is a read error, not a
	// verification failure.
	r := &tileReader{tiles: l.published(t, 1000)}
	err := CheckInclusion(tree, 5, l.entries[5], r)
	if err == nil || errors.Is(err, ErrVerification) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("CheckInclusion with tiles of another tree: %v, want fs.ErrNotExist", err)
	}
}

func TestLeafHashes(t *testing.T) {
	if got := LeafHashes(nil); len(got) != 0 {
		t.Fatalf("LeafHashes(nil) = %x", got)
	}
	entries := [][]byte{testEntry(0), {}, testEntry(2)}
	got := LeafHashes(entries)
	if len(got) != 3*tlog.HashSize {
		t.Fatalf("len = %d", len(got))
	}
	for i, e := range entries {
		h := tlog.RecordHash(e)
		if !bytes.Equal(got[i*tlog.HashSize:(i+1)*tlog.HashSize], h[:]) {
			t.Fatalf("hash %d = %x, want %x", i, got[i*tlog.HashSize:(i+1)*tlog.HashSize], h)
		}
	}
}

// BenchmarkStoredHashes measures the cost per appended entry of the tree
// a sequencer maintains: the leaf hash and the interior hashes it
// completes.
func BenchmarkStoredHashes(b *testing.B) {
	entries := testEntries(0, 1024)
	l := &memLog{}
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		h, err := tlog.StoredHashes(i, entries[i%1024], l)
		if err != nil {
			b.Fatal(err)
		}
		l.hashes = append(l.hashes, h...)
		i++
	}
}

func BenchmarkCheckInclusion(b *testing.B) {
	l := sharedMemLog(b, 70000)
	tree := l.tree(b, 70000)
	r := &tileReader{tiles: l.published(b, 70000)}
	b.ReportAllocs()
	for b.Loop() {
		r.paths = r.paths[:0]
		if err := CheckInclusion(tree, 12345, l.entries[12345], r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProveInclusions checks the batch proofs against the single ones,
// and that a tile that doesn't match the tree fails them all.
func TestProveInclusionsMatchesProveInclusion(t *testing.T) {
	const size = 70000
	l := sharedMemLog(t, size)
	tree := l.tree(t, size)
	tr := &tileReader{tiles: l.published(t, size)}
	leaves := []int64{0, 1, 255, 256, 511, 700, 65536, 69999, 700}
	proofs, err := ProveInclusions(tree, leaves, tr)
	if err != nil {
		t.Fatal(err)
	}
	for i, leaf := range leaves {
		one, err := ProveInclusion(tree, leaf, tr)
		if err != nil {
			t.Fatal(err)
		}
		if len(one) != len(proofs[i]) {
			t.Fatalf("leaf %d: %d hashes, ProveInclusion %d", leaf, len(proofs[i]), len(one))
		}
		for j := range one {
			if one[j] != proofs[i][j] {
				t.Fatalf("leaf %d: hash %d differs", leaf, j)
			}
		}
	}
	for i, leaf := range leaves {
		if err := tlog.CheckRecord(proofs[i], tree.N, tree.Hash, leaf, tlog.RecordHash(l.entries[leaf])); err != nil {
			t.Errorf("leaf %d: %v", leaf, err)
		}
	}
	if _, err := ProveInclusions(tree, []int64{size}, tr); !errors.Is(err, ErrVerification) {
		t.Errorf("a leaf beyond the tree: %v", err)
	}
	bad := tree
	bad.Hash[0] ^= 1
	if _, err := ProveInclusions(bad, leaves, tr); !errors.Is(err, ErrVerification) {
		t.Errorf("tiles of another tree: %v", err)
	}
}
