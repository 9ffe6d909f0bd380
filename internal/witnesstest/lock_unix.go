//go:build unix

package witnesstest

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockBuilds makes the witnesses' builds of all test processes of the
// machine one after the other (go test runs several packages' tests at
// once): on a cold build cache, the second then finds in the cache what
// the first compiled, SQLite above all, instead of compiling it too. It
// returns the unlock function; if the lock can't be had, it does nothing.
func lockBuilds() (unlock func()) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "pysumdb-witnesstest-build.lock"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return func() {}
	}
	return func() { f.Close() } // closing releases the lock
}
