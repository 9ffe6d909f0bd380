// Package fslist lists the objects of a log kept in a directory: the one
// rule of which files are objects, for the directory store (publish.Dir)
// and for a client reading a log from a directory (client.FSFetcher).
package fslist

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// List returns the keys of the objects in fsys that start with prefix,
// sorted. A file or directory whose name starts with "." (a temporary
// file, a lock) holds no object, except .well-known.
func List(fsys fs.FS, prefix string) ([]string, error) {
	// Walk only the directory that can hold the prefix.
	start := "."
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = path.Clean(prefix[:i])
	}
	var keys []string
	err := fs.WalkDir(fsys, start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if p != start && strings.HasPrefix(e.Name(), ".") && e.Name() != ".well-known" {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !e.IsDir() && strings.HasPrefix(p, prefix) {
			keys = append(keys, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't list %q: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}
