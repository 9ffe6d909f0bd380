package client

import (
	"errors"
	"os"
)

// lockFile fails under js/wasm, which has no file locks: a Cache there
// could not keep its checkpoint safe from other processes. The web page's
// verifier uses no Cache (a browser has no file system); its Log keeps
// what it verified in memory.
func lockFile(*os.File) error {
	return errors.ErrUnsupported
}

// unlockFile does nothing: lockFile never locks under js/wasm.
func unlockFile(*os.File) {}
