package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// startServe runs `pysumdb serve` on a free loopback port until the test
// ends and returns its base URL.
func startServe(t *testing.T, dir string) string {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		done <- runContext(ctx, []string{"serve", "--store", dir, "--listen", "127.0.0.1:0", "-q"}, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if status := <-done; status != 0 {
			t.Errorf("serve exited %d", status)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed no address: %v", err)
	}
	go io.Copy(io.Discard, pr)
	_, url, ok := strings.Cut(strings.TrimSpace(line), " at ")
	if !ok {
		t.Fatalf("serve printed %q", line)
	}
	return url
}

// TestTorchwoodReadsTheLog checks interoperability: an independent C2SP
// tlog client (filippo.io/torchwood) verifies the checkpoint and reads
// every entry, with inclusion proofs, from `pysumdb serve`.
func TestTorchwoodReadsTheLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := publish.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey := seqtest.NewKey(t)
	var records []string
	for i, n := range []int{700, 1, 99, 300} {
		batch := seqtest.Records(len(records), n)
		if _, err := seqtest.Append(ctx, store, skey, batch, ""); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		for _, r := range batch {
			records = append(records, r.Filename)
		}
	}
	base := startServe(t, dir)

	fetcher, err := torchwood.NewTileFetcher(base)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := fetcher.ReadEndpoint(ctx, "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	policy := torchwood.ThresholdPolicy(2, torchwood.OriginPolicy(verifier.Name()), torchwood.SingleVerifierPolicy(verifier))
	cp, _, err := torchwood.VerifyCheckpoint(signed, policy)
	if err != nil {
		t.Fatalf("torchwood rejects the checkpoint: %v", err)
	}
	if cp.N != int64(len(records)) || cp.Origin != verifier.Name() {
		t.Fatalf("checkpoint %+v, want size %d origin %s", cp, len(records), verifier.Name())
	}
	if _, _, err := torchwood.VerifyCheckpoint(signed, torchwood.ThresholdPolicy(2, torchwood.OriginPolicy("other.example/log"), torchwood.SingleVerifierPolicy(verifier))); err == nil {
		t.Fatal("torchwood accepted the checkpoint for another origin")
	}

	c, err := torchwood.NewClient(fetcher)
	if err != nil {
		t.Fatal(err)
	}
	filenames := map[string]bool{}
	var count int64
	for i, raw := range c.AllEntries(ctx, cp.Tree, 0) {
		if i != count {
			t.Fatalf("entry %d came at position %d", i, count)
		}
		count++
		e, err := tiles.ParseEntry(raw)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		filenames[e.Filename] = true
	}
	if err := c.Err(); err != nil {
		t.Fatalf("torchwood AllEntries: %v", err)
	}
	if count != cp.N {
		t.Fatalf("torchwood read %d entries, want %d", count, cp.N)
	}
	for _, f := range records {
		if !filenames[f] {
			t.Fatalf("torchwood did not see %s", f)
		}
	}
	for _, leaf := range []int64{0, 255, 256, cp.N - 1} {
		raw, proof, err := c.Entry(ctx, cp.Tree, leaf)
		if err != nil {
			t.Fatalf("torchwood Entry(%d): %v", leaf, err)
		}
		if err := tlog.CheckRecord(proof, cp.N, cp.Hash, leaf, tlog.RecordHash(raw)); err != nil {
			t.Fatalf("inclusion proof of %d: %v", leaf, err)
		}
	}
	// The key is where the draft PEP says.
	key, err := os.ReadFile(filepath.Join(dir, ".well-known", "bt", "tlog-key"))
	if err != nil || strings.TrimSpace(string(key)) != vkey {
		t.Fatalf("tlog-key = %q, %v; want %q", key, err, vkey)
	}
}
