package client_test

// The checkpoint a cache keeps across runs. (The verifier with a cache is
// tested in package verify.)

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/tiles"
)

// cachedFile returns the path of a log's object in the cache directory.
func cachedFile(t *testing.T, cacheDir, key string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(cacheDir, "*", filepath.FromSlash(key)))
	if err != nil || len(matches) != 1 {
		t.Fatalf("%s in the cache: %v, %v", key, matches, err)
	}
	return matches[0]
}

func TestCheckpointConsistencyAcrossRuns(t *testing.T) {
	ctx := context.Background()
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	old := tl.Read(t, tiles.CheckpointKey)
	srv := clienttest.Serve(t, tl)
	cacheDir := t.TempDir()
	latest := func() (tiles.Checkpoint, error) {
		l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
		return l.VerifiedCheckpoint(ctx)
	}
	if _, err := latest(); err != nil {
		t.Fatal(err)
	}
	if cached, _ := os.ReadFile(cachedFile(t, cacheDir, "checkpoint")); !bytes.Equal(cached, old) {
		t.Fatalf("first checkpoint not kept")
	}

	// The log grows: the new checkpoint is proven consistent and kept.
	tl.Append(t, secondBatch)
	cp, err := latest()
	if err != nil || cp.N != tl.Size(t) {
		t.Fatalf("grown log: %v, %v", cp, err)
	}
	newer := tl.Read(t, tiles.CheckpointKey)
	if cached, _ := os.ReadFile(cachedFile(t, cacheDir, "checkpoint")); !bytes.Equal(cached, newer) {
		t.Fatalf("newer checkpoint not kept")
	}

	// The log serves the old checkpoint again: a rollback.
	srv.SetRewrite(clienttest.Replace(tiles.CheckpointKey, old))
	_, err = latest()
	var fork *client.ForkError
	if !errors.As(err, &fork) || !client.IsSecurityError(err) || !strings.Contains(err.Error(), "is smaller than (a rollback of)") {
		t.Fatalf("rollback: %v", err)
	}
	if !bytes.Equal(fork.Old, newer) || !bytes.Equal(fork.New, old) || fork.OldPath != cachedFile(t, cacheDir, "checkpoint") {
		t.Errorf("rollback evidence: old %q new %q at %s", fork.Old, fork.New, fork.OldPath)
	}

	// Another log under the same key, grown from another history: a fork,
	// with the consistency proof its tiles give as evidence.
	other := clienttest.NewKeyedLog(t, tl.SKey, tl.VKey, firstBatch[:2], secondBatch, nil)
	forked := clienttest.Serve(t, other)
	l, _ := clienttest.OpenLog(t, forked.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
	_, err = l.VerifiedCheckpoint(ctx)
	if !errors.As(err, &fork) || !strings.Contains(err.Error(), "is not consistent with the checkpoint of size") {
		t.Fatalf("fork: %v", err)
	}
	if len(fork.Proof) == 0 || fork.NewTree.N <= fork.OldTree.N {
		t.Errorf("fork evidence: proof %v, sizes %d → %d", fork.Proof, fork.OldTree.N, fork.NewTree.N)
	}
	// A tree of the same size with another root: a fork too.
	evil := slices.Clone(firstBatch)
	evil[0].SHA256 = clienttest.Digest("evil")
	twin := clienttest.NewKeyedLog(t, tl.SKey, tl.VKey, evil)
	twin.Append(t, secondBatch)
	sameSize := clienttest.Serve(t, twin)
	l, _ = clienttest.OpenLog(t, sameSize.URL, tl.VKey, clienttest.OpenCache(t, cacheDir))
	_, err = l.VerifiedCheckpoint(ctx)
	if !errors.As(err, &fork) || fork.NewTree.N != fork.OldTree.N || !strings.Contains(err.Error(), "same size, different root hashes") {
		t.Fatalf("fork of the same size: %v", err)
	}

	// The cached checkpoint stays: every later run alarms too.
	if cached, _ := os.ReadFile(cachedFile(t, cacheDir, "checkpoint")); !bytes.Equal(cached, newer) {
		t.Errorf("the cached checkpoint changed after a fork")
	}
}

// TestCheckpointConsistencyInMemory checks a Log without a cache: it
// keeps its last verified checkpoint in memory, so a rollback served to
// the same Log (a long-running proxy, a web page) is a fork error too.
func TestCheckpointConsistencyInMemory(t *testing.T) {
	ctx := context.Background()
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	old := tl.Read(t, tiles.CheckpointKey)
	srv := clienttest.Serve(t, tl)
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	if _, err := l.VerifiedCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	tl.Append(t, secondBatch)
	if cp, err := l.VerifiedCheckpoint(ctx); err != nil || cp.N != tl.Size(t) {
		t.Fatalf("grown log: %v, %v", cp, err)
	}
	srv.SetRewrite(clienttest.Replace(tiles.CheckpointKey, old))
	_, err := l.VerifiedCheckpoint(ctx)
	var fork *client.ForkError
	if !errors.As(err, &fork) || !strings.Contains(err.Error(), "is smaller than (a rollback of)") || fork.OldPath != "" {
		t.Fatalf("rollback in memory: %v", err)
	}
	// Another Log starts afresh: without a cache, nothing is shared.
	other, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	if _, err := other.VerifiedCheckpoint(ctx); err != nil {
		t.Errorf("a new Log: %v", err)
	}
}
