//go:build !(unix && !aix) && !windows

package filelock

import (
	"errors"
	"io/fs"
	"os"
)

// lock fails: the system has no file locks (js, wasip1, plan9), or none
// this package uses (aix, which has only fcntl's, per process).
func lock(f *os.File, wait bool) error {
	return &fs.PathError{Op: "lock", Path: f.Name(), Err: errors.ErrUnsupported}
}

func unlock(f *os.File) error {
	return &fs.PathError{Op: "unlock", Path: f.Name(), Err: errors.ErrUnsupported}
}
