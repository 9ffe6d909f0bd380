package publish

import (
	"context"
	"sync/atomic"
)

// Counting wraps a Store and counts successful writes and reads (of
// objects that exist or not), for benchmarks and reports of what a batch
// costs.
type Counting struct {
	Store
	// Select, if set, picks the writes that Selected counts too, by key
	// (the signed notes, for the benchmark's floor).
	Select func(key string) bool

	objects, bytes                 atomic.Int64
	selectedObjects, selectedBytes atomic.Int64
	reads                          atomic.Int64
}

var _ GroupWriter = (*Counting)(nil)

// Written returns the objects and bytes written so far.
func (c *Counting) Written() (objects, bytes int64) {
	return c.objects.Load(), c.bytes.Load()
}

// Selected returns the objects and bytes written so far whose keys Select
// picks.
func (c *Counting) Selected() (objects, bytes int64) {
	return c.selectedObjects.Load(), c.selectedBytes.Load()
}

// Reads returns how many objects were read so far.
func (c *Counting) Reads() int64 { return c.reads.Load() }

func (c *Counting) Read(ctx context.Context, key string) ([]byte, Version, error) {
	c.reads.Add(1)
	return c.Store.Read(ctx, key)
}

func (c *Counting) count(key string, data []byte) {
	c.objects.Add(1)
	c.bytes.Add(int64(len(data)))
	if c.Select != nil && c.Select(key) {
		c.selectedObjects.Add(1)
		c.selectedBytes.Add(int64(len(data)))
	}
}

func (c *Counting) Create(ctx context.Context, key string, data []byte) error {
	err := c.Store.Create(ctx, key, data)
	if err == nil {
		c.count(key, data)
	}
	return err
}

func (c *Counting) Swap(ctx context.Context, key string, old Version, data []byte) (Version, error) {
	v, err := c.Store.Swap(ctx, key, old, data)
	if err == nil {
		c.count(key, data)
	}
	return v, err
}

// WriteGroup writes through the wrapped store's group writes, if it has
// them.
func (c *Counting) WriteGroup(ctx context.Context, ws []Write, concurrency int) ([]Version, error) {
	versions, err := WriteAll(ctx, c.Store, ws, concurrency)
	if err == nil {
		for _, w := range ws {
			c.count(w.Key, w.Data)
		}
	}
	return versions, err
}
