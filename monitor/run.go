package monitor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/tiles"
)

// run is one run of one log.
type run struct {
	m   *Monitor
	log *monitoredLog
	rep *Report
	lr  *LogReport
	// reader reads the log's hash tiles.
	reader *tileReader
	// target is the signed checkpoint the run catches up to, and tree its
	// tree.
	target []byte
	tree   tlog.Tree
	// rng is the compact range of the entries checked.
	rng compactRange
	// started is when the catch-up started, for the progress lines.
	started time.Time
}

// run verifies the log's checkpoint and catches up to it.
func (r *run) run(ctx context.Context) error {
	cp, signed, err := r.log.client.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("couldn't verify its checkpoint: %w", err)
	}
	r.lr.Checkpoint = cp
	st, err := r.loadState()
	if err != nil {
		return err
	}
	r.rng = st.rng
	r.lr.Verified = r.rng.size
	r.reader = newTileReader(ctx, r.log.fetch)
	anchorSigned, anchor := st.anchor()
	switch {
	case anchorSigned == nil:
		// The first checkpoint seen is trusted on first use.
		r.target, r.tree = signed, cp.Tree
	case anchor == cp.Tree:
		r.target, r.tree = anchorSigned, anchor
	case cp.N < anchor.N:
		// An older checkpoint (a stale copy in a cache) is no evidence
		// of anything if it is a prefix of the one verified before.
		proof, err := tiles.ProveConsistency(cp.Tree, anchor, r.reader)
		if client.IsSecurityError(err) {
			return r.fork(anchorSigned, anchor, signed, cp.Tree, proof, err)
		}
		if err != nil {
			return fmt.Errorf("couldn't prove the checkpoint it serves (size %d) a prefix of the one verified before (size %d): %w", cp.N, anchor.N, err)
		}
		r.m.logger.Warn("the log serves an older checkpoint than the one verified before, a prefix of it (a stale copy?)",
			"origin", r.log.origin, "served", cp.N, "verified", anchor.N)
		r.target, r.tree = anchorSigned, anchor
	default:
		proof, err := tiles.ProveConsistency(anchor, cp.Tree, r.reader)
		if client.IsSecurityError(err) {
			return r.fork(anchorSigned, anchor, signed, cp.Tree, proof, err)
		}
		if err != nil {
			return fmt.Errorf("couldn't prove its checkpoint (size %d) consistent with the one verified before (size %d): %w", cp.N, anchor.N, err)
		}
		r.target, r.tree = signed, cp.Tree
	}
	if r.tree != anchor || anchorSigned == nil {
		// Proven consistent with the one verified before (or the first
		// one): the checkpoint to catch up to, from now on.
		if err := r.m.db.Update(func(tx *bolt.Tx) error {
			return r.bucket(tx).Bucket(bucketMeta).Put(keyTarget, r.target)
		}); err != nil {
			return fmt.Errorf("couldn't store the checkpoint: %w", err)
		}
	}
	r.lr.Checkpoint = tiles.Checkpoint{Origin: r.log.origin, Tree: r.tree}
	r.started = time.Now()
	for r.rng.size < r.tree.N {
		if r.m.stopRequested() {
			r.m.logger.Info("monitor stopped", "origin", r.log.origin, "size", r.rng.size, "of", r.tree.N)
			return ErrStopped
		}
		start := r.rng.size
		end := min(r.tree.N, start/tiles.TileWidth*tiles.TileWidth+int64(r.m.cfg.ChunkEntries))
		ok, err := r.chunk(ctx, start, end)
		if err != nil || !ok {
			return err
		}
		r.lr.Verified = r.rng.size
		elapsed := time.Since(r.started)
		r.m.logger.Info("monitor progress", "origin", r.log.origin, "entries", r.lr.Entries, "size", r.rng.size, "of", r.tree.N,
			"entries_per_second", int64(float64(r.lr.Entries)/max(elapsed.Seconds(), 1e-9)))
	}
	// Caught up: the target is the checkpoint verified.
	return r.m.db.Update(func(tx *bolt.Tx) error {
		meta := r.bucket(tx).Bucket(bucketMeta)
		if err := meta.Put(keyCheckpoint, r.target); err != nil {
			return err
		}
		return meta.Delete(keyTarget)
	})
}

// fork records a fork: the state doesn't move.
func (r *run) fork(oldSigned []byte, oldTree tlog.Tree, newSigned []byte, newTree tlog.Tree, proof tlog.TreeProof, err error) error {
	what := "is not consistent with"
	if newTree.N < oldTree.N {
		what = "is smaller than, and not a prefix of,"
	}
	f := Finding{
		Kind: KindFork,
		Message: fmt.Sprintf("its checkpoint of size %d %s the checkpoint of size %d verified before: the log forked",
			newTree.N, what, oldTree.N),
		Evidence: Evidence{
			Checkpoint: string(newSigned), OldCheckpoint: string(oldSigned),
			Proof: hashStrings(proof), Detail: err.Error(),
		},
	}
	return r.record(f, fmt.Sprintf("%d %s", oldTree.N, oldTree.Hash))
}

// chunkEntry is an entry of the chunk being checked.
type chunkEntry struct {
	leaf int64
	// filename is "" for an entry that doesn't parse.
	filename  string
	fnHash    [fnHashSize]byte
	sha256    [32]byte
	publisher [fnHashSize]byte
	// claims counts the index lines that list it; claimedBy is the
	// project of the first.
	claims    int
	claimedBy string
	// others are the other projects whose index lists it (bounded).
	others []string
	// disputed says an index line at its leaf misstates it (and was
	// reported so).
	disputed bool
}

// malformed is an entry that doesn't parse.
type malformed struct {
	leaf int64
	raw  []byte
	err  error
}

// chunk is the entries [start, end) being checked.
type chunk struct {
	start, end int64
	entries    []chunkEntry
	// byName maps a filename digest to its first entry in the chunk.
	byName map[[fnHashSize]byte]int
	// malformed are the entries that don't parse (bounded).
	malformed []malformed
	// indexes are the project indexes read for the chunk.
	indexes map[string]*indexRead
}

func (c *chunk) entry(leaf int64) *chunkEntry { return &c.entries[leaf-c.start] }

func fnHash(filename string) [fnHashSize]byte {
	h := sha256.Sum256([]byte(filename))
	return [fnHashSize]byte(h[:fnHashSize])
}

func publisherHash(p *tiles.Publisher) [fnHashSize]byte {
	if p == nil {
		return [fnHashSize]byte{}
	}
	h := sha256.Sum256([]byte(p.Kind + " " + p.SAN))
	return [fnHashSize]byte(h[:fnHashSize])
}

// mismatch says how the log's bundles or tiles don't give its signed
// tree.
type mismatch struct{ detail string }

func (e *mismatch) Error() string { return e.detail }

// chunk checks and commits the entries [start, end). It returns false,
// without error, when it found the entries don't give the signed tree:
// nothing of them is stored.
func (r *run) chunk(ctx context.Context, start, end int64) (bool, error) {
	c := &chunk{
		start: start, end: end,
		entries: make([]chunkEntry, 0, end-start),
		byName:  make(map[[fnHashSize]byte]int, end-start),
		indexes: map[string]*indexRead{},
	}
	rng := r.rng.clone()
	first, last := start/tiles.TileWidth, (end-1)/tiles.TileWidth
	keys := make([]string, 0, last-first+1)
	for k := first; k <= last; k++ {
		keys = append(keys, tiles.TilePath(bundleTile(k*tiles.TileWidth, r.tree.N)))
	}
	// The entries of the first bundle below start were checked before,
	// from an older copy of it: this one must hold the same.
	var prefix []tlog.Hash
	err := fetchInOrder(ctx, r.log.fetch, keys, bundlesAhead, func(i int, data []byte) error {
		k := first + int64(i)
		bt := bundleTile(k*tiles.TileWidth, r.tree.N)
		entries, err := tiles.ParseBundle(data, bt.W)
		if err != nil {
			return &mismatch{fmt.Sprintf("%s: %v", keys[i], err)}
		}
		base := k * tiles.TileWidth
		for leaf := base; leaf < start; leaf++ {
			prefix = append(prefix, tlog.RecordHash(entries[leaf-base]))
		}
		for leaf := max(start, base); leaf < min(end, base+int64(bt.W)); leaf++ {
			raw := entries[leaf-base]
			rng.append(tlog.RecordHash(raw))
			c.add(leaf, raw)
		}
		return nil
	})
	var mm *mismatch
	switch {
	case errors.As(err, &mm):
		return false, r.treeMismatch(start, end, mm.detail)
	case err != nil:
		return false, err
	}
	if err := r.checkPrefix(start, prefix); err != nil {
		if errors.As(err, &mm) {
			return false, r.treeMismatch(start, end, mm.detail)
		}
		return false, err
	}
	// The chunk is verified before anything of it is used: the tree of
	// the entries up to end must be the one the signed tree has there.
	want, err := r.treeHash(end)
	if errors.As(err, &mm) {
		return false, r.treeMismatch(start, end, mm.detail)
	}
	if err != nil {
		return false, err
	}
	if got := rng.root(); got != want {
		return false, r.treeMismatch(start, end, fmt.Sprintf("the entries give the tree hash %s at size %d, the signed tree has %s", got, end, want))
	}
	r.lr.Entries += end - start
	if err := r.checkEntries(ctx, c); err != nil {
		return false, err
	}
	if err := r.checkIndexes(ctx, c); err != nil {
		return false, err
	}
	if err := r.comparePyPI(ctx, c); err != nil {
		return false, err
	}
	if err := r.comparePeers(ctx, c); err != nil {
		return false, err
	}
	if err := r.commit(c, rng); err != nil {
		return false, fmt.Errorf("couldn't store the entries checked: %w", err)
	}
	r.rng = rng
	return true, nil
}

// add parses and adds the entry at leaf.
func (c *chunk) add(leaf int64, raw []byte) {
	ce := chunkEntry{leaf: leaf}
	e, err := tiles.ParseEntry(raw)
	if err != nil {
		if len(c.malformed) < MaxFindingsPerRun {
			c.malformed = append(c.malformed, malformed{leaf, bytes.Clone(raw), err})
		}
	} else {
		// A copy: the parsed filename shares the whole entry's text.
		ce.filename = strings.Clone(e.Filename)
		ce.fnHash = fnHash(e.Filename)
		ce.sha256 = e.SHA256
		ce.publisher = publisherHash(e.Publisher)
		if _, dup := c.byName[ce.fnHash]; !dup {
			c.byName[ce.fnHash] = len(c.entries)
		}
	}
	c.entries = append(c.entries, ce)
}

// treeHash returns the hash of the signed tree's first n leaves, from the
// log's tiles verified against it. Tiles that don't verify are a
// *mismatch.
func (r *run) treeHash(n int64) (tlog.Hash, error) {
	if n == r.tree.N {
		return r.tree.Hash, nil
	}
	tr := &trackingReader{TileReader: r.reader}
	h, err := tlog.TreeHash(n, tlog.TileHashReader(r.tree, tr))
	if err != nil && tr.err != nil {
		return h, fmt.Errorf("couldn't read the hash tiles: %w", tr.err)
	}
	if err != nil {
		return h, &mismatch{fmt.Sprintf("the hash tiles don't verify against the signed tree: %v", err)}
	}
	return h, nil
}

// checkPrefix checks the record hashes of the leaves [start-len(hashes),
// start) against the signed tree's tiles.
func (r *run) checkPrefix(start int64, hashes []tlog.Hash) error {
	if len(hashes) == 0 {
		return nil
	}
	base := start - int64(len(hashes))
	indexes := make([]int64, len(hashes))
	for i := range hashes {
		indexes[i] = tlog.StoredHashIndex(0, base+int64(i))
	}
	tr := &trackingReader{TileReader: r.reader}
	want, err := tlog.TileHashReader(r.tree, tr).ReadHashes(indexes)
	if err != nil && tr.err != nil {
		return fmt.Errorf("couldn't read the hash tiles: %w", tr.err)
	}
	if err != nil {
		return &mismatch{fmt.Sprintf("the hash tiles don't verify against the signed tree: %v", err)}
	}
	for i, h := range hashes {
		if h != want[i] {
			return &mismatch{fmt.Sprintf("the bundle's entry %d differs from the one checked before", base+int64(i))}
		}
	}
	return nil
}

// treeMismatch records that the entries [start, end) don't give the
// signed tree.
func (r *run) treeMismatch(start, end int64, detail string) error {
	f := Finding{
		Kind: KindTreeMismatch,
		Message: fmt.Sprintf("its entry bundles and hash tiles don't give the tree of its signed checkpoint (size %d) for leaves %d to %d: %s",
			r.tree.N, start, end-1, detail),
		Evidence: Evidence{Checkpoint: string(r.target), Detail: detail},
	}
	return r.record(f, fmt.Sprintf("%d %s", r.tree.N, r.tree.Hash))
}

// checkEntries reports the entries that don't parse and the filenames
// logged twice.
func (r *run) checkEntries(ctx context.Context, c *chunk) error {
	for _, e := range c.malformed {
		if r.skip(KindMalformedEntry, fmt.Sprint(e.leaf)) {
			continue
		}
		pe := ProvenEntry{Origin: r.log.origin, TreeSize: r.tree.N, Leaf: e.leaf}
		pe.setEntry(e.raw)
		if p, _, err := proveEntry(ctx, r.log.origin, r.log.fetch, r.reader, r.tree, e.leaf); err == nil {
			pe = p
		}
		leaf := e.leaf
		if err := r.record(Finding{
			Kind: KindMalformedEntry, Leaf: &leaf,
			Message:  fmt.Sprintf("leaf %d is not a %s entry: %v", e.leaf, tiles.EntryHeader, e.err),
			Evidence: Evidence{Checkpoint: string(r.target), Entries: []ProvenEntry{pe}},
		}, fmt.Sprint(e.leaf)); err != nil {
			return err
		}
	}
	var dups []struct{ first, leaf int64 }
	err := r.m.db.View(func(tx *bolt.Tx) error {
		b := r.bucket(tx)
		for i := range c.entries {
			e := &c.entries[i]
			if e.filename == "" {
				continue
			}
			if j := c.byName[e.fnHash]; j != i {
				if c.entries[j].filename == e.filename {
					dups = append(dups, struct{ first, leaf int64 }{c.entries[j].leaf, e.leaf})
				}
			} else if leaf, ok := lookupFile(b, e.filename, e.fnHash); ok {
				dups = append(dups, struct{ first, leaf int64 }{leaf, e.leaf})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dups {
		e := c.entry(d.leaf)
		subject := fmt.Sprintf("%s %d", e.filename, d.leaf)
		if r.skip(KindDuplicateFilename, subject) {
			continue
		}
		ev := Evidence{Checkpoint: string(r.target)}
		firstEntry, raw, err := proveEntry(ctx, r.log.origin, r.log.fetch, r.reader, r.tree, d.first)
		if err != nil {
			return fmt.Errorf("couldn't read leaf %d, which has the filename of leaf %d: %w", d.first, d.leaf, err)
		}
		if first, err := tiles.ParseEntry(raw); err != nil || first.Filename != e.filename {
			// Two filenames with the same 128-bit digest: not a
			// duplicate.
			r.m.logger.Warn("two filenames share a digest", "origin", r.log.origin, "leaves", []int64{d.first, d.leaf})
			continue
		}
		ev.Entries = append(ev.Entries, firstEntry)
		if p, _, err := proveEntry(ctx, r.log.origin, r.log.fetch, r.reader, r.tree, d.leaf); err == nil {
			ev.Entries = append(ev.Entries, p)
		} else {
			ev.Detail = fmt.Sprintf("couldn't fetch leaf %d again: %v", d.leaf, err)
		}
		leaf := d.leaf
		if err := r.record(Finding{
			Kind: KindDuplicateFilename, Leaf: &leaf, Filename: e.filename,
			Message:  fmt.Sprintf("the filename %s is logged twice: at leaves %d and %d", e.filename, d.first, d.leaf),
			Evidence: ev,
		}, subject); err != nil {
			return err
		}
	}
	return nil
}

// commit stores the chunk's entries and the progress, in one transaction.
// Each bucket's keys are put in order: bbolt splits nodes only when a
// transaction commits, and inserting in random order into a growing node
// costs quadratic time.
func (r *run) commit(c *chunk, rng compactRange) error {
	type file struct {
		key  []byte
		leaf int64
	}
	var files []file
	var projects [][]byte
	for i := range c.entries {
		e := &c.entries[i]
		if e.filename == "" {
			continue
		}
		if c.byName[e.fnHash] == i {
			files = append(files, file{fileKey(e.filename, e.fnHash), e.leaf})
		}
		if e.claims > 0 {
			projects = append(projects, projectKey(e.claimedBy, e.leaf))
		}
	}
	slices.SortFunc(files, func(a, b file) int { return bytes.Compare(a.key, b.key) })
	slices.SortFunc(projects, bytes.Compare)
	return r.m.db.Update(func(tx *bolt.Tx) error {
		b := r.bucket(tx)
		byLeaf := b.Bucket(bucketByLeaf)
		// Leaves only ever come in order: full pages.
		byLeaf.FillPercent = 1
		for i := range c.entries {
			e := &c.entries[i]
			if e.filename == "" {
				continue
			}
			if err := byLeaf.Put(leafKey(e.leaf), leafRecord{e.fnHash, e.sha256, e.publisher}.encode()); err != nil {
				return err
			}
		}
		byFile := b.Bucket(bucketByFile)
		// Mostly in order too (see fileKey): fuller pages than bbolt's
		// default, which suits random keys.
		byFile.FillPercent = 0.9
		for _, f := range files {
			if byFile.Get(f.key) != nil {
				continue // logged twice: the first leaf stays
			}
			if err := byFile.Put(f.key, leafKey(f.leaf)); err != nil {
				return err
			}
		}
		pb := b.Bucket(bucketProjects)
		pb.FillPercent = 0.9
		for _, k := range projects {
			if err := pb.Put(k, []byte{}); err != nil {
				return err
			}
		}
		return b.Bucket(bucketMeta).Put(keyProgress, rng.encode())
	})
}
