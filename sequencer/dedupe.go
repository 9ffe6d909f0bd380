package sequencer

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// sortRecords returns records in leaf order: by upload time (unknown
// first), then project, filename, digest and size, so that the same input
// always gets the same leaf indexes.
func sortRecords(records []Record) []Record {
	// Sorted by reference: a record is some hundred bytes to move.
	type keyed struct {
		uploaded time.Time // zero when unknown
		r        *Record
	}
	ks := make([]keyed, len(records))
	for i := range records {
		ks[i].r = &records[i]
		// Check accepted it, so only "-" fails to parse.
		ks[i].uploaded, _ = time.Parse(time.RFC3339Nano, records[i].UploadTime)
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := a.uploaded.Compare(b.uploaded); c != 0 {
			return c
		}
		if c := cmp.Compare(a.r.Project, b.r.Project); c != 0 {
			return c
		}
		if c := cmp.Compare(a.r.Filename, b.r.Filename); c != 0 {
			return c
		}
		if c := bytes.Compare(a.r.SHA256[:], b.r.SHA256[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.r.Size, b.r.Size)
	})
	out := make([]Record, len(ks))
	for i, k := range ks {
		out[i] = *k.r
	}
	return out
}

// dedupe splits sorted records into new ones and the rest, raising alarms
// for those that contradict the log or an earlier record of the batch. A
// filename is logged once, under one project: PyPI never reuses one.
func (s *Sequencer) dedupe(ctx context.Context, sorted []Record) (Result, []Record, error) {
	var res Result
	// The batch's filenames, each with its first record: the rest repeat
	// it. One map of the batch, not a set of it beside a map of the log,
	// because a batch of a new log is 100,000 filenames, none logged.
	first := make(map[string]int, len(sorted))
	var repeats []int
	for i := range sorted {
		if _, ok := first[sorted[i].Filename]; ok {
			repeats = append(repeats, i)
		} else {
			first[sorted[i].Filename] = i
		}
	}
	logged, err := s.loggedFiles(ctx, sorted, first)
	if err != nil {
		return res, nil, err
	}
	fresh := make([]Record, 0, len(sorted))
	// leaves[i] is the leaf sorted[i] gets if it is new.
	leaves := make([]int64, len(sorted))
	for i := range sorted {
		r := &sorted[i]
		repeat := len(repeats) > 0 && repeats[0] == i
		if repeat {
			repeats = repeats[1:]
		}
		old, ok := logged[r.Filename]
		if !ok && repeat {
			// The batch's first record of this filename is new.
			j := first[r.Filename]
			f := &sorted[j]
			old, ok = loggedFile{tiles.IndexLine{Leaf: leaves[j], Filename: f.Filename, SHA256: f.SHA256, Size: f.Size}, f.Project}, true
		}
		if !ok {
			leaves[i] = s.st.TreeSize + int64(len(fresh))
			fresh = append(fresh, *r)
			continue
		}
		if old.project == r.Project && old.SHA256 == r.SHA256 && old.Size == r.Size {
			res.Duplicates++
			continue
		}
		a := Alarm{
			Code: AlarmChangedFile, Reason: ReasonChangedFile,
			Project: r.Project, Filename: r.Filename, Leaf: old.Leaf,
			LoggedSHA256: hex.EncodeToString(old.SHA256[:]), LoggedSize: old.Size,
			ServedSHA256: hex.EncodeToString(r.SHA256[:]), ServedSize: r.Size,
			Detected: s.cfg.Now().UTC().Format(time.RFC3339),
		}
		if old.project != r.Project {
			a.Code, a.Reason, a.LoggedProject = AlarmOtherProject, ReasonOtherProject, old.project
		}
		if err := s.RaiseAlarm(ctx, a); err != nil {
			return res, nil, err
		}
		res.Alarms = append(res.Alarms, a)
	}
	return res, fresh, nil
}

// Logged returns the logged files of projects, by filename, as their
// indexes say (all of them, since indexes are complete whenever no batch is
// staged).
func (s *Sequencer) Logged(ctx context.Context, projects []string) (map[string]tiles.IndexLine, error) {
	set := map[string]bool{}
	for _, p := range projects {
		set[p] = true
	}
	indexes, err := readEach(ctx, s, set, s.readIndex)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, x := range indexes {
		n += len(x.value.Lines)
	}
	logged := make(map[string]tiles.IndexLine, n)
	for _, x := range indexes {
		for _, l := range x.value.Lines {
			logged[l.Filename] = l
		}
	}
	return logged, nil
}

// loggedFile is a file the log holds, as the index of its project says.
type loggedFile struct {
	tiles.IndexLine
	project string
}

// loggedFiles returns the files among records' filenames (the keys of
// filenames) that the log already holds, under whatever project. A
// filename is looked up in the indexes of the projects its form says it
// can belong to (tiles.FilenameProjects) and of the record's project, and
// in the filename note of its home, which lists the files logged under any
// other project: so the objects read grow with the batch, not with the
// log.
//
// A project index that the project list names but that is missing, or a
// filename note line that its project's index does not confirm, is
// ErrStoreDamaged: an index lost from the store would otherwise let its
// files be logged again.
func (s *Sequencer) loggedFiles(ctx context.Context, records []Record, filenames map[string]int) (map[string]loggedFile, error) {
	projects, homes := map[string]bool{}, map[string]bool{}
	for i := range records {
		r := &records[i]
		projects[r.Project] = true
		candidates := tiles.FilenameProjects(r.Filename)
		for _, p := range candidates {
			projects[p] = true
		}
		homes[tiles.HomeOf(candidates)] = true
	}
	var (
		indexes map[string]versioned[tiles.Index]
		notes   map[string]versioned[tiles.FilenameNote]
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		indexes, err = readEach(gctx, s, projects, s.readIndex)
		return err
	})
	g.Go(func() (err error) {
		notes, err = readEach(gctx, s, homes, s.readFilenameNote)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := s.checkIndexesExist(ctx, indexes); err != nil {
		return nil, err
	}

	logged := map[string]loggedFile{}
	for project, x := range indexes {
		for _, l := range x.value.Lines {
			if _, ok := filenames[l.Filename]; ok {
				logged[l.Filename] = loggedFile{l, project}
			}
		}
	}
	// Files logged under a project their filename does not give: their
	// index has the sha256 and size.
	others := map[string]bool{}
	var listed []tiles.FilenameLine
	for _, x := range notes {
		for _, l := range x.value.Lines {
			if _, ok := filenames[l.Filename]; ok {
				listed = append(listed, l)
				if _, ok := indexes[l.Project]; !ok {
					others[l.Project] = true
				}
			}
		}
	}
	more, err := readEach(ctx, s, others, s.readIndex)
	if err != nil {
		return nil, err
	}
	for _, l := range listed {
		x, ok := indexes[l.Project]
		if !ok {
			x = more[l.Project]
		}
		line, found := findLine(x.value, l.Filename)
		if !found || line.Leaf != l.Leaf {
			return nil, fmt.Errorf("%w: %s says %s is leaf %d of project %s, but %s does not list it there",
				ErrStoreDamaged, tiles.FilenamesKey(tiles.FilenameHome(l.Filename)), l.Filename, l.Leaf, l.Project, tiles.IndexKey(l.Project))
		}
		logged[l.Filename] = loggedFile{line, l.Project}
	}
	return logged, nil
}

// checkIndexesExist reports a project the project list names whose index
// is missing.
func (s *Sequencer) checkIndexesExist(ctx context.Context, indexes map[string]versioned[tiles.Index]) error {
	shards := map[string]bool{}
	for project, x := range indexes {
		if x.version == publish.NoVersion {
			shards[tiles.ProjectShard(project)] = true
		}
	}
	lists, err := readEach(ctx, s, shards, s.readProjectList)
	if err != nil {
		return err
	}
	for project, x := range indexes {
		if x.version != publish.NoVersion {
			continue
		}
		l := lists[tiles.ProjectShard(project)].value
		if _, listed := slices.BinarySearch(l.Projects, project); listed {
			return fmt.Errorf("%w: %s is missing, but %s lists project %s (restore the index from a mirror or a backup)",
				ErrStoreDamaged, tiles.IndexKey(project), tiles.ProjectListKey(l.Shard), project)
		}
	}
	return nil
}

func findLine(x tiles.Index, filename string) (tiles.IndexLine, bool) {
	for _, l := range x.Lines {
		if l.Filename == filename {
			return l, true
		}
	}
	return tiles.IndexLine{}, false
}
