//go:build !js

package client

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock of f, waiting for it: released when f
// is closed.
func lockFile(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			return err
		}
	}
}
