package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/tiles"
)

// Log is one log, read through a Fetcher and verified with its key. Tiles
// and bundles are immutable, so each is fetched at most once per Log.
type Log struct {
	fetch    Fetcher
	verifier note.Verifier

	mu    sync.Mutex
	tiles map[string]*tileFetch
}

type tileFetch struct {
	done chan struct{}
	data []byte
	err  error
}

// NewLog returns the log read through fetch and verified with vkey.
func NewLog(fetch Fetcher, vkey string) (*Log, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse verifier key: %w", err)
	}
	if err := tiles.CheckOrigin(v.Name()); err != nil {
		return nil, fmt.Errorf("verifier key name: %w", err)
	}
	return &Log{fetch: fetch, verifier: v, tiles: map[string]*tileFetch{}}, nil
}

// Origin returns the log's origin, its key's name.
func (l *Log) Origin() string { return l.verifier.Name() }

// Checkpoint fetches and verifies the log's checkpoint. It returns the
// signed note too, as evidence for reports.
func (l *Log) Checkpoint(ctx context.Context) (tiles.Checkpoint, []byte, error) {
	data, err := l.fetch.Fetch(ctx, tiles.CheckpointKey)
	if err != nil {
		return tiles.Checkpoint{}, nil, fmt.Errorf("couldn't fetch checkpoint: %w", err)
	}
	c, _, err := tiles.OpenCheckpoint(data, l.verifier)
	if err != nil {
		return tiles.Checkpoint{}, data, fmt.Errorf("%w: checkpoint of %s: %v", tiles.ErrVerification, l.Origin(), err)
	}
	return c, data, nil
}

// Index fetches and verifies the index of a normalized project. A project
// the log has never seen has no index: ErrNotFound.
func (l *Log) Index(ctx context.Context, project string) (tiles.Index, error) {
	data, err := l.fetch.Fetch(ctx, tiles.IndexKey(project))
	if err != nil {
		return tiles.Index{}, fmt.Errorf("couldn't fetch index of %s: %w", project, err)
	}
	x, err := tiles.OpenIndex(data, l.verifier, project)
	if err != nil {
		return tiles.Index{}, fmt.Errorf("%w: index of %s: %v", tiles.ErrVerification, project, err)
	}
	return x, nil
}

// tile fetches an immutable object once, sharing concurrent fetches.
func (l *Log) tile(ctx context.Context, key string) ([]byte, error) {
	l.mu.Lock()
	f, ok := l.tiles[key]
	if !ok {
		f = &tileFetch{done: make(chan struct{})}
		l.tiles[key] = f
		l.mu.Unlock()
		f.data, f.err = l.fetch.Fetch(ctx, key)
		close(f.done)
		if f.err != nil {
			// Don't remember failures: a later call may succeed.
			l.mu.Lock()
			delete(l.tiles, key)
			l.mu.Unlock()
		}
		return f.data, f.err
	}
	l.mu.Unlock()
	select {
	case <-f.done:
		return f.data, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TileReader returns a tlog.TileReader over the log's hash tiles, for
// tlog.TileHashReader (which checks them against a verified tree).
func (l *Log) TileReader(ctx context.Context) tlog.TileReader {
	return tileReader{ctx, l}
}

type tileReader struct {
	ctx context.Context
	log *Log
}

func (r tileReader) Height() int { return tiles.TileHeight }

func (r tileReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	g, ctx := errgroup.WithContext(r.ctx)
	for i, t := range ts {
		g.Go(func() error {
			var err error
			out[i], err = r.log.tile(ctx, tiles.TilePath(t))
			return err
		})
	}
	return out, g.Wait()
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// bundleTile returns the entry bundle holding leaf in a tree of size n.
func bundleTile(leaf, n int64) tlog.Tile {
	k := leaf / tiles.TileWidth
	w := min(n-k*tiles.TileWidth, tiles.TileWidth)
	return tiles.EntryBundleTile(k, int(w))
}

// Entry fetches the entry at leaf of tree, parses it, and proves its
// inclusion in tree by a Merkle proof from the log's tiles.
func (l *Log) Entry(ctx context.Context, tree tlog.Tree, leaf int64) (tiles.Entry, []byte, error) {
	if leaf < 0 || leaf >= tree.N {
		return tiles.Entry{}, nil, fmt.Errorf("leaf %d is not in a tree of size %d", leaf, tree.N)
	}
	t := bundleTile(leaf, tree.N)
	key := tiles.TilePath(t)
	data, err := l.tile(ctx, key)
	if err != nil {
		return tiles.Entry{}, nil, fmt.Errorf("couldn't fetch entry bundle: %w", err)
	}
	entries, err := tiles.ParseBundle(data, t.W)
	if err != nil {
		return tiles.Entry{}, nil, fmt.Errorf("%w: %s: %v", tiles.ErrVerification, key, err)
	}
	raw := entries[leaf%tiles.TileWidth]
	if err := tiles.CheckInclusion(tree, leaf, raw, l.TileReader(ctx)); err != nil {
		return tiles.Entry{}, raw, fmt.Errorf("entry %d from %s: %w", leaf, key, err)
	}
	e, err := tiles.ParseEntry(raw)
	if err != nil {
		return tiles.Entry{}, raw, fmt.Errorf("%w: logged entry %d is malformed: %v", tiles.ErrVerification, leaf, err)
	}
	return e, raw, nil
}

// IsSecurityError reports whether err is evidence that a log misbehaves
// (as opposed to a failure to reach it).
func IsSecurityError(err error) bool {
	return errors.Is(err, tiles.ErrVerification)
}
