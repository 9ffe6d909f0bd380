package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestDirReadRefusesLinksOut checks that Read never follows a symbolic
// link out of the store, and says so with an error that is not
// ErrNotExist (a sequencer must not take a linked-out checkpoint for a
// missing one and start a new log), while links within the store work.
func TestDirReadRefusesLinksOut(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "checkpoint"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Swap(ctx, "index/a", NoVersion, []byte("a")); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"checkpoint": filepath.Join(outside, "checkpoint"),
		"tile":       outside,
		"index/b":    "../../" + filepath.Base(outside),
		"index/c":    "a",
		"alias":      "index",
	} {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"checkpoint", "tile/checkpoint", "index/b/checkpoint"} {
		data, _, err := d.Read(ctx, key)
		if !errors.Is(err, errOutsideStore) || errors.Is(err, ErrNotExist) || data != nil {
			t.Errorf("Read(%s) = %q, %v; want an error wrapping errOutsideStore, not ErrNotExist", key, data, err)
		}
	}
	for _, key := range []string{"index/c", "alias/a", "alias/c"} {
		if data, _, err := d.Read(ctx, key); err != nil || string(data) != "a" {
			t.Errorf("Read(%s), a link within the store: %q, %v", key, data, err)
		}
	}
	if _, _, err := d.Read(ctx, "index/none"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Read(index/none): %v, want ErrNotExist", err)
	}
	if _, _, err := d.Read(ctx, "index"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Read(index), a directory: %v, want ErrNotExist", err)
	}
	if _, _, err := ReadDir(filepath.Join(root, "missing")).Read(ctx, "checkpoint"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Read of a store whose directory is missing: %v, want ErrNotExist", err)
	}
	// The store's directory may itself be a link.
	link := filepath.Join(t.TempDir(), "store")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	if data, _, err := ReadDir(link).Read(ctx, "index/a"); err != nil || string(data) != "a" {
		t.Errorf("Read through a store directory that is a link: %q, %v", data, err)
	}
}
