package monitor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/tiles"
)

// indexRead is a project index read for a chunk.
type indexRead struct {
	// found says the log has it.
	found bool
	// size is the tree size it covers.
	size int64
	// digest is the SHA-256 of the signed note checked, to tell whether
	// the copy fetched again as evidence is the same.
	digest [32]byte
}

// noteRead is a filename note read for a chunk.
type noteRead struct {
	found  bool
	size   int64
	digest [32]byte
	// projects maps the chunk's leaves the note lists to their project,
	// if the filename is the entry's.
	projects map[int64]string
}

// checkIndexes checks the chunk's entries against the project indexes:
// every entry listed by exactly one index, with its leaf, filename and
// sha256; every line of those indexes below the chunk's end the entry at
// its leaf; and every leaf an index was verified to list before still
// listed.
func (r *run) checkIndexes(ctx context.Context, c *chunk) error {
	// The indexes of the projects the filenames can belong to.
	candidates := map[string]bool{}
	for i := range c.entries {
		for _, p := range tiles.FilenameProjects(c.entries[i].filename) {
			candidates[p] = true
		}
	}
	if err := r.readIndexes(ctx, c, sortedKeys(candidates)); err != nil {
		return err
	}
	// A file none of them lists may belong to a project its filename
	// doesn't give: the filename note of its home names it.
	homes := map[string]bool{}
	for i := range c.entries {
		if e := &c.entries[i]; e.filename != "" && e.claims == 0 && !e.disputed {
			homes[tiles.FilenameHome(e.filename)] = true
		}
	}
	notes, err := r.readNotes(ctx, c, sortedKeys(homes))
	if err != nil {
		return err
	}
	more := map[string]bool{}
	for _, n := range notes {
		for _, p := range n.projects {
			if c.indexes[p] == nil {
				more[p] = true
			}
		}
	}
	if err := r.readIndexes(ctx, c, sortedKeys(more)); err != nil {
		return err
	}
	return r.checkClaimed(ctx, c, notes)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// readIndexes fetches and checks the indexes of projects.
func (r *run) readIndexes(ctx context.Context, c *chunk, projects []string) error {
	if len(projects) == 0 {
		return nil
	}
	keys := make([]string, len(projects))
	for i, p := range projects {
		keys[i] = tiles.IndexKey(p)
	}
	// The signatures are verified concurrently; the checks, which use
	// the chunk and the transaction, one index at a time.
	var mu sync.Mutex
	return r.m.db.View(func(tx *bolt.Tx) error {
		return fetchAll(ctx, r.log.fetch, keys, func(i int, obj fetched) error {
			ir := &indexRead{found: obj.found}
			var x tiles.Index
			var invalid error
			if obj.found {
				ir.digest = sha256.Sum256(obj.data)
				n, err := note.Open(obj.data, note.VerifierList(r.log.verifier))
				if err != nil {
					// Not signed by the log: no evidence of anything.
					return fmt.Errorf("%s doesn't verify with the log's key: %w", keys[i], err)
				}
				// tiles.OpenIndex, without verifying the signature twice.
				x, invalid = tiles.ParseIndex(n.Text)
				if invalid == nil && (x.Origin != r.log.origin || x.Project != projects[i]) {
					invalid = fmt.Errorf("%w: index of %s of %s served for %s", tiles.ErrMalformed, x.Project, x.Origin, projects[i])
				}
			}
			mu.Lock()
			defer mu.Unlock()
			c.indexes[projects[i]] = ir
			if !obj.found {
				return nil
			}
			if err := invalid; err != nil {
				// Signed, but not an index of the project: it lists
				// nothing, whatever size.
				ir.size = tiles.MaxTreeSize
				return r.indexFinding(ctx, KindIndexMisstates, projects[i], obj.data, -1,
					fmt.Sprintf("%s is signed by the log but is not a valid index of %s: %v", keys[i], projects[i], err))
			}
			ir.size = x.TreeSize
			return r.checkIndex(ctx, tx, c, projects[i], x, obj.data)
		})
	})
}

// checkIndex checks the lines of one project's index against the entries
// and the leaves it was verified to list.
func (r *run) checkIndex(ctx context.Context, tx *bolt.Tx, c *chunk, project string, x tiles.Index, signed []byte) error {
	b := r.bucket(tx)
	key := tiles.IndexKey(project)
	for _, line := range x.Lines {
		switch {
		case line.Leaf >= c.end:
			// Checked with its own chunk; at or beyond the checkpoint,
			// a batch not yet published.
			continue
		case line.Leaf >= c.start:
			if err := r.checkChunkLine(ctx, b, c, project, line, signed); err != nil {
				return err
			}
		default:
			if err := r.checkOldLine(ctx, b, c, project, line, signed); err != nil {
				return err
			}
		}
	}
	// Every leaf the index was verified to list before must still be
	// listed, unless this is an older copy of it.
	prefix := append([]byte(project), 0)
	cur := b.Bucket(bucketProjects).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		if len(k) != len(prefix)+8 {
			return fmt.Errorf("the monitor state of %s is damaged: projects key %q", r.log.origin, k)
		}
		leaf := int64(binary.BigEndian.Uint64(k[len(prefix):]))
		if leaf >= x.TreeSize {
			break
		}
		if _, listed := slices.BinarySearchFunc(x.Lines, leaf, func(l tiles.IndexLine, leaf int64) int {
			return compareInt(l.Leaf, leaf)
		}); listed {
			continue
		}
		if err := r.indexFinding(ctx, KindIndexOmits, project, signed, leaf,
			fmt.Sprintf("%s (size %d) no longer lists leaf %d, which it listed when it was verified before", key, x.TreeSize, leaf)); err != nil {
			return err
		}
	}
	return nil
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkChunkLine checks an index line of a leaf of the chunk.
func (r *run) checkChunkLine(ctx context.Context, b *bolt.Bucket, c *chunk, project string, line tiles.IndexLine, signed []byte) error {
	key := tiles.IndexKey(project)
	e := c.entry(line.Leaf)
	var kind, msg string
	switch {
	case e.filename == "":
		kind, msg = KindIndexAdds, fmt.Sprintf("%s lists %s at leaf %d, which is not a valid entry", key, line.Filename, line.Leaf)
	case e.filename != line.Filename:
		kind, msg = r.elsewhere(b, c, key, line, e.filename)
	case e.sha256 != line.SHA256:
		kind, msg = KindIndexMisstates, fmt.Sprintf("%s says %s (leaf %d) has %s, the log's entry has %s",
			key, line.Filename, line.Leaf, tiles.FormatSHA256(line.SHA256), tiles.FormatSHA256(e.sha256))
	default:
		// Listed twice is reported once every index is read (see
		// checkClaimed), deterministically.
		e.claims++
		if e.claims == 1 {
			e.claimedBy = project
		} else if len(e.others) < maxOtherClaims {
			e.others = append(e.others, project)
		}
		return nil
	}
	// The file at the leaf is misstated, and reported so: not also as
	// omitted.
	e.disputed = true
	return r.indexFinding(ctx, kind, project, signed, line.Leaf, msg)
}

// maxOtherClaims bounds the indexes kept as listing a leaf of the chunk
// that another index lists.
const maxOtherClaims = 4

// checkOldLine checks an index line of a leaf below the chunk, against
// the state.
func (r *run) checkOldLine(ctx context.Context, b *bolt.Bucket, c *chunk, project string, line tiles.IndexLine, signed []byte) error {
	key := tiles.IndexKey(project)
	rec, ok, err := lookupLeaf(b, line.Leaf)
	if err != nil {
		return fmt.Errorf("the monitor state of %s is damaged: leaf %d: %w", r.log.origin, line.Leaf, err)
	}
	var kind, msg string
	switch {
	case !ok:
		kind, msg = KindIndexAdds, fmt.Sprintf("%s lists %s at leaf %d, which is not a valid entry", key, line.Filename, line.Leaf)
	case rec.fnHash != fnHash(line.Filename):
		kind, msg = r.elsewhere(b, c, key, line, "")
	case rec.sha256 != line.SHA256:
		kind, msg = KindIndexMisstates, fmt.Sprintf("%s says %s (leaf %d) has %s, the log's entry has %s",
			key, line.Filename, line.Leaf, tiles.FormatSHA256(line.SHA256), tiles.FormatSHA256(rec.sha256))
	case b.Bucket(bucketProjects).Get(projectKey(project, line.Leaf)) == nil:
		kind, msg = KindIndexAdds, fmt.Sprintf("%s lists leaf %d (%s), which was verified as a file of another project", key, line.Leaf, line.Filename)
	default:
		return nil
	}
	return r.indexFinding(ctx, kind, project, signed, line.Leaf, msg)
}

// elsewhere says what is wrong with an index line whose filename is not
// the entry's at its leaf: a logged file at another leaf (misstated), or
// a file the log doesn't hold (added).
func (r *run) elsewhere(b *bolt.Bucket, c *chunk, key string, line tiles.IndexLine, logged string) (string, string) {
	fn := fnHash(line.Filename)
	at := int64(-1)
	if i, ok := c.byName[fn]; ok && c.entries[i].filename == line.Filename {
		at = c.entries[i].leaf
	} else if leaf, ok := lookupFile(b, line.Filename, fn); ok {
		at = leaf
	}
	what := "another file"
	if logged != "" {
		what = logged
	}
	if at >= 0 {
		return KindIndexMisstates, fmt.Sprintf("%s says %s is leaf %d, the log has it at leaf %d (leaf %d is %s)", key, line.Filename, line.Leaf, at, line.Leaf, what)
	}
	return KindIndexAdds, fmt.Sprintf("%s lists %s at leaf %d, which the log doesn't hold (leaf %d is %s)", key, line.Filename, line.Leaf, line.Leaf, what)
}

// indexFinding records a finding about project's index (signed), at leaf
// (-1 for none).
func (r *run) indexFinding(ctx context.Context, kind, project string, signed []byte, leaf int64, msg string) error {
	subject := kind + " " + project
	if leaf >= 0 {
		subject = fmt.Sprintf("%s %s %d", kind, project, leaf)
	}
	if r.skip(kind, subject) {
		return nil
	}
	ev := Evidence{Checkpoint: string(r.target), Notes: []SignedNote{{Key: tiles.IndexKey(project), Text: string(signed)}}}
	f := Finding{Kind: kind, Project: project, Message: msg}
	if leaf >= 0 {
		f.Leaf = &leaf
		r.addEntryEvidence(ctx, &ev, leaf)
		if len(ev.Entries) > 0 {
			if e, err := tiles.ParseEntry(entryBytes(ev.Entries[len(ev.Entries)-1])); err == nil {
				f.Filename = e.Filename
			}
		}
	}
	f.Evidence = ev
	return r.record(f, subject)
}

func entryBytes(pe ProvenEntry) []byte {
	if pe.EntryBase64 != nil {
		return pe.EntryBase64
	}
	return []byte(pe.Entry)
}

// addEntryEvidence adds the entry at leaf, proven, to ev; or says why it
// couldn't.
func (r *run) addEntryEvidence(ctx context.Context, ev *Evidence, leaf int64) {
	pe, _, err := proveEntry(ctx, r.log.origin, r.log.fetch, r.reader, r.tree, leaf)
	if err != nil {
		ev.Detail = strings.TrimPrefix(ev.Detail+"; ", "; ") + fmt.Sprintf("couldn't fetch leaf %d again: %v", leaf, err)
		return
	}
	ev.Entries = append(ev.Entries, pe)
}

// addIndexEvidence fetches project's index again and adds it to ev; read
// (if not nil) is the copy checked, which the evidence must be.
func (r *run) addIndexEvidence(ctx context.Context, ev *Evidence, project string, read *indexRead) {
	r.addNoteEvidence(ctx, ev, tiles.IndexKey(project), read != nil && !read.found, digestOf(read))
}

func digestOf(ir *indexRead) *[32]byte {
	if ir == nil || !ir.found {
		return nil
	}
	return &ir.digest
}

// addNoteEvidence fetches the signed note at key again and adds it to ev
// (or names it absent); digest (if not nil) is that of the copy checked.
func (r *run) addNoteEvidence(ctx context.Context, ev *Evidence, key string, absent bool, digest *[32]byte) {
	if absent {
		ev.Absent = append(ev.Absent, key)
		return
	}
	data, err := r.log.fetch.Fetch(ctx, key)
	switch {
	case err != nil:
		ev.Detail = strings.TrimPrefix(ev.Detail+"; ", "; ") + fmt.Sprintf("couldn't fetch %s again: %v", key, err)
	case digest != nil && sha256.Sum256(data) != *digest:
		ev.Detail = strings.TrimPrefix(ev.Detail+"; ", "; ") + fmt.Sprintf("%s changed since it was checked (the copy checked had SHA-256 %x); this is the new copy", key, *digest)
		ev.Notes = append(ev.Notes, SignedNote{Key: key, Text: string(data)})
	default:
		ev.Notes = append(ev.Notes, SignedNote{Key: key, Text: string(data)})
	}
}

// readNotes fetches the filename notes of homes, and records which of
// the chunk's leaves they list, under which project.
func (r *run) readNotes(ctx context.Context, c *chunk, homes []string) (map[string]*noteRead, error) {
	notes := make(map[string]*noteRead, len(homes))
	keys := make([]string, len(homes))
	for i, h := range homes {
		keys[i] = tiles.FilenamesKey(h)
	}
	var mu sync.Mutex
	err := fetchAll(ctx, r.log.fetch, keys, func(i int, obj fetched) error {
		nr := &noteRead{found: obj.found, projects: map[int64]string{}}
		mu.Lock()
		notes[homes[i]] = nr
		mu.Unlock()
		if !obj.found {
			return nil
		}
		nr.digest = sha256.Sum256(obj.data)
		x, err := tiles.OpenFilenameNote(obj.data, r.log.verifier, homes[i])
		if err != nil {
			return fmt.Errorf("%s doesn't verify with the log's key: %w", keys[i], err)
		}
		nr.size = x.TreeSize
		for _, l := range x.Lines {
			if l.Leaf >= c.start && l.Leaf < c.end && c.entry(l.Leaf).filename == l.Filename {
				nr.projects[l.Leaf] = l.Project
			}
		}
		return nil
	})
	return notes, err
}

// errStale reports indexes or notes older than the leaves they must list:
// a stale copy in a cache, or a log that no longer updates them. Not
// evidence of anything; the next run tries again.
var errStale = errors.New("stale index or filename note")

// checkClaimed reports the chunk's entries no index lists. An entry is
// omitted only if every index that could list it (those of the projects
// its filename gives, and the one its home's filename note names) and
// that note are signed and cover its leaf; if one is an older copy, the
// chunk can't be checked yet.
func (r *run) checkClaimed(ctx context.Context, c *chunk, notes map[string]*noteRead) error {
	var stale []string
	for i := range c.entries {
		e := &c.entries[i]
		if e.claims > 1 {
			if err := r.listedTwice(ctx, c, e); err != nil {
				return err
			}
		}
		if e.filename == "" || e.claims > 0 || e.disputed {
			continue
		}
		home := tiles.FilenameHome(e.filename)
		n := notes[home]
		projects := tiles.FilenameProjects(e.filename)
		if p, ok := n.projects[e.leaf]; ok && !slices.Contains(projects, p) {
			projects = append(projects, p)
		}
		old := ""
		if n.found && n.size <= e.leaf {
			old = fmt.Sprintf("%s (size %d)", tiles.FilenamesKey(home), n.size)
		}
		for _, p := range projects {
			if ir := c.indexes[p]; ir.found && ir.size <= e.leaf {
				old = fmt.Sprintf("%s (size %d)", tiles.IndexKey(p), ir.size)
			}
		}
		if old != "" {
			if len(stale) < 3 {
				stale = append(stale, fmt.Sprintf("leaf %d (%s): %s", e.leaf, e.filename, old))
			}
			continue
		}
		if r.skip(KindIndexOmits, fmt.Sprint(e.leaf)) {
			continue
		}
		ev := Evidence{Checkpoint: string(r.target)}
		for _, p := range projects {
			r.addIndexEvidence(ctx, &ev, p, c.indexes[p])
		}
		var digest *[32]byte
		if n.found {
			digest = &n.digest
		}
		r.addNoteEvidence(ctx, &ev, tiles.FilenamesKey(home), !n.found, digest)
		r.addEntryEvidence(ctx, &ev, e.leaf)
		leaf := e.leaf
		if err := r.record(Finding{
			Kind: KindIndexOmits, Leaf: &leaf, Filename: e.filename,
			Message: fmt.Sprintf("no project index lists leaf %d (%s): not the indexes of the projects its filename gives (%s), nor one %s names",
				e.leaf, e.filename, strings.Join(tiles.FilenameProjects(e.filename), ", "), tiles.FilenamesKey(home)),
			Evidence: ev,
		}, fmt.Sprint(e.leaf)); err != nil {
			return err
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("%w: the chunk of leaves %d to %d can't be checked yet: an index or note is older than a leaf it must list: %s",
			errStale, c.start, c.end-1, strings.Join(stale, "; "))
	}
	return nil
}

// listedTwice reports a leaf of the chunk that several indexes list. If
// one of them is of a project the filename gives, the others add the
// file; otherwise each is reported.
func (r *run) listedTwice(ctx context.Context, c *chunk, e *chunkEntry) error {
	claimers := append([]string{e.claimedBy}, e.others...)
	slices.Sort(claimers)
	var legit []string
	for _, p := range claimers {
		if slices.Contains(tiles.FilenameProjects(e.filename), p) {
			legit = append(legit, p)
		}
	}
	for _, p := range claimers {
		if len(legit) == 1 && p == legit[0] {
			continue
		}
		subject := fmt.Sprintf("%s %s %d", KindIndexAdds, p, e.leaf)
		if r.skip(KindIndexAdds, subject) {
			continue
		}
		others := slices.DeleteFunc(slices.Clone(claimers), func(q string) bool { return q == p })
		ev := Evidence{Checkpoint: string(r.target)}
		for _, q := range append([]string{p}, others...) {
			r.addIndexEvidence(ctx, &ev, q, c.indexes[q])
		}
		r.addEntryEvidence(ctx, &ev, e.leaf)
		names := make([]string, len(others))
		for i, q := range others {
			names[i] = tiles.IndexKey(q)
		}
		leaf := e.leaf
		if err := r.record(Finding{
			Kind: KindIndexAdds, Leaf: &leaf, Filename: e.filename, Project: p,
			Message:  fmt.Sprintf("%s lists leaf %d (%s), which %s lists too", tiles.IndexKey(p), e.leaf, e.filename, strings.Join(names, " and ")),
			Evidence: ev,
		}, subject); err != nil {
			return err
		}
	}
	if len(legit) == 1 {
		e.claimedBy = legit[0]
	} else {
		e.claimedBy = claimers[0]
	}
	return nil
}
