package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

// servedCheckpoint is a checkpoint as Log.Checkpoint verified it, with
// its signed note as served (cosignatures included).
type servedCheckpoint struct {
	tree   tlog.Tree
	signed []byte
}

// SignedCheckpoint returns the signed note of the checkpoint of tree, its
// cosignatures included, if it is the checkpoint l fetched and verified
// last (Checkpoint, VerifiedCheckpoint).
func (l *Log) SignedCheckpoint(tree tlog.Tree) ([]byte, bool) {
	s := l.served.Load()
	if s == nil || s.tree != tree {
		return nil, false
	}
	return s.signed, true
}

// TlogProofs returns the C2SP tlog-proofs of entries, each at the leaf of
// the same index in leaves, in tree, against tree's checkpoint as l
// fetched and verified it last (SignedCheckpoint), cosignatures included:
// every proof of one call shares one checkpoint. Each proof carries its
// entry as extra data; an entry given that is not the log's at its leaf
// (say, without the publisher it records) is replaced by the log's, read
// from its bundle. The tiles are those verified for tree, read once.
func (l *Log) TlogProofs(ctx context.Context, tree tlog.Tree, leaves []int64, entries []tiles.Entry) ([][]byte, error) {
	if len(leaves) != len(entries) {
		return nil, fmt.Errorf("%d leaves and %d entries", len(leaves), len(entries))
	}
	signed, ok := l.SignedCheckpoint(tree)
	if !ok {
		return nil, fmt.Errorf("the checkpoint of %s of size %d is not the one verified last", l.Origin(), tree.N)
	}
	var proofs []tlog.RecordProof
	err := l.retryFromLog(func() (err error) {
		proofs, err = tiles.ProveInclusions(tree, leaves, l.TileReader(ctx))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't prove the entries of %s: %w", l.Origin(), err)
	}
	out := make([][]byte, len(leaves))
	for i, leaf := range leaves {
		raw, err := tiles.FormatEntry(entries[i])
		if err != nil || tlog.CheckRecord(proofs[i], tree.N, tree.Hash, leaf, tlog.RecordHash(raw)) != nil {
			if _, raw, err = l.Entry(ctx, tree, leaf); err != nil {
				return nil, err
			}
		}
		p := tiles.TlogProof{Extra: raw, Index: leaf, Hashes: proofs[i], Checkpoint: signed}
		if _, err := tiles.CheckTlogProof(p, tree); err != nil {
			return nil, fmt.Errorf("%w: the proof of leaf %d of %s: %v", tiles.ErrVerification, leaf, l.Origin(), err)
		}
		if out[i], err = tiles.FormatTlogProof(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ErrOffline is the error of every fetch of a Log opened with
// NewOfflineLog: it reads only its cache.
var ErrOffline = errors.New("offline: nothing is fetched")

// offlineFetcher fetches nothing.
type offlineFetcher struct{}

func (offlineFetcher) Fetch(_ context.Context, key string) ([]byte, error) {
	return nil, fmt.Errorf("%s: %w", key, ErrOffline)
}

// NewOfflineLog returns the log of vkey without a way to reach it: only
// its cache (UseCache) is read, never the network.
func NewOfflineLog(vkey string) (*Log, error) {
	return NewLog(offlineFetcher{}, vkey)
}

// SavedProof is a tlog-proof verified by OpenTlogProof.
type SavedProof struct {
	tiles.TlogProof
	// Checkpoint is the proof's checkpoint, its signature verified.
	Checkpoint tiles.Checkpoint
	// Note is the checkpoint's note: Sigs the verified signatures (the
	// log's, and the cosignatures of the witness policy's witnesses),
	// UnverifiedSigs the others.
	Note *note.Note
	// Entry is the entry the proof proves at its index.
	Entry tiles.Entry
}

// ErrProofInvalid is wrapped by OpenTlogProof's error for a proof that
// doesn't parse or doesn't verify. A proof file is not signed as a whole:
// anyone may have altered its hashes or its entry, so this is never
// evidence against the log.
var ErrProofInvalid = errors.New("invalid tlog-proof")

// OpenTlogProof verifies a tlog-proof of l (one of those its sequencer
// writes at tiles.ProofBundleKey, or one TlogProofs writes): its checkpoint's signature with l's
// key and, if l requires witnesses, the witness policy (a
// *WitnessPolicyError when short of it), and the inclusion of its entry.
// It fetches nothing. Any other failure wraps ErrProofInvalid.
func (l *Log) OpenTlogProof(data []byte) (SavedProof, error) {
	var witnesses []note.Verifier
	if l.witnesses != nil {
		witnesses = l.witnesses.witnesses
	}
	p, cp, n, e, err := tiles.OpenTlogProof(data, l.verifier, witnesses...)
	if err != nil {
		return SavedProof{}, fmt.Errorf("%w: %v", ErrProofInvalid, err)
	}
	if l.witnesses != nil {
		if err := l.witnesses.check(l.Origin(), cp.N, n); err != nil {
			return SavedProof{}, err
		}
	}
	return SavedProof{TlogProof: p, Checkpoint: cp, Note: n, Entry: e}, nil
}

// Anchor says how a checkpoint relates to the last one verified on this
// machine (AnchorCheckpoint).
type Anchor int

const (
	// AnchorFirstUse: no checkpoint of the log was verified before; the
	// checkpoint is trusted on first use.
	AnchorFirstUse Anchor = iota
	// AnchorSame: it is the checkpoint verified before.
	AnchorSame
	// AnchorProven: it is proven consistent with the checkpoint verified
	// before, from tiles in the cache.
	AnchorProven
)

// ErrNotAnchored is wrapped by AnchorCheckpoint's error when the cache
// lacks the tiles to prove a checkpoint consistent with the one verified
// before: not a failure of the log; a verification online fetches them.
var ErrNotAnchored = errors.New("not proven consistent with the checkpoint verified before")

// AnchorCheckpoint checks a verified checkpoint (signed, as
// OpenTlogProof's) against the one l verified before, kept in its cache
// (or memory), without fetching anything and without replacing it: the
// same tree; or one proven consistent with it from the tiles in the cache
// (ErrNotAnchored when they are not all there); or, when there is none,
// first use. The same size with another root hash, or tiles of the cache
// that verify and contradict one of the two, is a *ForkError with both
// checkpoints. A cached checkpoint that doesn't verify wraps
// ErrCorruptCache.
func (l *Log) AnchorCheckpoint(ctx context.Context, cp tiles.Checkpoint, signed []byte) (Anchor, error) {
	cachedSigned, err := l.checkpoints().readCheckpoint()
	if err != nil {
		return 0, err
	}
	if cachedSigned == nil {
		return AnchorFirstUse, nil
	}
	cached, err := l.openCached(cachedSigned)
	if err != nil {
		return 0, err
	}
	if cached.Tree == cp.Tree {
		return AnchorSame, nil
	}
	fork := func(err error, proof tlog.TreeProof) *ForkError {
		return &ForkError{
			Origin: l.Origin(),
			Old:    cachedSigned, OldPath: l.checkpoints().checkpointPath(), OldTree: cached.Tree,
			New: signed, NewTree: cp.Tree, Proof: proof, Err: err,
		}
	}
	if cached.N == cp.N {
		return 0, fork(fmt.Errorf("%w: same size %d, different root hashes %s and %s", tiles.ErrVerification, cp.N, cached.Hash, cp.Hash), nil)
	}
	older, newer := cached.Tree, cp.Tree
	if older.N > newer.N {
		older, newer = newer, older
	}
	var proof tlog.TreeProof
	err = l.retryFromLog(func() (err error) {
		proof, err = tiles.ProveConsistency(older, newer, l.TileReader(ctx))
		return err
	})
	switch {
	case IsSecurityError(err):
		return 0, fork(err, proof)
	case err != nil:
		return 0, fmt.Errorf("%w: the checkpoint of size %d and the one of size %d verified before (%s): the cache lacks the tiles to prove it: %v",
			ErrNotAnchored, cp.N, cached.N, l.checkpoints().checkpointPath(), err)
	}
	return AnchorProven, nil
}

// CosignatureTimes returns the time of each cosignature of a
// checkpoint's note that has one (C2SP tlog-cosignature), by signer name,
// newest first, and whether it was verified (by the witness policy).
func CosignatureTimes(n *note.Note) []CosignatureTime {
	var out []CosignatureTime
	for i, sigs := range [][]note.Signature{n.Sigs, n.UnverifiedSigs} {
		for _, s := range sigs {
			if t, err := tiles.CosignatureTime(s); err == nil {
				out = append(out, CosignatureTime{Name: s.Name, Unix: t, Verified: i == 0})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b CosignatureTime) int { return int(b.Unix - a.Unix) })
	return out
}

// CosignatureTime is when a witness cosigned a checkpoint, by its claim.
type CosignatureTime struct {
	Name     string
	Unix     int64
	Verified bool
}
