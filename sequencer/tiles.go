package sequencer

import (
	"context"
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
		if err != nil {
			return nil, fmt.Errorf("couldn't read tile: %w", err)
		}
		out[i] = data
	}
	return out, nil
}

func (r storeTileReader) SaveTiles([]tlog.Tile, [][]byte) {}

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

// writeTiles writes the entry bundles and hash tiles of batch b on top of
// oldTree and returns the new tree. Every object is written create-only;
// rewriting one a crashed run wrote is harmless, as the bytes are equal.
func (s *Sequencer) writeTiles(ctx context.Context, oldTree tlog.Tree, b *stagedBatch) (tlog.Tree, error) {
	start, end := b.Start, b.end()
	hashes := &treeHashes{
		oldCount: tlog.StoredHashCount(start),
		old:      tlog.TileHashReader(oldTree, storeTileReader{ctx, s.cfg.Store}),
		oldCache: map[int64]tlog.Hash{},
		added:    make([]tlog.Hash, 0, tlog.StoredHashCount(end)-tlog.StoredHashCount(start)),
	}
	entries := make([][]byte, len(b.Records))
	for i := range b.Records {
		e, err := b.Records[i].Entry()
		if err != nil {
			return tlog.Tree{}, err
		}
		entries[i] = e
		stored, err := tlog.StoredHashesForRecordHash(start+int64(i), tlog.RecordHash(e), hashes)
		if err != nil {
			return tlog.Tree{}, fmt.Errorf("couldn't compute tree hashes: %w", err)
		}
		hashes.added = append(hashes.added, stored...)
	}
	root, err := tlog.TreeHash(end, hashes)
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("couldn't compute tree hash: %w", err)
	}

	// The bundle the batch extends starts with entries of the old tree.
	var carried [][]byte
	if w := start % tiles.TileWidth; w != 0 {
		carried, err = s.readBundle(ctx, tiles.EntryBundleTile(start/tiles.TileWidth, int(w)), hashes)
		if err != nil {
			return tlog.Tree{}, err
		}
	}
	leaf := func(i int64) []byte {
		if i < start {
			return carried[i%tiles.TileWidth]
		}
		return entries[i-start]
	}

	var writes []publish.Write
	for _, t := range tlog.NewTiles(tiles.TileHeight, start, end) {
		data, err := tlog.ReadTileData(t, hashes)
		if err != nil {
			return tlog.Tree{}, fmt.Errorf("couldn't build tile %s: %w", tiles.TilePath(t), err)
		}
		writes = append(writes, publish.Write{Key: tiles.TilePath(t), Data: data})
		if t.L != 0 {
			continue
		}
		var bundle []byte
		for i := t.N * tiles.TileWidth; i < t.N*tiles.TileWidth+int64(t.W); i++ {
			bundle = tiles.AppendBundleEntry(bundle, leaf(i))
		}
		writes = append(writes, publish.Write{Key: tiles.TilePath(tiles.EntryBundleTile(t.N, t.W)), Data: bundle})
	}
	// One group: all of them are durable before the checkpoint is signed.
	if _, err := publish.WriteAll(ctx, s.cfg.Store, writes, s.cfg.Concurrency); err != nil {
		return tlog.Tree{}, fmt.Errorf("couldn't write tiles: %w", err)
	}
	s.log.Info("tiles and entry bundles written", "objects", len(writes), "from", start, "to", end)
	return tlog.Tree{N: end, Hash: root}, nil
}

// readBundle reads a published entry bundle and checks its entries
// against the verified leaf hashes.
func (s *Sequencer) readBundle(ctx context.Context, t tlog.Tile, hashes tlog.HashReader) ([][]byte, error) {
	key := tiles.TilePath(t)
	data, _, err := s.cfg.Store.Read(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", key, err)
	}
	entries, err := tiles.ParseBundle(data, t.W)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", tiles.ErrVerification, key, err)
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
			return nil, fmt.Errorf("%w: %s: entry %d does not match the hash tile", tiles.ErrVerification, key, i)
		}
	}
	return entries, nil
}
