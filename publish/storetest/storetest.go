// Package storetest holds what every publish.Store backend must pass (Run)
// and a Store wrapper that injects faults at writes (Faulty).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// Run checks that the store returned by newStore keeps the publish.Store
// contract. newStore must return a new, empty store each call.
func Run(t *testing.T, newStore func(t *testing.T) publish.Store) {
	ctx := context.Background()

	t.Run("CreateIsWriteOnce", func(t *testing.T) {
		s := newStore(t)
		key := "tile/0/000.p/1"
		if err := s.Create(ctx, key, []byte("one")); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if err := s.Create(ctx, key, []byte("one")); err != nil {
			t.Fatalf("Create again with the same bytes: %v", err)
		}
		err := s.Create(ctx, key, []byte("two"))
		if !errors.Is(err, publish.ErrIntegrity) {
			t.Fatalf("Create with other bytes: got %v, want ErrIntegrity", err)
		}
		got, _, err := s.Read(ctx, key)
		if err != nil || string(got) != "one" {
			t.Fatalf("Read after refused overwrite: %q, %v; want \"one\"", got, err)
		}
	})

	t.Run("CreateEmptyAndLarge", func(t *testing.T) {
		s := newStore(t)
		big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<18)
		for key, data := range map[string][]byte{"tile/entries/000.p/1": {}, "tile/entries/001": big} {
			if err := s.Create(ctx, key, data); err != nil {
				t.Fatalf("Create %s: %v", key, err)
			}
			got, _, err := s.Read(ctx, key)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Read %s: %d bytes, %v; want %d bytes", key, len(got), err, len(data))
			}
		}
	})

	t.Run("ConcurrentCreate", func(t *testing.T) {
		s := newStore(t)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.Create(ctx, "tile/1/000", fmt.Appendf(nil, "writer %d", i%2)) })
		}
		wg.Wait()
		got, _, err := s.Read(ctx, "tile/1/000")
		if err != nil {
			t.Fatal(err)
		}
		for i, err := range errs {
			mine := fmt.Sprintf("writer %d", i%2)
			switch {
			case string(got) == mine && err != nil:
				t.Errorf("writer %d with the stored bytes failed: %v", i, err)
			case string(got) != mine && !errors.Is(err, publish.ErrIntegrity):
				t.Errorf("writer %d with other bytes: got %v, want ErrIntegrity", i, err)
			}
		}
	})

	t.Run("ReadMissing", func(t *testing.T) {
		s := newStore(t)
		if _, _, err := s.Read(ctx, "checkpoint"); !errors.Is(err, publish.ErrNotExist) {
			t.Fatalf("Read of a missing object: got %v, want ErrNotExist", err)
		}
	})

	t.Run("ReadIsBounded", func(t *testing.T) {
		s := newStore(t)
		// An alarm is bounded by tiles.MaxOtherSize: one byte more is
		// refused, whatever the backend reports.
		key := "alarms/big.json"
		for _, n := range []int64{tiles.MaxOtherSize, tiles.MaxOtherSize + 1} {
			if _, err := s.Swap(ctx, key, mustVersion(t, s, key), bytes.Repeat([]byte{'x'}, int(n))); err != nil {
				t.Fatalf("Swap of %d bytes: %v", n, err)
			}
			data, _, err := s.Read(ctx, key)
			switch {
			case n <= tiles.MaxObjectSize(key) && (err != nil || int64(len(data)) != n):
				t.Fatalf("Read of %d bytes: %d bytes, %v", n, len(data), err)
			case n > tiles.MaxObjectSize(key) && (!errors.Is(err, publish.ErrTooLarge) || data != nil):
				t.Fatalf("Read of %d bytes: %d bytes, %v; want ErrTooLarge", n, len(data), err)
			}
		}
	})

	t.Run("SwapIsCompareAndSwap", func(t *testing.T) {
		s := newStore(t)
		v1, err := s.Swap(ctx, "checkpoint", publish.NoVersion, []byte("a"))
		if err != nil {
			t.Fatalf("Swap from NoVersion: %v", err)
		}
		if _, err := s.Swap(ctx, "checkpoint", publish.NoVersion, []byte("x")); !errors.Is(err, publish.ErrConflict) {
			t.Fatalf("Swap from NoVersion of an existing object: got %v, want ErrConflict", err)
		}
		got, v, err := s.Read(ctx, "checkpoint")
		if err != nil || string(got) != "a" || v != v1 {
			t.Fatalf("Read = %q, %q, %v; want \"a\", %q", got, v, err, v1)
		}
		v2, err := s.Swap(ctx, "checkpoint", v1, []byte("b"))
		if err != nil {
			t.Fatalf("Swap from the version read: %v", err)
		}
		if _, err := s.Swap(ctx, "checkpoint", v1, []byte("c")); !errors.Is(err, publish.ErrConflict) {
			t.Fatalf("Swap from a stale version: got %v, want ErrConflict", err)
		}
		if _, err := s.Swap(ctx, "checkpoint", v2, []byte("d")); err != nil {
			t.Fatalf("Swap from the current version: %v", err)
		}
		got, _, _ = s.Read(ctx, "checkpoint")
		if string(got) != "d" {
			t.Fatalf("Read = %q, want \"d\"", got)
		}
	})

	t.Run("ConcurrentSwapOneWins", func(t *testing.T) {
		s := newStore(t)
		v0, err := s.Swap(ctx, "index/foo", publish.NoVersion, []byte("start"))
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []int
		for i := range n {
			wg.Go(func() {
				_, err := s.Swap(ctx, "index/foo", v0, fmt.Appendf(nil, "racer %d", i))
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, i)
					mu.Unlock()
				case !errors.Is(err, publish.ErrConflict):
					t.Errorf("racer %d: %v, want nil or ErrConflict", i, err)
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("%d racers won the swap (%v), want exactly 1", len(winners), winners)
		}
		got, _, _ := s.Read(ctx, "index/foo")
		if want := fmt.Sprintf("racer %d", winners[0]); string(got) != want {
			t.Fatalf("stored %q, want the winner's %q", got, want)
		}
	})

	t.Run("DeleteAndList", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"alarms/b", "alarms/a", "tile/0/000", "alarmsx"} {
			if _, err := s.Swap(ctx, k, publish.NoVersion, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := s.List(ctx, "alarms/")
		if err != nil || !slices.Equal(keys, []string{"alarms/a", "alarms/b"}) {
			t.Fatalf("List(alarms/) = %q, %v", keys, err)
		}
		if err := s.Delete(ctx, "alarms/a"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "alarms/never"); err != nil {
			t.Fatalf("Delete of a missing object: %v", err)
		}
		if _, _, err := s.Read(ctx, "alarms/a"); !errors.Is(err, publish.ErrNotExist) {
			t.Fatalf("Read after Delete: %v", err)
		}
		keys, _ = s.List(ctx, "alarms/")
		if !slices.Equal(keys, []string{"alarms/b"}) {
			t.Fatalf("List after Delete = %q", keys)
		}
		if keys, _ := s.List(ctx, "nothing/"); len(keys) != 0 {
			t.Fatalf("List of an empty prefix = %q", keys)
		}
	})

	t.Run("WriteAll", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, "tile/0/000", []byte("tile")); err != nil {
			t.Fatal(err)
		}
		v, err := s.Swap(ctx, "index/a", publish.NoVersion, []byte("a1"))
		if err != nil {
			t.Fatal(err)
		}
		group := []publish.Write{
			{Key: "tile/0/000", Data: []byte("tile")},                // a replay: same bytes
			{Key: "tile/0/001", Data: []byte("new tile")},            // new
			{Key: "index/a", Data: []byte("a2"), Swap: true, Old: v}, // from the version read
			{Key: "index/b", Data: []byte("b1"), Swap: true},         // from absent
		}
		versions, err := publish.WriteAll(ctx, s, group, 3)
		if err != nil {
			t.Fatalf("WriteAll: %v", err)
		}
		for i, w := range group {
			got, gotV, err := s.Read(ctx, w.Key)
			if err != nil || !bytes.Equal(got, w.Data) {
				t.Fatalf("after WriteAll, %s = %q, %v; want %q", w.Key, got, err, w.Data)
			}
			if w.Swap && gotV != versions[i] {
				t.Fatalf("WriteAll returned version %q for %s, Read says %q", versions[i], w.Key, gotV)
			}
		}
		// A write that breaks the contract fails the group; the object
		// keeps its content.
		for _, bad := range []publish.Write{
			{Key: "tile/0/001", Data: []byte("other tile")},
			{Key: "index/a", Data: []byte("a3"), Swap: true, Old: v},
			{Key: "index/b", Data: []byte("b2"), Swap: true},
		} {
			_, err := publish.WriteAll(ctx, s, []publish.Write{{Key: "tile/0/002", Data: []byte("fine")}, bad}, 2)
			want := publish.ErrConflict
			if !bad.Swap {
				want = publish.ErrIntegrity
			}
			if !errors.Is(err, want) {
				t.Fatalf("WriteAll with a bad write to %s: %v, want %v", bad.Key, err, want)
			}
			got, _, _ := s.Read(ctx, bad.Key)
			if bytes.Equal(got, bad.Data) {
				t.Fatalf("%s was overwritten by a refused group write", bad.Key)
			}
		}
		if _, err := publish.WriteAll(ctx, s, nil, 1); err != nil {
			t.Fatalf("WriteAll of nothing: %v", err)
		}
	})

	t.Run("InvalidKeys", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"", "/abs", "a/../b", "a//b", ".hidden", "a/./b", "sp ace", `back\slash`} {
			if err := s.Create(ctx, k, []byte("x")); err == nil {
				t.Errorf("Create(%q) succeeded, want an error", k)
			}
		}
	})

	t.Run("LeaseIsExclusive", func(t *testing.T) {
		s := newStore(t)
		release, err := s.Lock(ctx, "first")
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		if _, err := s.Lock(ctx, "second"); !errors.Is(err, publish.ErrBusy) {
			t.Fatalf("second Lock while held: got %v, want ErrBusy", err)
		}
		if err := release(ctx); err != nil {
			t.Fatalf("release: %v", err)
		}
		release2, err := s.Lock(ctx, "third")
		if err != nil {
			t.Fatalf("Lock after release: %v", err)
		}
		release2(ctx)
	})
}

// ErrInjected is the error of an injected fault.
var ErrInjected = errors.New("injected fault")

// Faulty wraps a Store and fails its FailAt-th write (Create, Swap,
// Delete or one write of a group, counted from 1). With AfterPersist, the
// write is carried out first and only its answer is lost, like a crash or
// timeout after the backend committed. Every later write fails too, as if
// the process had died at that point; reads keep working.
type Faulty struct {
	publish.Store
	// FailAt is the number of the write that fails; 0 never fails.
	FailAt int
	// AfterPersist makes the failing write happen before it fails.
	AfterPersist bool

	mu     sync.Mutex
	writes int
}

var _ publish.GroupWriter = (*Faulty)(nil)

// Writes returns how many writes were attempted.
func (f *Faulty) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// fault decides for one write: run it or not, fail it or not.
func (f *Faulty) fault() (run, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	switch {
	case f.FailAt == 0 || f.writes < f.FailAt:
		return true, false
	case f.writes == f.FailAt:
		return f.AfterPersist, true
	default:
		return false, true
	}
}

func (f *Faulty) Create(ctx context.Context, key string, data []byte) error {
	run, fail := f.fault()
	if run {
		if err := f.Store.Create(ctx, key, data); err != nil {
			return err
		}
	}
	if fail {
		return fmt.Errorf("create %s: %w", key, ErrInjected)
	}
	return nil
}

func (f *Faulty) Swap(ctx context.Context, key string, old publish.Version, data []byte) (publish.Version, error) {
	run, fail := f.fault()
	v := publish.NoVersion
	if run {
		var err error
		if v, err = f.Store.Swap(ctx, key, old, data); err != nil {
			return v, err
		}
	}
	if fail {
		return publish.NoVersion, fmt.Errorf("swap %s: %w", key, ErrInjected)
	}
	return v, nil
}

func (f *Faulty) Delete(ctx context.Context, key string) error {
	run, fail := f.fault()
	if run {
		if err := f.Store.Delete(ctx, key); err != nil {
			return err
		}
	}
	if fail {
		return fmt.Errorf("delete %s: %w", key, ErrInjected)
	}
	return nil
}

// WriteGroup counts the writes of the group in order: those before the
// failing one are written (as one group of the wrapped store, if it has
// group writes), the failing one too if AfterPersist, the rest not.
func (f *Faulty) WriteGroup(ctx context.Context, ws []publish.Write, concurrency int) ([]publish.Version, error) {
	n, failed := len(ws), -1
	for i := range ws {
		run, fail := f.fault()
		if fail {
			n, failed = i, i
			if run {
				n++
			}
			for range ws[i+1:] {
				f.fault()
			}
			break
		}
	}
	versions, err := publish.WriteAll(ctx, f.Store, ws[:n], concurrency)
	if err != nil {
		return nil, err
	}
	if failed >= 0 {
		return nil, fmt.Errorf("group write %s: %w", ws[failed].Key, ErrInjected)
	}
	return versions, nil
}

// mustVersion returns the version of the object at key, NoVersion if
// there is none.
func mustVersion(t *testing.T, s publish.Store, key string) publish.Version {
	t.Helper()
	_, v, err := s.Read(context.Background(), key)
	if err != nil && !errors.Is(err, publish.ErrNotExist) {
		t.Fatalf("Read %s: %v", key, err)
	}
	return v
}
