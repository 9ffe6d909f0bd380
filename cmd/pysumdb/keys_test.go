//go:build !pysumdb_client

package main

import (
	"io"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReadSignerKeyRefusesAPipe: a key path that names a pipe nobody
// writes to is refused at once (an open that blocks would hang the
// sequencer), as a usage error.
func TestReadSignerKeyRefusesAPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "log.key")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	_, err := readSignerKey(fifo, io.Discard)
	if exitStatus(err) != exitUsage {
		t.Fatalf("readSignerKey(pipe) = %v (exit %d), want a usage error", err, exitStatus(err))
	}
	if _, err := readVerifierKey(fifo); exitStatus(err) != exitUsage {
		t.Fatalf("readVerifierKey(pipe) = %v, want a usage error", err)
	}
}
