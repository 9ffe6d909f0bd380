package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/tiles"
)

// AuditReport is what Audit checked and found.
type AuditReport struct {
	// Checkpoint is the verified checkpoint audited.
	Checkpoint tiles.Checkpoint
	// Entries, HashTiles, Bundles and Indexes count what was checked.
	Entries, HashTiles, Bundles, Indexes int64
	// ProjectLists and FilenameNotes count the shards of the project list
	// and the filename notes checked.
	ProjectLists, FilenameNotes int64
	// NotYetProvable counts index lines at or beyond the checkpoint size.
	NotYetProvable int64
	// Problems says what is wrong and where; empty if the log is sound.
	Problems []string
	// Warnings says what is not wrong but worth knowing: a batch that is
	// not yet published (index lines beyond the checkpoint), a log that
	// publishes no project list.
	Warnings []string
}

// maxProblems bounds the report; a broken log could otherwise list
// millions of lines. Warnings are bounded the same way.
const maxProblems = 100

// auditFetchAhead is how many bundles (and level-0 tiles), indexes or
// notes are fetched in parallel ahead of their checks.
const auditFetchAhead = 64

func (r *AuditReport) problem(format string, args ...any) {
	r.Problems = appendBounded(r.Problems, "problems", format, args...)
}

func (r *AuditReport) warn(format string, args ...any) {
	r.Warnings = appendBounded(r.Warnings, "warnings", format, args...)
}

func appendBounded(list []string, what, format string, args ...any) []string {
	if len(list) < maxProblems {
		return append(list, fmt.Sprintf(format, args...))
	} else if len(list) == maxProblems {
		return append(list, "… more "+what+" not listed")
	}
	return list
}

// Audit re-verifies the whole log from its static files: the checkpoint
// signature; every entry parses; the tree rebuilt from the entries equals
// every published hash tile (and every partial tile and bundle a listable
// log holds) and the checkpoint's root; no filename is logged twice; the
// project list is signed and names every project index; every project
// index is signed, lists only logged files at their right leaf, and all
// logged files are in an index; every file whose project its filename does
// not give is in its filename note, and the notes list nothing else. It
// returns an error wrapping tiles.ErrVerification if anything fails, with
// the report saying what.
//
// Index lines beyond the checkpoint are a batch the sequencer has not yet
// published (it writes indexes before the checkpoint): a warning, not a
// problem, unless they contradict the log (a filename logged already, a
// leaf listed twice).
//
// Memory grows with what was read, never with a size a log claims: the
// filename and digest of every entry are kept to find duplicates and to
// check the indexes (about 130 bytes an entry).
func (l *Log) Audit(ctx context.Context, logger *slog.Logger) (*AuditReport, error) {
	return l.audit(ctx, logger, nil)
}

// AuditVerified is Audit that also returns what the audit verified, for a
// mirror to copy: nil unless the whole audit passed.
func (l *Log) AuditVerified(ctx context.Context, logger *slog.Logger) (*AuditReport, *Verified, error) {
	v := &Verified{Immutable: map[string][32]byte{}}
	rep, err := l.audit(ctx, logger, v)
	if err != nil {
		return rep, nil, err
	}
	return rep, v, nil
}

// Verified is what an audit read and verified: the signed checkpoint, the
// SHA-256 of every immutable object (tile, bundle, full or partial) it
// compared with the tree it rebuilt, and the content of every signed note
// (index, project list shard, filename note) whose signature and content
// it checked. They are all verified only once the whole audit passed: a
// tile equal to the rebuilt one proves nothing until the rebuilt root
// equals the checkpoint's.
//
// Only the digests of immutable objects are kept, 32 bytes an object (a
// PyPI-size log's tiles are gigabytes): a copy fetched again is the one
// verified if it has the same digest. The notes are kept whole (about as
// much again as the filenames the audit keeps), as a log may rewrite them.
type Verified struct {
	// Checkpoint is the signed checkpoint audited (AuditReport.Checkpoint).
	Checkpoint []byte
	// Immutable maps the key of every tile and entry bundle verified to
	// the SHA-256 of its content.
	Immutable map[string][32]byte
	// Notes are the signed notes verified, in the order they were read.
	Notes []VerifiedNote
}

// VerifiedNote is a signed note of the log (index, project list shard,
// filename note) that an audit verified.
type VerifiedNote struct {
	Key  string
	Data []byte
	// TreeSize is the tree size the note covers.
	TreeSize int64
}

// audit runs the audit, recording in rec (if not nil) what it verified.
func (l *Log) audit(ctx context.Context, logger *slog.Logger, rec *Verified) (*AuditReport, error) {
	logger = logging.OrDiscard(logger)
	cp, signed, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	// Nothing here is sized by cp.N: a log may claim any size up to
	// tiles.MaxTreeSize, and what is kept grows only as entries are read
	// and verified.
	a := &auditor{
		log: l, logger: logger, tree: cp.Tree, rec: rec,
		rep:            &AuditReport{Checkpoint: cp},
		filenames:      map[string]int64{},
		partialTiles:   map[[2]int64][]int{},
		partialBundles: map[int64][]int{},
		published:      map[string]bool{},
		listed:         map[string]bool{},
		shardSize:      map[string]int64{},
		badShard:       map[string]bool{},
		indexSize:      map[string]int64{},
		notes:          map[string][]tiles.FilenameLine{},
		beyondLeaves:   map[int64]beyondLine{},
		beyondFiles:    map[string]beyondLine{},
		beyondLo:       -1,
	}
	if lister, ok := l.fetch.(Lister); ok {
		a.lister = lister
		if err := a.listPartials(ctx); err != nil {
			return nil, err
		}
	}
	if err := a.rebuild(ctx); err != nil {
		return a.rep, err
	}
	if err := a.checkIndexes(ctx); err != nil {
		return a.rep, err
	}
	if len(a.rep.Problems) > 0 {
		return a.rep, fmt.Errorf("%w: audit of %s found %d problems", tiles.ErrVerification, l.Origin(), len(a.rep.Problems))
	}
	if rec != nil {
		rec.Checkpoint = signed
	}
	return a.rep, nil
}

type auditor struct {
	log    *Log
	lister Lister // nil over HTTP
	logger *slog.Logger
	tree   tlog.Tree
	rep    *AuditReport
	rec    *Verified // nil unless AuditVerified

	// filenames and digests are those of the entries read so far.
	filenames map[string]int64
	digests   [][32]byte

	// pending holds, per tile level, the hashes of the tile being filled.
	pending [][]byte
	// partialTiles and partialBundles are the widths of partial objects a
	// listable log holds, which must be prefixes of the rebuilt ones.
	partialTiles   map[[2]int64][]int
	partialBundles map[int64][]int
	// published records every tile path a listable log holds.
	published map[string]bool

	// listed holds the projects the project list names; shardSize the
	// size each shard found covers; badShard the shards that failed
	// their checks; noList that the log publishes no shard at all.
	listed    map[string]bool
	shardSize map[string]int64
	badShard  map[string]bool
	noList    bool
	// claimed says which leaves below the checkpoint an index lists.
	claimed []bool
	// indexSize is the size each index read covers.
	indexSize map[string]int64
	// notes holds, per filename note, the index lines it must list.
	notes map[string][]tiles.FilenameLine

	// beyondLeaves and beyondFiles are the index lines beyond the
	// checkpoint, by leaf and by filename; beyondLo and beyondHi the
	// range of leaves beyond the checkpoint that indexes and notes name
	// (beyondLo -1: none).
	beyondLeaves       map[int64]beyondLine
	beyondFiles        map[string]beyondLine
	beyondLo, beyondHi int64
}

// beyondLine is an index line beyond the checkpoint.
type beyondLine struct {
	project, filename string
	leaf              int64
}

func (a *auditor) verifiedImmutable(key string, data []byte) {
	if a.rec != nil {
		a.rec.Immutable[key] = sha256.Sum256(data)
	}
}

func (a *auditor) verifiedMutable(key string, data []byte, size int64) {
	if a.rec != nil {
		a.rec.Notes = append(a.rec.Notes, VerifiedNote{Key: key, Data: data, TreeSize: size})
	}
}

func (a *auditor) listPartials(ctx context.Context) error {
	keys, err := a.lister.List(ctx, tiles.TilePrefix)
	if err != nil {
		return fmt.Errorf("couldn't list tiles: %w", err)
	}
	for _, key := range keys {
		t, err := tiles.ParseTilePath(key)
		if err != nil {
			a.rep.problem("%s: not a tile path", key)
			continue
		}
		a.published[key] = true
		if t.W == tiles.TileWidth {
			continue
		}
		if t.L == -1 {
			a.partialBundles[t.N] = append(a.partialBundles[t.N], t.W)
		} else {
			a.partialTiles[[2]int64{int64(t.L), t.N}] = append(a.partialTiles[[2]int64{int64(t.L), t.N}], t.W)
		}
	}
	return nil
}

// rebuild reads every bundle in order and rebuilds every hash tile.
func (a *auditor) rebuild(ctx context.Context) error {
	n := a.tree.N
	bundles := (n + tiles.TileWidth - 1) / tiles.TileWidth
	for first := int64(0); first < bundles; first += auditFetchAhead {
		last := min(first+auditFetchAhead, bundles)
		bundleData := make([][]byte, last-first)
		tileData := make([][]byte, last-first)
		g, gctx := errgroup.WithContext(ctx)
		for k := first; k < last; k++ {
			bt := tiles.BundleOf(k*tiles.TileWidth, n)
			g.Go(func() (err error) {
				bundleData[k-first], err = a.log.fetch.Fetch(gctx, tiles.TilePath(bt))
				return err
			})
			g.Go(func() (err error) {
				tileData[k-first], err = a.fetchTile(gctx, tlog.Tile{H: tiles.TileHeight, L: 0, N: k, W: bt.W})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return fmt.Errorf("couldn't fetch entries: %w", err)
		}
		for k := first; k < last; k++ {
			if err := a.checkBundle(ctx, tiles.BundleOf(k*tiles.TileWidth, n), bundleData[k-first], tileData[k-first]); err != nil {
				return err
			}
		}
		a.logger.Info("audit progress", "entries", a.rep.Entries, "size", n)
	}
	// What is left at each level is the tree's partial tile there.
	for level := range a.pending {
		if w := len(a.pending[level]) / tlog.HashSize; w > 0 {
			t := tlog.Tile{H: tiles.TileHeight, L: level, N: (n >> (tiles.TileHeight * level)) / tiles.TileWidth, W: w}
			if err := a.checkTile(ctx, t, a.pending[level], nil); err != nil {
				return err
			}
		}
	}
	// Every entry was read: what follows is bounded by the log's real size.
	for _, t := range tlog.NewTiles(tiles.TileHeight, 0, n) {
		if len(a.published) > 0 && !a.published[tiles.TilePath(t)] {
			a.rep.problem("%s: missing (the tree of size %d needs it)", tiles.TilePath(t), n)
		}
	}
	if n > 0 {
		root, err := tlog.TreeHash(n, tlog.TileHashReader(a.tree, a.log.TileReader(ctx)))
		if err != nil {
			a.rep.problem("checkpoint root: %v", err)
		} else if root != a.tree.Hash {
			a.rep.problem("checkpoint root %s, the tiles give %s", a.tree.Hash, root)
		}
	}
	return nil
}

func (a *auditor) fetchTile(ctx context.Context, t tlog.Tile) ([]byte, error) {
	data, err := a.log.fetch.Fetch(ctx, tiles.TilePath(t))
	if errors.Is(err, ErrNotFound) {
		return nil, nil // reported by the comparison
	}
	return data, err
}

// checkBundle checks one entry bundle and feeds its leaves into the
// rebuild; level0 is the published level-0 tile of the same index.
func (a *auditor) checkBundle(ctx context.Context, bt tlog.Tile, data, level0 []byte) error {
	key := tiles.TilePath(bt)
	a.rep.Bundles++
	entries, err := tiles.ParseBundle(data, bt.W)
	if err != nil {
		a.rep.problem("%s: %v", key, err)
		return fmt.Errorf("%w: %s: %v (can't rebuild the tree past it)", tiles.ErrVerification, key, err)
	}
	// Verified only if the level-0 tile rebuilt from its entries equals
	// the published one and the root the checkpoint's: if the whole audit
	// passes.
	a.verifiedImmutable(key, data)
	for _, w := range a.partialBundles[bt.N] {
		if w > bt.W {
			continue // written for a tree newer than the checkpoint
		}
		prefix, _ := tiles.EncodeBundle(entries[:w])
		p := tiles.TilePath(tiles.EntryBundleTile(bt.N, w))
		got, err := a.log.fetch.Fetch(ctx, p)
		if err != nil || !bytes.Equal(got, prefix) {
			a.rep.problem("%s: differs from the first %d entries of %s", p, w, key)
		} else {
			a.verifiedImmutable(p, got)
		}
	}
	hashes := make([]byte, 0, len(entries)*tlog.HashSize)
	for i, raw := range entries {
		leaf := bt.N*tiles.TileWidth + int64(i)
		h := tlog.RecordHash(raw)
		hashes = append(hashes, h[:]...)
		a.rep.Entries++
		e, err := tiles.ParseEntry(raw)
		if err != nil {
			a.rep.problem("leaf %d in %s: malformed entry: %v", leaf, key, err)
			a.digests = append(a.digests, [32]byte{})
			continue
		}
		a.digests = append(a.digests, e.SHA256)
		if first, dup := a.filenames[e.Filename]; dup {
			a.rep.problem("filename %s logged twice: leaves %d and %d", e.Filename, first, leaf)
			continue
		}
		a.filenames[e.Filename] = leaf
	}
	return a.push(ctx, 0, hashes, level0)
}

// push appends hashes to the tile being filled at level; a full tile is
// compared with the published one (published, if already fetched) and its
// root pushed one level up.
func (a *auditor) push(ctx context.Context, level int, hashes, published []byte) error {
	for len(a.pending) <= level {
		a.pending = append(a.pending, nil)
	}
	a.pending[level] = append(a.pending[level], hashes...)
	if len(a.pending[level]) < tiles.TileWidth*tlog.HashSize {
		return nil
	}
	full := a.pending[level]
	a.pending[level] = nil
	t := tlog.Tile{H: tiles.TileHeight, L: level, N: a.filled(level), W: tiles.TileWidth}
	if err := a.checkTile(ctx, t, full, published); err != nil {
		return err
	}
	root := subtreeRoot(full)
	return a.push(ctx, level+1, root[:], nil)
}

// filled returns the index of the tile at level that was just filled:
// the entries counted so far end exactly at its last leaf.
func (a *auditor) filled(level int) int64 {
	leavesPerTile := int64(1) << (tiles.TileHeight * (level + 1))
	return a.rep.Entries/leavesPerTile - 1
}

// checkTile compares a rebuilt tile with the published one and with every
// published partial version of it.
func (a *auditor) checkTile(ctx context.Context, t tlog.Tile, rebuilt, published []byte) error {
	key := tiles.TilePath(t)
	a.rep.HashTiles++
	if published == nil {
		var err error
		if published, err = a.fetchTile(ctx, t); err != nil {
			return fmt.Errorf("couldn't fetch %s: %w", key, err)
		}
	}
	switch {
	case published == nil:
		a.rep.problem("%s: missing", key)
	case !bytes.Equal(published, rebuilt):
		a.rep.problem("%s: differs from the tile rebuilt from the entries (%s)", key, firstDifference(published, rebuilt))
	default:
		a.verifiedImmutable(key, published)
	}
	for _, w := range a.partialTiles[[2]int64{int64(t.L), t.N}] {
		if w >= t.W {
			continue // the tile itself, or one newer than the checkpoint
		}
		pt := tlog.Tile{H: t.H, L: t.L, N: t.N, W: w}
		got, err := a.log.fetch.Fetch(ctx, tiles.TilePath(pt))
		if err != nil || !bytes.Equal(got, rebuilt[:w*tlog.HashSize]) {
			a.rep.problem("%s: differs from the first %d hashes of %s", tiles.TilePath(pt), w, key)
		} else {
			a.verifiedImmutable(tiles.TilePath(pt), got)
		}
	}
	return nil
}

func firstDifference(a, b []byte) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d bytes published, %d rebuilt", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference in hash %d", i/tlog.HashSize)
		}
	}
	return "equal"
}

// subtreeRoot returns the Merkle root of a full tile's 256 hashes.
func subtreeRoot(data []byte) tlog.Hash {
	level := make([]tlog.Hash, len(data)/tlog.HashSize)
	for i := range level {
		copy(level[i][:], data[i*tlog.HashSize:])
	}
	for len(level) > 1 {
		for i := 0; i < len(level)/2; i++ {
			level[i] = tlog.NodeHash(level[2*i], level[2*i+1])
		}
		level = level[:len(level)/2]
	}
	return level[0]
}

// fetched is one object fetched by fetchAll.
type fetched struct {
	data  []byte
	found bool
}

// fetchAll fetches keys in parallel, at most auditFetchAhead at once; an
// object the log does not have is not found, not an error.
func (a *auditor) fetchAll(ctx context.Context, keys []string) ([]fetched, error) {
	out := make([]fetched, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(auditFetchAhead)
	for i, key := range keys {
		g.Go(func() error {
			data, err := a.log.fetch.Fetch(gctx, key)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("couldn't fetch %s: %w", key, err)
			}
			out[i] = fetched{data, true}
			return nil
		})
	}
	return out, g.Wait()
}

// checkIndexes finds every project index from the project list (and, on a
// listable log, by listing index/ too), checks each against the entries,
// then the filename notes, then that every logged file is in an index.
func (a *auditor) checkIndexes(ctx context.Context) error {
	if err := a.readProjectList(ctx); err != nil {
		return err
	}
	projects, err := a.indexedProjects(ctx)
	if err != nil {
		return err
	}
	// The rebuild read every entry below the checkpoint.
	a.claimed = make([]bool, len(a.digests))
	for first := 0; first < len(projects); first += auditFetchAhead {
		chunk := projects[first:min(first+auditFetchAhead, len(projects))]
		keys := make([]string, len(chunk))
		for i, p := range chunk {
			keys[i] = tiles.IndexKey(p)
		}
		objs, err := a.fetchAll(ctx, keys)
		if err != nil {
			return fmt.Errorf("couldn't fetch indexes: %w", err)
		}
		for i, p := range chunk {
			a.checkIndex(p, objs[i])
		}
	}
	if err := a.checkFilenameNotes(ctx); err != nil {
		return err
	}
	a.reportUnclaimed()
	if a.beyondLo >= 0 {
		a.rep.warn("leaves %d..%d are in project indexes beyond the checkpoint of size %d: a batch not yet published; the next sequencer run publishes it",
			a.beyondLo, a.beyondHi, a.tree.N)
	}
	return nil
}

// readProjectList reads and verifies the project list: every shard a
// listable log holds, or over HTTP every shard there can be (a missing one
// is empty).
func (a *auditor) readProjectList(ctx context.Context) error {
	valid := map[string]bool{}
	for _, s := range tiles.ProjectShards() {
		valid[s] = true
	}
	var keys []string
	if a.lister != nil {
		listed, err := a.lister.List(ctx, tiles.ProjectListPrefix)
		if err != nil {
			return fmt.Errorf("couldn't list the project list: %w", err)
		}
		for _, key := range listed {
			if !valid[strings.TrimPrefix(key, tiles.ProjectListPrefix)] {
				a.rep.problem("%s: not a shard of the project list", key)
				continue
			}
			keys = append(keys, key)
		}
	} else {
		for _, s := range tiles.ProjectShards() {
			keys = append(keys, tiles.ProjectListKey(s))
		}
	}
	objs, err := a.fetchAll(ctx, keys)
	if err != nil {
		return fmt.Errorf("couldn't fetch the project list: %w", err)
	}
	found := 0
	for i, key := range keys {
		if !objs[i].found {
			continue
		}
		found++
		shard := strings.TrimPrefix(key, tiles.ProjectListPrefix)
		l, err := tiles.OpenProjectList(objs[i].data, a.log.verifier, shard)
		if err != nil {
			a.rep.problem("%s: %v", key, err)
			a.badShard[shard] = true
			continue
		}
		a.rep.ProjectLists++
		a.shardSize[shard] = l.TreeSize
		for _, p := range l.Projects {
			a.listed[p] = true
		}
		a.verifiedMutable(key, objs[i].data, l.TreeSize)
	}
	if found > 0 {
		return nil
	}
	a.noList = true
	switch {
	case a.tree.N == 0:
		// An empty log has no project yet.
	case a.lister != nil:
		a.rep.warn("the log publishes no project list (%s): its indexes were found by listing %s, which can't be done over HTTP", tiles.ProjectListPrefix, tiles.IndexPrefix)
	case a.tree.N > 0:
		a.rep.problem("the log publishes no project list (no shard under %s): its indexes can't be found", tiles.ProjectListPrefix)
	}
	return nil
}

// indexedProjects returns the projects whose index the audit checks, in
// order: those the project list names and, on a listable log, those with
// an object under index/.
func (a *auditor) indexedProjects(ctx context.Context) ([]string, error) {
	inDir := map[string]bool{}
	if a.lister != nil {
		keys, err := a.lister.List(ctx, tiles.IndexPrefix)
		if err != nil {
			return nil, fmt.Errorf("couldn't list indexes: %w", err)
		}
		for _, key := range keys {
			p := strings.TrimPrefix(key, tiles.IndexPrefix)
			if !tiles.IsNormalizedProject(p) {
				a.rep.problem("%s: not the index of a normalized project name", key)
				continue
			}
			inDir[p] = true
		}
	}
	projects := make([]string, 0, len(a.listed)+len(inDir))
	for p := range a.listed {
		projects = append(projects, p)
	}
	for p := range inDir {
		if !a.listed[p] {
			projects = append(projects, p)
		}
	}
	slices.Sort(projects)
	return projects, nil
}

// checkIndex checks one project's index, if the log has one.
func (a *auditor) checkIndex(project string, obj fetched) {
	key := tiles.IndexKey(project)
	shard := tiles.ProjectShard(project)
	listed := a.listed[project]
	if !obj.found {
		if !listed {
			return // listed under index/ a moment ago, gone now
		}
		if size := a.shardSize[shard]; size > a.tree.N {
			a.rep.warn("%s (size %d) lists %s, which has no index yet: a batch beyond the checkpoint of size %d not yet published",
				tiles.ProjectListKey(shard), size, project, a.tree.N)
		} else {
			a.rep.problem("%s (size %d) lists %s, which has no index", tiles.ProjectListKey(shard), size, project)
		}
		return
	}
	x, err := tiles.OpenIndex(obj.data, a.log.verifier, project)
	if err != nil {
		a.rep.problem("%s: %v", key, err)
		return
	}
	a.rep.Indexes++
	a.indexSize[project] = x.TreeSize
	a.verifiedMutable(key, obj.data, x.TreeSize)
	// The shard covering a leaf must list the project: a project new in a
	// batch not yet published may be missing from it.
	if !listed && !a.noList && !a.badShard[shard] && len(x.Lines) > 0 {
		if first := x.Lines[0].Leaf; first < a.tree.N || first < a.shardSize[shard] {
			a.rep.problem("%s lists leaf %d, but the project list (%s, size %d) does not list %s",
				key, first, tiles.ProjectListKey(shard), a.shardSize[shard], project)
		}
	}
	for _, line := range x.Lines {
		if tiles.IsListedFilename(line.Filename, project) {
			home := tiles.FilenameHome(line.Filename)
			a.notes[home] = append(a.notes[home], tiles.FilenameLine{Leaf: line.Leaf, Filename: line.Filename, Project: project})
		}
		if line.Leaf >= a.tree.N {
			a.checkBeyond(project, line)
			continue
		}
		leaf, ok := a.filenames[line.Filename]
		switch {
		case !ok || leaf != line.Leaf:
			a.rep.problem("%s: says %s is leaf %d, the log has it at %s", key, line.Filename, line.Leaf, leafName(leaf, ok))
		case a.digests[leaf] != line.SHA256:
			a.rep.problem("%s: says %s has %s, the log's entry %d has %s", key, line.Filename,
				tiles.FormatSHA256(line.SHA256), leaf, tiles.FormatSHA256(a.digests[leaf]))
		case a.claimed[leaf]:
			a.rep.problem("%s: lists leaf %d, which another index lists too", key, leaf)
		default:
			a.claimed[leaf] = true
		}
	}
}

// checkBeyond checks an index line at or beyond the checkpoint: not yet
// provable, but it must not contradict the log or another index.
func (a *auditor) checkBeyond(project string, line tiles.IndexLine) {
	a.rep.NotYetProvable++
	a.noteBeyond(line.Leaf)
	key := tiles.IndexKey(project)
	b := beyondLine{project: project, filename: line.Filename, leaf: line.Leaf}
	if leaf, ok := a.filenames[line.Filename]; ok {
		what := "with the same sha256"
		if d := a.digests[leaf]; d != line.SHA256 {
			what = fmt.Sprintf("with %s, the log's entry has %s", tiles.FormatSHA256(line.SHA256), tiles.FormatSHA256(d))
		}
		a.rep.problem("%s: lists %s at leaf %d, beyond the checkpoint of size %d, but the log has it at leaf %d already (%s)",
			key, line.Filename, line.Leaf, a.tree.N, leaf, what)
	} else if other, ok := a.beyondFiles[line.Filename]; ok {
		a.rep.problem("%s: lists %s at leaf %d beyond the checkpoint, %s at leaf %d",
			key, line.Filename, line.Leaf, tiles.IndexKey(other.project), other.leaf)
	} else {
		a.beyondFiles[line.Filename] = b
	}
	if other, ok := a.beyondLeaves[line.Leaf]; ok {
		a.rep.problem("%s: lists leaf %d beyond the checkpoint as %s, %s as %s",
			key, line.Leaf, line.Filename, tiles.IndexKey(other.project), other.filename)
	} else {
		a.beyondLeaves[line.Leaf] = b
	}
}

// noteBeyond widens the range of leaves beyond the checkpoint named by
// indexes and notes.
func (a *auditor) noteBeyond(leaf int64) {
	if a.beyondLo < 0 || leaf < a.beyondLo {
		a.beyondLo = leaf
	}
	a.beyondHi = max(a.beyondHi, leaf)
}

// checkFilenameNotes checks that every index line whose project its
// filename does not give is in the filename note of its home, and that
// the notes list nothing else. A listable log's every note is checked;
// over HTTP, the notes the indexes need.
func (a *auditor) checkFilenameNotes(ctx context.Context) error {
	homes := map[string]bool{}
	for home := range a.notes {
		homes[home] = true
	}
	if a.lister != nil {
		keys, err := a.lister.List(ctx, tiles.FilenamesPrefix)
		if err != nil {
			return fmt.Errorf("couldn't list filename notes: %w", err)
		}
		for _, key := range keys {
			home := strings.TrimPrefix(key, tiles.FilenamesPrefix)
			// "_" is the home of filenames without a project name.
			if home != "_" && !tiles.IsNormalizedProject(home) {
				a.rep.problem("%s: not a filename note", key)
				continue
			}
			homes[home] = true
		}
	}
	sorted := make([]string, 0, len(homes))
	for home := range homes {
		sorted = append(sorted, home)
	}
	slices.Sort(sorted)
	for first := 0; first < len(sorted); first += auditFetchAhead {
		chunk := sorted[first:min(first+auditFetchAhead, len(sorted))]
		keys := make([]string, len(chunk))
		for i, home := range chunk {
			keys[i] = tiles.FilenamesKey(home)
		}
		objs, err := a.fetchAll(ctx, keys)
		if err != nil {
			return fmt.Errorf("couldn't fetch filename notes: %w", err)
		}
		for i, home := range chunk {
			a.checkFilenameNote(home, objs[i])
		}
	}
	return nil
}

func (a *auditor) checkFilenameNote(home string, obj fetched) {
	key := tiles.FilenamesKey(home)
	var x tiles.FilenameNote // a missing note lists nothing
	if obj.found {
		var err error
		if x, err = tiles.OpenFilenameNote(obj.data, a.log.verifier, home); err != nil {
			a.rep.problem("%s: %v", key, err)
			return
		}
		a.rep.FilenameNotes++
		a.verifiedMutable(key, obj.data, x.TreeSize)
	}
	byLeaf := make(map[int64]tiles.FilenameLine, len(x.Lines))
	for _, l := range x.Lines {
		byLeaf[l.Leaf] = l
	}
	matched := map[int64]bool{}
	for _, need := range a.notes[home] {
		got, ok := byLeaf[need.Leaf]
		switch {
		case ok && got == need:
			matched[need.Leaf] = true
		case need.Leaf < a.tree.N || need.Leaf < x.TreeSize:
			also := ""
			if ok {
				also = fmt.Sprintf(" (it has %s of project %s at that leaf)", got.Filename, got.Project)
			}
			a.rep.problem("%s (size %d) does not list %s at leaf %d of project %s, which %s lists%s",
				key, x.TreeSize, need.Filename, need.Leaf, need.Project, tiles.IndexKey(need.Project), also)
		default:
			// A batch not yet published; checkBeyond counted it.
		}
	}
	for _, l := range x.Lines {
		if matched[l.Leaf] {
			continue
		}
		if l.Leaf < a.tree.N || a.indexSize[l.Project] > l.Leaf {
			a.rep.problem("%s: lists %s at leaf %d of project %s, which %s does not list",
				key, l.Filename, l.Leaf, l.Project, tiles.IndexKey(l.Project))
			continue
		}
		// A batch not yet published, whose index is not written yet.
		a.noteBeyond(l.Leaf)
		if leaf, ok := a.filenames[l.Filename]; ok {
			a.rep.problem("%s: lists %s at leaf %d, beyond the checkpoint of size %d, but the log has it at leaf %d already",
				key, l.Filename, l.Leaf, a.tree.N, leaf)
		}
	}
}

// reportUnclaimed reports, in leaf order, every logged file that no index
// lists. Over HTTP without a project list no index could be found: that
// one problem is reported already.
func (a *auditor) reportUnclaimed() {
	if a.noList && a.lister == nil {
		return
	}
	var leaves []int64
	for _, leaf := range a.filenames {
		if !a.claimed[leaf] {
			leaves = append(leaves, leaf)
		}
	}
	if len(leaves) == 0 {
		return
	}
	slices.Sort(leaves)
	leaves = leaves[:min(len(leaves), maxProblems+1)]
	names := make(map[int64]string, len(leaves))
	for filename, leaf := range a.filenames {
		if _, found := slices.BinarySearch(leaves, leaf); found {
			names[leaf] = filename
		}
	}
	for _, leaf := range leaves {
		a.rep.problem("leaf %d (%s) is in no project index", leaf, names[leaf])
	}
}

func leafName(leaf int64, ok bool) string {
	if !ok {
		return "no leaf"
	}
	return fmt.Sprintf("leaf %d", leaf)
}
