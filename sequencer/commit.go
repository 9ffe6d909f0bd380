package sequencer

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// finish writes everything of batch b that may be missing, then marks it
// done. If stage is not nil, it stages b first: everything the batch
// writes is computed (tiles hashed, indexes signed) while it runs, but
// nothing is written before it returns without error.
func (s *Sequencer) finish(ctx context.Context, b *stagedBatch, stage func() error) error {
	if b.Start != s.st.TreeSize {
		return fmt.Errorf("%w: staged batch starts at %d, state is at %d", ErrInconsistent, b.Start, s.st.TreeSize)
	}
	tree, cpVer, err := s.readCheckpoint(ctx)
	if err != nil {
		return err
	}
	var (
		build       errgroup.Group
		indexWrites []publish.Write
		tileWrites  []publish.Write
		newTree     tlog.Tree
	)
	consistent := tree.N == b.Start || tree.N == b.end()
	if consistent {
		build.Go(func() (err error) {
			indexWrites, err = s.prepareIndexes(ctx, b)
			return err
		})
	}
	if tree.N == b.Start {
		build.Go(func() (err error) {
			tileWrites, newTree, err = s.buildTiles(ctx, tree, b)
			return err
		})
	}
	if stage != nil {
		if err := stage(); err != nil {
			build.Wait()
			return err
		}
	}
	// A checkpoint that moved under a sequencer that then won the stage
	// is no race: the store contradicts itself.
	if !consistent {
		return fmt.Errorf("%w: checkpoint has size %d, staged batch goes from %d to %d", ErrInconsistent, tree.N, b.Start, b.end())
	}
	if err := build.Wait(); err != nil {
		return err
	}
	if tree.N == b.Start {
		if err := s.writeTiles(ctx, tileWrites, b); err != nil {
			return err
		}
	}
	// The indexes before the checkpoint: every leaf of a published
	// checkpoint is in an index at every moment, and a replay finds them
	// written already.
	if err := s.writeIndexes(ctx, indexWrites, b.end()); err != nil {
		return err
	}
	// The statistics before the checkpoint too, so that a crash after it
	// is replayed: they record the tree size they count to, so the
	// replay counts nothing twice, and no batch goes uncounted.
	s.updateStats(ctx, b)
	if tree.N == b.Start {
		if err := s.publishCheckpoint(ctx, cpVer, b.Start, newTree); err != nil {
			return err
		}
	} else {
		s.log.Info("checkpoint of staged batch already published", "size", tree.N)
	}
	done := &state{TreeSize: b.end(), Cursor: b.Cursor}
	v, err := swapState(ctx, s.cfg.Store, s.stVer, done)
	if err != nil {
		return err
	}
	s.st, s.stVer = done, v
	s.log.Info("batch published", "size", done.TreeSize, "entries", len(b.Records))
	return nil
}

// publishCheckpoint signs tree, has it cosigned by the witnesses, and
// swaps it in as the checkpoint, if the checkpoint is still at version old
// (the checkpoint of size oldSize).
func (s *Sequencer) publishCheckpoint(ctx context.Context, old publish.Version, oldSize int64, tree tlog.Tree) error {
	signed, err := tiles.SignCheckpoint(tiles.Checkpoint{Origin: s.signer.Name(), Tree: tree}, s.signer)
	if err != nil {
		return fmt.Errorf("couldn't sign checkpoint: %w", err)
	}
	if s.cosigner != nil {
		// The tiles and indexes are written: witnesses may check the
		// consistency proof, and a crash after they cosigned is replayed
		// into the same checkpoint, which they cosign again.
		var n int
		signed, n = s.cosigner.cosign(ctx, s.log, s, signed, nil, tree, oldSize)
		s.log.Info("checkpoint cosigned", "size", tree.N, "cosignatures", n, "witnesses", len(s.cosigner.witnesses))
	}
	if _, err := s.cfg.Store.Swap(ctx, tiles.CheckpointKey, old, signed); err != nil {
		if errors.Is(err, publish.ErrConflict) {
			return fmt.Errorf("%w: the checkpoint changed under us (another sequencer ran): %v", publish.ErrBusy, err)
		}
		return fmt.Errorf("couldn't publish checkpoint: %w", err)
	}
	s.log.Info("checkpoint published", "size", tree.N, "root", tree.Hash.String())
	return nil
}
