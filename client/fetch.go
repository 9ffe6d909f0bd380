// Package client reads a pysumdb log from its static files only, over
// HTTP(S) or from a directory, and verifies everything it reads: checkpoint
// signatures, inclusion and consistency proofs, project indexes, and (Audit)
// the whole log. There is no log server to ask; a log that serves anything
// inconsistent is caught and reported as an error wrapping
// tiles.ErrVerification.
//
// A Cache keeps, per log, the last verified checkpoint, so that a rollback
// or a fork is caught across runs (ForkError), and the tiles once verified,
// so that a second run fetches only the checkpoint and the project indexes.
//
// The client only reads: a log in a directory is read through an fs.FS
// (FSFetcher), and no store is written. Package verify checks lockfiles
// with it; package mirror copies a log with it into a store.
package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	"github.com/pysumdb/pysumdb/internal/fslist"
	"github.com/pysumdb/pysumdb/tiles"
)

// ErrNotFound reports an object the log does not have.
var ErrNotFound = errors.New("not found")

// Fetcher reads a log's objects by key (e.g. "checkpoint",
// "tile/0/000"). The fetchers of this package refuse an object larger
// than tiles.MaxObjectSize(key) with an error wrapping ErrTooLarge, having read
// no more of it than that, so that a log (or anything between it and the
// client) can't make a client run out of memory.
type Fetcher interface {
	Fetch(ctx context.Context, key string) ([]byte, error)
}

// FreshFetcher is implemented by fetchers that can read an object's
// current version past any cache in between: a CDN may serve a copy of a
// mutable object (an index) as old as its max-age.
type FreshFetcher interface {
	FetchFresh(ctx context.Context, key string) ([]byte, error)
}

// fetchFresh reads key through f's FetchFresh, or its Fetch if it has no
// cache to go past.
func fetchFresh(ctx context.Context, f Fetcher, key string) ([]byte, error) {
	if ff, ok := f.(FreshFetcher); ok {
		return ff.FetchFresh(ctx, key)
	}
	return f.Fetch(ctx, key)
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

// FSFetcher reads a log from a file system that holds each object at its
// key, as a directory store (publish.Dir) does. An object the file system
// does not have (fs.ErrNotExist) is ErrNotFound, and so is a key that names
// a directory. Like every Fetcher, it refuses an object larger than its
// kind allows without reading more of it than that, and a file that is not
// a regular file (a device, a pipe) without opening it: a file can be as
// large, or as endless, as an HTTP answer.
type FSFetcher struct{ FS fs.FS }

var (
	_ Fetcher = FSFetcher{}
	_ Lister  = FSFetcher{}
)

// DirFetcher returns an FSFetcher for the log in the directory dir. It
// reads through an os.Root of the directory opened for each read, as
// publish.Dir does: a symbolic link out of the directory is refused (as
// `pysumdb serve` refuses to serve it), and a directory replaced meanwhile
// is read anew.
func DirFetcher(dir string) FSFetcher { return FSFetcher{dirFS(dir)} }

// Fetch implements Fetcher.
func (f FSFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	if err := tiles.CheckKey(key); err != nil {
		return nil, err
	}
	return readFSObject(f.FS, key)
}

// List implements Lister: the keys that start with prefix, sorted, as
// publish.Dir lists them (fslist.List).
func (f FSFetcher) List(ctx context.Context, prefix string) ([]string, error) {
	return fslist.List(f.FS, prefix)
}

// dirFS is the file system of the directory it names, read through an
// os.Root opened for each call (see DirFetcher).
type dirFS string

var _ fs.StatFS = dirFS("")

func (d dirFS) Open(name string) (fs.File, error) {
	return inRoot(d, func(fsys fs.FS) (fs.File, error) { return fsys.Open(name) })
}

func (d dirFS) Stat(name string) (fs.FileInfo, error) {
	return inRoot(d, func(fsys fs.FS) (fs.FileInfo, error) { return fs.Stat(fsys, name) })
}

// inRoot calls f with the file system of an os.Root of d, closed when f
// returns (a file f opened stays open).
func inRoot[T any](d dirFS, f func(fs.FS) (T, error)) (T, error) {
	root, err := os.OpenRoot(string(d))
	if err != nil {
		var zero T
		return zero, err
	}
	defer root.Close()
	return f(root.FS())
}
