package filelock

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// allBytes is the length of the range locked: all of the file's possible
// bytes, from offset 0 (the Overlapped's offset).
const allBytes = ^uint32(0)

func lock(f *os.File, wait bool) error {
	flags := uint32(windows.LOCKFILE_EXCLUSIVE_LOCK)
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	err := control(f, func(fd uintptr) error {
		return windows.LockFileEx(windows.Handle(fd), flags, 0, allBytes, allBytes, new(windows.Overlapped))
	})
	// A lock held by another handle fails at once with
	// ERROR_LOCK_VIOLATION; ERROR_IO_PENDING is the same answer for a
	// handle opened for overlapped I/O.
	if !wait && (errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING)) {
		return ErrLocked
	}
	if err != nil {
		return &fs.PathError{Op: "LockFileEx", Path: f.Name(), Err: err}
	}
	return nil
}

func unlock(f *os.File) error {
	err := control(f, func(fd uintptr) error {
		return windows.UnlockFileEx(windows.Handle(fd), 0, allBytes, allBytes, new(windows.Overlapped))
	})
	if err != nil {
		return &fs.PathError{Op: "UnlockFileEx", Path: f.Name(), Err: err}
	}
	return nil
}
