package client_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

// TestTlogProofsSaved: proofs built against the verified checkpoint carry
// it with its cosignatures, one checkpoint for all, and verify offline,
// anchored to the cached checkpoint.
func TestTlogProofsSaved(t *testing.T) {
	ctx := context.Background()
	log := clienttest.NewLog(t, "pysumdb.test/log", []sequencer.Record{
		clienttest.Record("foo", "foo-1.0-py3-none-any.whl"),
		clienttest.Record("bar", "bar-2.0.tar.gz"),
	})
	w := clienttest.NewWitness(t, "witness.test")
	cosigned := clienttest.CosignCheckpoint(t, log.Store, w)
	policy, err := client.NewWitnessPolicy([]string{w.VKey}, 0)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	l, _ := clienttest.OpenLog(t, log.Store.Root(), log.VKey, clienttest.OpenCache(t, cacheDir))
	l.RequireWitnesses(policy)
	cp, err := l.VerifiedCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if signed, ok := l.SignedCheckpoint(cp.Tree); !ok || !bytes.Equal(signed, cosigned) {
		t.Fatalf("SignedCheckpoint: %v\n%s", ok, signed)
	}
	files, err := l.Lookup(ctx, cp.Tree, "foo", "")
	if err != nil || len(files) != 1 {
		t.Fatalf("Lookup: %v, %v", files, err)
	}
	bar := log.LeafOf(t, "bar", "bar-2.0.tar.gz")
	leaves := []int64{files[0].Leaf, bar}
	entries := []tiles.Entry{
		{Filename: files[0].Filename, SHA256: files[0].SHA256},
		// Not the log's entry: TlogProofs reads the log's.
		{Filename: "bar-2.0.tar.gz", SHA256: clienttest.Digest("other")},
	}
	proofs, err := l.TlogProofs(ctx, cp.Tree, leaves, entries)
	if err != nil {
		t.Fatal(err)
	}
	offline, err := client.NewOfflineLog(log.VKey)
	if err != nil {
		t.Fatal(err)
	}
	offline.UseCache(clienttest.OpenCache(t, cacheDir))
	offline.RequireWitnesses(policy)
	for i, data := range proofs {
		if !bytes.Contains(data, cosigned) {
			t.Fatalf("proof %d does not carry the cosigned checkpoint:\n%s", i, data)
		}
		sp, err := offline.OpenTlogProof(data)
		if err != nil {
			t.Fatalf("OpenTlogProof(%d): %v", i, err)
		}
		if sp.Index != leaves[i] || len(sp.Note.Sigs) != 2 {
			t.Fatalf("proof %d: %+v", i, sp)
		}
		if a, err := offline.AnchorCheckpoint(ctx, sp.Checkpoint, sp.TlogProof.Checkpoint); err != nil || a != client.AnchorSame {
			t.Fatalf("AnchorCheckpoint: %v, %v", a, err)
		}
		times := client.CosignatureTimes(sp.Note)
		if len(times) != 1 || times[0].Name != "witness.test" || !times[0].Verified {
			t.Fatalf("CosignatureTimes: %+v", times)
		}
	}
	if got, _ := offline.OpenTlogProof(proofs[1]); got.Entry.SHA256 != clienttest.Digest("bar-2.0.tar.gz") {
		t.Fatalf("proof of bar proves %x", got.Entry.SHA256)
	}
	// The sequencer's own proof verifies the same way; its checkpoint
	// (an older batch's) is proven consistent from the cached tiles, or
	// not anchored if they are missing: never an alarm.
	seqProof := log.SequencerProof(t, bar, log.Size(t))
	sp, err := offline.OpenTlogProof(seqProof)
	if errors.As(err, new(*client.WitnessPolicyError)) {
		// The sequencer's proofs carry no cosignature.
		offlineNoW, _ := client.NewOfflineLog(log.VKey)
		offlineNoW.UseCache(clienttest.OpenCache(t, cacheDir))
		sp, err = offlineNoW.OpenTlogProof(seqProof)
		if err != nil {
			t.Fatal(err)
		}
		a, err := offlineNoW.AnchorCheckpoint(ctx, sp.Checkpoint, sp.TlogProof.Checkpoint)
		if err != nil && !errors.Is(err, client.ErrNotAnchored) || err == nil && a != client.AnchorSame && a != client.AnchorProven {
			t.Fatalf("AnchorCheckpoint of the sequencer's proof: %v, %v", a, err)
		}
	} else {
		t.Fatalf("a proof without cosignatures passed the witness policy: %v", err)
	}
}

// TestTlogProofsRefused: a proof altered by one byte, or whose checkpoint
// another key signed, is invalid (not an alarm); a validly signed
// checkpoint of the cached size with another root is a fork.
func TestTlogProofsRefused(t *testing.T) {
	ctx := context.Background()
	log := clienttest.NewLog(t, "pysumdb.test/log", []sequencer.Record{clienttest.Record("foo", "foo-1.0-py3-none-any.whl")})
	cacheDir := t.TempDir()
	l, _ := clienttest.OpenLog(t, log.Store.Root(), log.VKey, clienttest.OpenCache(t, cacheDir))
	cp, err := l.VerifiedCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaf := log.LeafOf(t, "foo", "foo-1.0-py3-none-any.whl")
	proofs, err := l.TlogProofs(ctx, cp.Tree, []int64{leaf}, []tiles.Entry{{Filename: "foo-1.0-py3-none-any.whl", SHA256: clienttest.Digest("foo-1.0-py3-none-any.whl")}})
	if err != nil {
		t.Fatal(err)
	}
	offline, _ := client.NewOfflineLog(log.VKey)
	offline.UseCache(clienttest.OpenCache(t, cacheDir))
	good := proofs[0]
	lines := strings.Split(string(good), "\n")
	hash := []byte(lines[3])
	hash[5] ^= 1 // a base64 digit for another
	lines[3] = string(hash)
	for name, data := range map[string][]byte{
		"hash":      []byte(strings.Join(lines, "\n")),
		"signature": clienttest.BreakSignature(good),
	} {
		if _, err := offline.OpenTlogProof(data); !errors.Is(err, client.ErrProofInvalid) || client.IsSecurityError(err) {
			t.Errorf("%s altered: OpenTlogProof = %v, want ErrProofInvalid", name, err)
		}
	}
	// A fork: the log's key signs another root for the cached size.
	signer, err := note.NewSigner(log.SKey)
	if err != nil {
		t.Fatal(err)
	}
	forked := cp
	forked.Hash[0] ^= 1
	signed, err := tiles.SignCheckpoint(forked, signer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = offline.AnchorCheckpoint(ctx, forked, signed)
	var fork *client.ForkError
	if !errors.As(err, &fork) || !client.IsSecurityError(err) || !bytes.Equal(fork.New, signed) || len(fork.Old) == 0 {
		t.Fatalf("AnchorCheckpoint of a fork: %v", err)
	}
	// No cached checkpoint: first use.
	fresh, _ := client.NewOfflineLog(log.VKey)
	fresh.UseCache(clienttest.OpenCache(t, t.TempDir()))
	if a, err := fresh.AnchorCheckpoint(ctx, forked, signed); err != nil || a != client.AnchorFirstUse {
		t.Fatalf("AnchorCheckpoint without a cache: %v, %v", a, err)
	}
	// A newer checkpoint whose tiles the cache lacks: not anchored, no
	// alarm, nothing fetched.
	log.Append(t, []sequencer.Record{clienttest.Record("baz", "baz-1.0.tar.gz")})
	newer := log.SequencerProof(t, log.Size(t)-1, log.Size(t))
	sp, err := offline.OpenTlogProof(newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := offline.AnchorCheckpoint(ctx, sp.Checkpoint, sp.TlogProof.Checkpoint); !errors.Is(err, client.ErrNotAnchored) || client.IsSecurityError(err) {
		t.Fatalf("AnchorCheckpoint of a newer checkpoint without its tiles: %v", err)
	}
	// Once a run online has proven it (caching the tiles), an offline
	// run proves the older proof consistent with it.
	if _, err := l.VerifiedCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	sp, err = offline.OpenTlogProof(good)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := offline.AnchorCheckpoint(ctx, sp.Checkpoint, sp.TlogProof.Checkpoint); err != nil || a != client.AnchorProven {
		t.Fatalf("AnchorCheckpoint of an older checkpoint: %v, %v", a, err)
	}
}

// TestTlogProofForkFromCachedTiles: a saved proof whose checkpoint (signed
// by the log's key) is not a prefix of the cached one, as the cached
// tiles prove, is a fork.
func TestTlogProofForkFromCachedTiles(t *testing.T) {
	ctx := context.Background()
	a := clienttest.NewLog(t, "pysumdb.test/log", []sequencer.Record{clienttest.Record("foo", "foo-1.0-py3-none-any.whl")})
	b := clienttest.NewKeyedLog(t, a.SKey, a.VKey, []sequencer.Record{clienttest.Record("bar", "bar-1.0-py3-none-any.whl")})
	cacheDir := t.TempDir()
	l, _ := clienttest.OpenLog(t, a.Store.Root(), a.VKey, clienttest.OpenCache(t, cacheDir))
	if _, err := l.VerifiedCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// The next checkpoint is proven consistent online: its tiles are
	// cached.
	first := a.Size(t)
	a.Append(t, []sequencer.Record{clienttest.Record("baz", "baz-1.0-py3-none-any.whl")})
	if _, err := l.VerifiedCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	offline, _ := client.NewOfflineLog(a.VKey)
	offline.UseCache(clienttest.OpenCache(t, cacheDir))
	sp, err := offline.OpenTlogProof(b.SequencerProof(t, b.LeafOf(t, "bar", "bar-1.0-py3-none-any.whl"), b.Size(t)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = offline.AnchorCheckpoint(ctx, sp.Checkpoint, sp.TlogProof.Checkpoint)
	var fork *client.ForkError
	if !errors.As(err, &fork) || !client.IsSecurityError(err) || fork.NewTree != sp.Checkpoint.Tree {
		t.Fatalf("AnchorCheckpoint of a forked checkpoint: %v", err)
	}
	// The honest log's own proof of that size is proven consistent.
	sp, err = offline.OpenTlogProof(a.SequencerProof(t, a.LeafOf(t, "foo", "foo-1.0-py3-none-any.whl"), first))
	if err != nil {
		t.Fatal(err)
	}
	if an, err := offline.AnchorCheckpoint(ctx, sp.Checkpoint, sp.TlogProof.Checkpoint); err != nil || an != client.AnchorProven {
		t.Fatalf("AnchorCheckpoint of the honest checkpoint: %v, %v", an, err)
	}
}
