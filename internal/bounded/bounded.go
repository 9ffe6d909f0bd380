// Package bounded reads objects of a known maximum size: nothing is read
// past the bound, and nothing is allocated in proportion to a size an
// untrusted source claims. The client (from a log's server or files) and
// the stores (from their disk or bucket) read through it.
package bounded

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrTooLarge is wrapped by the error of a read whose object is larger
// than its kind allows. It is a failure to read, not evidence against a
// log: the object is refused before anything in it is checked.
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

// Read reads r to its end, or fails with a TooLargeError as soon as
// it has read more than limit bytes. sizeHint, if positive and within the
// limit, is the expected size, allocated at once.
func Read(r io.Reader, key string, limit, sizeHint int64) ([]byte, error) {
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

// ErrNotRegular is wrapped by the error of ReadRegular and ReadFile for a
// file that is not a regular file: a named pipe would block the read, a
// device like /dev/zero never end it, a directory has no content.
var ErrNotRegular = errors.New("not a regular file")

// ReadFile reads the regular file at path, of at most limit bytes (see
// ReadRegular). The open does not block: O_NONBLOCK keeps an open of a
// named pipe with no writer from waiting for one, and is without effect on
// reads of a regular file.
func ReadFile(path string, limit int64) ([]byte, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return ReadRegular(f, path, limit)
}

// ReadRegular reads f, which must be a regular file of at most limit bytes,
// opened without blocking (O_NONBLOCK). A larger file is refused from its
// size and, should it grow, while reading, with a TooLargeError for key.
// It also returns f's FileInfo, for the caller's messages and checks
// (ErrNotRegular comes with it too).
func ReadRegular(f *os.File, key string, limit int64) ([]byte, fs.FileInfo, error) {
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, nil, err
	case !fi.Mode().IsRegular():
		return nil, fi, fmt.Errorf("%s: %w", key, ErrNotRegular)
	case fi.Size() > limit:
		return nil, fi, &TooLargeError{Key: key, Max: limit}
	}
	data, err := Read(f, key, limit, fi.Size())
	return data, fi, err
}
