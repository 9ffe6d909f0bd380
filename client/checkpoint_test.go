package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

// laggingFetcher reads a log from its directory but serves checkpoint
// instead of the log's own (a CDN serving an older copy, or a forked
// log), and runs beforeTile once, before the first tile or bundle is read.
type laggingFetcher struct {
	client.Fetcher
	checkpoint []byte
	beforeTile func()
	once       sync.Once
}

func (f *laggingFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	if key == tiles.CheckpointKey {
		return f.checkpoint, nil
	}
	if tiles.IsImmutable(key) && f.beforeTile != nil {
		f.once.Do(f.beforeTile)
	}
	return f.Fetcher.Fetch(ctx, key)
}

// lagging returns a log reading tl with checkpoint served instead of its
// own, with the cache.
func lagging(t *testing.T, tl *clienttest.Log, checkpoint []byte, cache *client.Cache, beforeTile func()) *client.Log {
	t.Helper()
	l, err := client.NewLog(&laggingFetcher{Fetcher: client.DirFetcher(tl.Store.Root()), checkpoint: checkpoint, beforeTile: beforeTile}, tl.VKey)
	if err != nil {
		t.Fatal(err)
	}
	l.UseCache(cache)
	return l
}

// TestCheckpointMergeNeverGoesBack has two runs share a cache: while the
// first proves an older checkpoint consistent with the cached one, the
// second keeps a newer one. The first must not move the anchor back.
func TestCheckpointMergeNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	first := tl.Read(t, tiles.CheckpointKey)
	tl.Append(t, secondBatch)
	older := tl.Read(t, tiles.CheckpointKey)
	tl.Append(t, []sequencer.Record{clienttest.Record("baz", "baz-1.0.tar.gz")})
	newer := tl.Read(t, tiles.CheckpointKey)

	cacheDir := t.TempDir()
	if _, err := lagging(t, tl, first, clienttest.OpenCache(t, cacheDir), nil).VerifiedCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var newerErr error
	other := lagging(t, tl, newer, clienttest.OpenCache(t, cacheDir), nil)
	l := lagging(t, tl, older, clienttest.OpenCache(t, cacheDir), func() {
		_, newerErr = other.VerifiedCheckpoint(ctx)
	})
	cp, err := l.VerifiedCheckpoint(ctx)
	if newerErr != nil {
		t.Fatalf("the run with the newer checkpoint: %v", newerErr)
	}
	if err != nil || cp.N != checkpointSize(t, tl, older) {
		t.Fatalf("the run with the older checkpoint: size %d, %v", cp.N, err)
	}
	if cached, _ := os.ReadFile(cachedFile(t, cacheDir, "checkpoint")); !bytes.Equal(cached, newer) {
		t.Errorf("the cached checkpoint went back from size %d to\n%s", checkpointSize(t, tl, newer), cached)
	}
}

// TestCheckpointMergeCatchesAFork: a run that verified a checkpoint finds
// in the cache, when it comes to keep it, a checkpoint of another history
// kept by another run meanwhile. Both are signed: a fork.
func TestCheckpointMergeCatchesAFork(t *testing.T) {
	ctx := context.Background()
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	first := tl.Read(t, tiles.CheckpointKey)
	// Another history from the same first tree, under the same key, of
	// the same size as the honest one.
	forked := clienttest.NewKeyedLog(t, tl.SKey, tl.VKey, firstBatch)
	if !bytes.Equal(forked.Read(t, tiles.CheckpointKey), first) {
		t.Fatal("the two logs don't start from the same tree")
	}
	tl.Append(t, secondBatch)
	forked.Append(t, []sequencer.Record{clienttest.Record("evil", "evil-1.0.tar.gz"), clienttest.Record("evil", "evil-1.1.tar.gz")})
	honest, evil := tl.Read(t, tiles.CheckpointKey), forked.Read(t, tiles.CheckpointKey)

	cacheDir := t.TempDir()
	if _, err := lagging(t, tl, first, clienttest.OpenCache(t, cacheDir), nil).VerifiedCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var evilErr error
	other := lagging(t, forked, evil, clienttest.OpenCache(t, cacheDir), nil)
	l := lagging(t, tl, honest, clienttest.OpenCache(t, cacheDir), func() {
		_, evilErr = other.VerifiedCheckpoint(ctx)
	})
	_, err := l.VerifiedCheckpoint(ctx)
	if evilErr != nil {
		t.Fatalf("the forked log, consistent with the cached checkpoint: %v", evilErr)
	}
	var fork *client.ForkError
	if !errors.As(err, &fork) || !client.IsSecurityError(err) {
		t.Fatalf("a fork found when merging: %v", err)
	}
	if !bytes.Equal(fork.Old, evil) || !bytes.Equal(fork.New, honest) || fork.OldPath != cachedFile(t, cacheDir, "checkpoint") {
		t.Errorf("fork evidence: old %q new %q at %s", fork.Old, fork.New, fork.OldPath)
	}
	if cached, _ := os.ReadFile(cachedFile(t, cacheDir, "checkpoint")); !bytes.Equal(cached, evil) {
		t.Errorf("the cached checkpoint changed after a fork")
	}
}

// TestCheckpointMergeConcurrent runs many verifications of checkpoints of
// several sizes at once on one cache (run it with -race): the newest
// always ends up kept, and no run fails but for a rollback (a run that
// read the cache after a newer checkpoint was kept).
func TestCheckpointMergeConcurrent(t *testing.T) {
	ctx := context.Background()
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	checkpoints := [][]byte{tl.Read(t, tiles.CheckpointKey)}
	for i := range 4 {
		tl.Append(t, []sequencer.Record{clienttest.Record("baz", "baz-1."+string(rune('0'+i))+".tar.gz")})
		checkpoints = append(checkpoints, tl.Read(t, tiles.CheckpointKey))
	}
	cacheDir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 20 {
		signed := checkpoints[i%len(checkpoints)]
		wg.Go(func() {
			_, err := lagging(t, tl, signed, clienttest.OpenCache(t, cacheDir), nil).VerifiedCheckpoint(ctx)
			var fork *client.ForkError
			if err != nil && (!errors.As(err, &fork) || fork.NewTree.N >= fork.OldTree.N) {
				t.Errorf("checkpoint of size %d: %v", checkpointSize(t, tl, signed), err)
			}
		})
	}
	wg.Wait()
	if cached, _ := os.ReadFile(cachedFile(t, cacheDir, "checkpoint")); !bytes.Equal(cached, checkpoints[len(checkpoints)-1]) {
		t.Errorf("the cached checkpoint is not the newest:\n%s", cached)
	}
}

// TestJunkCachedCheckpointIsAnError: a cached checkpoint that doesn't
// verify is never replaced silently, which would reset the trust kept in
// it: the error names the file and what to do.
func TestJunkCachedCheckpointIsAnError(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	cacheDir := t.TempDir()
	l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, clienttest.OpenCache(t, cacheDir))
	if _, err := l.VerifiedCheckpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := cachedFile(t, cacheDir, "checkpoint")
	for name, junk := range map[string][]byte{
		"garbage":         []byte("garbage"),
		"bad signature":   clienttest.BreakSignature(tl.Read(t, tiles.CheckpointKey)),
		"empty":           nil,
		"another log key": clienttest.NewLog(t, "pysumdb.test/log", nil).Read(t, tiles.CheckpointKey),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, junk, 0o644); err != nil {
				t.Fatal(err)
			}
			l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, clienttest.OpenCache(t, cacheDir))
			_, err := l.VerifiedCheckpoint(context.Background())
			if !errors.Is(err, client.ErrCorruptCache) || client.IsSecurityError(err) {
				t.Fatalf("with a junk cached checkpoint: %v, want ErrCorruptCache and no security error", err)
			}
			for _, want := range []string{path, "delete it"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not mention %q", err, want)
				}
			}
			if cached, _ := os.ReadFile(path); !bytes.Equal(cached, junk) {
				t.Errorf("junk cached checkpoint replaced")
			}
		})
	}
}

// checkpointSize returns the size of a signed checkpoint of tl.
func checkpointSize(t *testing.T, tl *clienttest.Log, signed []byte) int64 {
	t.Helper()
	v, err := note.NewVerifier(tl.VKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := tiles.OpenCheckpoint(signed, v)
	if err != nil {
		t.Fatal(err)
	}
	return cp.N
}
