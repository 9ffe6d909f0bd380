package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/publish"
)

// StoreFetcher reads a log straight from its publish.Store, so that a
// mirror copies a bucket with the sequencer's state, and the sequencer's
// own tests and tools can audit any backend. An object larger than
// client.MaxFetchSize allows is refused too: a directory store is read
// through client.DirFetcher (bounded as it reads), any other only after the
// backend has read the object whole (publish.Store has no streaming read).
type StoreFetcher struct{ Store publish.Store }

var (
	_ client.Fetcher = StoreFetcher{}
	_ client.Lister  = StoreFetcher{}
)

// Fetch implements client.Fetcher.
func (s StoreFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	if d, ok := s.Store.(*publish.Dir); ok {
		return client.DirFetcher(d.Root()).Fetch(ctx, key)
	}
	data, _, err := s.Store.Read(ctx, key)
	if errors.Is(err, publish.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, client.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if limit := client.MaxFetchSize(key); int64(len(data)) > limit {
		return nil, &client.TooLargeError{Key: key, Max: limit}
	}
	return data, nil
}

// List implements client.Lister.
func (s StoreFetcher) List(ctx context.Context, prefix string) ([]string, error) {
	return s.Store.List(ctx, prefix)
}
