package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

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
	// Old is the signed checkpoint verified before, kept at OldPath.
	Old     []byte
	OldPath string
	// OldTree is Old's tree.
	OldTree tlog.Tree
	// New is the signed checkpoint the log serves now.
	New []byte
	// NewTree is New's tree.
	NewTree tlog.Tree
	// Proof is the consistency proof from OldTree to NewTree built from the
	// log's tiles; empty for a rollback or two trees of the same size.
	Proof tlog.TreeProof
	// Err says what failed; it wraps tiles.ErrVerification.
	Err error
}

func (e *ForkError) Error() string {
	what := "is not consistent with"
	if e.NewTree.N < e.OldTree.N {
		what = "is smaller than (a rollback of)"
	}
	return fmt.Sprintf("log %s misbehaves: its checkpoint of size %d %s the checkpoint of size %d verified before: %v",
		e.Origin, e.NewTree.N, what, e.OldTree.N, e.Err)
}

func (e *ForkError) Unwrap() error { return e.Err }

// VerifiedCheckpoint fetches the log's checkpoint and verifies its
// signature. With a cache (UseCache), it also checks that the checkpoint
// verified before is a prefix of it, by a consistency proof from the log's
// tiles, and then keeps the new one in its place. A rollback or a fork is
// a *ForkError. The first checkpoint seen of a log is trusted on first use.
func (l *Log) VerifiedCheckpoint(ctx context.Context) (tiles.Checkpoint, error) {
	cp, signed, err := l.Checkpoint(ctx)
	if err != nil || l.cache == nil {
		return cp, err
	}
	path := l.cache.checkpointPath()
	oldSigned, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		l.cache.write(tiles.CheckpointKey, signed)
		return cp, nil
	}
	if err != nil {
		return tiles.Checkpoint{}, fmt.Errorf("couldn't read the last verified checkpoint: %w", err)
	}
	old, _, err := tiles.OpenCheckpoint(oldSigned, l.verifier)
	if err != nil {
		// Only a local user can have written it: they could as well have
		// deleted it. Say so, and start again from the log's checkpoint.
		l.cache.logger.Warn("the cached checkpoint doesn't verify; replacing it with the log's current one", "path", path, "err", err)
		l.cache.write(tiles.CheckpointKey, signed)
		return cp, nil
	}
	if old.Tree == cp.Tree {
		return cp, nil
	}
	var proof tlog.TreeProof
	err = l.retryFromLog(func() (err error) {
		proof, err = tiles.ProveConsistency(old.Tree, cp.Tree, l.TileReader(ctx))
		return err
	})
	if IsSecurityError(err) {
		return tiles.Checkpoint{}, &ForkError{
			Origin: l.Origin(),
			Old:    oldSigned, OldPath: path, OldTree: old.Tree,
			New: signed, NewTree: cp.Tree,
			Proof: proof, Err: err,
		}
	}
	if err != nil {
		return tiles.Checkpoint{}, fmt.Errorf("couldn't prove the checkpoint of %s consistent with the one verified before: %w", l.Origin(), err)
	}
	l.cache.write(tiles.CheckpointKey, signed)
	return cp, nil
}
