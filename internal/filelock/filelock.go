// Package filelock takes advisory, exclusive locks on whole open files,
// the one rule for locks between processes: flock(2) on Unix, LockFileEx
// on Windows. A lock belongs to the open file (the *os.File), not to the
// process: two handles of one file, even in one process, exclude each
// other. Closing the file releases its lock, and so does the end of the
// process, whatever ends it.
//
// On Windows the lock is mandatory for the file's bytes: other handles
// can neither read nor write them while it is held. Lock a file kept for
// the lock alone, never one that holds data.
//
// Where the system has no such locks (js, wasip1, plan9), every function
// fails with an error that wraps errors.ErrUnsupported.
package filelock

import (
	"errors"
	"os"
)

// ErrLocked is the error of TryLock when another open file holds the lock.
var ErrLocked = errors.New("file locked by another holder")

// Lock takes the exclusive lock on f, waiting for it as long as another
// open file holds it.
func Lock(f *os.File) error {
	return lock(f, true)
}

// TryLock takes the exclusive lock on f if it is free, and fails with
// ErrLocked, without waiting, if another open file holds it.
func TryLock(f *os.File) error {
	return lock(f, false)
}

// Unlock releases the lock that f holds. Closing f releases it too.
func Unlock(f *os.File) error {
	return unlock(f)
}

// control runs fn with f's system handle, for the lock calls: unlike
// f.Fd, it leaves the file's mode (blocking or not) as it is.
func control(f *os.File, fn func(fd uintptr) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(fd) }); err != nil {
		return err
	}
	return opErr
}
