package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/tiles"
)

// maxPrefetch bounds the objects fetched at once by PrefetchProofs and
// ProveLines: enough that the tiles of a large lockfile's proofs all go
// out in one round trip (over HTTP/2, on one connection).
const maxPrefetch = 256

// ProvenLine is what ProveLines found of one index line.
type ProvenLine struct {
	// Entry is the entry at the line's leaf, proven included in the
	// tree, if Err is nil. It may contradict the line: check it with
	// CheckIndexLine.
	Entry tiles.Entry
	// Err says why the leaf couldn't be proven: an error wrapping
	// tiles.ErrVerification if the log's tiles or bundle don't verify,
	// another error if they couldn't be fetched.
	Err error
}

// errTilesRecorded ends the planning pass of tileRecorder.
var errTilesRecorded = errors.New("tiles recorded")

// tileRecorder is a tlog.TileReader that only records which tiles a proof
// reads (tlog.TileHashReader asks for all of them in one call), so that
// they can all be fetched at once before the proofs run.
type tileRecorder struct {
	seen  map[tlog.Tile]bool
	tiles []tlog.Tile
}

func (r *tileRecorder) Height() int { return tiles.TileHeight }

func (r *tileRecorder) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	for _, t := range ts {
		if !r.seen[t] {
			r.seen[t] = true
			r.tiles = append(r.tiles, t)
		}
	}
	return nil, errTilesRecorded
}

func (r *tileRecorder) SaveTiles([]tlog.Tile, [][]byte) {}

// proofTiles returns the distinct hash tiles the inclusion proofs of
// leaves in tree read (and, if old is a smaller tree, the consistency
// proof from it): they depend only on the indexes and the sizes.
func proofTiles(tree tlog.Tree, old int64, leaves []int64) []tlog.Tile {
	rec := &tileRecorder{seen: map[tlog.Tile]bool{}}
	hr := tlog.TileHashReader(tree, rec)
	for _, leaf := range leaves {
		if leaf >= 0 && leaf < tree.N {
			tlog.ProveRecord(tree.N, leaf, hr)
		}
	}
	if old > 0 && old < tree.N {
		tlog.ProveTree(tree.N, old, hr)
	}
	return rec.tiles
}

// fetchAll fetches the immutable objects at keys in parallel (through the
// disk cache and the Log's sharing of fetches), at most maxPrefetch at
// once, and returns the first error.
func (l *Log) fetchAll(ctx context.Context, keys []string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxPrefetch)
	for _, key := range keys {
		g.Go(func() error {
			_, err := l.tile(gctx, key)
			return err
		})
	}
	return g.Wait()
}

// PrefetchProofs fetches at once, in parallel, every hash tile that the
// inclusion proofs of leaves in tree and the consistency proof from a tree
// of size old (0 for none) will read, so that the proofs then run without
// waiting on the network one after the other. Nothing is verified here:
// the proofs verify what they read. A tile that can't be fetched is left
// for the proof that needs it to report.
func (l *Log) PrefetchProofs(ctx context.Context, tree tlog.Tree, old int64, leaves []int64) {
	ts := proofTiles(tree, old, leaves)
	keys := make([]string, len(ts))
	for i, t := range ts {
		keys[i] = tiles.TilePath(t)
	}
	l.fetchAll(ctx, keys)
}

// ProveLines proves the entries of index lines against tree, in few round
// trips: every hash tile the proofs need is fetched at once; each line's
// entry is first rebuilt from the line itself (its filename and sha256)
// and proven without its entry bundle, the leaf's hash in the verified
// tiles vouching for every byte of it; only the lines whose entry is not
// that rebuild (it records a publisher, or the log contradicts the index)
// need their bundles, fetched at once in a second round trip and proven
// as Entry does. Lines at or beyond tree's size are errors (not provable
// in tree). The result is in the order of lines.
func (l *Log) ProveLines(ctx context.Context, tree tlog.Tree, lines []tiles.IndexLine) []ProvenLine {
	out := make([]ProvenLine, len(lines))
	var leaves []int64
	for _, line := range lines {
		if line.Leaf >= 0 && line.Leaf < tree.N {
			leaves = append(leaves, line.Leaf)
		}
	}
	slices.Sort(leaves)
	leaves = slices.Compact(leaves)
	l.PrefetchProofs(ctx, tree, 0, leaves)

	var needBundle []int
	for i, line := range lines {
		if line.Leaf < 0 || line.Leaf >= tree.N {
			out[i].Err = fmt.Errorf("leaf %d is not in a tree of size %d", line.Leaf, tree.N)
			continue
		}
		e, ok, err := l.proveRebuilt(ctx, tree, line)
		switch {
		case err != nil:
			out[i].Err = err
		case ok:
			out[i].Entry = e
		default:
			needBundle = append(needBundle, i)
		}
	}
	if len(needBundle) == 0 {
		return out
	}
	keys := make([]string, 0, len(needBundle))
	for _, i := range needBundle {
		keys = append(keys, tiles.TilePath(bundleTile(lines[i].Leaf, tree.N)))
	}
	slices.Sort(keys)
	l.fetchAll(ctx, slices.Compact(keys))
	var g errgroup.Group
	g.SetLimit(maxPrefetch)
	for _, i := range needBundle {
		g.Go(func() error {
			e, _, err := l.Entry(ctx, tree, lines[i].Leaf)
			out[i] = ProvenLine{Entry: e, Err: err}
			return nil
		})
	}
	g.Wait()
	return out
}

// proveRebuilt proves line's entry as the line describes it, without a
// publisher: ok is false if the leaf's hash is not that rebuild's (the
// bundle must tell). The proof's tiles failing to verify is an error.
func (l *Log) proveRebuilt(ctx context.Context, tree tlog.Tree, line tiles.IndexLine) (tiles.Entry, bool, error) {
	e := tiles.Entry{SHA256: line.SHA256, Filename: line.Filename}
	raw, err := tiles.FormatEntry(e)
	if err != nil {
		// An index line the entry format can't hold: only the bundle can
		// say what the log has at that leaf.
		return tiles.Entry{}, false, nil
	}
	var proof tlog.RecordProof
	err = l.retryFromLog(func() (err error) {
		proof, err = tiles.ProveInclusion(tree, line.Leaf, l.TileReader(ctx))
		return err
	})
	if err != nil {
		return tiles.Entry{}, false, fmt.Errorf("couldn't prove %s at leaf %d: %w", line.Filename, line.Leaf, err)
	}
	if tlog.CheckRecord(proof, tree.N, tree.Hash, line.Leaf, tlog.RecordHash(raw)) != nil {
		return tiles.Entry{}, false, nil
	}
	return e, true, nil
}
