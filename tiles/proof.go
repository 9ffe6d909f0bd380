package tiles

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
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
	for _, leaf := range leaves {
		if leaf < 0 || leaf >= tree.N {
			return nil, fmt.Errorf("%w: leaf %d is not below tree size %d", ErrVerification, leaf, tree.N)
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
	proofs, err := ProveRecords(tree.N, leaves, tlog.TileHashReader(tree, tr))
	if err != nil {
		return nil, tr.classify(err, what)
	}
	return proofs, nil
}

// ProveRecords returns the inclusion proofs of leaves (each below n) in
// the tree of size n whose stored hashes r serves, as tlog.ProveRecord
// does, with one call to r.ReadHashes for all of them: the hashes the
// proofs share are read once.
func ProveRecords(n int64, leaves []int64, r tlog.HashReader) ([]tlog.RecordProof, error) {
	rec := &indexRecorder{}
	for _, leaf := range leaves {
		tlog.ProveRecord(n, leaf, rec)
	}
	seen := map[int64]bool{}
	var indexes []int64
	for _, x := range rec.indexes {
		if !seen[x] {
			seen[x] = true
			indexes = append(indexes, x)
		}
	}
	hashes, err := r.ReadHashes(indexes)
	if err != nil {
		return nil, err
	}
	m := make(hashMap, len(indexes))
	for i, x := range indexes {
		m[x] = hashes[i]
	}
	proofs := make([]tlog.RecordProof, len(leaves))
	for i, leaf := range leaves {
		p, err := tlog.ProveRecord(n, leaf, m)
		if err != nil {
			return nil, err
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

// ProofHeader is the first line of a C2SP tlog-proof.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// ProofPrefix is where a log publishes the tlog-proofs of its entries,
// one object per entry bundle (see ProofBundleKey).
const ProofPrefix = "proof/"

// ProofExt is the file extension C2SP tlog-proof asks proofs to be stored
// with.
const ProofExt = ".tlog-proof"

// MaxProofHashes bounds the hash lines of a tlog-proof: an inclusion
// proof in a tree of at most MaxTreeSize leaves has at most 40.
const MaxProofHashes = 40

// MaxProofSize bounds a tlog-proof: the header and index lines, an extra
// line of at most the base64 of MaxEntrySize bytes (87,380), at most
// MaxProofHashes lines of 45 bytes, and a checkpoint of at most
// MaxCheckpointSize. Real proofs are some 1.5 KiB.
const MaxProofSize = 256 << 10

// ProofBundleKey returns the object key of the tlog-proofs of the entries
// of bundle, an entry bundle tile (full or partial): the bundle's path
// with proof/ for tile/entries/, so proof/<N>[.p/<W>] with <N> in groups
// of three digits (bundle 1234067 is proof/x001/x234/067).
func ProofBundleKey(bundle tlog.Tile) string {
	return ProofPrefix + strings.TrimPrefix(TilePath(bundle), TilePrefix+"entries/")
}

// ParseProofBundleKey is the inverse of ProofBundleKey: it returns the
// entry bundle tile whose proofs key names, and rejects anything
// ProofBundleKey would not produce.
func ParseProofBundleKey(key string) (tlog.Tile, error) {
	rest, ok := strings.CutPrefix(key, ProofPrefix)
	if !ok {
		return tlog.Tile{}, malformed("proof key %q", key)
	}
	t, err := ParseTilePath(TilePrefix + "entries/" + rest)
	if err != nil || ProofBundleKey(t) != key {
		return tlog.Tile{}, malformed("proof key %q", key)
	}
	return t, nil
}

// BundleOf returns the entry bundle that holds leaf in a tree of size n
// (leaf < n): full, or partial if it is the tree's last and not full.
func BundleOf(leaf, n int64) tlog.Tile {
	k := leaf / TileWidth
	return EntryBundleTile(k, int(min(n-k*TileWidth, TileWidth)))
}

// SplitProofBundle parses the object at ProofBundleKey(bundle): the
// tlog-proofs of the bundle's entries, in leaf order, one after the other.
// Each proof ends with its checkpoint's signature lines, so the next one
// starts at the first line after them that is not a signature. Every proof
// must parse (ParseTlogProof) and be the proof of its leaf; none is
// verified here. Anything larger than MaxObjectSize of its key is refused.
func SplitProofBundle(data []byte, bundle tlog.Tile) ([]TlogProof, error) {
	if bundle.L != -1 || bundle.W < 1 || bundle.W > TileWidth {
		return nil, malformed("proofs of tile %s: not an entry bundle", TilePath(bundle))
	}
	if limit := MaxObjectSize(ProofBundleKey(bundle)); int64(len(data)) > limit {
		return nil, malformed("proofs of %d bytes, more than %d", len(data), limit)
	}
	proofs := make([]TlogProof, 0, bundle.W)
	for k := range bundle.W {
		leaf := bundle.N*TileWidth + int64(k)
		end := proofEnd(data)
		if end < 0 {
			return nil, malformed("proofs of bundle %d: the proof of leaf %d is truncated", bundle.N, leaf)
		}
		p, err := ParseTlogProof(data[:end])
		if err != nil {
			return nil, fmt.Errorf("proofs of bundle %d: leaf %d: %w", bundle.N, leaf, err)
		}
		if p.Index != leaf {
			return nil, malformed("proofs of bundle %d: proof %d is of leaf %d, want %d", bundle.N, k, p.Index, leaf)
		}
		proofs = append(proofs, p)
		data = data[end:]
	}
	if len(data) != 0 {
		return nil, malformed("proofs of bundle %d: %d bytes after the proof of its last leaf", bundle.N, len(data))
	}
	return proofs, nil
}

// proofEnd returns the length of the tlog-proof data starts with: through
// its second empty line (the first ends the hashes, the second the
// checkpoint's text) and the signature lines that follow it, or -1 if data
// ends before a signature line.
func proofEnd(data []byte) int {
	i, blanks := 0, 0
	for blanks < 2 {
		nl := bytes.IndexByte(data[i:], '\n')
		if nl < 0 {
			return -1
		}
		if nl == 0 {
			blanks++
		}
		i += nl + 1
	}
	sigs := 0
	for bytes.HasPrefix(data[i:], []byte("— ")) {
		nl := bytes.IndexByte(data[i:], '\n')
		if nl < 0 {
			return -1
		}
		i += nl + 1
		sigs++
	}
	if sigs == 0 {
		return -1
	}
	return i
}

// TlogProof is a C2SP tlog-proof: a checkpoint, the index of an entry and
// its inclusion proof in the checkpoint's tree, and extra data. A pysumdb
// log's proofs carry the entry itself as extra data, so that a proof is
// all its verifier needs (CheckTlogProof hashes it into the leaf hash).
type TlogProof struct {
	// Extra is the extra data, nil if the proof has none; a pysumdb log
	// writes the entry at Index.
	Extra []byte
	// Index is the entry's leaf index.
	Index int64
	// Hashes is the inclusion proof, from the leaf's sibling up.
	Hashes tlog.RecordProof
	// Checkpoint is the signed checkpoint, verbatim, with any
	// cosignatures.
	Checkpoint []byte
}

// FormatTlogProof returns p as a tlog-proof, refusing what ParseTlogProof
// would refuse.
func FormatTlogProof(p TlogProof) ([]byte, error) {
	if p.Extra != nil && len(p.Extra) == 0 {
		return nil, malformed("tlog-proof with empty extra data")
	}
	if p.Index < 0 || p.Index >= MaxTreeSize {
		return nil, malformed("tlog-proof index %d", p.Index)
	}
	if len(p.Hashes) > MaxProofHashes {
		return nil, malformed("tlog-proof of %d hashes", len(p.Hashes))
	}
	if err := checkProofCheckpoint(p.Checkpoint); err != nil {
		return nil, err
	}
	out := make([]byte, 0, 64+base64.StdEncoding.EncodedLen(len(p.Extra))+45*len(p.Hashes)+len(p.Checkpoint))
	out = append(out, ProofHeader+"\n"...)
	if p.Extra != nil {
		out = append(out, "extra "...)
		out = base64.StdEncoding.AppendEncode(out, p.Extra)
		out = append(out, '\n')
	}
	out = fmt.Appendf(out, "index %d\n", p.Index)
	for _, h := range p.Hashes {
		out = base64.StdEncoding.AppendEncode(out, h[:])
		out = append(out, '\n')
	}
	out = append(out, '\n')
	out = append(out, p.Checkpoint...)
	if len(out) > MaxProofSize {
		return nil, malformed("tlog-proof of %d bytes, more than %d", len(out), MaxProofSize)
	}
	return out, nil
}

// checkProofCheckpoint checks the shape of a proof's checkpoint: not
// empty, at most MaxCheckpointSize bytes, ending in a newline. Its
// signature and body are checked by whoever opens it with the log's key.
func checkProofCheckpoint(cp []byte) error {
	if len(cp) == 0 || len(cp) > MaxCheckpointSize || cp[len(cp)-1] != '\n' {
		return malformed("tlog-proof checkpoint of %d bytes", len(cp))
	}
	return nil
}

// ParseTlogProof parses a tlog-proof strictly: the header line, an
// optional extra line (canonical base64, not empty), the index (canonical
// decimal below MaxTreeSize), at most MaxProofHashes hash lines (canonical
// base64 of 32 bytes), an empty line, and the checkpoint, at most
// MaxCheckpointSize bytes, which is not opened here (see OpenTlogProof).
// Anything larger than MaxProofSize is refused before it is read further.
func ParseTlogProof(data []byte) (TlogProof, error) {
	var p TlogProof
	if len(data) > MaxProofSize {
		return p, malformed("tlog-proof of %d bytes, more than %d", len(data), MaxProofSize)
	}
	rest := data
	line := func() (string, bool) {
		l, r, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return "", false
		}
		rest = r
		return string(l), true
	}
	if l, ok := line(); !ok || l != ProofHeader {
		return p, malformed("tlog-proof: first line is not %q", ProofHeader)
	}
	l, ok := line()
	if !ok {
		return p, malformed("tlog-proof: no index line")
	}
	if b64, ok := strings.CutPrefix(l, "extra "); ok {
		extra, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || len(extra) == 0 || base64.StdEncoding.EncodeToString(extra) != b64 {
			return p, malformed("tlog-proof: extra data is not canonical base64")
		}
		p.Extra = extra
		if l, ok = line(); !ok {
			return p, malformed("tlog-proof: no index line")
		}
	}
	idx, ok := strings.CutPrefix(l, "index ")
	if !ok {
		return p, malformed("tlog-proof: no index line")
	}
	n, err := parseDecimal(idx)
	if err != nil || n >= MaxTreeSize {
		return p, malformed("tlog-proof: index %q", idx)
	}
	p.Index = n
	for {
		l, ok := line()
		if !ok {
			return p, malformed("tlog-proof: no checkpoint")
		}
		if l == "" {
			break
		}
		if len(p.Hashes) == MaxProofHashes {
			return p, malformed("tlog-proof: more than %d hashes", MaxProofHashes)
		}
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != l {
			return p, malformed("tlog-proof: hash line %q", l)
		}
		p.Hashes = append(p.Hashes, tlog.Hash(h))
	}
	if err := checkProofCheckpoint(rest); err != nil {
		return p, err
	}
	p.Checkpoint = bytes.Clone(rest)
	return p, nil
}

// ErrProofMismatch is wrapped by the error of a tlog-proof whose inclusion
// proof does not prove its entry in its checkpoint's tree. The proof's
// hashes and extra data are not signed: anyone may have altered them, so
// this is a proof that fails, not evidence against the log (unlike
// ErrVerification).
var ErrProofMismatch = errors.New("inclusion proof does not verify")

// OpenTlogProof parses a tlog-proof of a pysumdb log and verifies it: its
// checkpoint with the log's verifier and any witnesses' (as
// OpenCheckpoint), and the inclusion of its extra data, which must be a
// valid entry, at its index in the checkpoint's tree. It returns the
// proof, its checkpoint, the checkpoint's note (for the cosignatures) and
// the entry. A proof that doesn't parse, or without extra data, wraps
// ErrMalformed; one whose inclusion proof fails wraps ErrProofMismatch; a
// checkpoint that doesn't verify is OpenCheckpoint's error.
func OpenTlogProof(data []byte, verifier note.Verifier, witnesses ...note.Verifier) (TlogProof, Checkpoint, *note.Note, Entry, error) {
	p, err := ParseTlogProof(data)
	if err != nil {
		return p, Checkpoint{}, nil, Entry{}, err
	}
	if p.Extra == nil {
		return p, Checkpoint{}, nil, Entry{}, malformed("tlog-proof without extra data: a pysumdb proof carries its entry")
	}
	cp, n, err := OpenCheckpoint(p.Checkpoint, verifier, witnesses...)
	if err != nil {
		return p, Checkpoint{}, nil, Entry{}, err
	}
	e, err := CheckTlogProof(p, cp.Tree)
	if err != nil {
		return p, cp, n, Entry{}, err
	}
	return p, cp, n, e, nil
}

// CheckTlogProof checks that p's inclusion proof proves its extra data, a
// valid entry, at its index in tree (which must come from p's checkpoint,
// verified), and returns the entry.
func CheckTlogProof(p TlogProof, tree tlog.Tree) (Entry, error) {
	if p.Index >= tree.N {
		return Entry{}, fmt.Errorf("%w: index %d is not below the checkpoint's tree size %d", ErrProofMismatch, p.Index, tree.N)
	}
	if err := tlog.CheckRecord(p.Hashes, tree.N, tree.Hash, p.Index, tlog.RecordHash(p.Extra)); err != nil {
		return Entry{}, fmt.Errorf("%w: entry %d in the tree of size %d: %v", ErrProofMismatch, p.Index, tree.N, err)
	}
	e, err := ParseEntry(p.Extra)
	if err != nil {
		return Entry{}, fmt.Errorf("tlog-proof extra data: %w", err)
	}
	return e, nil
}
