package tiles

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestIsPublicKey(t *testing.T) {
	public := []string{
		"checkpoint",
		".well-known/bt/tlog-key",
		"tile/0/000", "tile/0/x001/x234/067.p/128", "tile/3/000.p/1",
		"tile/entries/000", "tile/entries/x001/x234/067.p/8",
		"index/requests", "index/foo-bar", "index/a",
		"projects/r", "projects/re", "projects/a-", "projects/0",
		"filenames/foo", "filenames/_",
	}
	for _, key := range public {
		if !IsPublicKey(key) {
			t.Errorf("IsPublicKey(%q) = false, want true", key)
		}
	}
	private := []string{
		"", "/", "checkpoint/", "checkpoint.tmp", "Checkpoint", "/checkpoint",
		"sequencer/state", "sequencer/", "alarms/1", "alarms/",
		"log.key", "foo.txt", ".lease-holder", ".swap-lock-00", ".tmp/07/1-1",
		".well-known/bt", ".well-known/bt/tlog-key/x", ".well-known/other",
		"tile/", "tile/0", "tile/0/", "tile/0/0", "tile/0/000.p/256", "tile/0/000.p/0",
		"tile/8/0/000", "tile/data/000", "tile/entries/", "tile/0/000/../../log.key",
		"tile/0/x000/001", "tile/entries/000.p/", "tile/0/000.tmp",
		"index/", "index/Requests", "index/foo_bar", "index/foo/bar", "index/../log.key", "index/-a",
		"projects/", "projects/abc", "projects/-", "projects/A", "projects/a/b",
		"filenames/", "filenames/Foo", "filenames/__", "filenames/a/../b",
		"etc/passwd", "etc",
	}
	for _, key := range private {
		if IsPublicKey(key) {
			t.Errorf("IsPublicKey(%q) = true, want false", key)
		}
	}
	// Every tile TilePath names is public.
	for _, tile := range []tlog.Tile{{H: 8, L: 0, N: 0, W: 256}, {H: 8, L: -1, N: 1234067, W: 3}, {H: 8, L: 5, N: 1, W: 1}} {
		if key := TilePath(tile); !IsPublicKey(key) {
			t.Errorf("IsPublicKey(%q) = false for TilePath(%v)", key, tile)
		}
	}
	// Every key the writers make is public.
	for _, key := range []string{IndexKey("a-b"), ProjectListKey(ProjectShard("a-b")), FilenamesKey(FilenameHome("a_b-1.0.tar.gz")), FilenamesKey(FilenameHome("-1.0.tar.gz"))} {
		if !IsPublicKey(key) {
			t.Errorf("IsPublicKey(%q) = false", key)
		}
	}
}
