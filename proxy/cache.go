package proxy

import (
	"container/list"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// fileCache keeps verified files on disk as files/<sha256>/<filename>:
// each was proven in the logs under that filename with that hash before
// it was stored, and is hashed again as it is served. It holds at most
// max bytes; the least recently used files are removed first (use is
// kept in the files' modification times across restarts).
type fileCache struct {
	files, tmp string
	max        int64
	logger     *slog.Logger

	mu    sync.Mutex
	byKey map[string]*list.Element // values *cached
	lru   *list.List               // most recently used first
	total int64
}

type cached struct {
	key  string // <sha256>/<filename>
	size int64
}

// staleDownload is the age at which a temporary download file is taken
// for one an interrupted proxy left, rather than one another proxy
// sharing the cache is writing.
const staleDownload = 24 * time.Hour

// openFileCache opens the cache in dir, removing what interrupted
// downloads left and trimming it to max. Proxies may share a cache: each
// keeps its own account of it, and a file another removed is only a
// cache miss.
func openFileCache(dir string, max int64, logger *slog.Logger) (*fileCache, error) {
	c := &fileCache{files: filepath.Join(dir, "files"), tmp: filepath.Join(dir, "tmp"), max: max, logger: logger,
		byKey: map[string]*list.Element{}, lru: list.New()}
	for _, d := range []string{c.files, c.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("couldn't create the cache: %w", err)
		}
	}
	leftovers, err := os.ReadDir(c.tmp)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the cache: %w", err)
	}
	for _, e := range leftovers {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleDownload {
			os.Remove(filepath.Join(c.tmp, e.Name()))
		}
	}
	type found struct {
		cached
		used time.Time
	}
	var all []found
	digests, err := os.ReadDir(c.files)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the cache: %w", err)
	}
	for _, d := range digests {
		if !d.IsDir() || !isHexDigest(d.Name()) {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(c.files, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("couldn't read the cache: %w", err)
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() || !validCacheName(e.Name()) {
				continue
			}
			all = append(all, found{cached{d.Name() + "/" + e.Name(), info.Size()}, info.ModTime()})
		}
	}
	slices.SortFunc(all, func(a, b found) int { return b.used.Compare(a.used) })
	for _, f := range all {
		c.byKey[f.key] = c.lru.PushBack(&cached{f.key, f.size})
		c.total += f.size
	}
	c.mu.Lock()
	c.trimLocked()
	c.mu.Unlock()
	return c, nil
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// validCacheName reports whether filename can name a file in a cache
// directory as it is: one path element, no hidden or special name.
func validCacheName(filename string) bool {
	if filename == "" || len(filename) > 255 || filename[0] == '.' {
		return false
	}
	for _, c := range filename {
		if c < ' ' || c > '~' || c == '/' || c == '\\' || c == ':' {
			return false
		}
	}
	return true
}

func cacheKey(digest [32]byte, filename string) string {
	return hex.EncodeToString(digest[:]) + "/" + filename
}

func (c *fileCache) path(key string) string {
	return filepath.Join(c.files, filepath.FromSlash(key))
}

// size returns the bytes cached.
func (c *fileCache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// open returns filename's cached copy with digest and its size, if
// there is one. The caller hashes it again as it reads it, and removes
// it if it no longer matches.
func (c *fileCache) open(digest [32]byte, filename string) (*os.File, int64, bool) {
	if !validCacheName(filename) {
		return nil, 0, false
	}
	key := cacheKey(digest, filename)
	c.mu.Lock()
	_, ok := c.byKey[key]
	c.mu.Unlock()
	if !ok {
		return nil, 0, false
	}
	f, err := os.Open(c.path(key))
	var info os.FileInfo
	if err == nil {
		info, err = f.Stat()
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		c.logger.Warn("a cached file is gone", "key", key, "err", err)
		c.remove(key)
		return nil, 0, false
	}
	now := time.Now()
	os.Chtimes(c.path(key), now, now) // the use, for the order after a restart
	c.mu.Lock()
	if el, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(el)
	}
	c.mu.Unlock()
	return f, info.Size(), true
}

// create returns a new temporary file for a download to store.
func (c *fileCache) create() (*os.File, error) {
	return os.CreateTemp(c.tmp, "download-*")
}

// discard removes a temporary file that is not to be stored.
func (c *fileCache) discard(tmp *os.File) {
	tmp.Close()
	os.Remove(tmp.Name())
}

// commit stores tmp, whose size bytes hash to digest, proven in the logs
// as filename's, and removes the least recently used files beyond the
// cap. A failure costs only the copy.
func (c *fileCache) commit(tmp *os.File, digest [32]byte, filename string, size int64) {
	key := cacheKey(digest, filename)
	err := tmp.Close()
	if err == nil && (!validCacheName(filename) || size > c.max) {
		err = fmt.Errorf("%s can't be cached", filename)
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(c.path(key)), 0o755)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path(key))
	}
	if err != nil {
		os.Remove(tmp.Name())
		c.logger.Warn("couldn't cache a file", "filename", filename, "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.total -= el.Value.(*cached).size
		c.lru.Remove(el)
	}
	c.byKey[key] = c.lru.PushFront(&cached{key, size})
	c.total += size
	c.trimLocked()
}

// remove forgets key and deletes its file.
func (c *fileCache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.removeLocked(el)
	}
}

func (c *fileCache) removeLocked(el *list.Element) {
	e := c.lru.Remove(el).(*cached)
	delete(c.byKey, e.key)
	c.total -= e.size
	path := c.path(e.key)
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		c.logger.Warn("couldn't remove a cached file", "path", path, "err", err)
	}
	os.Remove(filepath.Dir(path)) // the digest's directory, once empty
}

// trimLocked removes the least recently used files until the cache holds
// at most max bytes.
func (c *fileCache) trimLocked() {
	for c.total > c.max && c.lru.Len() > 0 {
		c.removeLocked(c.lru.Back())
	}
}
