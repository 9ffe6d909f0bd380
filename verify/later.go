package verify

import (
	"slices"
	"time"

	"github.com/pysumdb/pysumdb/tiles"
)

// LaterFiles are the files of a pinned release that a log holds, that the
// lockfiles don't pin, and that were uploaded after every file of the
// release they do pin: most likely files added to PyPI after the lock was
// made (a wheel for a new platform), which is harmless: the pinned files
// are unchanged, and a file can't be replaced under its own name.
type LaterFiles struct {
	// Origin is the log whose project index lists them.
	Origin string
	// Project and Version name the release.
	Project, Version string
	// Files are the later files, in log order, each with its leaf.
	Files []tiles.IndexLine
}

// LaterFiles returns, per release of which every pinned artifact is
// verified, the files the first usable log lists for it beyond those
// pinned (by filename or by hash), uploaded more than a day (laterThan)
// after the newest pinned one. Lockers pin every file of a release that
// exists when they lock, so such files came later; files of the release
// uploaded with the pinned ones are left out (a locker may pin only some
// platforms), and so are files without an upload time.
func (r *Report) LaterFiles() []LaterFiles {
	for i, run := range r.runs {
		if run == nil || r.Logs[i].Err != nil {
			continue
		}
		return r.laterFiles(i)
	}
	return nil
}

// release is what the lockfiles pin of one release, as log i proves it.
type release struct {
	project, version string
	filenames        map[string]bool
	digests          map[[32]byte]bool
	// newestUpload is the upload time of the newest pinned file.
	newestUpload time.Time
	// unverified is set when an artifact of the release isn't verified:
	// then nothing is said of the release.
	unverified bool
}

func (r *Report) laterFiles(i int) []LaterFiles {
	run := r.runs[i]
	var order []*release
	releases := map[[2]string]*release{}
	for _, res := range r.Results {
		a := res.Artifact
		if a.Skip != "" || a.Version == "" || res.Logs == nil {
			continue
		}
		key := [2]string{a.Project, a.Version}
		rel := releases[key]
		if rel == nil {
			rel = &release{project: a.Project, version: a.Version, filenames: map[string]bool{}, digests: map[[32]byte]bool{}}
			releases[key] = rel
			order = append(order, rel)
		}
		lr := res.Logs[i]
		if res.Status != StatusVerified || lr.Status != StatusVerified {
			rel.unverified = true
			continue
		}
		rel.filenames[lr.Filename] = true
		rel.digests[lr.SHA256] = true
		if t, ok := uploadTime(run, a.Project, lr.Leaf); ok && t.After(rel.newestUpload) {
			rel.newestUpload = t
		}
	}
	var out []LaterFiles
	for _, rel := range order {
		px := run.indexes[rel.project]
		if rel.unverified || px == nil || px.err != nil || px.absent {
			continue
		}
		later := LaterFiles{Origin: r.Logs[i].Origin, Project: rel.project, Version: rel.version}
		for _, line := range px.index.Lines {
			if line.Leaf >= run.tree.N || rel.filenames[line.Filename] || rel.digests[line.SHA256] ||
				!releaseOf(rel.project, line.Filename, rel.version) || !rel.isLater(line) {
				continue
			}
			later.Files = append(later.Files, line)
		}
		if len(later.Files) > 0 {
			out = append(out, later)
		}
	}
	return out
}

// laterThan is how long after the newest pinned file of a release an
// unpinned one must have been uploaded to count as added after the lock:
// the files of one release are uploaded together, over minutes (a build
// matrix, sometimes hours), and a locker may pin only some of them.
const laterThan = 24 * time.Hour

// isLater reports whether an unpinned file of the release came after the
// pinned ones: uploaded more than laterThan after the newest of them.
// Without both upload times nothing tells, and nothing is said.
func (rel *release) isLater(line tiles.IndexLine) bool {
	t, err := time.Parse(time.RFC3339Nano, line.UploadTime)
	return err == nil && !rel.newestUpload.IsZero() && t.Sub(rel.newestUpload) > laterThan
}

// uploadTime returns the upload time a project's index states for leaf.
func uploadTime(run *logRun, project string, leaf int64) (time.Time, bool) {
	px := run.indexes[project]
	if px == nil || px.err != nil || px.absent {
		return time.Time{}, false
	}
	j, found := slices.BinarySearchFunc(px.index.Lines, leaf, func(l tiles.IndexLine, leaf int64) int {
		switch {
		case l.Leaf < leaf:
			return -1
		case l.Leaf > leaf:
			return 1
		}
		return 0
	})
	if !found {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, px.index.Lines[j].UploadTime)
	return t, err == nil
}
