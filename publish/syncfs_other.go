//go:build !linux

package publish

import (
	"fmt"
	"os"
)

// syncAll makes the writes to paths, files or directories in the store,
// durable, one fsync each (other systems have no syncfs, and no anonymous
// files either).
func (d *Dir) syncAll(paths []string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("couldn't sync %s: %w", p, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("couldn't sync %s: %w", p, err)
		}
	}
	return nil
}
