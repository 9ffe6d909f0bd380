package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/tiles"
)

// Log is one log, read through a Fetcher and verified with its key. Tiles
// and bundles are immutable, so each is fetched at most once per Log (and,
// with a Cache, at most once ever).
type Log struct {
	fetch    Fetcher
	verifier note.Verifier
	vkey     string
	// cache is nil unless UseCache was called.
	cache *logCache
	// memory keeps the last verified checkpoint without a cache.
	memory memoryCheckpoint
	// witnesses is nil unless RequireWitnesses was called.
	witnesses *WitnessPolicy

	mu    sync.Mutex
	tiles map[string]*tileFetch

	// served is the last checkpoint Checkpoint fetched and verified, with
	// its signed note, for TlogProofs.
	served atomic.Pointer[servedCheckpoint]

	fromCache atomic.Int64
	// evictions counts the calls of evictUnverified that evicted anything.
	evictions atomic.Int64
}

type tileFetch struct {
	done chan struct{}
	data []byte
	err  error
	// fromDisk says the data came from the disk cache; verified, that a
	// verification against a checkpoint vouched for all of it (a hash
	// tile checked by tlog.TileHashReader, a bundle whose every entry
	// matches a verified level-0 tile). Both are guarded by Log.mu.
	fromDisk, verified bool
}

// NewLog returns the log read through fetch and verified with vkey.
func NewLog(fetch Fetcher, vkey string) (*Log, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse verifier key: %w", err)
	}
	if err := tiles.CheckOrigin(v.Name()); err != nil {
		return nil, fmt.Errorf("verifier key name: %w", err)
	}
	return &Log{fetch: fetch, verifier: v, vkey: vkey, tiles: map[string]*tileFetch{}}, nil
}

// UseCache makes l keep in c its last verified checkpoint (see
// VerifiedCheckpoint) and the tiles and entry bundles it verifies, and read
// them from there instead of fetching them again. Call it before using l,
// and give Entry and Lookup only trees from VerifiedCheckpoint: the tiles
// a proof verifies against a tree are cached as the log's.
func (l *Log) UseCache(c *Cache) {
	l.cache = c.forLog(l.Origin(), l.vkey)
}

// TilesFromCache returns how many tiles and bundles l read from its disk
// cache instead of fetching them.
func (l *Log) TilesFromCache() int64 { return l.fromCache.Load() }

// Origin returns the log's origin, its key's name.
func (l *Log) Origin() string { return l.verifier.Name() }

// VerifierKey returns the log's note verifier key.
func (l *Log) VerifierKey() string { return l.vkey }

// Checkpoint fetches and verifies the log's checkpoint, and its
// cosignatures if RequireWitnesses was called. It returns the signed note
// too, as evidence for reports.
func (l *Log) Checkpoint(ctx context.Context) (tiles.Checkpoint, []byte, error) {
	data, err := l.fetch.Fetch(ctx, tiles.CheckpointKey)
	if err != nil {
		return tiles.Checkpoint{}, nil, fetchError("checkpoint", tiles.CheckpointKey, err)
	}
	var witnesses []note.Verifier
	if l.witnesses != nil {
		witnesses = l.witnesses.witnesses
	}
	c, n, err := tiles.OpenCheckpoint(data, l.verifier, witnesses...)
	if err != nil {
		if served := servedOrigin(data); served != "" && served != l.Origin() && !l.signedByKey(data) {
			return tiles.Checkpoint{}, data, &OriginError{Origin: l.Origin(), Served: served}
		}
		return tiles.Checkpoint{}, data, fmt.Errorf("%w: checkpoint of %s: %v", tiles.ErrVerification, l.Origin(), err)
	}
	if l.witnesses != nil {
		if err := l.witnesses.check(l.Origin(), c.N, n); err != nil {
			return tiles.Checkpoint{}, data, err
		}
	}
	l.served.Store(&servedCheckpoint{tree: c.Tree, signed: data})
	return c, data, nil
}

// Index fetches and verifies the index of a normalized project. A project
// the log has never seen has no index: ErrNotFound.
func (l *Log) Index(ctx context.Context, project string) (tiles.Index, error) {
	_, x, err := l.index(ctx, project)
	return x, err
}

// FreshIndex is Index reading the index's current version past any cache
// on the way (see FreshFetcher): for a verdict that rests on what the
// index does not list.
func (l *Log) FreshIndex(ctx context.Context, project string) (tiles.Index, error) {
	_, x, err := l.readIndex(ctx, project, true)
	return x, err
}

// index is Index, also returning the signed note.
func (l *Log) index(ctx context.Context, project string) ([]byte, tiles.Index, error) {
	return l.readIndex(ctx, project, false)
}

func (l *Log) readIndex(ctx context.Context, project string, fresh bool) ([]byte, tiles.Index, error) {
	fetch := l.fetch.Fetch
	if fresh {
		fetch = func(ctx context.Context, key string) ([]byte, error) { return fetchFresh(ctx, l.fetch, key) }
	}
	data, err := fetch(ctx, tiles.IndexKey(project))
	if err != nil {
		return nil, tiles.Index{}, fetchError("index of "+project, tiles.IndexKey(project), err)
	}
	x, err := tiles.OpenIndex(data, l.verifier, project)
	if err != nil {
		return data, tiles.Index{}, fmt.Errorf("%w: index of %s: %v", tiles.ErrVerification, project, err)
	}
	return data, x, nil
}

// tile fetches an immutable object once, sharing concurrent fetches.
func (l *Log) tile(ctx context.Context, key string) ([]byte, error) {
	l.mu.Lock()
	f, ok := l.tiles[key]
	if !ok {
		f = &tileFetch{done: make(chan struct{})}
		l.tiles[key] = f
		l.mu.Unlock()
		data, fromDisk, err := l.readTile(ctx, key)
		l.mu.Lock()
		f.data, f.err, f.fromDisk = data, err, fromDisk
		if err != nil && l.tiles[key] == f {
			// Don't remember failures: a later call may succeed.
			delete(l.tiles, key)
		}
		l.mu.Unlock()
		close(f.done)
		return data, err
	}
	l.mu.Unlock()
	select {
	case <-f.done:
		return f.data, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readTile reads an immutable object from the disk cache, or else from the
// log.
func (l *Log) readTile(ctx context.Context, key string) (data []byte, fromDisk bool, err error) {
	if l.cache != nil {
		if data, ok := l.cache.read(key); ok {
			l.fromCache.Add(1)
			return data, true, nil
		}
	}
	data, err = l.fetch.Fetch(ctx, key)
	return data, false, err
}

// markVerified records that a verification vouched for the object at key
// (with content data), and writes it to the disk cache if it came from the
// log.
func (l *Log) markVerified(key string, data []byte) {
	l.mu.Lock()
	f := l.tiles[key]
	// The object may have been evicted and be read again since: only the
	// copy that was verified counts.
	if f == nil || f.verified || !bytes.Equal(f.data, data) {
		l.mu.Unlock()
		return
	}
	f.verified = true
	write := !f.fromDisk
	l.mu.Unlock()
	if write && l.cache != nil {
		l.cache.write(key, data)
	}
}

// verifiedData returns the content of the object at key if a verification
// vouched for it.
func (l *Log) verifiedData(key string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.tiles[key]
	if f == nil || !f.verified {
		return nil, false
	}
	return f.data, true
}

// evictUnverified forgets the objects read from the disk cache that no
// verification vouched for, and deletes them from the cache, so that a
// verification that failed with them can be retried with fresh copies from
// the log: a copy damaged on the local disk must not pass for misbehaviour
// of the log. It reports whether there was any.
func (l *Log) evictUnverified() bool {
	if l.cache == nil {
		return false
	}
	// The files are removed under the lock, so that no fetch that starts
	// after the eviction reads them.
	l.mu.Lock()
	defer l.mu.Unlock()
	evicted := false
	for key, f := range l.tiles {
		if f.fromDisk && !f.verified {
			delete(l.tiles, key)
			l.cache.remove(key)
			evicted = true
		}
	}
	if evicted {
		l.evictions.Add(1)
	}
	return evicted
}

// maxCacheRetries bounds the retries of a verification after evictions.
const maxCacheRetries = 3

// retryFromLog runs a verification and, if it fails after objects from the
// disk cache were evicted (by this failure or a concurrent one), runs it
// again without them.
func (l *Log) retryFromLog(verify func() error) error {
	for range maxCacheRetries {
		before := l.evictions.Load()
		err := verify()
		if !IsSecurityError(err) || !l.evictUnverified() && l.evictions.Load() == before {
			return err
		}
	}
	return verify()
}

// TileReader returns a tlog.TileReader over the log's hash tiles, for
// tlog.TileHashReader (which checks them against a verified tree).
func (l *Log) TileReader(ctx context.Context) tlog.TileReader {
	return tileReader{ctx, l}
}

type tileReader struct {
	ctx context.Context
	log *Log
}

func (r tileReader) Height() int { return tiles.TileHeight }

func (r tileReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	g, ctx := errgroup.WithContext(r.ctx)
	g.SetLimit(maxPrefetch)
	for i, t := range ts {
		g.Go(func() error {
			var err error
			out[i], err = r.log.tile(ctx, tiles.TilePath(t))
			return err
		})
	}
	return out, g.Wait()
}

// SaveTiles is called by tlog.TileHashReader with the tiles it verified.
func (r tileReader) SaveTiles(ts []tlog.Tile, data [][]byte) {
	for i, t := range ts {
		r.log.markVerified(tiles.TilePath(t), data[i])
	}
}

// Entry fetches the entry at leaf of tree, parses it, and proves its
// inclusion in tree by a Merkle proof from the log's tiles. An entry bundle
// is cached on disk only once all its entries are proven.
func (l *Log) Entry(ctx context.Context, tree tlog.Tree, leaf int64) (tiles.Entry, []byte, error) {
	if leaf < 0 || leaf >= tree.N {
		return tiles.Entry{}, nil, fmt.Errorf("leaf %d is not in a tree of size %d", leaf, tree.N)
	}
	var e tiles.Entry
	var raw []byte
	err := l.retryFromLog(func() (err error) {
		e, raw, err = l.entry(ctx, tree, leaf)
		return err
	})
	return e, raw, err
}

func (l *Log) entry(ctx context.Context, tree tlog.Tree, leaf int64) (tiles.Entry, []byte, error) {
	t := tiles.BundleOf(leaf, tree.N)
	key := tiles.TilePath(t)
	data, err := l.tile(ctx, key)
	if err != nil {
		return tiles.Entry{}, nil, fetchError("entry bundle", key, err)
	}
	entries, err := tiles.ParseBundle(data, t.W)
	if err != nil {
		return tiles.Entry{}, nil, fmt.Errorf("%w: %s: %v", tiles.ErrVerification, key, err)
	}
	raw := entries[leaf%tiles.TileWidth]
	if err := tiles.CheckInclusion(tree, leaf, raw, l.TileReader(ctx)); err != nil {
		return tiles.Entry{}, raw, fmt.Errorf("entry %d from %s: %w", leaf, key, err)
	}
	if err := l.checkBundle(t, data, entries); err != nil {
		return tiles.Entry{}, raw, err
	}
	e, err := tiles.ParseEntry(raw)
	if err != nil {
		return tiles.Entry{}, raw, fmt.Errorf("%w: logged entry %d is malformed: %v", tiles.ErrVerification, leaf, err)
	}
	return e, raw, nil
}

// checkBundle vouches for a whole entry bundle, so that it may be cached,
// once an inclusion proof has verified the level-0 hash tile of the same
// entries: every entry's hash must be in it. Without a disk cache, or
// without a verified tile (a tree too small to need it), it does nothing.
func (l *Log) checkBundle(t tlog.Tile, data []byte, entries [][]byte) error {
	if l.cache == nil {
		return nil
	}
	key := tiles.TilePath(t)
	if _, done := l.verifiedData(key); done {
		return nil
	}
	level0 := tiles.TilePath(tlog.Tile{H: tiles.TileHeight, L: 0, N: t.N, W: t.W})
	hashes, ok := l.verifiedData(level0)
	if !ok {
		return nil
	}
	if !bytes.Equal(tiles.LeafHashes(entries), hashes) {
		return fmt.Errorf("%w: %s: its entries are not those of the verified hash tile %s", tiles.ErrVerification, key, level0)
	}
	l.markVerified(key, data)
	return nil
}

// fetchError is the error of fetching the object key (what, in words):
// err itself if it names the key already, as the fetchers of this package
// do ("couldn't fetch https://…/checkpoint: …"), so that no message says
// "couldn't fetch" twice.
func fetchError(what, key string, err error) error {
	if strings.Contains(err.Error(), key) {
		return err
	}
	return fmt.Errorf("couldn't fetch %s: %w", what, err)
}

// OriginError reports a log whose checkpoint names another origin than the
// verifier key it is read with, and that the key did not sign: the key (or
// the log's location) is not the one meant, a mistake of configuration
// rather than evidence that the log misbehaves, so it does not wrap
// tiles.ErrVerification. A checkpoint of the key's own origin that doesn't
// verify, or one the key signed that names another origin, is such
// evidence.
type OriginError struct {
	// Origin is the verifier key's origin; Served the checkpoint's.
	Origin, Served string
}

func (e *OriginError) Error() string {
	return fmt.Sprintf("the log serves a checkpoint of origin %s, but the verifier key is for origin %s", e.Served, e.Origin)
}

// signedByKey reports whether the log's key signed the note data: then a
// wrong origin in it is the log's own statement, a misbehaviour, not a
// key given for another log.
func (l *Log) signedByKey(data []byte) bool {
	_, err := note.Open(data, note.VerifierList(l.verifier))
	return err == nil
}

// servedOrigin returns the origin line of a checkpoint's note, "" if it
// has none that is valid.
func servedOrigin(data []byte) string {
	line, _, ok := bytes.Cut(data, []byte("\n"))
	if !ok || tiles.CheckOrigin(string(line)) != nil {
		return ""
	}
	return string(line)
}

// IsSecurityError reports whether err is evidence that a log misbehaves
// (as opposed to a failure to reach it).
func IsSecurityError(err error) bool {
	return errors.Is(err, tiles.ErrVerification)
}
