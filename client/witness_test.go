package client_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/tiles"
)

func TestNewWitnessPolicy(t *testing.T) {
	w1 := clienttest.NewWitness(t, "w1.example")
	w2 := clienttest.NewWitness(t, "w2.example")
	w1again := clienttest.NewWitness(t, "w1.example")
	logKey := clienttest.NewLog(t, "log.example").VKey
	for _, tt := range []struct {
		name   string
		vkeys  []string
		quorum int
	}{
		{"none", nil, 0},
		{"quorum above the witnesses", []string{w1.VKey, w2.VKey}, 3},
		{"negative quorum", []string{w1.VKey}, -1},
		{"two keys of one name", []string{w1.VKey, w1again.VKey}, 1},
		{"the same key twice", []string{w1.VKey, w1.VKey}, 2},
		{"a log key", []string{logKey}, 1},
	} {
		if _, err := client.NewWitnessPolicy(tt.vkeys, tt.quorum); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	p, err := client.NewWitnessPolicy([]string{w1.VKey, w2.VKey}, 0)
	if err != nil || p.Quorum() != 2 {
		t.Fatalf("quorum 0 means all: %v, %v", p, err)
	}
}

func TestWitnessPolicy(t *testing.T) {
	ctx := context.Background()
	l := clienttest.NewLog(t, "log.example", firstBatch)
	w1 := clienttest.NewWitness(t, "w1.example")
	w2 := clienttest.NewWitness(t, "w2.example")
	w3 := clienttest.NewWitness(t, "w3.example")
	plain := l.Read(t, tiles.CheckpointKey)
	open := func(t *testing.T, quorum int, witnesses ...clienttest.Witness) (*client.Log, error) {
		t.Helper()
		var vkeys []string
		for _, w := range witnesses {
			vkeys = append(vkeys, w.VKey)
		}
		p, err := client.NewWitnessPolicy(vkeys, quorum)
		if err != nil {
			t.Fatal(err)
		}
		cl, _ := clienttest.OpenLog(t, l.Store.Root(), l.VKey, nil)
		cl.RequireWitnesses(p)
		_, _, err = cl.Checkpoint(ctx)
		return cl, err
	}

	t.Run("2 of 2", func(t *testing.T) {
		clienttest.Put(t, l.Store, tiles.CheckpointKey, clienttest.Cosign(t, plain, w1, w2))
		if _, err := open(t, 2, w1, w2); err != nil {
			t.Fatal(err)
		}
		// A cosignature by a witness outside the policy neither counts
		// nor hurts.
		clienttest.Put(t, l.Store, tiles.CheckpointKey, clienttest.Cosign(t, plain, w1, w3))
		_, err := open(t, 2, w1, w2)
		var short *client.WitnessPolicyError
		if !errors.As(err, &short) || !errors.Is(err, client.ErrWitnessPolicy) || errors.Is(err, tiles.ErrVerification) {
			t.Fatalf("1 of 2 cosignatures: %v, want a WitnessPolicyError (not a security error)", err)
		}
		msg := err.Error()
		for _, want := range []string{"has 1 witness cosignatures, the witness policy needs 2", "cosigned by w1.example", "no cosignature from w2.example", "size 304"} {
			if !strings.Contains(msg, want) {
				t.Errorf("the error does not say %q:\n%s", want, msg)
			}
		}
		if _, err := open(t, 1, w1, w2); err != nil {
			t.Fatalf("1 of 2 with a quorum of 1: %v", err)
		}
	})
	t.Run("no cosignature", func(t *testing.T) {
		clienttest.Put(t, l.Store, tiles.CheckpointKey, plain)
		if _, err := open(t, 1, w1); !errors.Is(err, client.ErrWitnessPolicy) {
			t.Fatalf("no cosignature: %v", err)
		}
	})
	t.Run("bad cosignature", func(t *testing.T) {
		clienttest.Put(t, l.Store, tiles.CheckpointKey, clienttest.BreakSignature(clienttest.Cosign(t, plain, w1)))
		// Even when the policy needs none of it: a witness of the policy
		// signing wrong is evidence.
		_, err := open(t, 1, w2, w1)
		if !errors.Is(err, tiles.ErrVerification) || errors.Is(err, client.ErrWitnessPolicy) {
			t.Fatalf("a cosignature that doesn't verify: %v, want a security error", err)
		}
	})
	t.Run("cosignature of another checkpoint", func(t *testing.T) {
		// The witness cosigned the log's earlier checkpoint; the log
		// moves the cosignature line onto its new one.
		l2 := clienttest.NewLog(t, "log.example", secondBatch)
		other := clienttest.Cosign(t, l2.Read(t, tiles.CheckpointKey), w1)
		line := other[strings.LastIndex(string(other[:len(other)-1]), "\n")+1:]
		clienttest.Put(t, l.Store, tiles.CheckpointKey, append(append([]byte(nil), plain...), line...))
		if _, err := open(t, 1, w1); !errors.Is(err, tiles.ErrVerification) {
			t.Fatalf("a cosignature moved from another checkpoint: %v, want a security error", err)
		}
	})
	t.Run("witness only", func(t *testing.T) {
		// A checkpoint the witness cosigned but the log did not sign.
		cosigned := clienttest.Cosign(t, plain, w1)
		i := strings.Index(string(cosigned), "\n\n") + 2
		j := strings.Index(string(cosigned[i:]), "\n") + 1
		clienttest.Put(t, l.Store, tiles.CheckpointKey, append(append([]byte(nil), cosigned[:i]...), cosigned[i+j:]...))
		if _, err := open(t, 1, w1); !errors.Is(err, tiles.ErrVerification) {
			t.Fatalf("a checkpoint without the log's signature: %v, want a security error", err)
		}
	})
}

// TestWitnessPolicyCache checks that a checkpoint short of the policy is
// never kept as the client's anchor.
func TestWitnessPolicyCache(t *testing.T) {
	ctx := context.Background()
	l := clienttest.NewLog(t, "log.example", firstBatch)
	w := clienttest.NewWitness(t, "w.example")
	p, err := client.NewWitnessPolicy([]string{w.VKey}, 1)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	cl, _ := clienttest.OpenLog(t, l.Store.Root(), l.VKey, clienttest.OpenCache(t, cacheDir))
	cl.RequireWitnesses(p)
	if _, err := cl.VerifiedCheckpoint(ctx); !errors.Is(err, client.ErrWitnessPolicy) {
		t.Fatalf("VerifiedCheckpoint of an uncosigned checkpoint: %v", err)
	}
	if kept, _ := filepath.Glob(filepath.Join(cacheDir, "*", "checkpoint")); len(kept) > 0 {
		t.Fatalf("a checkpoint short of the policy was kept: %v", kept)
	}
	clienttest.CosignCheckpoint(t, l.Store, w)
	cl, _ = clienttest.OpenLog(t, l.Store.Root(), l.VKey, clienttest.OpenCache(t, cacheDir))
	cl.RequireWitnesses(p)
	if _, err := cl.VerifiedCheckpoint(ctx); err != nil {
		t.Fatalf("VerifiedCheckpoint of a cosigned checkpoint: %v", err)
	}
	if kept, _ := filepath.Glob(filepath.Join(cacheDir, "*", "checkpoint")); len(kept) != 1 {
		t.Fatalf("the cosigned checkpoint was not kept: %v", kept)
	}
}
