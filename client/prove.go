package client

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/tiles"
)

// maxPrefetch bounds the objects fetched at once by ProveLines: enough
// that the tiles of a large lockfile's proofs all go out in one round trip
// (over HTTP/2, on one connection).
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

// ProveLines proves the entries of index lines against tree, in few round
// trips: every hash tile the proofs need is fetched at once and verified
// once (tiles.ProveInclusions); each line's
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
	// Every proof's tiles, read at once and verified once.
	var proofs []tlog.RecordProof
	err := l.retryFromLog(func() (err error) {
		proofs, err = tiles.ProveInclusions(tree, leaves, l.TileReader(ctx))
		return err
	})
	proofOf := make(map[int64]tlog.RecordProof, len(leaves))
	for i, leaf := range leaves {
		if err == nil {
			proofOf[leaf] = proofs[i]
		}
	}

	var needBundle []int
	for i, line := range lines {
		switch {
		case line.Leaf < 0 || line.Leaf >= tree.N:
			out[i].Err = fmt.Errorf("leaf %d is not in a tree of size %d", line.Leaf, tree.N)
		case err != nil:
			out[i].Err = fmt.Errorf("couldn't prove %s at leaf %d: %w", line.Filename, line.Leaf, err)
		default:
			if e, ok := rebuiltEntry(tree, line, proofOf[line.Leaf]); ok {
				out[i].Entry = e
			} else {
				needBundle = append(needBundle, i)
			}
		}
	}
	if len(needBundle) == 0 {
		return out
	}
	keys := make([]string, 0, len(needBundle))
	for _, i := range needBundle {
		keys = append(keys, tiles.TilePath(tiles.BundleOf(lines[i].Leaf, tree.N)))
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

// rebuiltEntry returns line's entry as the line describes it, without a
// publisher, if proof (of the line's leaf in tree) proves it: ok is false
// if the leaf's hash is not that rebuild's (the bundle must tell).
func rebuiltEntry(tree tlog.Tree, line tiles.IndexLine, proof tlog.RecordProof) (tiles.Entry, bool) {
	e := tiles.Entry{SHA256: line.SHA256, Filename: line.Filename}
	raw, err := tiles.FormatEntry(e)
	if err != nil {
		// An index line the entry format can't hold: only the bundle can
		// say what the log has at that leaf.
		return tiles.Entry{}, false
	}
	if tlog.CheckRecord(proof, tree.N, tree.Hash, line.Leaf, tlog.RecordHash(raw)) != nil {
		return tiles.Entry{}, false
	}
	return e, true
}
