package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// operatorKeys are the objects, beside the log itself, that a mirror
// copies from a listable source so that the copy can take over
// sequencing: the sequencer's state (its cursor, a staged batch) and the
// alarms. They are not signed; the sequencer checks the state against the
// log when it opens it.
var operatorKeys = []string{"sequencer/", "alarms/"}

// Mirror copies the log into dst while auditing it: every hash tile,
// entry bundle and project index is written to dst once it passed its
// checks, and the checkpoint last, only if the whole audit passed; tiles
// and bundles are written create-only, so an existing copy is extended,
// never rewritten. A dst holding another log, or a checkpoint the source's
// is not consistent with, is refused (tiles.ErrVerification). From a
// listable source (a directory or a bucket), the sequencer's state and the
// alarms are copied too, so the copy can take over sequencing.
func (l *Log) Mirror(ctx context.Context, dst publish.Store, logger *slog.Logger) (*AuditReport, error) {
	if err := l.mirrorKey(ctx, dst); err != nil {
		return nil, err
	}
	write := func(ctx context.Context, key string, data []byte) error {
		if tiles.IsImmutable(key) {
			return dst.Create(ctx, key, data)
		}
		if key == tiles.CheckpointKey {
			if err := l.checkMirrorCheckpoint(ctx, dst, data); err != nil {
				return err
			}
		}
		return replace(ctx, dst, key, data)
	}
	rep, err := l.audit(ctx, logger, write)
	if err != nil {
		return rep, err
	}
	lister, ok := l.fetch.(Lister)
	if !ok {
		return rep, nil
	}
	for _, prefix := range operatorKeys {
		keys, err := lister.List(ctx, prefix)
		if err != nil {
			return rep, fmt.Errorf("couldn't list %s: %w", prefix, err)
		}
		for _, key := range keys {
			data, err := l.fetch.Fetch(ctx, key)
			if err != nil {
				return rep, err
			}
			if err := replace(ctx, dst, key, data); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// mirrorKey copies the verifier key, which must be this log's.
func (l *Log) mirrorKey(ctx context.Context, dst publish.Store) error {
	data, err := l.fetch.Fetch(ctx, tiles.KeyKey)
	if err != nil {
		return fmt.Errorf("couldn't fetch the log's key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(data)))
	if err != nil || v.Name() != l.verifier.Name() || v.KeyHash() != l.verifier.KeyHash() {
		return fmt.Errorf("%w: %s holds %q, not the key given", tiles.ErrVerification, tiles.KeyKey, strings.TrimSpace(string(data)))
	}
	if err := dst.Create(ctx, tiles.KeyKey, data); err != nil {
		return fmt.Errorf("the destination holds another log (%s): %w", tiles.KeyKey, err)
	}
	return nil
}

// checkMirrorCheckpoint refuses to replace a destination checkpoint that
// the new one does not extend.
func (l *Log) checkMirrorCheckpoint(ctx context.Context, dst publish.Store, signed []byte) error {
	old, _, err := dst.Read(ctx, tiles.CheckpointKey)
	if errors.Is(err, publish.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	oldCp, _, err := tiles.OpenCheckpoint(old, l.verifier)
	if err != nil {
		return fmt.Errorf("%w: the destination's checkpoint: %v", tiles.ErrVerification, err)
	}
	newCp, _, err := tiles.OpenCheckpoint(signed, l.verifier)
	if err != nil {
		return err
	}
	if _, err := tiles.ProveConsistency(oldCp.Tree, newCp.Tree, l.TileReader(ctx)); err != nil {
		return fmt.Errorf("the destination's checkpoint (size %d) is not a prefix of the source's (size %d): %w", oldCp.N, newCp.N, err)
	}
	return nil
}

// replace writes a mutable object whatever it holds now.
func replace(ctx context.Context, dst publish.Store, key string, data []byte) error {
	for {
		_, v, err := dst.Read(ctx, key)
		if err != nil && !errors.Is(err, publish.ErrNotExist) {
			return err
		}
		_, err = dst.Swap(ctx, key, v, data)
		if !errors.Is(err, publish.ErrConflict) {
			return err
		}
	}
}
