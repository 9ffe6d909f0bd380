package publish

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// Write is one object write of a group (see WriteAll).
type Write struct {
	// Key names the object; Data is its new content.
	Key  string
	Data []byte
	// Swap makes the write a compare-and-swap from Old, as Store.Swap
	// does; otherwise it is a create-only write, as Store.Create.
	Swap bool
	// Old is the version a Swap expects (NoVersion: the object is absent).
	Old Version
}

// GroupWriter is a Store that can make many writes durable at once, far
// faster than one by one (the local directory syncs its file system twice
// for a whole group instead of twice per object).
type GroupWriter interface {
	Store
	// WriteGroup carries out every write of ws as Create or Swap would,
	// and returns the new versions (NoVersion for creates) once all of
	// them are durable. Each write is atomic on its own, the group is
	// not: after an error, some writes may have happened and others not,
	// but no object is ever half-written, even after a crash. A write may
	// become visible to readers before the whole group is durable.
	// concurrency bounds the writes in flight.
	WriteGroup(ctx context.Context, ws []Write, concurrency int) ([]Version, error)
}

// WriteAll carries out ws on store as one group: with the store's
// WriteGroup if it has one, otherwise with up to concurrency parallel
// Create and Swap calls (each of which is durable on its own).
func WriteAll(ctx context.Context, store Store, ws []Write, concurrency int) ([]Version, error) {
	if g, ok := store.(GroupWriter); ok {
		return g.WriteGroup(ctx, ws, concurrency)
	}
	return writeEach(ctx, store, ws, concurrency)
}

// writeEach carries out ws one Create or Swap at a time per worker.
func writeEach(ctx context.Context, store Store, ws []Write, concurrency int) ([]Version, error) {
	versions := make([]Version, len(ws))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	for i, w := range ws {
		g.Go(func() error {
			var err error
			if w.Swap {
				versions[i], err = store.Swap(gctx, w.Key, w.Old, w.Data)
			} else {
				err = store.Create(gctx, w.Key, w.Data)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return versions, nil
}
