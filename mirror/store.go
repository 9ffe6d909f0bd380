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
// own tests and tools can audit any backend. Every store refuses to read
// an object larger than tiles.MaxObjectSize allows (the Store contract),
// with an error wrapping client.ErrTooLarge.
type StoreFetcher struct{ Store publish.Store }

var (
	_ client.Fetcher = StoreFetcher{}
	_ client.Lister  = StoreFetcher{}
)

// Fetch implements client.Fetcher.
func (s StoreFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	data, _, err := s.Store.Read(ctx, key)
	if errors.Is(err, publish.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, client.ErrNotFound)
	}
	return data, err
}

// List implements client.Lister.
func (s StoreFetcher) List(ctx context.Context, prefix string) ([]string, error) {
	return s.Store.List(ctx, prefix)
}
