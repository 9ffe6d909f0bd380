// Package atomicfile replaces files atomically: a reader sees the old
// content or the new, never a part, and, when asked, the new content is
// durable once Replace returns.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// ErrAfterRename is wrapped by Replace's error when the new content was
// renamed into place but the directory's fsync failed: what path holds
// after a crash is then unknown.
var ErrAfterRename = errors.New("renamed, not known to be durable")

// Replace replaces path with data: written to a temporary file in the
// same directory, fsynced if durable, renamed over path, and the directory
// fsynced if durable. A failure before the rename leaves path as it was.
func Replace(path string, data []byte, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if !durable {
		return nil
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("%w: fsync of %s after renaming %s: %w", ErrAfterRename, dir, path, err)
	}
	return nil
}

// SyncDir fsyncs a directory, making the names in it durable. On Windows
// it does nothing: a directory can't be opened for writing, which
// FlushFileBuffers needs (os.Open(dir).Sync() fails with "Access is
// denied"), and NTFS journals its names itself (publish.Dir skips its
// directory fsyncs there for the same reason).
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
