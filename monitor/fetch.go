package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/tiles"
)

// bundlesAhead bounds the entry bundles fetched ahead of their checks,
// and so the memory they hold: a bundle is at most 16 MiB
// (tiles.MaxBundleSize), some 30 KB on PyPI.
const bundlesAhead = 8

// notesAhead bounds the indexes, notes and PyPI pages fetched at once
// (an index is at most 64 MiB, some KB on PyPI).
const notesAhead = 8

// maxCachedTiles bounds the hash tiles a run keeps (8 KiB each).
const maxCachedTiles = 4096

// tileReader reads a log's hash tiles through its Fetcher for
// tlog.TileHashReader, which verifies them. It keeps the tiles of one run
// (bounded), not the Log's cache, which never forgets: a monitor runs for
// months.
type tileReader struct {
	ctx   context.Context
	fetch client.Fetcher

	mu    sync.Mutex
	cache map[string][]byte
}

func newTileReader(ctx context.Context, fetch client.Fetcher) *tileReader {
	return &tileReader{ctx: ctx, fetch: fetch, cache: map[string][]byte{}}
}

func (t *tileReader) Height() int { return tiles.TileHeight }

func (t *tileReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	g, ctx := errgroup.WithContext(t.ctx)
	for i, tile := range ts {
		key := tiles.TilePath(tile)
		t.mu.Lock()
		data, ok := t.cache[key]
		t.mu.Unlock()
		if ok {
			out[i] = data
			continue
		}
		g.Go(func() error {
			data, err := t.fetch.Fetch(ctx, key)
			if err != nil {
				return fmt.Errorf("couldn't fetch %s: %w", key, err)
			}
			t.mu.Lock()
			if len(t.cache) >= maxCachedTiles {
				clear(t.cache)
			}
			t.cache[key] = data
			t.mu.Unlock()
			out[i] = data
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func (t *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// trackingReader remembers whether reading a tile failed, to tell a
// failure to read from tiles that don't verify.
type trackingReader struct {
	tlog.TileReader
	err error
}

func (r *trackingReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	data, err := r.TileReader.ReadTiles(ts)
	if err != nil && r.err == nil {
		r.err = err
	}
	return data, err
}

// bundleTile returns the entry bundle holding leaf in a tree of size n.
func bundleTile(leaf, n int64) tlog.Tile {
	k := leaf / tiles.TileWidth
	return tiles.EntryBundleTile(k, int(min(n-k*tiles.TileWidth, tiles.TileWidth)))
}

// fetchInOrder fetches keys, at most ahead at once and ahead of the
// calls of each, and calls each with every object in the order of keys.
func fetchInOrder(ctx context.Context, fetch client.Fetcher, keys []string, ahead int, each func(i int, data []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	slots := make([]chan result, len(keys))
	for i := range slots {
		slots[i] = make(chan result, 1)
	}
	sem := make(chan struct{}, ahead)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before the wait: the fetches in flight end
	wg.Go(func() {
		for i, key := range keys {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				data, err := fetch.Fetch(ctx, key)
				slots[i] <- result{data, err}
			})
		}
	})
	for i, key := range keys {
		var res result
		select {
		case res = <-slots[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-sem
		if res.err != nil {
			return fmt.Errorf("couldn't fetch %s: %w", key, res.err)
		}
		if err := each(i, res.data); err != nil {
			return err
		}
	}
	return nil
}

// fetched is an object fetched by fetchAll.
type fetched struct {
	data  []byte
	found bool
}

// fetchAll fetches keys, at most notesAhead at once, and calls each
// (concurrently) with every object as it comes; an object the log doesn't
// have is not found, not an error.
func fetchAll(ctx context.Context, fetch client.Fetcher, keys []string, each func(i int, obj fetched) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(notesAhead)
	for i, key := range keys {
		g.Go(func() error {
			data, err := fetch.Fetch(gctx, key)
			obj := fetched{data, true}
			switch {
			case errors.Is(err, client.ErrNotFound):
				obj = fetched{}
			case err != nil:
				return fmt.Errorf("couldn't fetch %s: %w", key, err)
			}
			return each(i, obj)
		})
	}
	return g.Wait()
}

// proveEntry fetches the entry at leaf of tree from the log and proves it
// included in tree: evidence for a finding.
func proveEntry(ctx context.Context, origin string, fetch client.Fetcher, reader tlog.TileReader, tree tlog.Tree, leaf int64) (ProvenEntry, []byte, error) {
	pe := ProvenEntry{Origin: origin, TreeSize: tree.N, Leaf: leaf}
	bt := bundleTile(leaf, tree.N)
	key := tiles.TilePath(bt)
	data, err := fetch.Fetch(ctx, key)
	if err != nil {
		return pe, nil, fmt.Errorf("couldn't fetch %s: %w", key, err)
	}
	entries, err := tiles.ParseBundle(data, bt.W)
	if err != nil {
		return pe, nil, fmt.Errorf("%s: %w", key, err)
	}
	raw := entries[leaf%tiles.TileWidth]
	proof, err := tlog.ProveRecord(tree.N, leaf, tlog.TileHashReader(tree, reader))
	if err != nil {
		return pe, nil, fmt.Errorf("couldn't prove leaf %d: %w", leaf, err)
	}
	if err := tlog.CheckRecord(proof, tree.N, tree.Hash, leaf, tlog.RecordHash(raw)); err != nil {
		return pe, nil, fmt.Errorf("leaf %d of %s doesn't verify: %w", leaf, key, err)
	}
	pe.setEntry(raw)
	pe.InclusionProof = hashStrings(proof)
	return pe, raw, nil
}

func hashStrings(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}
