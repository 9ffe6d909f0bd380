package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/pysumdb/pysumdb/internal/atomicfile"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/tiles"
)

// CacheDirEnv names the environment variable that overrides the default
// cache directory.
const CacheDirEnv = "PYSUMDB_CACHE"

// DefaultCacheDir returns the directory a client keeps its state in:
// $PYSUMDB_CACHE if set, otherwise pysumdb in the user's cache directory
// (os.UserCacheDir).
func DefaultCacheDir() (string, error) {
	if dir := os.Getenv(CacheDirEnv); dir != "" {
		return dir, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("couldn't find a cache directory (set %s): %w", CacheDirEnv, err)
	}
	return filepath.Join(dir, "pysumdb"), nil
}

// Cache is a client's state on disk, one directory per log, named after the
// log's origin and a hash of its verifier key:
//
//	<origin>-<key hash>/checkpoint        the last checkpoint verified (signed note)
//	<origin>-<key hash>/checkpoint.lock   locked to replace the checkpoint
//	<origin>-<key hash>/tile/...          tiles and entry bundles, once verified
//
// The checkpoint is what makes a rollback or a fork of the log detectable
// across runs: every newer checkpoint must be proven consistent with it.
// Runs sharing the cache replace it by compare-and-swap, so it only moves
// forward (see Log.VerifiedCheckpoint); one that doesn't verify is an
// error (ErrCorruptCache), never silently replaced.
// Tiles and bundles are immutable, so a cached copy never goes stale; only
// copies that passed verification are written, so a log that once served a
// bad tile can't leave it behind. Everything but the checkpoints may be
// deleted at any time.
type Cache struct {
	dir    string
	logger *slog.Logger
}

// OpenCache returns the cache in dir, creating the directory. Failures to
// write to the cache later are logged to logger (nil discards them), never
// fatal: the cache only saves fetches.
func OpenCache(dir string, logger *slog.Logger) (*Cache, error) {
	logger = logging.OrDiscard(logger)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create cache directory: %w", err)
	}
	return &Cache{dir: dir, logger: logger}, nil
}

// logCache is the cache directory of one log.
type logCache struct {
	dir    string
	logger *slog.Logger
}

// forLog returns the directory of the log with verifier key vkey.
func (c *Cache) forLog(origin, vkey string) *logCache {
	sum := sha256.Sum256([]byte(vkey))
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, origin) + "-" + hex.EncodeToString(sum[:8])
	return &logCache{dir: filepath.Join(c.dir, name), logger: c.logger}
}

func (c *logCache) path(key string) string {
	return filepath.Join(c.dir, filepath.FromSlash(key))
}

// read returns the cached object at key, if any.
func (c *logCache) read(key string) ([]byte, bool) {
	if tiles.CheckKey(key) != nil {
		return nil, false
	}
	data, err := readFSObject(os.DirFS(c.dir), key)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			c.logger.Warn("couldn't read from the cache", "key", key, "err", err)
		}
		return nil, false
	}
	return data, true
}

// write stores an object atomically (a reader sees the whole object or
// none), logging failures.
func (c *logCache) write(key string, data []byte) {
	if err := c.writeFile(key, data); err != nil {
		c.logger.Warn("couldn't write to the cache", "key", key, "err", err)
	}
}

func (c *logCache) writeFile(key string, data []byte) error {
	if err := tiles.CheckKey(key); err != nil {
		return err
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Replace(p, data, false)
}

// remove deletes a cached object that turned out not to verify.
func (c *logCache) remove(key string) {
	if err := os.Remove(c.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.logger.Warn("couldn't remove a bad object from the cache", "key", key, "err", err)
	}
}

// checkpointPath is where the last verified checkpoint is kept.
func (c *logCache) checkpointPath() string {
	return c.path(tiles.CheckpointKey)
}

// ErrCorruptCache is wrapped by the error of a cached checkpoint that
// can't be read or doesn't verify under the log's key. Only a local user
// (or a damaged disk) can have put it there, so it is no evidence against
// the log, but it is not replaced silently either: that would reset the
// trust it keeps. The error names the file; deleting it makes the client
// trust the log's current checkpoint on first use again.
var ErrCorruptCache = errors.New("unusable cache file")

// checkpointLockName is the lock file, in a log's cache directory, that
// serializes the updates of its checkpoint by every process and goroutine.
const checkpointLockName = "checkpoint.lock"

// lockCheckpoint takes the exclusive lock on the log's checkpoint (an
// flock of the lock file) and returns its release. The lock is held only
// to compare and replace the file, never during fetches or proofs.
func (c *logCache) lockCheckpoint() (unlock func(), err error) {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(c.dir, checkpointLockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err = lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("couldn't lock %s: %w", f.Name(), err)
	}
	// Closing the file releases the lock.
	// Unlocked before the close: Windows releases a lock only some time
	// after its file is closed.
	return func() { unlockFile(f); f.Close() }, nil
}

// readCheckpoint returns the cached checkpoint, nil if there is none.
func (c *logCache) readCheckpoint() ([]byte, error) {
	data, _, err := bounded.ReadFile(c.checkpointPath(), tiles.MaxCheckpointSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: couldn't read the last verified checkpoint: %v (delete %s to trust the log's current checkpoint on first use again)",
			ErrCorruptCache, err, c.checkpointPath())
	}
	return data, nil
}

// writeCheckpoint replaces the cached checkpoint, durably (the file and
// its directory synced), under the lock.
func (c *logCache) writeCheckpoint(data []byte) error {
	return atomicfile.Replace(c.checkpointPath(), data, true)
}
