package sequencer

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// ErrStoreDamaged reports an object the sequencer depends on that is
// missing or does not verify although the rest of the store says it must
// be there: a project index the project list names, a tile, a bundle, the
// state. Appending around it could log a file twice or miss an alarm, so
// the sequencer stops and names the object; a human restores it (from a
// mirror or a backup).
var ErrStoreDamaged = errors.New("log store is damaged")

// versioned is a mutable object as read, with the version to swap from
// (publish.NoVersion if it does not exist).
type versioned[T any] struct {
	value   T
	version publish.Version
}

// batchObjects holds the signed mutable objects (project indexes, project
// list shards, filename notes) read during one batch, by key, so that each
// is read and its signature checked once, not once each for the source's
// lookups, the dedupe and the update. It is emptied after every batch, so
// memory stays bounded by a batch; the compare-and-swap of every write
// still catches a stale entry.
type batchObjects struct {
	mu      sync.Mutex
	objects map[string]any
}

func (c *batchObjects) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.objects[key]
	return v, ok
}

func (c *batchObjects) put(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.objects == nil {
		c.objects = map[string]any{}
	}
	c.objects[key] = v
}

func (c *batchObjects) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.objects = nil
}

// readObject reads the signed object at key through the batch's cache,
// verifying it with open; a missing object is absent at NoVersion.
func readObject[T any](ctx context.Context, s *Sequencer, key string, absent T, open func([]byte) (T, error)) (versioned[T], error) {
	if v, ok := s.batch.get(key); ok {
		return v.(versioned[T]), nil
	}
	data, version, err := s.cfg.Store.Read(ctx, key)
	out := versioned[T]{value: absent, version: publish.NoVersion}
	switch {
	case errors.Is(err, publish.ErrNotExist):
	case err != nil:
		return out, fmt.Errorf("couldn't read %s: %w", key, err)
	default:
		x, err := open(data)
		if err != nil {
			return out, fmt.Errorf("%w: %s does not verify: %v", ErrStoreDamaged, key, err)
		}
		out = versioned[T]{x, version}
	}
	s.batch.put(key, out)
	return out, nil
}

func (s *Sequencer) readIndex(ctx context.Context, project string) (versioned[tiles.Index], error) {
	return readObject(ctx, s, tiles.IndexKey(project), tiles.Index{Origin: s.signer.Name(), Project: project},
		func(data []byte) (tiles.Index, error) { return tiles.OpenIndex(data, s.verifier, project) })
}

func (s *Sequencer) readProjectList(ctx context.Context, shard string) (versioned[tiles.ProjectList], error) {
	return readObject(ctx, s, tiles.ProjectListKey(shard), tiles.ProjectList{Origin: s.signer.Name(), Shard: shard},
		func(data []byte) (tiles.ProjectList, error) { return tiles.OpenProjectList(data, s.verifier, shard) })
}

func (s *Sequencer) readFilenameNote(ctx context.Context, home string) (versioned[tiles.FilenameNote], error) {
	return readObject(ctx, s, tiles.FilenamesKey(home), tiles.FilenameNote{Origin: s.signer.Name(), Home: home},
		func(data []byte) (tiles.FilenameNote, error) { return tiles.OpenFilenameNote(data, s.verifier, home) })
}

// readEach reads every name in parallel, with read, into a map.
func readEach[T any](ctx context.Context, s *Sequencer, names map[string]bool, read func(context.Context, string) (versioned[T], error)) (map[string]versioned[T], error) {
	out := make(map[string]versioned[T], len(names))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Concurrency)
	for name := range names {
		g.Go(func() error {
			x, err := read(gctx, name)
			if err != nil {
				return err
			}
			mu.Lock()
			out[name] = x
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

// readCheckpoint returns the published tree (size 0 if none yet) and the
// checkpoint's version.
func (s *Sequencer) readCheckpoint(ctx context.Context) (tlog.Tree, publish.Version, error) {
	data, v, err := s.cfg.Store.Read(ctx, tiles.CheckpointKey)
	if errors.Is(err, publish.ErrNotExist) {
		return tlog.Tree{}, publish.NoVersion, nil
	}
	if err != nil {
		return tlog.Tree{}, v, fmt.Errorf("couldn't read checkpoint: %w", err)
	}
	c, _, err := tiles.OpenCheckpoint(data, s.verifier)
	if err != nil {
		return tlog.Tree{}, v, fmt.Errorf("%w: %s does not verify: %v", ErrStoreDamaged, tiles.CheckpointKey, err)
	}
	return c.Tree, v, nil
}
