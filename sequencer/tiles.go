package sequencer

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// storeTileReader reads hash tiles from a store, for tlog.TileHashReader,
// which checks them against a verified tree.
type storeTileReader struct {
	ctx   context.Context
	store publish.Store
}

func (r storeTileReader) Height() int { return tiles.TileHeight }

func (r storeTileReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		data, _, err := r.store.Read(r.ctx, tiles.TilePath(t))
		if errors.Is(err, publish.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s is missing", ErrStoreDamaged, tiles.TilePath(t))
		}
		if err != nil {
			return nil, storeReadError{fmt.Errorf("couldn't read tile: %w", err)}
		}
		out[i] = data
	}
	return out, nil
}

func (r storeTileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// storeReadError is a failure to read a tile from the store, as opposed to
// a tile that was read but does not verify.
type storeReadError struct{ error }

func (e storeReadError) Unwrap() error { return e.error }

// damagedUnlessRead classifies an error of tlog computing hashes from
// the store's tiles: a tile that was read but did not verify against the
// stored checkpoint is damage, a failure to read it is not.
func damagedUnlessRead(err error) error {
	if errors.As(err, new(storeReadError)) || errors.Is(err, ErrStoreDamaged) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrStoreDamaged, err)
}

// treeHashes serves the stored hashes of the tree after a batch: those of
// the old tree from its tiles (verified against the old checkpoint, read
// once each), the new ones from memory.
type treeHashes struct {
	oldCount int64
	old      tlog.HashReader
	oldCache map[int64]tlog.Hash
	added    []tlog.Hash
}

func (h *treeHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, x := range indexes {
		switch hash, ok := h.oldCache[x]; {
		case x >= h.oldCount:
			if x-h.oldCount >= int64(len(h.added)) {
				return nil, fmt.Errorf("stored hash %d not computed yet", x)
			}
			out[i] = h.added[x-h.oldCount]
		case ok:
			out[i] = hash
		default:
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	read, err := h.old.ReadHashes(missing)
	if err != nil {
		return nil, err
	}
	for i, x := range missing {
		h.oldCache[x] = read[i]
	}
	return h.ReadHashes(indexes)
}

// buildTiles returns the entry bundles and hash tiles of batch b on top of
// oldTree, then the tlog-proofs of the bundles' entries (buildProofs), as
// writes, and the new tree. It only reads the store.
func (s *Sequencer) buildTiles(ctx context.Context, oldTree tlog.Tree, b *stagedBatch) ([]publish.Write, tlog.Tree, error) {
	start, end := b.Start, b.end()
	hashes := &treeHashes{
		oldCount: tlog.StoredHashCount(start),
		old:      tlog.TileHashReader(oldTree, storeTileReader{ctx, s.cfg.Store}),
		oldCache: map[int64]tlog.Hash{},
		added:    make([]tlog.Hash, 0, tlog.StoredHashCount(end)-tlog.StoredHashCount(start)),
	}
	entries, leafHashes, err := formatEntries(b.Records)
	if err != nil {
		return nil, tlog.Tree{}, err
	}
	for i := range entries {
		stored, err := tlog.StoredHashesForRecordHash(start+int64(i), leafHashes[i], hashes)
		if err != nil {
			return nil, tlog.Tree{}, fmt.Errorf("couldn't compute tree hashes: %w", damagedUnlessRead(err))
		}
		hashes.added = append(hashes.added, stored...)
	}
	root, err := tlog.TreeHash(end, hashes)
	if err != nil {
		return nil, tlog.Tree{}, fmt.Errorf("couldn't compute tree hash: %w", damagedUnlessRead(err))
	}

	// The bundle the batch extends starts with entries of the old tree.
	var carried [][]byte
	if w := start % tiles.TileWidth; w != 0 {
		carried, err = s.readBundle(ctx, tiles.EntryBundleTile(start/tiles.TileWidth, int(w)), hashes)
		if err != nil {
			return nil, tlog.Tree{}, err
		}
	}
	leaf := func(i int64) []byte {
		if i < start {
			return carried[i%tiles.TileWidth]
		}
		return entries[i-start]
	}

	var writes []publish.Write
	var bundles []tlog.Tile
	for _, t := range tlog.NewTiles(tiles.TileHeight, start, end) {
		data, err := tlog.ReadTileData(t, hashes)
		if err != nil {
			return nil, tlog.Tree{}, fmt.Errorf("couldn't build tile %s: %w", tiles.TilePath(t), err)
		}
		writes = append(writes, publish.Write{Key: tiles.TilePath(t), Data: data})
		if t.L != 0 {
			continue
		}
		first, last := t.N*tiles.TileWidth, t.N*tiles.TileWidth+int64(t.W)
		size := 0
		for i := first; i < last; i++ {
			size += 2 + len(leaf(i))
		}
		bundle := make([]byte, 0, size)
		for i := first; i < last; i++ {
			bundle = tiles.AppendBundleEntry(bundle, leaf(i))
		}
		bundles = append(bundles, tiles.EntryBundleTile(t.N, t.W))
		writes = append(writes, publish.Write{Key: tiles.TilePath(bundles[len(bundles)-1]), Data: bundle})
	}
	// The proofs of the bundles' entries after the tiles, in the same
	// group: all durable before the indexes and the checkpoint.
	tree := tlog.Tree{N: end, Hash: root}
	proofs, err := s.buildProofs(tree, bundles, leaf, hashes)
	if err != nil {
		return nil, tlog.Tree{}, err
	}
	return append(writes, proofs...), tree, nil
}

// writeTiles writes the tiles, bundles and proofs of batch b as one group,
// all of them durable before the indexes and the checkpoint are written. Every object is written
// create-only; rewriting one a crashed run wrote is harmless, as the bytes
// are equal.
func (s *Sequencer) writeTiles(ctx context.Context, writes []publish.Write, b *stagedBatch) error {
	if _, err := publish.WriteAll(ctx, s.cfg.Store, writes, s.cfg.Concurrency); err != nil {
		return fmt.Errorf("couldn't write tiles: %w", err)
	}
	s.log.Info("tiles and entry bundles written", "objects", len(writes), "from", b.Start, "to", b.end())
	return nil
}

// readBundle reads a published entry bundle and checks its entries
// against the verified leaf hashes.
func (s *Sequencer) readBundle(ctx context.Context, t tlog.Tile, hashes tlog.HashReader) ([][]byte, error) {
	key := tiles.TilePath(t)
	data, _, err := s.cfg.Store.Read(ctx, key)
	if errors.Is(err, publish.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing", ErrStoreDamaged, key)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", key, err)
	}
	entries, err := tiles.ParseBundle(data, t.W)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStoreDamaged, key, err)
	}
	indexes := make([]int64, t.W)
	for i := range indexes {
		indexes[i] = tlog.StoredHashIndex(0, t.N*tiles.TileWidth+int64(i))
	}
	want, err := hashes.ReadHashes(indexes)
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if tlog.RecordHash(e) != want[i] {
			return nil, fmt.Errorf("%w: %s: entry %d does not match the hash tile", ErrStoreDamaged, key, i)
		}
	}
	return entries, nil
}

// formatEntries returns the entries of records and their leaf hashes,
// computed on every CPU: each is independent of the others.
func formatEntries(records []Record) ([][]byte, []tlog.Hash, error) {
	entries := make([][]byte, len(records))
	hashes := make([]tlog.Hash, len(records))
	err := inChunks(len(records), func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			e, err := records[i].Entry()
			if err != nil {
				return err
			}
			entries[i], hashes[i] = e, tlog.RecordHash(e)
		}
		return nil
	})
	return entries, hashes, err
}
