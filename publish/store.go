// Package publish defines where a log's objects live: the Store interface,
// its durability contract, and the embedded default backend, a local
// directory. Every backend runs the same conformance test
// (package storetest).
package publish

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"unicode"

	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/tiles"
)

// Errors callers branch on. Backends wrap them.
var (
	// ErrNotExist: the object does not exist.
	ErrNotExist = errors.New("object does not exist")
	// ErrConflict: a compare-and-swap lost, the object is not at the
	// version the caller read. Nothing was written.
	ErrConflict = errors.New("object changed concurrently")
	// ErrIntegrity: an immutable object already exists with other bytes.
	// This is fatal: the object may already be cached for a year.
	ErrIntegrity = errors.New("immutable object exists with different content")
	// ErrBusy: another process holds the lease.
	ErrBusy = errors.New("lease held by another sequencer")
	// ErrTooLarge: an object is larger than its kind allows
	// (tiles.MaxObjectSize); Read refused it.
	ErrTooLarge = bounded.ErrTooLarge
)

// Version identifies the content of a mutable object as read, for a later
// compare-and-swap. It is opaque and backend-specific.
type Version string

// NoVersion is the version of an object that does not exist: swapping from
// NoVersion creates the object only if it is still absent.
const NoVersion Version = ""

// Store holds a log's objects under slash-separated keys (see CheckKey).
//
// Durability contract: when a write method returns nil, the write is
// durable (it survives a crash of the process or machine) and visible to
// every later Read, from any process. A write that returns an error may or
// may not have happened, but never half: readers see the old object or the
// new one, never a mix or a truncated one.
//
// The one exception is a group write (see [GroupWriter] and [WriteAll]):
// its writes are durable together, when the group returns, and each is
// still atomic.
//
// Immutable objects (tiles and entry bundles, see [tiles.IsImmutable]) are
// written with Create only. Mutable objects (checkpoint, project indexes,
// sequencer state) are written with Swap only.
type Store interface {
	// Create writes an immutable object if it does not exist. If it
	// exists with the same bytes, Create succeeds (a replayed write); if
	// it exists with other bytes it fails with ErrIntegrity and leaves
	// the object unchanged. Two concurrent Creates of one key: one wins,
	// the other sees the winner's bytes.
	Create(ctx context.Context, key string, data []byte) error

	// Read returns an object and its current version, or ErrNotExist.
	// It reads at most tiles.MaxObjectSize(key) bytes: a larger object
	// is refused with an error wrapping ErrTooLarge, and nothing is
	// allocated in proportion to a size the backend reports.
	Read(ctx context.Context, key string) ([]byte, Version, error)

	// Swap replaces the object at key with data if its current version is
	// old (NoVersion: if it does not exist) and returns the new version.
	// Otherwise it fails with ErrConflict and writes nothing.
	Swap(ctx context.Context, key string, old Version, data []byte) (Version, error)

	// Delete removes a mutable object; deleting a missing one succeeds.
	// Only the sequencer's own scratch objects are ever deleted.
	Delete(ctx context.Context, key string) error

	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)

	// Lock takes the store's sequencer lease, or fails with ErrBusy if
	// another holder has it. The lease is held until release is called
	// (or the holder dies: a backend makes sure a dead holder's lease
	// ends). The lease is an optimisation: correctness never depends on
	// it, only on Create and Swap.
	Lock(ctx context.Context, holder string) (release func(context.Context) error, err error)
}

// HolderName returns a lease holder's name as a busy message shows it:
// quoted if it is not plain printable text, "an unnamed holder" if it is
// empty (a lease whose holder file was not written yet, or written by
// another tool or by hand).
func HolderName(holder string) string {
	holder = strings.TrimSpace(holder)
	switch {
	case holder == "":
		return "an unnamed holder"
	case strings.IndexFunc(holder, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return strconv.Quote(holder)
	}
	return holder
}

// Cache-Control values for published objects.
const (
	CacheImmutable = "public, max-age=31536000, immutable"
	CacheMutable   = "public, max-age=60"
	CacheKey       = "public, max-age=3600"
	CacheNone      = "no-store"
)

// CacheControl returns the Cache-Control header an object is served with:
// a year for tiles, bundles and the entries' tlog-proofs (their content
// never changes, partial tiles included) and for an intake's claim
// objects (each written once), a minute for the checkpoint, the indexes, the project list and
// the filename notes (and the statistics), five minutes for the web page's
// files. A bucket stores it with each object (and ContentType's), so that
// it serves them as `pysumdb serve` does.
func CacheControl(key string) string {
	if cacheControl, _, ok := pageHeaders(key); ok {
		return cacheControl
	}
	switch {
	case tiles.IsImmutable(key), tiles.IsClaimKey(key):
		return CacheImmutable
	case key == tiles.CheckpointKey || strings.HasPrefix(key, tiles.IndexPrefix) ||
		strings.HasPrefix(key, tiles.ProjectListPrefix) || strings.HasPrefix(key, tiles.FilenamesPrefix):
		return CacheMutable
	case key == tiles.KeyKey:
		return CacheKey
	default:
		return CacheNone
	}
}

// ContentType returns the Content-Type an object is served with.
func ContentType(key string) string {
	if _, contentType, ok := pageHeaders(key); ok {
		return contentType
	}
	switch {
	case strings.HasPrefix(key, tiles.ProofPrefix):
		// A C2SP tlog-proof is text, as the checkpoint is.
		return "text/plain; charset=utf-8"
	case tiles.IsImmutable(key):
		return "application/octet-stream"
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	default:
		return "text/plain; charset=utf-8"
	}
}
