//go:build !unix

package witnesstest

// lockBuilds: only within the process, elsewhere than on Unix.
func lockBuilds() (unlock func()) { return func() {} }
