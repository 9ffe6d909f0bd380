package client

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/tiles"
)

// ErrTooLarge is wrapped by the error of a fetch whose object is larger
// than its kind allows (tiles.MaxObjectSize). It is a failure to read the
// log, not evidence against it: the object is refused before anything in
// it is checked, and a server in the path can serve anything.
var ErrTooLarge = bounded.ErrTooLarge

// TooLargeError reports an object larger than Max bytes.
type TooLargeError = bounded.TooLargeError

// readFSObject reads the object at key of the log in fsys, refusing one
// larger than its kind allows before reading it: from the file's size, and
// while reading in case the file grows. A file that is not a regular file
// (a device like /dev/zero, a pipe) is refused before it is opened.
func readFSObject(fsys fs.FS, key string) ([]byte, error) {
	fi, err := fs.Stat(fsys, key)
	if err != nil {
		return nil, fsError(key, err)
	}
	if fi.IsDir() {
		// As publish.Dir: a key that names a directory is no object.
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("couldn't read %s: not a regular file", key)
	}
	limit := tiles.MaxObjectSize(key)
	if fi.Size() > limit {
		return nil, &TooLargeError{Key: key, Max: limit}
	}
	f, err := fsys.Open(key)
	if err != nil {
		return nil, fsError(key, err)
	}
	defer f.Close()
	data, err := bounded.Read(f, key, limit, fi.Size())
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("couldn't read %s: %w", key, err)
	}
	return data, err
}

// fsError is the error of reading key from a file system that failed with
// err: ErrNotFound if the file system has no such file.
func fsError(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("couldn't read %s: %w", key, err)
}
