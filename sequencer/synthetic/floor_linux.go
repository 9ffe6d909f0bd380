package synthetic

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// syncAll makes every write to root's file system durable with one
// syncfs(2), as the store's group writes do: one journal commit for all
// the paths.
func syncAll(root string, paths []string) error {
	f, err := os.Open(root)
	if err != nil {
		return fmt.Errorf("couldn't sync the floor's file system: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("couldn't sync the floor's file system: %w", err)
	}
	return nil
}

// writeUnnamed writes data to a file without a name (O_TMPFILE) in dir,
// as the store's group writes do where the file system has them: no
// directory entry to create and none to remove. Elsewhere, a named
// temporary file for object k.
func writeUnnamed(dir string, k int, data []byte) (unnamed, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
		return writeNamedTemp(dir, k, data)
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), dir)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	return anonymous{f}, nil
}

// anonymous is content in a file without a name, open until named.
type anonymous struct{ f *os.File }

func (anonymous) path() string { return "" }

// name links the file through /proc, which needs no privilege.
func (a anonymous) name(p string) error {
	return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(a.f.Fd())), unix.AT_FDCWD, p, unix.AT_SYMLINK_FOLLOW)
}

func (a anonymous) discard() { a.f.Close() }
