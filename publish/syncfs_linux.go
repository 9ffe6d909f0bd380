package publish

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncAll makes the writes to the store durable: those to paths, files or
// directories, and those to anonymous files. On Linux one syncfs(2) of the
// store's file system does it for all of them, at the cost of one journal
// commit instead of one per path.
func (d *Dir) syncAll(paths []string) error {
	f, err := os.Open(d.root)
	if err != nil {
		return fmt.Errorf("couldn't sync the store: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("couldn't sync the store: %w", err)
	}
	return nil
}
