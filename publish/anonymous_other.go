//go:build !linux

package publish

import (
	"errors"
	"os"
)

// openAnonymous fails: files without a name (O_TMPFILE) are Linux's.
func openAnonymous(dir string) (*os.File, error) { return nil, errors.ErrUnsupported }

// linkAnonymous is never called where openAnonymous always fails.
func linkAnonymous(f *os.File, p string) error { return errors.ErrUnsupported }

// openFileLimit bounds nothing: without anonymous files, a group's content
// goes to temporary files closed once written.
func openFileLimit() int { return 1 << 30 }
