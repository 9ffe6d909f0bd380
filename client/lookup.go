package client

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

// LoggedFile is one file of a project as the log proves it.
type LoggedFile struct {
	// IndexLine is the file's line in the project index. Its filename
	// and sha256 are proven against the entry when Proven; its size,
	// upload time and claimant (who claimed the file's bytes, package
	// claim) are the index's word only, signed by the log.
	tiles.IndexLine
	// Proven is true when the entry was proven included in the verified
	// checkpoint; false for index lines at or beyond its size ("not yet
	// provable": the index is fresher than the checkpoint read).
	Proven bool
	// Publisher is the verified PEP 740 publisher the entry records.
	Publisher *tiles.Publisher
}

// Lookup returns the logged files of project (only filename, if not
// empty), each proven by inclusion proof in tree. An index line whose
// entry is missing or differs is an error wrapping tiles.ErrVerification.
// A project the log has no index of is an error wrapping ErrNotInLog; a
// tile or bundle that can't be fetched is not.
func (l *Log) Lookup(ctx context.Context, tree tlog.Tree, project, filename string) ([]LoggedFile, error) {
	x, err := l.Index(ctx, project)
	if errors.Is(err, ErrNotFound) && !IsSecurityError(err) {
		return nil, fmt.Errorf("project %s is %w: %w", project, ErrNotInLog, err)
	}
	if err != nil {
		return nil, err
	}
	var files []LoggedFile
	for _, line := range x.Lines {
		if filename == "" || line.Filename == filename {
			files = append(files, LoggedFile{IndexLine: line})
		}
	}
	// Every file is proven (no stop at the first failure), so that the
	// error returned doesn't depend on timing: the first evidence of
	// misbehaviour in leaf order, else the first failure.
	var provable []tiles.IndexLine
	var at []int
	for i, f := range files {
		if f.Leaf < tree.N {
			provable = append(provable, f.IndexLine)
			at = append(at, i)
		}
	}
	errs := make([]error, len(files))
	for k, pr := range l.ProveLines(ctx, tree, provable) {
		f := &files[at[k]]
		switch {
		case pr.Err != nil:
			errs[at[k]] = fmt.Errorf("couldn't prove %s at leaf %d: %w", f.Filename, f.Leaf, pr.Err)
		case checkIndexLine(f.IndexLine, pr.Entry) != nil:
			errs[at[k]] = checkIndexLine(f.IndexLine, pr.Entry)
		default:
			f.Proven, f.Publisher = true, pr.Entry.Publisher
		}
	}
	var first error
	for _, err := range errs {
		if IsSecurityError(err) {
			return files, err
		}
		if first == nil {
			first = err
		}
	}
	return files, first
}

// checkIndexLine reports an index line that misstates its entry.
func checkIndexLine(line tiles.IndexLine, e tiles.Entry) error {
	if e.Filename != line.Filename || e.SHA256 != line.SHA256 {
		return fmt.Errorf("%w: index says leaf %d is %s %s, the log's entry is %s %s",
			tiles.ErrVerification, line.Leaf, line.Filename, tiles.FormatSHA256(line.SHA256), e.Filename, tiles.FormatSHA256(e.SHA256))
	}
	return nil
}

// ErrNotInLog is wrapped by Lookup's error for a project the log has no
// index of.
var ErrNotInLog = errors.New("not in the log")
