package sequencer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// prepareIndexes returns, as the writes of one group, the signed objects
// that say where batch b's files are: the index of every project of the
// batch brought to the batch's end (lines before the batch kept, the
// batch's lines added), the project list shards that gain a project, and
// the filename notes of the batch's files logged under a project their
// filename does not give. Replaying it after a crash gives the same
// objects, or none where they were already written.
func (s *Sequencer) prepareIndexes(ctx context.Context, b *stagedBatch) ([]publish.Write, error) {
	lines := map[string][]tiles.IndexLine{}
	notes := map[string][]tiles.FilenameLine{}
	for i, r := range b.Records {
		leaf := b.Start + int64(i)
		lines[r.Project] = append(lines[r.Project], tiles.IndexLine{
			Leaf: leaf, Filename: r.Filename, SHA256: r.SHA256, Size: r.Size, UploadTime: r.UploadTime, Claimant: r.Claimant,
		})
		if tiles.IsListedFilename(r.Filename, r.Project) {
			home := tiles.FilenameHome(r.Filename)
			notes[home] = append(notes[home], tiles.FilenameLine{Leaf: leaf, Filename: r.Filename, Project: r.Project})
		}
	}
	shards := map[string][]string{}
	for project := range lines {
		shard := tiles.ProjectShard(project)
		shards[shard] = append(shards[shard], project)
	}

	var (
		indexWrites, listWrites, noteWrites []publish.Write
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		indexWrites, err = prepareEach(gctx, s, lines, func(ctx context.Context, project string, added []tiles.IndexLine) (publish.Write, bool, error) {
			return s.prepareIndex(ctx, b, project, added)
		})
		return err
	})
	g.Go(func() (err error) {
		listWrites, err = prepareEach(gctx, s, shards, func(ctx context.Context, shard string, added []string) (publish.Write, bool, error) {
			return s.prepareProjectList(ctx, b, shard, added)
		})
		return err
	})
	g.Go(func() (err error) {
		noteWrites, err = prepareEach(gctx, s, notes, func(ctx context.Context, home string, added []tiles.FilenameLine) (publish.Write, bool, error) {
			return s.prepareFilenameNote(ctx, b, home, added)
		})
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.Concat(indexWrites, listWrites, noteWrites), nil
}

// prepareEach runs prepare for every entry of m in parallel and returns
// the writes it asked for, in key order.
func prepareEach[T any](ctx context.Context, s *Sequencer, m map[string]T, prepare func(context.Context, string, T) (publish.Write, bool, error)) ([]publish.Write, error) {
	keys := slices.Sorted(maps.Keys(m))
	writes := make([]publish.Write, len(keys))
	needed := make([]bool, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Concurrency)
	for i, k := range keys {
		g.Go(func() (err error) {
			writes[i], needed[i], err = prepare(gctx, k, m[k])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := writes[:0]
	for i, w := range writes {
		if needed[i] {
			out = append(out, w)
		}
	}
	return out, nil
}

func (s *Sequencer) prepareIndex(ctx context.Context, b *stagedBatch, project string, added []tiles.IndexLine) (publish.Write, bool, error) {
	x, err := s.readIndex(ctx, project)
	if err != nil {
		return publish.Write{}, false, err
	}
	index := x.value
	if index.TreeSize > b.end() {
		return publish.Write{}, false, fmt.Errorf("%w: index of %s covers size %d, beyond the batch end %d", ErrInconsistent, project, index.TreeSize, b.end())
	}
	// A copy: the lines read are shared with the batch's cache.
	kept := slices.DeleteFunc(slices.Clone(index.Lines), func(l tiles.IndexLine) bool { return l.Leaf >= b.Start })
	index.Lines = append(kept, added...)
	index.TreeSize = b.end()
	signed, err := tiles.SignIndex(index, s.signer)
	if err != nil {
		return publish.Write{}, false, fmt.Errorf("couldn't sign index of %s: %w", project, err)
	}
	return publish.Write{Key: tiles.IndexKey(project), Data: signed, Swap: true, Old: x.version}, true, nil
}

// prepareProjectList adds the batch's projects to a shard of the project
// list; a shard that lists them all already is not written again.
func (s *Sequencer) prepareProjectList(ctx context.Context, b *stagedBatch, shard string, projects []string) (publish.Write, bool, error) {
	x, err := s.readProjectList(ctx, shard)
	if err != nil {
		return publish.Write{}, false, err
	}
	list := x.value
	merged := slices.Concat(list.Projects, projects)
	slices.Sort(merged)
	merged = slices.Compact(merged)
	if len(merged) == len(list.Projects) {
		return publish.Write{}, false, nil
	}
	list.Projects, list.TreeSize = merged, max(list.TreeSize, b.end())
	signed, err := tiles.SignProjectList(list, s.signer)
	if err != nil {
		return publish.Write{}, false, fmt.Errorf("couldn't sign project list shard %s: %w", shard, err)
	}
	return publish.Write{Key: tiles.ProjectListKey(shard), Data: signed, Swap: true, Old: x.version}, true, nil
}

func (s *Sequencer) prepareFilenameNote(ctx context.Context, b *stagedBatch, home string, added []tiles.FilenameLine) (publish.Write, bool, error) {
	x, err := s.readFilenameNote(ctx, home)
	if err != nil {
		return publish.Write{}, false, err
	}
	n := x.value
	if n.TreeSize > b.end() {
		return publish.Write{}, false, fmt.Errorf("%w: filename note %s covers size %d, beyond the batch end %d", ErrInconsistent, home, n.TreeSize, b.end())
	}
	kept := slices.DeleteFunc(slices.Clone(n.Lines), func(l tiles.FilenameLine) bool { return l.Leaf >= b.Start })
	n.Lines, n.TreeSize = append(kept, added...), b.end()
	signed, err := tiles.SignFilenameNote(n, s.signer)
	if err != nil {
		return publish.Write{}, false, fmt.Errorf("couldn't sign filename note %s: %w", home, err)
	}
	return publish.Write{Key: tiles.FilenamesKey(home), Data: signed, Swap: true, Old: x.version}, true, nil
}

// writeIndexes writes the prepared indexes, project list shards and
// filename notes of a batch as one group, all of them durable before the
// checkpoint that covers the batch is signed: so every leaf a published
// checkpoint holds is always in an index (a client treats lines beyond its
// checkpoint as not yet provable).
func (s *Sequencer) writeIndexes(ctx context.Context, writes []publish.Write, size int64) error {
	if _, err := publish.WriteAll(ctx, s.cfg.Store, writes, s.cfg.Concurrency); err != nil {
		if errors.Is(err, publish.ErrConflict) {
			return fmt.Errorf("%w: a project index changed under us: %v", publish.ErrBusy, err)
		}
		return fmt.Errorf("couldn't publish project indexes: %w", err)
	}
	s.log.Info("project indexes published", "objects", len(writes), "size", size)
	return nil
}
