package pypi

import (
	"container/list"
	"sync"
)

// etagCache keeps the validated value of recent answers with their ETag,
// so that fetching a page again (a stale page retried, the project list
// read once more) costs a 304 rather than a download and a parse. It
// evicts the least recently used entry beyond its capacity.
type etagCache struct {
	mu    sync.Mutex
	max   int
	lru   *list.List // of *cacheEntry, most recently used first
	byURL map[string]*list.Element
}

type cacheEntry struct {
	url   string
	etag  string
	value any
}

func newETagCache(capacity int) *etagCache {
	return &etagCache{max: capacity, lru: list.New(), byURL: make(map[string]*list.Element)}
}

func (c *etagCache) get(url string) (etag string, value any, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byURL[url]
	if !ok {
		return "", nil, false
	}
	c.lru.MoveToFront(e)
	entry := e.Value.(*cacheEntry)
	return entry.etag, entry.value, true
}

func (c *etagCache) put(url, etag string, value any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byURL[url]; ok {
		e.Value = &cacheEntry{url: url, etag: etag, value: value}
		c.lru.MoveToFront(e)
		return
	}
	c.byURL[url] = c.lru.PushFront(&cacheEntry{url: url, etag: etag, value: value})
	if c.lru.Len() > c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.byURL, oldest.Value.(*cacheEntry).url)
	}
}
