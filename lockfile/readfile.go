package lockfile

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/pysumdb/pysumdb/internal/bounded"
)

// MaxFileSize bounds the size of a lockfile and of each file it includes:
// 16 MiB, about thirty times the largest real lockfile in testdata, so that
// a lockfile naming a huge file (or /dev/zero) can't exhaust memory.
const MaxFileSize = 16 << 20

// readRegularFile reads the file at path if it is a regular file of at most
// MaxFileSize bytes. Anything else (a named pipe, which would block a plain
// read forever, a device, a directory) is refused with an error naming the
// path and saying what it is. The open does not block: O_NONBLOCK keeps an
// open of a named pipe with no writer from waiting for one, and is without
// effect on reads of a regular file.
func readRegularFile(path string) ([]byte, error) {
	return readRegularFileLimit(path, MaxFileSize)
}

// readRegularFileLimit is readRegularFile with a bound of limit bytes.
func readRegularFileLimit(path string, limit int64) ([]byte, error) {
	data, info, err := bounded.ReadFile(path, limit)
	switch {
	case errors.Is(err, bounded.ErrNotRegular):
		return nil, fmt.Errorf("%s is %s, not a regular file", path, describeFileType(info.Mode()))
	case errors.Is(err, bounded.ErrTooLarge):
		return nil, tooLarge(path, limit)
	}
	return data, err
}

func tooLarge(path string, limit int64) error {
	if limit >= 1<<20 {
		return fmt.Errorf("%s is larger than %d MiB, more than any lockfile", path, limit>>20)
	}
	return fmt.Errorf("%s is larger than %d bytes", path, limit)
}

// describeFileType names the type of a file that is not a regular file.
func describeFileType(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a device"
	default:
		return "a special file"
	}
}

// isWithin reports whether path is in dir or below it, both resolved to
// their real paths (through symbolic links), so that a link inside dir to a
// file elsewhere is not within it. dir must be a real path already.
func isWithin(dir, path string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(dir, real)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// isLinkOut reports whether the file at path is, through symbolic links,
// outside the directory that holds it.
func isLinkOut(path string) bool {
	abs, err := filepath.Abs(path)
	return err != nil || !isWithin(realDir(abs), abs)
}
