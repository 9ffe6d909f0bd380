package monitor

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

// compactRange is the right edge of the Merkle tree of the first size
// leaves (RFC 6962): the roots of its perfect subtrees, largest first, one
// per bit set in size. It is all that appending leaves and computing the
// root need, O(log size) hashes.
type compactRange struct {
	size   int64
	hashes []tlog.Hash
}

// append adds the leaf with record hash h.
func (r *compactRange) append(h tlog.Hash) {
	r.hashes = append(r.hashes, h)
	// Each trailing one bit of the old size is a subtree of the same
	// height as the one just completed: merge them.
	for n := r.size; n&1 == 1; n >>= 1 {
		k := len(r.hashes)
		r.hashes[k-2] = tlog.NodeHash(r.hashes[k-2], r.hashes[k-1])
		r.hashes = r.hashes[:k-1]
	}
	r.size++
}

// root returns the tree hash of the first size leaves (the zero hash for
// none, as tlog.TreeHash).
func (r *compactRange) root() tlog.Hash {
	if len(r.hashes) == 0 {
		return tlog.Hash{}
	}
	h := r.hashes[len(r.hashes)-1]
	for i := len(r.hashes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(r.hashes[i], h)
	}
	return h
}

func (r *compactRange) clone() compactRange {
	return compactRange{size: r.size, hashes: slices.Clone(r.hashes)}
}

// encode returns the size (big-endian uint64) followed by the hashes.
func (r *compactRange) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(r.size))
	for _, h := range r.hashes {
		b = append(b, h[:]...)
	}
	return b
}

func decodeCompactRange(b []byte) (compactRange, error) {
	if len(b) < 8 {
		return compactRange{}, errors.New("short compact range")
	}
	size := binary.BigEndian.Uint64(b)
	b = b[8:]
	if size > tiles.MaxTreeSize || len(b) != bits.OnesCount64(size)*tlog.HashSize {
		return compactRange{}, errors.New("malformed compact range")
	}
	r := compactRange{size: int64(size)}
	for ; len(b) > 0; b = b[tlog.HashSize:] {
		r.hashes = append(r.hashes, tlog.Hash(b[:tlog.HashSize]))
	}
	return r, nil
}
