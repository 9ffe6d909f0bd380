package synthetic_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
)

// tiny is the result of a small run, made up.
var tiny = synthetic.BenchResult{
	Entries: 1000, Batches: 2, Objects: 300, Bytes: 300_000,
	SignedObjects: 40, SignedBytes: 20_000,
}

func TestFloor(t *testing.T) {
	dir := t.TempDir()
	f, err := synthetic.Floor(context.Background(), dir, tiny, synthetic.FloorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Objects != 300 || f.Bytes != 300_000 || f.Groups != 4 || f.Leaves != 1000 || f.Signatures != 40 {
		t.Errorf("Floor = %+v, want the counts of %+v in 4 groups", f, tiny)
	}
	if f.Disk <= 0 || f.Tree <= 0 || f.Signing <= 0 {
		t.Errorf("Floor = %+v, want every part positive", f)
	}
	if f.Total() != f.Disk+f.Tree+f.Signing || f.Ratio(2*f.Total()) != 2 {
		t.Errorf("Floor = %+v: Total %v, Ratio of twice it %v", f, f.Total(), f.Ratio(2*f.Total()))
	}
	assertEmpty(t, dir)
}

func TestFloorCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := synthetic.Floor(ctx, dir, tiny, synthetic.FloorConfig{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Floor with a cancelled context: %v, want %v", err, context.Canceled)
	}
	assertEmpty(t, dir)
}

// assertEmpty checks that Floor left nothing in dir.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("Floor left %v in its directory", left)
	}
}

func TestBenchCountsSigned(t *testing.T) {
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, "test.invalid/log")
	if err != nil {
		t.Fatal(err)
	}
	res, err := synthetic.Bench(context.Background(), store, skey, 300, 600, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each batch signs a checkpoint and the indexes of its 10 projects.
	if res.SignedObjects < 2*(1+10) || res.SignedObjects >= res.Objects || res.SignedBytes <= 0 || res.SignedBytes >= res.Bytes {
		t.Errorf("Bench = %+v, want some of the objects and bytes signed", res)
	}
}
