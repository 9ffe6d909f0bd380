// Package mirror copies a pysumdb log into a publish.Store, verifying all
// of it before it writes anything. It reads the log with the client and
// writes with a store, above both; StoreFetcher reads a log straight from
// a store, for the sequencer's tests and for mirroring from a bucket.
package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// operatorKeys are the objects, beside the log itself, that a mirror
// copies from a listable source so that the copy can take over
// sequencing: the sequencer's state (its cursor, a staged batch) and the
// alarms. They are not signed; the sequencer checks the state against the
// log when it opens it.
var operatorKeys = []string{"sequencer/", "alarms/"}

const (
	// groupSize is how many objects a mirror writes as one group.
	groupSize = 256
	// inFlight bounds the reads and writes a mirror has in flight.
	inFlight = 16
	// maxSwapTries bounds the compare-and-swap attempts on one mutable
	// object of the destination that keeps changing under the mirror.
	maxSwapTries = 5
)

// Source is a log to mirror: its objects read through a client.Fetcher and
// verified with its key.
type Source struct {
	fetch    client.Fetcher
	log      *client.Log
	verifier note.Verifier
	vkey     string
}

// NewSource returns the log read through fetch and verified with vkey.
func NewSource(fetch client.Fetcher, vkey string) (*Source, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse verifier key: %w", err)
	}
	l, err := client.NewLog(fetch, vkey)
	if err != nil {
		return nil, err
	}
	return &Source{fetch: fetch, log: l, verifier: v, vkey: vkey}, nil
}

// RequireWitnesses makes Mirror copy only a checkpoint that p's quorum of
// witnesses cosigned (see client.Log.RequireWitnesses). Call it before
// Mirror.
func (s *Source) RequireWitnesses(p *client.WitnessPolicy) { s.log.RequireWitnesses(p) }

// Origin returns the log's origin, its key's name.
func (s *Source) Origin() string { return s.log.Origin() }

// Mirror copies the log into dst: it checks first and writes after.
//
//  1. The source's key must be the key given, and dst must hold no other
//     log's key.
//  2. dst's checkpoint, if it has one, must be a prefix of the source's: a
//     source older than dst is refused (stale), one that forks from dst is
//     a security error (tiles.ErrVerification).
//  3. The whole log is audited (see client.Log.Audit), writing nothing.
//  4. Only if the audit passed, and dst's checkpoint is still a prefix of
//     the audited one: the key; every tile and bundle the audit verified,
//     create-only, so that an existing copy is extended, never rewritten;
//     then the project indexes, filename notes and project list shards
//     (one dst holds for a larger tree size is kept: never replaced by an
//     older one); then the checkpoint, last, by compare-and-swap.
//
// Tiles and bundles are fetched again for the writes rather than kept: a
// PyPI-size log's are gigabytes. Each must equal the SHA-256 the audit
// computed of the copy it verified (32 bytes an object in memory), else
// the source served two contents for an immutable object
// (tiles.ErrVerification). They can't be written during the audit either:
// a tile equal to the one rebuilt from the entries is vouched for only once
// the rebuilt root equals the checkpoint's, at the end, and a tile written
// create-only from a tree that then fails would block every later honest
// mirror. The verified indexes and notes are kept in memory until the end
// (about as much again as the filenames the audit keeps), as the source may
// rewrite them meanwhile.
//
// From a listable source (a directory or a bucket), the sequencer's state
// and the alarms are copied after the checkpoint, so the copy can take over
// sequencing.
func (s *Source) Mirror(ctx context.Context, dst publish.Store, logger *slog.Logger) (*client.AuditReport, error) {
	keyData, err := s.mirrorKey(ctx, dst)
	if err != nil {
		return nil, err
	}
	// Refuse a stale source before the long audit; checked again before
	// and while writing.
	cp, _, err := s.log.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.checkMirrorCheckpoint(ctx, dst, cp); err != nil {
		return nil, err
	}
	rep, ver, err := s.log.AuditVerified(ctx, logger)
	if err != nil {
		return rep, err
	}
	if _, _, err := s.checkMirrorCheckpoint(ctx, dst, rep.Checkpoint); err != nil {
		return rep, err
	}
	if err := dst.Create(ctx, tiles.KeyKey, keyData); err != nil {
		return rep, fmt.Errorf("the destination holds another log (%s): %w", tiles.KeyKey, err)
	}
	if err := s.copyImmutable(ctx, dst, ver.Immutable); err != nil {
		return rep, err
	}
	if err := s.copyMutable(ctx, dst, ver.Notes); err != nil {
		return rep, err
	}
	if err := s.copyCheckpoint(ctx, dst, rep.Checkpoint, ver.Checkpoint); err != nil {
		return rep, err
	}
	return rep, s.copyOperatorKeys(ctx, dst)
}

// mirrorKey checks that the source's verifier key is this log's and that
// dst holds no other, and returns the key object to write.
func (s *Source) mirrorKey(ctx context.Context, dst publish.Store) ([]byte, error) {
	data, err := s.fetch.Fetch(ctx, tiles.KeyKey)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch the log's key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(data)))
	if err == nil && v.Name() != s.verifier.Name() {
		// Another log than the key given: a mistake of the user's, not
		// evidence against the log.
		return nil, &client.OriginError{Origin: s.verifier.Name(), Served: v.Name()}
	}
	if err != nil || v.KeyHash() != s.verifier.KeyHash() {
		return nil, fmt.Errorf("%w: %s holds %q, not the key given", tiles.ErrVerification, tiles.KeyKey, strings.TrimSpace(string(data)))
	}
	have, _, err := dst.Read(ctx, tiles.KeyKey)
	switch {
	case err == nil && !bytes.Equal(have, data):
		return nil, fmt.Errorf("the destination holds another log (%s is %q)", tiles.KeyKey, strings.TrimSpace(string(have)))
	case err != nil && !errors.Is(err, publish.ErrNotExist):
		return nil, fmt.Errorf("couldn't read the destination's key: %w", err)
	}
	return data, nil
}

// checkMirrorCheckpoint checks that dst's checkpoint, if any, is a prefix
// of cp (a verified checkpoint of the source), and returns its version and
// whether it is cp's tree already.
func (s *Source) checkMirrorCheckpoint(ctx context.Context, dst publish.Store, cp tiles.Checkpoint) (publish.Version, bool, error) {
	old, v, err := dst.Read(ctx, tiles.CheckpointKey)
	if errors.Is(err, publish.ErrNotExist) {
		return publish.NoVersion, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("couldn't read the destination's checkpoint: %w", err)
	}
	oldCp, _, err := tiles.OpenCheckpoint(old, s.verifier)
	if err != nil {
		return v, false, fmt.Errorf("%w: the destination's checkpoint: %v", tiles.ErrVerification, err)
	}
	if oldCp.N > cp.N {
		return v, false, s.staleSource(ctx, dst, oldCp, cp)
	}
	if _, err := tiles.ProveConsistency(oldCp.Tree, cp.Tree, s.log.TileReader(ctx)); err != nil {
		return v, false, fmt.Errorf("the destination's checkpoint (size %d) is not a prefix of the source's (size %d): %w", oldCp.N, cp.N, err)
	}
	return v, oldCp.Tree == cp.Tree, nil
}

// staleSource explains why a source whose checkpoint cp is smaller than
// dst's (dstCp) is refused: a stale source (cp is a prefix of dstCp,
// proven from dst's tiles), or a fork (a security error).
func (s *Source) staleSource(ctx context.Context, dst publish.Store, dstCp, cp tiles.Checkpoint) error {
	dl, err := client.NewLog(StoreFetcher{dst}, s.vkey)
	if err != nil {
		return err
	}
	if _, err := tiles.ProveConsistency(cp.Tree, dstCp.Tree, dl.TileReader(ctx)); err != nil {
		return fmt.Errorf("the source's checkpoint (size %d) is not a prefix of the destination's (size %d): %w", cp.N, dstCp.N, err)
	}
	return fmt.Errorf("the source is stale: its checkpoint (size %d) is older than the destination's (size %d); nothing was written", cp.N, dstCp.N)
}

// copyImmutable writes to dst, create-only, every tile and bundle the
// audit verified that dst does not hold yet, fetched again and checked
// against the SHA-256 of the verified copy.
func (s *Source) copyImmutable(ctx context.Context, dst publish.Store, sums map[string][32]byte) error {
	keys := make([]string, 0, len(sums))
	for key := range sums {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for first := 0; first < len(keys); first += groupSize {
		chunk := keys[first:min(first+groupSize, len(keys))]
		writes := make([]publish.Write, len(chunk))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(inFlight)
		for i, key := range chunk {
			g.Go(func() error {
				have, _, err := dst.Read(gctx, key)
				switch {
				case err == nil && sha256.Sum256(have) == sums[key]:
					return nil
				case err == nil:
					return fmt.Errorf("the destination holds %s with other content than the log's: %w", key, publish.ErrIntegrity)
				case !errors.Is(err, publish.ErrNotExist):
					return fmt.Errorf("couldn't read %s in the destination: %w", key, err)
				}
				data, err := s.fetch.Fetch(gctx, key)
				if err != nil {
					return fmt.Errorf("couldn't fetch %s again: %w", key, err)
				}
				if sha256.Sum256(data) != sums[key] {
					return fmt.Errorf("%w: %s changed since the audit verified it (an immutable object)", tiles.ErrVerification, key)
				}
				writes[i] = publish.Write{Key: key, Data: data}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		writes = slices.DeleteFunc(writes, func(w publish.Write) bool { return w.Key == "" })
		if _, err := publish.WriteAll(ctx, dst, writes, inFlight); err != nil {
			return fmt.Errorf("couldn't write tiles: %w", err)
		}
	}
	return nil
}

// mutableRank orders the writes of mutable objects as the sequencer's
// commit does: indexes, then filename notes, then the project list.
func mutableRank(key string) int {
	switch {
	case strings.HasPrefix(key, tiles.IndexPrefix):
		return 0
	case strings.HasPrefix(key, tiles.FilenamesPrefix):
		return 1
	default:
		return 2
	}
}

// copyMutable writes the verified indexes, filename notes and project list
// shards to dst, each unless dst holds it already or holds one for a
// larger tree size.
func (s *Source) copyMutable(ctx context.Context, dst publish.Store, objs []client.VerifiedNote) error {
	slices.SortStableFunc(objs, func(a, b client.VerifiedNote) int { return mutableRank(a.Key) - mutableRank(b.Key) })
	for first := 0; first < len(objs); first += groupSize {
		chunk := objs[first:min(first+groupSize, len(objs))]
		writes := make([]publish.Write, len(chunk))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(inFlight)
		for i, obj := range chunk {
			g.Go(func() error {
				v, write, err := s.shouldWrite(gctx, dst, obj)
				if write {
					writes[i] = publish.Write{Key: obj.Key, Data: obj.Data, Swap: true, Old: v}
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		writes = slices.DeleteFunc(writes, func(w publish.Write) bool { return w.Key == "" })
		_, err := publish.WriteAll(ctx, dst, writes, inFlight)
		if errors.Is(err, publish.ErrConflict) {
			// Something else writes dst: one at a time, reading again.
			for _, obj := range chunk {
				if err := s.swapMutable(ctx, dst, obj); err != nil {
					return err
				}
			}
		} else if err != nil {
			return fmt.Errorf("couldn't write indexes: %w", err)
		}
	}
	return nil
}

// shouldWrite reads obj's key in dst and says whether to replace it, and
// from which version: not if it holds obj already, or a note of the log
// for a larger tree size (the destination's indexes are never replaced by
// older ones).
func (s *Source) shouldWrite(ctx context.Context, dst publish.Store, obj client.VerifiedNote) (publish.Version, bool, error) {
	have, v, err := dst.Read(ctx, obj.Key)
	switch {
	case errors.Is(err, publish.ErrNotExist):
		return publish.NoVersion, true, nil
	case err != nil:
		return v, false, fmt.Errorf("couldn't read %s in the destination: %w", obj.Key, err)
	case bytes.Equal(have, obj.Data):
		return v, false, nil
	}
	if size, ok := s.noteSize(obj.Key, have); ok && size > obj.TreeSize {
		return v, false, nil
	}
	return v, true, nil
}

// swapMutable writes obj to dst as copyMutable does, retrying a lost
// compare-and-swap a few times.
func (s *Source) swapMutable(ctx context.Context, dst publish.Store, obj client.VerifiedNote) error {
	for range maxSwapTries {
		v, write, err := s.shouldWrite(ctx, dst, obj)
		if err != nil || !write {
			return err
		}
		_, err = dst.Swap(ctx, obj.Key, v, obj.Data)
		if !errors.Is(err, publish.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("couldn't write %s in the destination: it changed %d times under the mirror", obj.Key, maxSwapTries)
}

// noteSize returns the tree size a signed note of the log at key covers,
// if it is one that verifies.
func (s *Source) noteSize(key string, data []byte) (int64, bool) {
	var size int64
	var err error
	switch {
	case strings.HasPrefix(key, tiles.IndexPrefix):
		var x tiles.Index
		x, err = tiles.OpenIndex(data, s.verifier, strings.TrimPrefix(key, tiles.IndexPrefix))
		size = x.TreeSize
	case strings.HasPrefix(key, tiles.FilenamesPrefix):
		var x tiles.FilenameNote
		x, err = tiles.OpenFilenameNote(data, s.verifier, strings.TrimPrefix(key, tiles.FilenamesPrefix))
		size = x.TreeSize
	case strings.HasPrefix(key, tiles.ProjectListPrefix):
		var x tiles.ProjectList
		x, err = tiles.OpenProjectList(data, s.verifier, strings.TrimPrefix(key, tiles.ProjectListPrefix))
		size = x.TreeSize
	default:
		return 0, false
	}
	return size, err == nil
}

// copyCheckpoint replaces dst's checkpoint with the audited one, signed,
// by compare-and-swap from a checkpoint it extends.
func (s *Source) copyCheckpoint(ctx context.Context, dst publish.Store, cp tiles.Checkpoint, signed []byte) error {
	for range maxSwapTries {
		v, same, err := s.checkMirrorCheckpoint(ctx, dst, cp)
		if err != nil || same {
			return err
		}
		_, err = dst.Swap(ctx, tiles.CheckpointKey, v, signed)
		if !errors.Is(err, publish.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("couldn't write the destination's checkpoint: it changed %d times under the mirror", maxSwapTries)
}

// copyOperatorKeys copies the sequencer's state and the alarms from a
// listable source.
func (s *Source) copyOperatorKeys(ctx context.Context, dst publish.Store) error {
	lister, ok := s.fetch.(client.Lister)
	if !ok {
		return nil
	}
	for _, prefix := range operatorKeys {
		keys, err := lister.List(ctx, prefix)
		if err != nil {
			return fmt.Errorf("couldn't list %s: %w", prefix, err)
		}
		for _, key := range keys {
			data, err := s.fetch.Fetch(ctx, key)
			if err != nil {
				return err
			}
			if err := replace(ctx, dst, key, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// replace writes a mutable object whatever it holds now, retrying a lost
// compare-and-swap a few times.
func replace(ctx context.Context, dst publish.Store, key string, data []byte) error {
	for range maxSwapTries {
		_, v, err := dst.Read(ctx, key)
		if err != nil && !errors.Is(err, publish.ErrNotExist) {
			return err
		}
		_, err = dst.Swap(ctx, key, v, data)
		if !errors.Is(err, publish.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("couldn't write %s in the destination: it changed %d times under the mirror", key, maxSwapTries)
}
