package client

import (
	"context"
	"sync/atomic"
)

// CountingFetcher counts the objects read through a Fetcher and their
// bytes: what a run costs the log's server.
type CountingFetcher struct {
	Fetcher
	requests atomic.Int64
	bytes    atomic.Int64
}

func (c *CountingFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	data, err := c.Fetcher.Fetch(ctx, key)
	c.requests.Add(1)
	c.bytes.Add(int64(len(data)))
	return data, err
}

// FetchFresh fetches through the wrapped fetcher's FetchFresh, if it has
// one (see FreshFetcher).
func (c *CountingFetcher) FetchFresh(ctx context.Context, key string) ([]byte, error) {
	data, err := fetchFresh(ctx, c.Fetcher, key)
	c.requests.Add(1)
	c.bytes.Add(int64(len(data)))
	return data, err
}

// Counts returns the fetches so far (failed ones included) and the bytes
// they returned.
func (c *CountingFetcher) Counts() (requests, bytes int64) {
	return c.requests.Load(), c.bytes.Load()
}
