package verify

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
)

// PublishedFile is a file as a package index (PyPI) serves it now.
type PublishedFile struct {
	// Filename is the distribution filename.
	Filename string
	// SHA256 is the digest the index states.
	SHA256 [32]byte
	// Size is the size in bytes the index states.
	Size int64
}

// Comparison is what ComparePublished found.
type Comparison struct {
	// Report has one result per published file (of the version), checked
	// as an artifact of a lockfile naming that file would be: a mismatch
	// is a file served with other bytes than the log holds.
	*Report
	// SizeDiffers lists, per log, the files logged with the published
	// sha256 but another size in the signed index.
	SizeDiffers []SizeDifference
	// Unpublished lists, per log, the logged files of the project (of the
	// version, if one was given) that the index no longer serves: deleted
	// from the index, which PyPI allows.
	Unpublished []UnpublishedFile
	// IndexErrors says, per log, why its index of the project couldn't be
	// read: then its unpublished files are unknown.
	IndexErrors []error
}

// SizeDifference is a file whose size the log's index and the package
// index state differently.
type SizeDifference struct {
	// Origin names the log.
	Origin string
	// Filename is the file.
	Filename string
	// Leaf is the file's entry in the log.
	Leaf int64
	// Logged and Published are the two sizes.
	Logged, Published int64
}

// UnpublishedFile is a logged file that the package index doesn't serve.
type UnpublishedFile struct {
	// Origin names the log.
	Origin string
	// Line is the file as the log's project index lists it.
	Line tiles.IndexLine
	// Err is set if the line couldn't be proven against its entry.
	Err error
}

// ComparePublished compares the files a package index serves now for
// project (only those of version, unless it is "") with the logs, in both
// directions: each published file is verified as a lockfile artifact naming
// it (see Verify), its size compared with the logged one, and every logged
// file of the project (or version) that is not published any more is
// listed, proven by inclusion. project must be normalized; published are
// the project's files, of all versions.
//
// A private project (Verifier.Exclude) is an error wrapping ErrExcluded:
// comparing it would name it to the logs.
func (v *Verifier) ComparePublished(ctx context.Context, project, version string, published []PublishedFile) (*Comparison, error) {
	if x, private := v.Exclude.Match(project); private {
		return nil, fmt.Errorf("%w: %s is %s: no log is asked about it", ErrExcluded, project, x.Reason())
	}
	var artifacts []lockfile.Artifact
	served := map[string]bool{}
	published = slices.DeleteFunc(slices.Clone(published), func(f PublishedFile) bool {
		return version != "" && !releaseOf(project, f.Filename, version)
	})
	for _, f := range published {
		fileVersion, _ := lockfile.FilenameVersion(project, f.Filename)
		artifacts = append(artifacts, lockfile.Artifact{Project: project, Version: fileVersion, Filename: f.Filename, SHA256: hex.EncodeToString(f.SHA256[:]), File: "PyPI"})
		served[f.Filename] = true
	}
	rep, err := v.verify(ctx, artifacts, []string{project})
	if err != nil {
		return nil, err
	}
	c := &Comparison{Report: rep}
	for i, res := range rep.Results {
		for k, lr := range res.Logs {
			if lr.Status == StatusVerified && lr.Size != published[i].Size {
				c.SizeDiffers = append(c.SizeDiffers, SizeDifference{Origin: rep.Logs[k].Origin, Filename: lr.Filename, Leaf: lr.Leaf, Logged: lr.Size, Published: published[i].Size})
			}
		}
	}
	for _, run := range rep.runs {
		if run == nil {
			continue
		}
		if err := run.indexes[project].err; err != nil {
			c.IndexErrors = append(c.IndexErrors, fmt.Errorf("%s: %w", run.log.Origin(), err))
			continue
		}
		var gone []located
		for _, line := range run.indexes[project].index.Lines {
			if served[line.Filename] || line.Leaf >= run.tree.N || version != "" && !releaseOf(project, line.Filename, version) {
				continue
			}
			gone = append(gone, located{project, line})
		}
		run.proveAll(ctx, []plan{{prove: gone}})
		for _, loc := range gone {
			pr := run.proofs[loc.line.Leaf]
			err := pr.err
			if err == nil {
				if err = client.CheckIndexLine(loc.line, pr.entry); err != nil {
					err = fmt.Errorf("index of %s: %w", project, err)
				}
			}
			c.Unpublished = append(c.Unpublished, UnpublishedFile{Origin: run.log.Origin(), Line: loc.line, Err: err})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c, nil
}
