package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/tiles"
)

// AuditReport is what Audit checked and found.
type AuditReport struct {
	// Checkpoint is the verified checkpoint audited.
	Checkpoint tiles.Checkpoint
	// Entries, HashTiles, Bundles and Indexes count what was checked.
	Entries, HashTiles, Bundles, Indexes int64
	// NotYetProvable counts index lines at or beyond the checkpoint size.
	NotYetProvable int64
	// Problems says what is wrong and where; empty if the log is sound.
	Problems []string
}

// maxProblems bounds the report; a broken log could otherwise list
// millions of lines.
const maxProblems = 100

// auditFetchAhead is how many bundles (and level-0 tiles) are fetched in
// parallel ahead of the rebuild.
const auditFetchAhead = 64

func (r *AuditReport) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "… more problems not listed")
	}
}

// Audit re-verifies the whole log from its static files: the checkpoint
// signature; every entry parses; the tree rebuilt from the entries equals
// every published hash tile (and every partial tile and bundle a listable
// log holds) and the checkpoint's root; no filename is logged twice; every
// project index is signed, lists only logged files at their right leaf,
// and all logged files are in an index. It returns an error wrapping
// tiles.ErrVerification if anything fails, with the report saying what.
//
// Memory grows with the log: the filename of every entry is kept to find
// duplicates and to check the indexes (about 100 bytes an entry).
func (l *Log) Audit(ctx context.Context, logger *slog.Logger) (*AuditReport, error) {
	return l.audit(ctx, logger, nil)
}

// verifiedObject receives each object an audit fetched, once the object
// passed its own checks (a tile equal to the rebuilt one, a bundle that
// parses, an index whose signature verifies); the checkpoint comes last,
// and only if the whole audit passed.
type verifiedObject func(ctx context.Context, key string, data []byte) error

func (l *Log) audit(ctx context.Context, logger *slog.Logger, onVerified verifiedObject) (*AuditReport, error) {
	if onVerified == nil {
		onVerified = func(context.Context, string, []byte) error { return nil }
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cp, signed, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	a := &auditor{
		log: l, logger: logger, tree: cp.Tree, verified: onVerified,
		rep:            &AuditReport{Checkpoint: cp},
		filenames:      map[string]int64{},
		digests:        make([][32]byte, 0, cp.N),
		partialTiles:   map[[2]int64][]int{},
		partialBundles: map[int64][]int{},
		published:      map[string]bool{},
	}
	if lister, ok := l.fetch.(Lister); ok {
		if err := a.listPartials(ctx, lister); err != nil {
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
	return a.rep, onVerified(ctx, tiles.CheckpointKey, signed)
}

type auditor struct {
	log      *Log
	logger   *slog.Logger
	tree     tlog.Tree
	rep      *AuditReport
	verified verifiedObject

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
}

func (a *auditor) listPartials(ctx context.Context, lister Lister) error {
	keys, err := lister.List(ctx, tiles.TilePrefix)
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
			bt := bundleTile(k*tiles.TileWidth, n)
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
			if err := a.checkBundle(ctx, bundleTile(k*tiles.TileWidth, n), bundleData[k-first], tileData[k-first]); err != nil {
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
	if err := a.verified(ctx, key, data); err != nil {
		return err
	}
	for _, w := range a.partialBundles[bt.N] {
		if w > bt.W {
			continue // written for a tree newer than the checkpoint
		}
		prefix, _ := tiles.EncodeBundle(entries[:w])
		p := tiles.TilePath(tiles.EntryBundleTile(bt.N, w))
		got, err := a.log.fetch.Fetch(ctx, p)
		if err != nil || !bytes.Equal(got, prefix) {
			a.rep.problem("%s: differs from the first %d entries of %s", p, w, key)
		} else if err := a.verified(ctx, p, got); err != nil {
			return err
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
		if err := a.verified(ctx, key, published); err != nil {
			return err
		}
	}
	for _, w := range a.partialTiles[[2]int64{int64(t.L), t.N}] {
		if w >= t.W {
			continue // the tile itself, or one newer than the checkpoint
		}
		pt := tlog.Tile{H: t.H, L: t.L, N: t.N, W: w}
		got, err := a.log.fetch.Fetch(ctx, tiles.TilePath(pt))
		if err != nil || !bytes.Equal(got, rebuilt[:w*tlog.HashSize]) {
			a.rep.problem("%s: differs from the first %d hashes of %s", tiles.TilePath(pt), w, key)
		} else if err := a.verified(ctx, tiles.TilePath(pt), got); err != nil {
			return err
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

// checkIndexes checks every project index against the entries.
func (a *auditor) checkIndexes(ctx context.Context) error {
	projects, err := a.indexedProjects(ctx)
	if err != nil {
		return err
	}
	claimed := make([]bool, a.tree.N)
	for _, project := range projects {
		raw, x, err := a.log.index(ctx, project)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			if !IsSecurityError(err) {
				return err
			}
			a.rep.problem("%v", err)
			continue
		}
		if err := a.verified(ctx, tiles.IndexKey(project), raw); err != nil {
			return err
		}
		a.rep.Indexes++
		for _, line := range x.Lines {
			if line.Leaf >= a.tree.N {
				a.rep.NotYetProvable++
				continue
			}
			leaf, ok := a.filenames[line.Filename]
			switch {
			case !ok || leaf != line.Leaf:
				a.rep.problem("index/%s: says %s is leaf %d, the log has it at %s", project, line.Filename, line.Leaf, leafName(leaf, ok))
			case a.digests[leaf] != line.SHA256:
				a.rep.problem("index/%s: says %s has %s, the log's entry %d has %s", project, line.Filename,
					tiles.FormatSHA256(line.SHA256), leaf, tiles.FormatSHA256(a.digests[leaf]))
			case claimed[leaf]:
				a.rep.problem("index/%s: lists leaf %d, which another index lists too", project, leaf)
			default:
				claimed[leaf] = true
			}
		}
	}
	for filename, leaf := range a.filenames {
		if !claimed[leaf] {
			a.rep.problem("leaf %d (%s) is in no project index", leaf, filename)
		}
	}
	return nil
}

func leafName(leaf int64, ok bool) string {
	if !ok {
		return "no leaf"
	}
	return fmt.Sprintf("leaf %d", leaf)
}

// indexedProjects lists the projects with an index: all of them for a
// listable log; over HTTP, the projects that the logged filenames can
// belong to (a distribution filename starts with its project's name).
func (a *auditor) indexedProjects(ctx context.Context) ([]string, error) {
	if lister, ok := a.log.fetch.(Lister); ok {
		keys, err := lister.List(ctx, tiles.IndexPrefix)
		if err != nil {
			return nil, fmt.Errorf("couldn't list indexes: %w", err)
		}
		projects := make([]string, len(keys))
		for i, k := range keys {
			projects[i] = strings.TrimPrefix(k, tiles.IndexPrefix)
		}
		return projects, nil
	}
	seen := map[string]bool{}
	var projects []string
	for filename := range a.filenames {
		for _, p := range projectCandidates(filename) {
			if !seen[p] {
				seen[p] = true
				projects = append(projects, p)
			}
		}
	}
	return projects, nil
}

// projectCandidates returns the normalized names a distribution filename
// may belong to: each "-"-separated prefix of its stem.
func projectCandidates(filename string) []string {
	stem := strings.TrimSuffix(filename, path.Ext(filename))
	stem = strings.TrimSuffix(stem, ".tar")
	parts := strings.Split(stem, "-")
	var out []string
	for k := 1; k <= len(parts); k++ {
		if p, err := tiles.NormalizeProject(strings.Join(parts[:k], "-")); err == nil {
			out = append(out, p)
		}
	}
	return out
}
