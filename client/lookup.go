package client

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/tiles"
)

// LoggedFile is one file of a project as the log proves it.
type LoggedFile struct {
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
func (l *Log) Lookup(ctx context.Context, tree tlog.Tree, project, filename string) ([]LoggedFile, error) {
	x, err := l.Index(ctx, project)
	if err != nil {
		return nil, err
	}
	var files []LoggedFile
	for _, line := range x.Lines {
		if filename == "" || line.Filename == filename {
			files = append(files, LoggedFile{IndexLine: line})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range files {
		f := &files[i]
		if f.Leaf >= tree.N {
			continue
		}
		g.Go(func() error {
			e, _, err := l.Entry(gctx, tree, f.Leaf)
			if err != nil {
				return err
			}
			if err := checkIndexLine(f.IndexLine, e); err != nil {
				return err
			}
			f.Proven, f.Publisher = true, e.Publisher
			return nil
		})
	}
	return files, g.Wait()
}

// checkIndexLine reports an index line that misstates its entry.
func checkIndexLine(line tiles.IndexLine, e tiles.Entry) error {
	if e.Filename != line.Filename || e.SHA256 != line.SHA256 {
		return fmt.Errorf("%w: index says leaf %d is %s %s, the log's entry is %s %s",
			tiles.ErrVerification, line.Leaf, line.Filename, tiles.FormatSHA256(line.SHA256), e.Filename, tiles.FormatSHA256(e.SHA256))
	}
	return nil
}
