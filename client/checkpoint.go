package client

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

// ForkError reports a log whose checkpoint contradicts the one verified
// before: a smaller tree (a rollback), the same size with another root, or
// a tree of which the old one is not a prefix (a fork). It wraps
// tiles.ErrVerification and carries the evidence: both signed checkpoints,
// each valid under the log's key, and the consistency proof the log's
// tiles give.
type ForkError struct {
	// Origin names the log.
	Origin string
	// Old is the signed checkpoint verified before, kept at OldPath ("" when
	// the Log kept it in memory, without a cache).
	Old     []byte
	OldPath string
	// OldTree is Old's tree.
	OldTree tlog.Tree
	// New is the signed checkpoint the log serves now.
	New []byte
	// NewTree is New's tree.
	NewTree tlog.Tree
	// Proof is the consistency proof from the smaller tree to the larger
	// one, built from the log's tiles; empty for a rollback or two trees of
	// the same size.
	Proof tlog.TreeProof
	// Merged says that Old was kept in the cache by another run while this
	// one verified New (see VerifiedCheckpoint): then New may be the
	// smaller tree, and is still no rollback.
	Merged bool
	// Err says what failed; it wraps tiles.ErrVerification.
	Err error
}

func (e *ForkError) Error() string {
	what, when := "is not consistent with", "verified before"
	switch {
	case e.Merged:
		when = "another run verified meanwhile"
	case e.NewTree.N < e.OldTree.N:
		what = "is smaller than (a rollback of)"
	}
	return fmt.Sprintf("log %s misbehaves: its checkpoint of size %d %s the checkpoint of size %d %s: %v",
		e.Origin, e.NewTree.N, what, e.OldTree.N, when, e.Err)
}

func (e *ForkError) Unwrap() error { return e.Err }

// VerifiedCheckpoint fetches the log's checkpoint and verifies its
// signature. It also checks that the checkpoint verified before is a
// prefix of it, by a consistency proof from the log's tiles, and then
// keeps the new one in its place: in the cache (UseCache), across runs, or
// else in l's memory, for l's lifetime (a long-running process, a web
// page). A rollback or a fork is a *ForkError. The first checkpoint seen of
// a log is trusted on first use.
//
// Runs sharing a cache (other processes, other Logs) merge their
// checkpoints as Go's checksum database client does: the cached checkpoint
// is replaced by compare-and-swap, under a lock, only by a newer one proven
// consistent with it, so it never goes back. A checkpoint that another run
// kept meanwhile and that contradicts this one (the same size with another
// root, or a tree of which the smaller is not a prefix) is a *ForkError
// too. A cached checkpoint that doesn't verify is an error wrapping
// ErrCorruptCache, naming the file.
func (l *Log) VerifiedCheckpoint(ctx context.Context) (tiles.Checkpoint, error) {
	cp, _, err := l.VerifiedCheckpointNote(ctx)
	return cp, err
}

// VerifiedCheckpointNote is VerifiedCheckpoint, returning the signed note
// too (for its cosignatures, or as evidence).
func (l *Log) VerifiedCheckpointNote(ctx context.Context) (tiles.Checkpoint, []byte, error) {
	cp, signed, err := l.Checkpoint(ctx)
	if err != nil {
		return cp, nil, err
	}
	oldSigned, err := l.checkpoints().readCheckpoint()
	if err != nil {
		return tiles.Checkpoint{}, nil, err
	}
	if oldSigned != nil {
		old, err := l.openCached(oldSigned)
		if err != nil {
			return tiles.Checkpoint{}, nil, err
		}
		if old.Tree == cp.Tree {
			return cp, signed, nil
		}
		if err := l.proveConsistent(ctx, old, oldSigned, cp, signed, false); err != nil {
			return tiles.Checkpoint{}, nil, err
		}
	}
	if err := l.keepCheckpoint(ctx, cp, signed, oldSigned); err != nil {
		return tiles.Checkpoint{}, nil, err
	}
	return cp, signed, nil
}

// openCached verifies a cached checkpoint.
func (l *Log) openCached(signed []byte) (tiles.Checkpoint, error) {
	cp, _, err := tiles.OpenCheckpoint(signed, l.verifier)
	if err != nil {
		// Only a local user (or a damaged disk) can have written it. It is
		// not replaced: that would reset the trust it keeps.
		return tiles.Checkpoint{}, fmt.Errorf("%w: the cached checkpoint of %s, %s, doesn't verify with the log's key: %v; "+
			"it was written or damaged on this machine, not by the log: delete it to trust the log's current checkpoint on first use again",
			ErrCorruptCache, l.Origin(), l.checkpoints().checkpointPath(), err)
	}
	return cp, nil
}

// keepCheckpoint replaces the cached checkpoint, which was seen (nil for
// none) when cp was proven consistent with it, by cp (signed): a
// compare-and-swap loop. If another run kept a checkpoint meanwhile, the
// newer of the two stays, once proven consistent with the other.
func (l *Log) keepCheckpoint(ctx context.Context, cp tiles.Checkpoint, signed, seen []byte) error {
	for {
		unlock, err := l.checkpoints().lockCheckpoint()
		if err != nil {
			return fmt.Errorf("couldn't keep the verified checkpoint of %s: %w", l.Origin(), err)
		}
		cur, err := l.checkpoints().readCheckpoint()
		if err == nil && bytes.Equal(cur, seen) {
			err = l.checkpoints().writeCheckpoint(signed)
			unlock()
			if err != nil {
				return fmt.Errorf("couldn't keep the verified checkpoint of %s in %s: %w", l.Origin(), l.checkpoints().checkpointPath(), err)
			}
			return nil
		}
		unlock()
		if err != nil {
			return err
		}
		// Another run kept a checkpoint meanwhile.
		other, err := l.openCached(cur)
		if err != nil {
			return err
		}
		if other.Tree == cp.Tree {
			return nil
		}
		// The smaller must be a prefix of the other, and the newer stays:
		// if it is the other one, there is nothing to write.
		if err := l.proveConsistent(ctx, other, cur, cp, signed, true); err != nil || other.N > cp.N {
			return err
		}
		seen = cur
	}
}

// proveConsistent proves from the log's tiles that the cached checkpoint
// (signed, cachedSigned) is a prefix of the one the log serves now, or,
// when merged (another run kept the cached one meanwhile), that the
// smaller of the two is a prefix of the other: a *ForkError if not.
func (l *Log) proveConsistent(ctx context.Context, cached tiles.Checkpoint, cachedSigned []byte, served tiles.Checkpoint, servedSigned []byte, merged bool) error {
	older, newer := cached.Tree, served.Tree
	if merged && older.N > newer.N {
		older, newer = newer, older
	}
	var proof tlog.TreeProof
	err := l.retryFromLog(func() (err error) {
		proof, err = tiles.ProveConsistency(older, newer, l.TileReader(ctx))
		return err
	})
	if IsSecurityError(err) {
		return &ForkError{
			Origin: l.Origin(),
			Old:    cachedSigned, OldPath: l.checkpoints().checkpointPath(), OldTree: cached.Tree,
			New: servedSigned, NewTree: served.Tree,
			Proof: proof, Err: err, Merged: merged,
		}
	}
	if err != nil {
		return fmt.Errorf("couldn't prove the checkpoint of %s consistent with the one verified before: %w", l.Origin(), err)
	}
	return nil
}

// checkpointKeeper keeps a log's last verified checkpoint: the disk cache
// (logCache), shared by runs, or a Log's memory (memoryCheckpoint).
type checkpointKeeper interface {
	// lockCheckpoint serializes the compare-and-swaps of the checkpoint.
	lockCheckpoint() (unlock func(), err error)
	// readCheckpoint returns the checkpoint kept, nil if none.
	readCheckpoint() ([]byte, error)
	// writeCheckpoint replaces it, under the lock.
	writeCheckpoint(signed []byte) error
	// checkpointPath is where it is kept, for messages: "" in memory.
	checkpointPath() string
}

var (
	_ checkpointKeeper = (*logCache)(nil)
	_ checkpointKeeper = (*memoryCheckpoint)(nil)
)

// checkpoints returns where l keeps its last verified checkpoint.
func (l *Log) checkpoints() checkpointKeeper {
	if l.cache != nil {
		return l.cache
	}
	return &l.memory
}

// memoryCheckpoint keeps a Log's last verified checkpoint in memory, when
// it has no cache. Its zero value is ready.
type memoryCheckpoint struct {
	// swap is held from the compare to the replace, as the disk cache's
	// lock file is.
	swap   sync.Mutex
	mu     sync.Mutex
	signed []byte
}

func (m *memoryCheckpoint) lockCheckpoint() (func(), error) {
	m.swap.Lock()
	return m.swap.Unlock, nil
}

func (m *memoryCheckpoint) readCheckpoint() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.signed, nil
}

func (m *memoryCheckpoint) writeCheckpoint(signed []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.signed = bytes.Clone(signed)
	return nil
}

func (m *memoryCheckpoint) checkpointPath() string { return "" }
