package publish_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/storetest"
)

func TestDirConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) publish.Store {
		d, err := publish.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestDirLockRemovesStaleTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	d, err := publish.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(root, ".tmp", "07")
	if err := os.MkdirAll(shard, 0o755); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(shard, "123-1"), filepath.Join(shard, "123-2")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("leftover"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	release, err := d.Lock(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer release(context.Background())
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a temporary file two hours old is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary file (a write in progress) was removed: %v", err)
	}
}
