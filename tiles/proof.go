package tiles

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// ErrVerification is wrapped by every failure of a proof or of a tile to
// match a verified tree: evidence that the log misbehaves, as opposed to a
// failure to read (which the TileReader's own error reports).
var ErrVerification = errors.New("verification failed")

// readTracker remembers whether the underlying reader failed, so that
// errors of reading are told apart from errors of verification.
type readTracker struct {
	tlog.TileReader
	err error
}

func (r *readTracker) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data, err := r.TileReader.ReadTiles(tiles)
	if err != nil {
		r.err = err
	}
	return data, err
}

func (r *readTracker) classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if r.err != nil {
		return fmt.Errorf("couldn't read tiles for %s: %w", what, r.err)
	}
	return fmt.Errorf("%w: %s: %v", ErrVerification, what, err)
}

// CheckInclusion proves that entry is the leaf at index of tree, reading
// hash tiles through r and checking every tile against tree. tree must come
// from a verified checkpoint.
func CheckInclusion(tree tlog.Tree, index int64, entry []byte, r tlog.TileReader) error {
	p, err := ProveInclusion(tree, index, r)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(p, tree.N, tree.Hash, index, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("%w: inclusion of leaf %d in tree of size %d: %v", ErrVerification, index, tree.N, err)
	}
	return nil
}

// ProveInclusion returns the inclusion proof of leaf index in tree, from
// tiles read through r and verified against tree: check an entry with
// tlog.CheckRecord (CheckInclusion does both).
func ProveInclusion(tree tlog.Tree, index int64, r tlog.TileReader) (tlog.RecordProof, error) {
	if index < 0 || index >= tree.N {
		return nil, fmt.Errorf("%w: leaf %d is not below tree size %d", ErrVerification, index, tree.N)
	}
	tr := &readTracker{TileReader: r}
	p, err := tlog.ProveRecord(tree.N, index, tlog.TileHashReader(tree, tr))
	if err != nil {
		return nil, tr.classify(err, fmt.Sprintf("inclusion of leaf %d in tree of size %d", index, tree.N))
	}
	return p, nil
}

// ProveConsistency returns the proof that old is a prefix of newer, built
// from newer's tiles read through r, after checking it. On a verification
// failure the proof (possibly empty) is returned with the error, as
// evidence.
func ProveConsistency(old, newer tlog.Tree, r tlog.TileReader) (tlog.TreeProof, error) {
	what := fmt.Sprintf("consistency of tree size %d with tree size %d", old.N, newer.N)
	if old.N > newer.N {
		return nil, fmt.Errorf("%w: %s: the newer tree is smaller (rollback)", ErrVerification, what)
	}
	if old.N == newer.N {
		if old.Hash != newer.Hash {
			return nil, fmt.Errorf("%w: %s: same size, different root hashes %s and %s", ErrVerification, what, old.Hash, newer.Hash)
		}
		return nil, nil
	}
	if old.N == 0 {
		return nil, nil
	}
	tr := &readTracker{TileReader: r}
	p, err := tlog.ProveTree(newer.N, old.N, tlog.TileHashReader(newer, tr))
	if err != nil {
		return nil, tr.classify(err, what)
	}
	if err := tlog.CheckTree(p, newer.N, newer.Hash, old.N, old.Hash); err != nil {
		return p, fmt.Errorf("%w: %s: %v", ErrVerification, what, err)
	}
	return p, nil
}

// LeafHashes returns the record hashes of the entries of a bundle, the
// content its level-0 hash tile must have.
func LeafHashes(entries [][]byte) []byte {
	out := make([]byte, 0, len(entries)*tlog.HashSize)
	for _, e := range entries {
		h := tlog.RecordHash(e)
		out = append(out, h[:]...)
	}
	return out
}
