package client

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"

	"github.com/pysumdb/pysumdb/tiles"
)

// ErrTooLarge is wrapped by the error of a fetch whose object is larger
// than its kind allows. It is a failure to read the log, not evidence
// against it: the object is refused before anything in it is checked, and
// a server in the path can serve anything.
var ErrTooLarge = errors.New("object too large")

// TooLargeError reports an object larger than Max bytes.
type TooLargeError struct {
	Key string
	Max int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("object %s larger than %d bytes", e.Key, e.Max)
}

func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// operatorPrefix holds the sequencer's state, which a mirror copies from a
// listable source (a directory or a bucket the operator controls, never
// over HTTP). It is not one of the log's objects: a staged batch holds
// --batch-size records of about 250 bytes, 25 MB by default, with no upper
// limit but the operator's choice.
const operatorPrefix = "sequencer/"

// maxOperatorSize bounds the sequencer's state as read by a mirror: a
// staged batch of some four million records.
const maxOperatorSize = 1 << 30

// MaxFetchSize returns the largest object that a Fetcher of this package
// returns for key: tiles.MaxObjectSize(key) for the log's objects, 1 GiB
// for the sequencer's state (which only a mirror reads).
func MaxFetchSize(key string) int64 {
	if strings.HasPrefix(key, operatorPrefix) {
		return maxOperatorSize
	}
	return tiles.MaxObjectSize(key)
}

// readLimited reads r to its end, or fails with a TooLargeError as soon as
// it has read more than limit bytes. sizeHint, if positive and within the
// limit, is the expected size, allocated at once.
func readLimited(r io.Reader, key string, limit, sizeHint int64) ([]byte, error) {
	size := min(int64(4096), limit)
	if sizeHint > 0 && sizeHint <= limit {
		size = sizeHint
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= limit {
				// Full: the object fits only if r has nothing more.
				var probe [1]byte
				n, err := io.ReadFull(r, probe[:])
				if n > 0 {
					return nil, &TooLargeError{Key: key, Max: limit}
				}
				if err == io.EOF {
					return buf, nil
				}
				return nil, err
			}
			// Doubled, unlike io.ReadAll's append (by a quarter for
			// large slices, so that reading 64 MiB allocates 330 MB in
			// all): at most twice the object in all, 1.5 times at once.
			next := 2 * int64(cap(buf))
			if next+next/8 >= limit {
				// Not a last step of a few bytes, for a limit just
				// above a power of two.
				next = limit
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

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
	limit := MaxFetchSize(key)
	if fi.Size() > limit {
		return nil, &TooLargeError{Key: key, Max: limit}
	}
	f, err := fsys.Open(key)
	if err != nil {
		return nil, fsError(key, err)
	}
	defer f.Close()
	data, err := readLimited(f, key, limit, fi.Size())
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
