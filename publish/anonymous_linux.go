package publish

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// openAnonymous opens a new file without a name (O_TMPFILE) on the file
// system of dir, for writing. It fails with errors.ErrUnsupported where
// the file system (or /proc, which naming it needs) has no such files.
func openAnonymous(dir string) (*os.File, error) {
	if !haveProcFD() {
		return nil, errors.ErrUnsupported
	}
	var fd int
	var err error
	for {
		fd, err = unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != syscall.EINTR {
			break
		}
	}
	switch {
	case err == syscall.EOPNOTSUPP || err == syscall.EISDIR || err == syscall.EINVAL:
		return nil, errors.ErrUnsupported
	case err != nil:
		return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(anonymous)")), nil
}

// haveProcFD reports whether /proc/self/fd is there, to name anonymous
// files through.
var haveProcFD = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// linkAnonymous gives the file f opened by openAnonymous the name p,
// failing if p exists. Linking through /proc needs no privilege, unlike
// AT_EMPTY_PATH.
func linkAnonymous(f *os.File, p string) error {
	fdPath := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if err := unix.Linkat(unix.AT_FDCWD, fdPath, unix.AT_FDCWD, p, unix.AT_SYMLINK_FOLLOW); err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: p, Err: err}
	}
	return nil
}

// openFileLimit is how many files this process may have open: anonymous
// files stay open until they are named.
func openFileLimit() int {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 1 << 30
	}
	return int(l.Cur)
}
