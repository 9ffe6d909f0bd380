//go:build !linux

package synthetic

import (
	"fmt"
	"os"
	"runtime"
)

// syncAll makes the writes to paths, files or directories, durable, one
// fsync each: other systems have no syncfs. Windows can't fsync a
// directory (NTFS journals names on its own), so it skips them, as the
// store does, and syncs a file only through a handle open for writing.
func syncAll(root string, paths []string) error {
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("couldn't sync %s: %w", p, err)
		}
		flag := os.O_RDWR
		if info.IsDir() {
			if runtime.GOOS == "windows" {
				continue
			}
			flag = os.O_RDONLY
		}
		f, err := os.OpenFile(p, flag, 0)
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

// writeUnnamed writes data to a temporary file in dir for object k: other
// systems have no files without a name.
func writeUnnamed(dir string, k int, data []byte) (unnamed, error) {
	return writeNamedTemp(dir, k, data)
}
