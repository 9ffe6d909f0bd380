package publish_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/storetest"
)

func TestDirConformance(t *testing.T) {
	// Group writes put their content in anonymous files (O_TMPFILE) on
	// Linux, in named temporary files elsewhere: both must keep the
	// contract.
	for _, anonymous := range []bool{true, false} {
		t.Run(fmt.Sprintf("anonymous=%v", anonymous), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) publish.Store {
				d, err := publish.OpenDir(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				if !anonymous {
					publish.DisableAnonymousFiles(d)
				}
				return d
			})
		})
	}
}

func TestDirGroupWriteLeavesNoTemporaryFiles(t *testing.T) {
	for _, anonymous := range []bool{true, false} {
		t.Run(fmt.Sprintf("anonymous=%v", anonymous), func(t *testing.T) {
			root := t.TempDir()
			d, err := publish.OpenDir(root)
			if err != nil {
				t.Fatal(err)
			}
			if !anonymous {
				publish.DisableAnonymousFiles(d)
			}
			ctx := context.Background()
			v, err := d.Swap(ctx, "index/old", publish.NoVersion, []byte("1"))
			if err != nil {
				t.Fatal(err)
			}
			// More writes than one chunk of a group.
			var ws []publish.Write
			for i := range 1200 {
				ws = append(ws, publish.Write{Key: fmt.Sprintf("tile/0/%03d", i), Data: fmt.Appendf(nil, "tile %d", i)})
			}
			ws = append(ws, publish.Write{Key: "index/new", Data: []byte("1"), Swap: true},
				publish.Write{Key: "index/old", Data: []byte("2"), Swap: true, Old: v})
			if _, err := publish.WriteAll(ctx, d, ws, 8); err != nil {
				t.Fatal(err)
			}
			for _, w := range ws {
				if got, _, err := d.Read(ctx, w.Key); err != nil || !bytes.Equal(got, w.Data) {
					t.Fatalf("%s = %q, %v; want %q", w.Key, got, err, w.Data)
				}
			}
			if anonymous && runtime.GOOS == "linux" && !publish.UsesAnonymousFiles(d) {
				t.Errorf("group writes fell back to named temporary files on Linux")
			}
			var left []string
			filepath.WalkDir(filepath.Join(root, ".tmp"), func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					left = append(left, p)
				}
				return nil
			})
			if len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
		})
	}
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
