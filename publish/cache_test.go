package publish_test

import (
	"testing"

	"github.com/pysumdb/pysumdb/publish"
)

// TestCacheControl: immutable objects are cached for a year, the signed
// mutable ones for a minute, anything else not at all.
func TestCacheControl(t *testing.T) {
	for key, want := range map[string]string{
		"tile/0/000":                     publish.CacheImmutable,
		"tile/entries/000.p/5":           publish.CacheImmutable,
		"proof/000.p/5":                  publish.CacheImmutable,
		"claims/foo/file/foo-1.0.tar.gz": publish.CacheImmutable,
		"claims/foo/identity/00000001":   publish.CacheImmutable,
		"claims/foo/other":               publish.CacheNone,
		"checkpoint":                     publish.CacheMutable,
		"index/requests":                 publish.CacheMutable,
		"projects/re":                    publish.CacheMutable,
		"filenames/foo":                  publish.CacheMutable,
		".well-known/bt/tlog-key":        publish.CacheKey,
		"sequencer/state":                publish.CacheNone,
		"alarms/0123.json":               publish.CacheNone,
	} {
		if got := publish.CacheControl(key); got != want {
			t.Errorf("CacheControl(%q) = %q, want %q", key, got, want)
		}
	}
}
