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

// errIndexesRecorded ends the planning pass of ProveInclusions.
var errIndexesRecorded = errors.New("indexes recorded")

// indexRecorder is a tlog.HashReader that only records the stored hash
// indexes a proof reads (tlog.ProveRecord reads them in one call; which
// ones depends only on the sizes).
type indexRecorder struct{ indexes []int64 }

func (r *indexRecorder) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	r.indexes = append(r.indexes, indexes...)
	return nil, errIndexesRecorded
}

// hashMap is a tlog.HashReader of hashes read and verified before.
type hashMap map[int64]tlog.Hash

func (m hashMap) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := m[x]
		if !ok {
			return nil, fmt.Errorf("hash %d was not read", x)
		}
		out[i] = h
	}
	return out, nil
}

// ProveInclusions returns the inclusion proofs of leaves in tree, as
// ProveInclusion does, reading every tile they need in one ReadTiles call
// and verifying each tile against tree once: for many leaves, one round
// trip and a fraction of the hashing.
func ProveInclusions(tree tlog.Tree, leaves []int64, r tlog.TileReader) ([]tlog.RecordProof, error) {
	rec := &indexRecorder{}
	for _, leaf := range leaves {
		if leaf < 0 || leaf >= tree.N {
			return nil, fmt.Errorf("%w: leaf %d is not below tree size %d", ErrVerification, leaf, tree.N)
		}
		tlog.ProveRecord(tree.N, leaf, rec)
	}
	seen := map[int64]bool{}
	var indexes []int64
	for _, x := range rec.indexes {
		if !seen[x] {
			seen[x] = true
			indexes = append(indexes, x)
		}
	}
	var what string
	switch len(leaves) {
	case 0:
		return nil, nil
	case 1:
		what = fmt.Sprintf("inclusion of leaf %d in tree of size %d", leaves[0], tree.N)
	default:
		what = fmt.Sprintf("inclusion of leaf %d in tree of size %d (and of %d more leaves)", leaves[0], tree.N, len(leaves)-1)
	}
	tr := &readTracker{TileReader: r}
	hashes, err := tlog.TileHashReader(tree, tr).ReadHashes(indexes)
	if err != nil {
		return nil, tr.classify(err, what)
	}
	m := make(hashMap, len(indexes))
	for i, x := range indexes {
		m[x] = hashes[i]
	}
	proofs := make([]tlog.RecordProof, len(leaves))
	for i, leaf := range leaves {
		p, err := tlog.ProveRecord(tree.N, leaf, m)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrVerification, what, err)
		}
		proofs[i] = p
	}
	return proofs, nil
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
