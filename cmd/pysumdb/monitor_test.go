package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/internal/syncbuf"
	"github.com/pysumdb/pysumdb/monitor"
	"github.com/pysumdb/pysumdb/monitor/monitortest"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// runMonitor runs `pysumdb monitor ARGS -q` and returns its status and
// output.
func runMonitor(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := runContext(context.Background(), append([]string{"monitor", "-q"}, args...), &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func wantMonitor(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	status, stdout, stderr := runMonitor(t, args...)
	if status != want {
		t.Fatalf("monitor %q: status %d, want %d\nstdout:\n%s\nstderr:\n%s", args, status, want, stdout, stderr)
	}
	return stdout, stderr
}

// The monitor refuses a forked log: the same size with another root, or a
// larger tree inconsistent with the one verified; it prints both
// checkpoints and the proof that fails, exits 3, and its state doesn't
// move.
func TestMonitorFork(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		forkSize int
	}{{"same size", 50}, {"larger", 400}} {
		t.Run(tc.name, func(t *testing.T) {
			store, skey, vkey := clienttest.NewStoreLog(t)
			forked := clienttest.CopyStore(t, store)
			if _, err := seqtest.Append(ctx, store, skey, seqtest.Records(1000, 50), ""); err != nil {
				t.Fatal(err)
			}
			if _, err := seqtest.Append(ctx, forked, skey, seqtest.Records(5000, tc.forkSize), ""); err != nil {
				t.Fatal(err)
			}
			live := filepath.Join(t.TempDir(), "log")
			os.Symlink(store.Root(), live)
			state := t.TempDir()
			wantMonitor(t, exitOK, "--log", live, "--vkey", vkey, "--state", state, "--once")
			old, _, _ := store.Read(ctx, tiles.CheckpointKey)

			os.Remove(live)
			os.Symlink(forked.Root(), live)
			served, _, _ := forked.Read(ctx, tiles.CheckpointKey)
			stdout, stderr := wantMonitor(t, exitAlarm, "--log", live, "--vkey", vkey, "--state", state, "--once")
			for _, want := range []string{
				"SECURITY ERROR: fork in pysumdb.test/log: its checkpoint of size " + fmt.Sprint(700+tc.forkSize),
				"checkpoint verified before:\n" + indent(old),
				"checkpoint served now:\n" + indent(served),
				fmt.Sprintf("verified to size 750 of %d; 0 entries checked", 700+tc.forkSize),
			} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if proof := strings.Contains(stdout, "consistency proof that fails (from the log's tiles):\n\t"); proof != (tc.forkSize != 50) {
				t.Errorf("proof printed: %v:\n%s", proof, stdout)
			}
			if !strings.Contains(stderr, "SECURITY ERROR: 1 findings") {
				t.Errorf("stderr:\n%s", stderr)
			}
		})
	}
}

// Each misbehaviour is found with evidence and exit 3; an honest log gives
// nothing.
func TestMonitorFindings(t *testing.T) {
	ctx := context.Background()
	t.Run("honest", func(t *testing.T) {
		store, _, vkey := clienttest.NewStoreLog(t)
		stdout, _ := wantMonitor(t, exitOK, "--log", store.Root(), "--vkey", vkey, "--state", t.TempDir(), "--once")
		if !strings.Contains(stdout, "verified to size 700 of 700; 700 entries checked") || !strings.Contains(stdout, "monitor: 0 findings") {
			t.Fatalf("stdout:\n%s", stdout)
		}
	})
	t.Run("index drops a file", func(t *testing.T) {
		store, skey, vkey := clienttest.NewStoreLog(t)
		state := t.TempDir()
		wantMonitor(t, exitOK, "--log", store.Root(), "--vkey", vkey, "--state", state, "--once")
		if _, err := seqtest.Append(ctx, store, skey, seqtest.Records(1000, 37), ""); err != nil {
			t.Fatal(err)
		}
		clienttest.RewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) { x.Lines = x.Lines[1:] })
		signed, _, _ := store.Read(ctx, tiles.IndexKey("project-5"))
		stdout, _ := wantMonitor(t, exitAlarm, "--log", store.Root(), "--vkey", vkey, "--state", state, "--once")
		for _, want := range []string{
			"SECURITY ERROR: index-omits in pysumdb.test/log: index/project-5 (size 737) no longer lists leaf 5,",
			"index/project-5, as signed by the log:\n" + indent(signed),
			"entry 5 of pysumdb.test/log (tree size 737):\n\tpypi-transparency/v1\n",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("duplicated filename", func(t *testing.T) {
		skey, vkey := newMonitorKey(t, "dup.test/log")
		dir := t.TempDir()
		monitortest.Write(t, dir, skey, []monitortest.File{
			{Project: "foo", Entry: monitortest.Entry(t, "foo-1.0.tar.gz", "")},
			{Project: "foo", Entry: monitortest.Entry(t, "foo-1.1.tar.gz", "")},
			{Project: "foo", Entry: monitortest.Entry(t, "foo-1.0.tar.gz", "again")},
		})
		stdout, _ := wantMonitor(t, exitAlarm, "--log", dir, "--vkey", vkey, "--state", t.TempDir(), "--once")
		for _, want := range []string{
			"SECURITY ERROR: duplicate-filename in dup.test/log: the filename foo-1.0.tar.gz is logged twice: at leaves 0 and 2",
			"entry 0 of dup.test/log (tree size 3):\n\tpypi-transparency/v1\n\tsha256:" + monitortest.DigestHex("foo-1.0.tar.gz") + "\n\tfoo-1.0.tar.gz\n",
			"entry 2 of dup.test/log (tree size 3):\n\tpypi-transparency/v1\n\tsha256:" + monitortest.DigestHex("foo-1.0.tar.gzagain") + "\n\tfoo-1.0.tar.gz\n",
			"monitor: 1 findings",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
	})
}

func newMonitorKey(t *testing.T, origin string) (string, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

// What is not a finding is not exit 3, but for a checkpoint that doesn't
// verify with the log's key (a SECURITY ERROR for every client): a busy
// state is 4, a log that can't be read is 1, a state of another key is 2.
func TestMonitorExitStatuses(t *testing.T) {
	store, _, vkey := clienttest.NewStoreLog(t)
	state := t.TempDir()
	_, otherVKey := newMonitorKey(t, "pysumdb.test/log")

	status, _, stderr := runMonitor(t, "--log", store.Root(), "--vkey", otherVKey, "--state", t.TempDir(), "--once")
	if status != exitAlarm || !strings.Contains(stderr, "SECURITY ERROR") || !strings.Contains(stderr, "couldn't verify its checkpoint") {
		t.Errorf("another key of the same origin: status %d, stderr:\n%s", status, stderr)
	}
	status, _, stderr = runMonitor(t, "--log", "http://127.0.0.1:1/", "--vkey", vkey, "--state", t.TempDir(), "--once")
	if status != exitFailure {
		t.Errorf("unreachable log: status %d, stderr:\n%s", status, stderr)
	}

	wantMonitor(t, exitOK, "--log", store.Root(), "--vkey", vkey, "--state", state, "--once")
	status, _, stderr = runMonitor(t, "--log", store.Root(), "--vkey", otherVKey, "--state", state, "--once")
	if status != exitUsage || !strings.Contains(stderr, "was verified with the key") {
		t.Errorf("state of another key: status %d, stderr:\n%s", status, stderr)
	}

	fetch := client.DirFetcher(store.Root())
	l, _ := client.NewLog(fetch, vkey)
	m, err := monitor.Open(monitor.Config{StateDir: state, Logs: []monitor.Log{{Log: l, VKey: vkey, Fetch: fetch}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	status, _, stderr = runMonitor(t, "--log", store.Root(), "--vkey", vkey, "--state", state, "--once")
	if status != exitBusy || !strings.Contains(stderr, "in use by another monitor") {
		t.Errorf("busy: status %d, stderr:\n%s", status, stderr)
	}
}

// --schedule runs at once and on the schedule; the first signal stops it
// with the status of the last run.
func TestMonitorSchedule(t *testing.T) {
	store, skey, vkey := clienttest.NewStoreLog(t)
	for _, tc := range []struct {
		name   string
		lie    bool
		status int
	}{{"honest", false, exitOK}, {"finding", true, exitAlarm}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.lie {
				clienttest.RewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) { x.Lines = x.Lines[1:] })
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncbuf.Buffer
			done := make(chan int)
			go func() {
				done <- runContext(ctx, []string{"monitor", "--log", store.Root(), "--vkey", vkey, "--state", t.TempDir(), "--schedule", "@every 1h"}, &stdout, &stderr)
			}()
			for !strings.Contains(stdout.String(), "monitor: ") {
				select {
				case status := <-done:
					t.Fatalf("monitor exited %d:\n%s\n%s", status, stdout.String(), stderr.String())
				case <-time.After(10 * time.Millisecond):
				}
			}
			cancel() // as the first signal does
			if status := <-done; status != tc.status {
				t.Fatalf("status %d, want %d:\n%s\n%s", status, tc.status, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), `msg=scheduled schedule="@every 1h"`) || !strings.Contains(stderr.String(), "stopping: committing the chunk in progress") {
				t.Fatalf("stderr:\n%s", stderr.String())
			}
		})
	}
}
