// Package client reads a pysumdb log from its static files only, over
// HTTP(S) or from a directory, and verifies everything it reads: checkpoint
// signatures, inclusion and consistency proofs, project indexes. There is
// no log server to ask; a log that serves anything inconsistent is caught
// and reported as an error wrapping tiles.ErrVerification.
//
// A Verifier checks lockfile artifacts against one or more logs with a
// quorum (Config is its TOML configuration); ComparePublished compares
// what PyPI serves with the logs. A Cache keeps, per log, the last verified
// checkpoint, so that a rollback or a fork is caught across runs
// (ForkError), and the tiles once verified, so that a second run fetches
// only the checkpoint and the project indexes.
package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/pysumdb/pysumdb/publish"
)

// ErrNotFound reports an object the log does not have.
var ErrNotFound = errors.New("not found")

// Fetcher reads a log's objects by key (e.g. "checkpoint",
// "tile/0/000"). The fetchers of this package refuse an object larger
// than tiles.MaxObjectSize(key) (the sequencer's state, which only a mirror
// reads, has its own bound) with an error wrapping ErrTooLarge, having
// read no more of it than that, so that a log (or anything between it and
// the client) can't make a client run out of memory.
type Fetcher interface {
	Fetch(ctx context.Context, key string) ([]byte, error)
}

// Lister is implemented by fetchers that can enumerate objects (a log in a
// directory); over HTTP a log can't be listed.
type Lister interface {
	List(ctx context.Context, prefix string) ([]string, error)
}

// UserAgent is sent with every HTTP request.
const UserAgent = "pysumdb-client (+https://github.com/pysumdb/pysumdb)"

// NewFetcher returns a fetcher for location: an http:// or https:// URL of
// the log's base, a file:// URL, or a directory path.
func NewFetcher(location string) (Fetcher, error) {
	u, err := url.Parse(location)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return NewHTTPFetcher(location, nil)
	}
	dir := location
	if err == nil && u.Scheme == "file" {
		dir = u.Path
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("couldn't open log directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("log location %s is neither a URL nor a directory", location)
	}
	return DirFetcher(dir), nil
}

// DirFetcher reads a log from a local directory (a publish.Dir store). Like
// every Fetcher, it refuses an object larger than its kind allows (see
// tiles.MaxObjectSize) without reading more of it than that: a file in a
// directory can be as large, or as endless, as an HTTP answer.
type DirFetcher string

var (
	_ Fetcher = DirFetcher("")
	_ Lister  = DirFetcher("")
)

func (d DirFetcher) store() StoreFetcher { return StoreFetcher{publish.ReadDir(string(d))} }

func (d DirFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	return readDirObject(string(d), key)
}

func (d DirFetcher) List(ctx context.Context, prefix string) ([]string, error) {
	return d.store().List(ctx, prefix)
}

// StoreFetcher reads a log straight from its publish.Store, so that the
// sequencer's own tests and tools can audit any backend. An object larger
// than its kind allows is refused too; a directory store is read through a
// bounded reader, any other only after the backend has read the object
// whole (publish.Store has no streaming read).
type StoreFetcher struct{ Store publish.Store }

var (
	_ Fetcher = StoreFetcher{}
	_ Lister  = StoreFetcher{}
)

func (s StoreFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	if d, ok := s.Store.(*publish.Dir); ok {
		return readDirObject(d.Root(), key)
	}
	data, _, err := s.Store.Read(ctx, key)
	if errors.Is(err, publish.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if limit := maxFetchSize(key); int64(len(data)) > limit {
		return nil, &TooLargeError{Key: key, Max: limit}
	}
	return data, nil
}

func (s StoreFetcher) List(ctx context.Context, prefix string) ([]string, error) {
	return s.Store.List(ctx, prefix)
}
