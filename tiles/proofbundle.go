package tiles

import (
	"encoding/base64"
	"slices"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"
)

// bundleNodes is how many stored hashes a full entry bundle's subtree has
// below its root: TileWidth leaves, then each level half the one below,
// down to the root's two children.
const bundleNodes = 2*TileWidth - 2

// BundleProofs are the inclusion proofs of the entries of one entry
// bundle in one tree, kept in the form they share. A full bundle's
// subtree is one of those RFC 6962 splits the tree into (its first leaf
// is a multiple of its width), so the proof of each of its entries is
// the entry's path inside the subtree (one stored hash per level,
// TileHeight of them) followed by the proof of the subtree in the tree,
// the same for all TileWidth entries: so
// the shared part is proven, and formatted, once per bundle, not once
// per entry. A partial bundle (the tree's last) keeps a proof per entry.
type BundleProofs struct {
	// N is the tree's size; Bundle the entry bundle.
	N      int64
	Bundle tlog.Tile
	// nodes are a full bundle's stored hashes below its root, level by
	// level from the leaves up (see nodeOffset); upper is the proof of
	// its subtree in the tree.
	nodes []tlog.Hash
	upper tlog.RecordProof
	// each is the proof of every entry of a partial bundle.
	each []tlog.RecordProof
}

// nodeOffset returns where level l (below TileHeight) of a full bundle's
// subtree starts in BundleProofs.nodes: after TileWidth>>0 + … +
// TileWidth>>(l-1) hashes.
func nodeOffset(l int) int { return 2*TileWidth - 2*(TileWidth>>l) }

// Proof returns the inclusion proof of the k-th entry of the bundle, as
// tlog.ProveRecord returns it.
func (b BundleProofs) Proof(k int) tlog.RecordProof {
	if b.each != nil {
		return b.each[k]
	}
	p := make(tlog.RecordProof, 0, TileHeight+len(b.upper))
	for l := range TileHeight {
		p = append(p, b.nodes[nodeOffset(l)+((k>>l)^1)])
	}
	return append(p, b.upper...)
}

// ProveBundles returns the inclusion proofs of the entries of bundles
// (each bundle within the tree of size n) from the tree's stored hashes
// that r serves, read in one call to r.ReadHashes: the hashes the
// bundles' proofs share are read once (see ProveRecords).
func ProveBundles(n int64, bundles []tlog.Tile, r tlog.HashReader) ([]BundleProofs, error) {
	// First the indexes every proof reads: those of the paths (of each
	// full bundle's first leaf, of every leaf of a partial one), which
	// overlap, once each; then, after them, each full bundle's nodes,
	// which overlap nothing, so that they come back as one slice.
	rec := &indexRecorder{}
	for _, t := range bundles {
		if t.L != -1 || t.W < 1 || t.W > TileWidth || t.N*TileWidth+int64(t.W) > n {
			return nil, malformed("proofs of tile %s in a tree of size %d: not an entry bundle of it", TilePath(t), n)
		}
		first := t.N * TileWidth
		if t.W == TileWidth {
			tlog.ProveRecord(n, first, rec)
			continue
		}
		for k := range int64(t.W) {
			tlog.ProveRecord(n, first+k, rec)
		}
	}
	seen := make(map[int64]bool, len(rec.indexes))
	var indexes []int64
	for _, x := range rec.indexes {
		if !seen[x] {
			seen[x] = true
			indexes = append(indexes, x)
		}
	}
	paths := len(indexes)
	for _, t := range bundles {
		if t.W != TileWidth {
			continue
		}
		for l := range TileHeight {
			for k := range int64(TileWidth >> l) {
				indexes = append(indexes, tlog.StoredHashIndex(l, t.N<<(TileHeight-l)+k))
			}
		}
	}
	hashes, err := r.ReadHashes(indexes)
	if err != nil {
		return nil, err
	}
	m := make(hashMap, paths)
	for i, x := range indexes[:paths] {
		m[x] = hashes[i]
	}
	nodes := hashes[paths:]
	out := make([]BundleProofs, len(bundles))
	for i, t := range bundles {
		b := BundleProofs{N: n, Bundle: t}
		first := t.N * TileWidth
		if t.W == TileWidth {
			p, err := tlog.ProveRecord(n, first, m)
			if err != nil {
				return nil, err
			}
			b.nodes, nodes = nodes[:bundleNodes:bundleNodes], nodes[bundleNodes:]
			b.upper = p[TileHeight:]
		} else {
			b.each = make([]tlog.RecordProof, t.W)
			for k := range t.W {
				if b.each[k], err = tlog.ProveRecord(n, first+int64(k), m); err != nil {
					return nil, err
				}
			}
		}
		out[i] = b
	}
	return out, nil
}

// AppendTlogProofs appends to dst the tlog-proofs of the bundle's
// entries in leaf order, the k-th with entries[k] as extra data and
// checkpoint, the tree's signed checkpoint: the bytes FormatTlogProof
// returns for each, with the lines the proofs share encoded once.
func (b BundleProofs) AppendTlogProofs(dst []byte, entries [][]byte, checkpoint []byte) ([]byte, error) {
	if len(entries) != b.Bundle.W {
		return nil, malformed("proofs of %d entries for a bundle of %d", len(entries), b.Bundle.W)
	}
	first := b.Bundle.N * TileWidth
	if first < 0 || first+int64(b.Bundle.W) > MaxTreeSize {
		return nil, malformed("tlog-proofs of leaves %d to %d", first, first+int64(b.Bundle.W)-1)
	}
	if b.each != nil {
		for k, p := range b.each {
			data, err := FormatTlogProof(TlogProof{Extra: entries[k], Index: first + int64(k), Hashes: p, Checkpoint: checkpoint})
			if err != nil {
				return nil, err
			}
			dst = append(dst, data...)
		}
		return dst, nil
	}
	if len(b.upper)+TileHeight > MaxProofHashes {
		return nil, malformed("tlog-proof of %d hashes", len(b.upper)+TileHeight)
	}
	if err := checkProofCheckpoint(checkpoint); err != nil {
		return nil, err
	}
	// Every node's hash line (each is the sibling on the path of
	// 1<<level entries), then the tail every proof ends with.
	lines := make([]byte, 0, bundleNodes*hashLine)
	for _, h := range b.nodes {
		lines = appendHashLine(lines, h)
	}
	tail := make([]byte, 0, len(b.upper)*hashLine+1+len(checkpoint))
	for _, h := range b.upper {
		tail = appendHashLine(tail, h)
	}
	tail = append(tail, '\n')
	tail = append(tail, checkpoint...)

	size := 0
	for _, e := range entries {
		size += len(ProofHeader) + len("\nextra \nindex 1234567890123\n") + base64.StdEncoding.EncodedLen(len(e)) + TileHeight*hashLine + len(tail)
	}
	dst = slices.Grow(dst, size)
	for k, e := range entries {
		if e != nil && len(e) == 0 {
			return nil, malformed("tlog-proof with empty extra data")
		}
		start := len(dst)
		dst = append(dst, ProofHeader+"\n"...)
		if e != nil {
			dst = append(dst, "extra "...)
			dst = base64.StdEncoding.AppendEncode(dst, e)
			dst = append(dst, '\n')
		}
		dst = append(dst, "index "...)
		dst = strconv.AppendInt(dst, first+int64(k), 10)
		dst = append(dst, '\n')
		for l := range TileHeight {
			at := (nodeOffset(l) + ((k >> l) ^ 1)) * hashLine
			dst = append(dst, lines[at:at+hashLine]...)
		}
		dst = append(dst, tail...)
		if len(dst)-start > MaxProofSize {
			return nil, malformed("tlog-proof of %d bytes, more than %d", len(dst)-start, MaxProofSize)
		}
	}
	return dst, nil
}

// hashLine is the length of a hash's line in a tlog-proof: its base64
// and a newline.
const hashLine = 45

func appendHashLine(dst []byte, h tlog.Hash) []byte {
	dst = base64.StdEncoding.AppendEncode(dst, h[:])
	return append(dst, '\n')
}
