//go:build unix && !aix

package filelock

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

func lock(f *os.File, wait bool) error {
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	err := flock(f, how)
	if !wait && errors.Is(err, unix.EWOULDBLOCK) {
		return ErrLocked
	}
	if err != nil {
		return &fs.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return nil
}

func unlock(f *os.File) error {
	if err := flock(f, unix.LOCK_UN); err != nil {
		return &fs.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return nil
}

// flock calls flock(2) again when a signal interrupted it, as one does
// while waiting for a lock.
func flock(f *os.File, how int) error {
	return control(f, func(fd uintptr) error {
		for {
			err := unix.Flock(int(fd), how)
			if err != unix.EINTR {
				return err
			}
		}
	})
}
