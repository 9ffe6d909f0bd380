package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
)

// Result is what appending the records to one log cost.
type Result struct {
	Log      string // "tessera" or "pysumdb"
	Batch    int
	Entries  int
	Elapsed  time.Duration
	Disk     Usage  // what is on disk afterwards
	Size     uint64 // the tree size of the final checkpoint
	RootHash string // and its root hash (base64)
}

// EntriesPerSecond is the append rate.
func (r Result) EntriesPerSecond() float64 {
	return float64(r.Entries) / r.Elapsed.Seconds()
}

// Entries returns the pysumdb log entries (tiles.FormatEntry, by
// sequencer.Record.Entry) of synthetic.Records(0, n): what both logs get.
func Entries(n int) ([][]byte, error) {
	records := synthetic.Records(0, n)
	out := make([][]byte, n)
	for i := range records {
		e, err := records[i].Entry()
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// RunTessera appends entries to a new Tessera POSIX log in dir, in
// batches of batch entries, and times it from the first Add until a
// checkpoint of all the entries is published.
func RunTessera(ctx context.Context, dir, skey string, entries [][]byte, batch int) (Result, error) {
	res := Result{Log: "tessera", Batch: batch, Entries: len(entries)}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops Tessera's goroutines and the awaiter
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return res, err
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		// A batch goes to the sequencer when it holds batch entries: the
		// entries are added faster than maxAge, so it is never cut short.
		WithBatching(uint(batch), 10*time.Second).
		// The shortest interval the POSIX driver allows.
		WithCheckpointInterval(100 * time.Millisecond).
		// Keep the partial tiles and bundles, as pysumdb does.
		WithGarbageCollectionInterval(0)
	// No WithAntispam: no deduplication, as pysumdb's sequencer is given
	// records it has not logged.
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		return res, err
	}
	awaiter := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 5*time.Millisecond)

	futures := make([]tessera.IndexFuture, len(entries))
	start := time.Now()
	for i, e := range entries {
		futures[i] = appender.Add(ctx, tessera.NewEntry(e))
	}
	for i, f := range futures {
		idx, err := f()
		if err != nil {
			return res, err
		}
		if idx.Index != uint64(i) {
			return res, fmt.Errorf("tessera: entry %d got index %d", i, idx.Index)
		}
	}
	_, cp, err := awaiter.Await(ctx, futures[len(futures)-1])
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, err
	}
	if err := shutdown(ctx); err != nil {
		return res, err
	}
	if res.Size, res.RootHash, err = parseCheckpoint(cp); err != nil {
		return res, err
	}
	res.Disk, err = Walk(dir)
	return res, err
}

// RunPysumdb appends the same records to a new pysumdb log on a
// publish.Dir in dir, in batches of batch records, with synthetic.Bench:
// each batch is a sequencer.Append, which returns once the batch and its
// checkpoint are published.
func RunPysumdb(ctx context.Context, dir, skey string, total, batch int) (Result, error) {
	res := Result{Log: "pysumdb", Batch: batch, Entries: total}
	store, err := publish.OpenDir(dir)
	if err != nil {
		return res, err
	}
	b, err := synthetic.Bench(ctx, store, skey, batch, total, nil)
	if err != nil {
		return res, err
	}
	res.Elapsed = b.Elapsed
	cp, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return res, err
	}
	if res.Size, res.RootHash, err = parseCheckpoint(cp); err != nil {
		return res, err
	}
	res.Disk, err = Walk(dir)
	return res, err
}

// parseCheckpoint returns the size and root hash of a signed checkpoint
// (C2SP tlog-checkpoint: origin, size, root hash, ...).
func parseCheckpoint(cp []byte) (uint64, string, error) {
	lines := strings.SplitN(string(cp), "\n", 4)
	if len(lines) < 4 {
		return 0, "", errors.New("malformed checkpoint")
	}
	var size uint64
	if _, err := fmt.Sscan(lines[1], &size); err != nil {
		return 0, "", fmt.Errorf("malformed checkpoint size: %v", err)
	}
	return size, lines[2], nil
}

// Usage counts the files under a directory and their bytes, in all and
// by prefix (see Prefix).
type Usage struct {
	Objects, Bytes int64
	ByPrefix       map[string]*Count
}

// Count is a number of files and their bytes.
type Count struct{ Objects, Bytes int64 }

// Walk returns the usage of the regular files under dir.
func Walk(dir string) (Usage, error) {
	u := Usage{ByPrefix: map[string]*Count{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		p := Prefix(filepath.ToSlash(rel))
		c := u.ByPrefix[p]
		if c == nil {
			c = &Count{}
			u.ByPrefix[p] = c
		}
		c.Objects++
		c.Bytes += info.Size()
		u.Objects++
		u.Bytes += info.Size()
		return nil
	})
	return u, err
}

// Prefix groups a file of either log: "tile/entries" (entry bundles),
// "tile" (hash tiles), ".swap-lock-*" (publish.Dir's lock files), or
// else the first element of its path ("checkpoint", Tessera's ".state",
// pysumdb's "index", "proof", "projects", ...).
func Prefix(rel string) string {
	first, _, _ := strings.Cut(rel, "/")
	switch {
	case strings.HasPrefix(rel, "tile/entries/"):
		return "tile/entries"
	case strings.HasPrefix(first, ".swap-lock-"):
		return ".swap-lock-*"
	}
	return first
}
