package sequencer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

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

// loggedFile is a file the log holds, as the index of its project says.
type loggedFile struct {
	tiles.IndexLine
	project string
}

// loggedFiles returns the files among records' filenames that the log
// already holds, under whatever project. A filename is looked up in the
// indexes of the projects its form says it can belong to
// (tiles.FilenameProjects) and of the record's project, and in the
// filename note of its home, which lists the files logged under any other
// project: so the objects read grow with the batch, not with the log.
//
// A project index that the project list names but that is missing, or a
// filename note line that its project's index does not confirm, is
// ErrStoreDamaged: an index lost from the store would otherwise let its
// files be logged again.
func (s *Sequencer) loggedFiles(ctx context.Context, records []Record) (map[string]loggedFile, error) {
	projects, homes := map[string]bool{}, map[string]bool{}
	filenames := make(map[string]bool, len(records))
	for _, r := range records {
		projects[r.Project] = true
		for _, p := range tiles.FilenameProjects(r.Filename) {
			projects[p] = true
		}
		homes[tiles.FilenameHome(r.Filename)] = true
		filenames[r.Filename] = true
	}
	var (
		indexes map[string]versioned[tiles.Index]
		notes   map[string]versioned[tiles.FilenameNote]
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		indexes, err = readEach(gctx, s, projects, s.readIndex)
		return err
	})
	g.Go(func() (err error) {
		notes, err = readEach(gctx, s, homes, s.readFilenameNote)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := s.checkIndexesExist(ctx, indexes); err != nil {
		return nil, err
	}

	logged := make(map[string]loggedFile, len(records))
	for project, x := range indexes {
		for _, l := range x.value.Lines {
			if filenames[l.Filename] {
				logged[l.Filename] = loggedFile{l, project}
			}
		}
	}
	// Files logged under a project their filename does not give: their
	// index has the sha256 and size.
	others := map[string]bool{}
	var listed []tiles.FilenameLine
	for _, x := range notes {
		for _, l := range x.value.Lines {
			if filenames[l.Filename] {
				listed = append(listed, l)
				if _, ok := indexes[l.Project]; !ok {
					others[l.Project] = true
				}
			}
		}
	}
	more, err := readEach(ctx, s, others, s.readIndex)
	if err != nil {
		return nil, err
	}
	for _, l := range listed {
		x, ok := indexes[l.Project]
		if !ok {
			x = more[l.Project]
		}
		line, found := findLine(x.value, l.Filename)
		if !found || line.Leaf != l.Leaf {
			return nil, fmt.Errorf("%w: %s says %s is leaf %d of project %s, but %s does not list it there",
				ErrStoreDamaged, tiles.FilenamesKey(tiles.FilenameHome(l.Filename)), l.Filename, l.Leaf, l.Project, tiles.IndexKey(l.Project))
		}
		logged[l.Filename] = loggedFile{line, l.Project}
	}
	return logged, nil
}

// checkIndexesExist reports a project the project list names whose index
// is missing.
func (s *Sequencer) checkIndexesExist(ctx context.Context, indexes map[string]versioned[tiles.Index]) error {
	shards := map[string]bool{}
	for project, x := range indexes {
		if x.version == publish.NoVersion {
			shards[tiles.ProjectShard(project)] = true
		}
	}
	lists, err := readEach(ctx, s, shards, s.readProjectList)
	if err != nil {
		return err
	}
	for project, x := range indexes {
		if x.version != publish.NoVersion {
			continue
		}
		l := lists[tiles.ProjectShard(project)].value
		if _, listed := slices.BinarySearch(l.Projects, project); listed {
			return fmt.Errorf("%w: %s is missing, but %s lists project %s (restore the index from a mirror or a backup)",
				ErrStoreDamaged, tiles.IndexKey(project), tiles.ProjectListKey(l.Shard), project)
		}
	}
	return nil
}

func findLine(x tiles.Index, filename string) (tiles.IndexLine, bool) {
	for _, l := range x.Lines {
		if l.Filename == filename {
			return l, true
		}
	}
	return tiles.IndexLine{}, false
}
