package filelock_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pysumdb/pysumdb/internal/filelock"
)

// open returns two handles of one new file, closed at the test's end.
func open(t *testing.T) (a, b *os.File) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "lock")
	for _, f := range []**os.File{&a, &b} {
		var err error
		*f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*f).Close() })
	}
	return a, b
}

func TestTryLock(t *testing.T) {
	a, b := open(t)
	if err := filelock.TryLock(a); err != nil {
		t.Fatalf("TryLock of a free file: %v", err)
	}
	if err := filelock.TryLock(b); !errors.Is(err, filelock.ErrLocked) {
		t.Fatalf("TryLock of a held file: %v, want ErrLocked", err)
	}
	if err := filelock.Unlock(a); err != nil {
		t.Fatal(err)
	}
	if err := filelock.TryLock(b); err != nil {
		t.Fatalf("TryLock after Unlock: %v", err)
	}
	// And back: b holds it now.
	if err := filelock.TryLock(a); !errors.Is(err, filelock.ErrLocked) {
		t.Fatalf("TryLock of a file held by the other handle: %v, want ErrLocked", err)
	}
}

func TestCloseReleases(t *testing.T) {
	a, b := open(t)
	if err := filelock.Lock(a); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := filelock.TryLock(b); err != nil {
		t.Fatalf("TryLock after the holder's Close: %v", err)
	}
}

func TestLockWaits(t *testing.T) {
	a, b := open(t)
	if err := filelock.Lock(a); err != nil {
		t.Fatal(err)
	}
	locked := make(chan error, 1)
	go func() { locked <- filelock.Lock(b) }()
	// Lock must not return while a holds the lock. Without sleeping,
	// this check may miss a Lock that fails to wait, but it never fails
	// a correct one.
	select {
	case err := <-locked:
		t.Fatalf("Lock returned (%v) while another handle held the lock", err)
	default:
	}
	if err := filelock.Unlock(a); err != nil {
		t.Fatal(err)
	}
	if err := <-locked; err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if err := filelock.TryLock(a); !errors.Is(err, filelock.ErrLocked) {
		t.Fatalf("TryLock while the waiter holds the lock: %v, want ErrLocked", err)
	}
	if err := filelock.Unlock(b); err != nil {
		t.Fatal(err)
	}
}
