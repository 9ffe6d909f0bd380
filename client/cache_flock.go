//go:build !js

package client

import (
	"os"

	"github.com/pysumdb/pysumdb/internal/filelock"
)

// lockFile takes an exclusive lock of f (flock, LockFileEx on Windows),
// waiting for it.
func lockFile(f *os.File) error {
	return filelock.Lock(f)
}

// unlockFile releases the lock of lockFile.
func unlockFile(f *os.File) {
	filelock.Unlock(f)
}
