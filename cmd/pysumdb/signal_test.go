package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// The tests below start the real binary (`pysumdb` on $PATH, set up by
// testscript.Main in TestMain) and send it signals.

// TestOnSignals: the first signal stops, the second exits 130.
func TestOnSignals(t *testing.T) {
	signals := make(chan os.Signal, 2)
	var stderr bytes.Buffer
	stopped := 0
	exited := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		onSignals(signals, func() { stopped++ }, &stderr, func(code int) { exited <- code })
		close(done)
	}()
	signals <- os.Interrupt
	signals <- syscall.SIGTERM
	<-done
	if stopped != 1 {
		t.Errorf("stop called %d times, want 1", stopped)
	}
	select {
	case code := <-exited:
		if code != exitAborted {
			t.Errorf("exit(%d), want exit(%d)", code, exitAborted)
		}
	default:
		t.Errorf("the second signal did not exit")
	}
	want := "pysumdb: interrupt: stopping (signal again to abort)\npysumdb: terminated: aborted\n"
	if stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// process is a pysumdb process started by a test.
type process struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	lines  []string
	more   chan struct{} // a line was added
	eof    chan struct{} // stderr closed
}

func startPysumdb(t *testing.T, dir string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command("pysumdb", args...), more: make(chan struct{}, 1), eof: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.wait()
		}
	})
	go func() {
		defer close(p.eof)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
		}
	}()
	return p
}

// waitLine waits until the process writes a line containing s to stderr.
func (p *process) waitLine(t *testing.T, s string) {
	t.Helper()
	for seen := 0; ; {
		p.mu.Lock()
		lines := p.lines[seen:]
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if strings.Contains(l, s) {
				return
			}
		}
		select {
		case <-p.more:
		case <-p.eof:
			p.mu.Lock()
			n := len(p.lines)
			p.mu.Unlock()
			if n == seen {
				t.Fatalf("pysumdb ended without printing %q:\n%s", s, p.stderr())
			}
		case <-time.After(5 * time.Minute):
			t.Fatalf("pysumdb did not print %q:\n%s", s, p.stderr())
		}
	}
}

func (p *process) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to end and returns its exit status (-1 if a
// signal killed it). A process still running after minutes is killed
// (status -1), so that a process that ignores signals fails the test
// rather than hang it.
func (p *process) wait() int {
	select {
	case <-p.eof:
	case <-time.After(5 * time.Minute):
		p.cmd.Process.Kill()
		<-p.eof
	}
	p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode()
}

// pysumdb runs pysumdb to its end in dir and returns its stdout; it fails
// the test on any exit status but want.
func pysumdb(t *testing.T, dir string, env []string, want int, args ...string) string {
	t.Helper()
	p := startPysumdb(t, dir, env, args...)
	if got := p.wait(); got != want {
		t.Fatalf("pysumdb %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, want, &p.stdout, p.stderr())
	}
	return p.stdout.String()
}

// writeRecords writes n synthetic JSON-lines records, numbered from first.
func writeRecords(t *testing.T, path string, first, n int) {
	t.Helper()
	var b bytes.Buffer
	for k := first; k < first+n; k++ {
		fmt.Fprintf(&b, `{"project":"Proj_%d","filename":"proj_%d-%d.0.tar.gz","sha256":"%064x","size":%d,"upload_time":"2024-05-01T00:00:00Z"}`+"\n",
			k%50, k%50, k, k+1, 100+k)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newLogDir(t *testing.T) string {
	dir := t.TempDir()
	vkey := pysumdb(t, dir, nil, 0, "keygen", "--origin", "pysumdb.test/log", "--out", "log.key")
	if err := os.WriteFile(filepath.Join(dir, "vkey"), []byte(vkey), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSignalPublishesTheBatchInProgress: one SIGINT while `sequence
// --from-jsonl` writes a large batch: the batch is published, the log
// audits at the grown size, and the exit status is 0.
func TestSignalPublishesTheBatchInProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	dir := newLogDir(t)
	writeRecords(t, filepath.Join(dir, "first.jsonl"), 0, 10)
	pysumdb(t, dir, nil, 0, "sequence", "--store", "log", "--key", "log.key", "--from-jsonl", "first.jsonl")
	writeRecords(t, filepath.Join(dir, "big.jsonl"), 10, 10_000)

	p := startPysumdb(t, dir, nil, "sequence", "--store", "log", "--key", "log.key", "--from-jsonl", "big.jsonl")
	p.waitLine(t, "staged batch")
	p.signal(t, os.Interrupt)
	if got := p.wait(); got != exitOK {
		t.Fatalf("exit status %d, want %d\n%s", got, exitOK, p.stderr())
	}
	if !strings.Contains(p.stderr(), "stopping: publishing the batch in progress") {
		t.Errorf("the signal was not handled during the batch:\n%s", p.stderr())
	}
	if !strings.Contains(p.stdout.String(), "appended 10000, already logged 0, alarms 0; log size 10010") {
		t.Errorf("stdout %q", &p.stdout)
	}
	out := pysumdb(t, dir, nil, 0, "audit", "--log", "log", "--vkey", "vkey", "-q")
	if !strings.Contains(out, "audited pysumdb.test/log at size 10010") {
		t.Errorf("audit: %s", out)
	}
}

// TestSignalReleasesTheLease: after a SIGINT during a batch on GCS (whose
// lease is an object, released by a request), the lease is released: the
// next run is not busy.
func TestSignalReleasesTheLease(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	server, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()
	server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "logs"})
	front := httptest.NewServer(server.HTTPHandler())
	defer front.Close()
	env := []string{"STORAGE_EMULATOR_HOST=" + strings.TrimPrefix(front.URL, "http://")}

	dir := newLogDir(t)
	writeRecords(t, filepath.Join(dir, "big.jsonl"), 0, 1_000)
	writeRecords(t, filepath.Join(dir, "more.jsonl"), 1_000, 10)
	p := startPysumdb(t, dir, env, "sequence", "--store", "gs://logs/log", "--key", "log.key", "--from-jsonl", "big.jsonl")
	p.waitLine(t, "staged batch")
	p.signal(t, os.Interrupt)
	if got := p.wait(); got != exitOK {
		t.Fatalf("exit status %d, want %d\n%s", got, exitOK, p.stderr())
	}
	if !strings.Contains(p.stderr(), "stopping: publishing the batch in progress") {
		t.Errorf("the signal was not handled during the batch:\n%s", p.stderr())
	}
	out := pysumdb(t, dir, env, 0, "sequence", "--store", "gs://logs/log", "--key", "log.key", "--from-jsonl", "more.jsonl")
	if !strings.Contains(out, "log size 1010") {
		t.Errorf("next run: %s", out)
	}
}

// TestSecondSignalEndsABlockedCommand: a command blocked reading a FIFO
// nobody writes to ignores its context; the first signal asks it to stop,
// the second ends it with status 130. For `sequence` nothing is written.
// (`sequence --from-jsonl` is the one command left that reads a pipe: key
// files, lockfiles and logs in a directory refuse anything but a regular
// file at once, see TestReadSignerKeyRefusesAPipe; onSignals itself is
// the same for every command, see TestOnSignals.)
func TestSecondSignalEndsABlockedCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"sequence", []string{"sequence", "--store", "log", "--key", "log.key", "--from-jsonl", "fifo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newLogDir(t)
			fifo := filepath.Join(dir, "fifo")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			p := startPysumdb(t, dir, nil, tc.args...)
			// Opening the FIFO for writing returns once pysumdb has
			// opened it: it is then blocked reading, signals trapped.
			w := openWriter(t, p, fifo)
			defer w.Close()
			p.signal(t, os.Interrupt)
			p.waitLine(t, "pysumdb: interrupt: stopping (signal again to abort)")
			p.signal(t, syscall.SIGTERM)
			if got := p.wait(); got != exitAborted {
				t.Fatalf("exit status %d, want %d\n%s", got, exitAborted, p.stderr())
			}
			if !strings.Contains(p.stderr(), "pysumdb: terminated: aborted") {
				t.Errorf("stderr:\n%s", p.stderr())
			}
			if _, err := os.Stat(filepath.Join(dir, "log", "checkpoint")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("aborted run wrote a checkpoint (%v)", err)
			}
		})
	}
}

// TestSignalWhileReadingFinishesTheBatch: with --from-jsonl the file is the
// one batch: a signal while it is read lets it be read to its end and
// published, and the exit status is 0.
func TestSignalWhileReadingFinishesTheBatch(t *testing.T) {
	dir := newLogDir(t)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPysumdb(t, dir, nil, "sequence", "--store", "log", "--key", "log.key", "--from-jsonl", "fifo")
	w := openWriter(t, p, fifo)
	fmt.Fprintf(w, `{"project":"foo","filename":"foo-1.0.tar.gz","sha256":"%064x","size":1}`+"\n", 1)
	p.signal(t, os.Interrupt)
	p.waitLine(t, "stopping: publishing the batch in progress")
	fmt.Fprintf(w, `{"project":"foo","filename":"foo-1.1.tar.gz","sha256":"%064x","size":2}`+"\n", 2)
	w.Close()
	if got := p.wait(); got != exitOK {
		t.Fatalf("exit status %d, want %d\n%s", got, exitOK, p.stderr())
	}
	if !strings.Contains(p.stdout.String(), "appended 2, already logged 0, alarms 0; log size 2") {
		t.Errorf("stdout %q", &p.stdout)
	}
}

// openWriter opens fifo for writing, which returns once p has opened it
// for reading; it fails the test if p ends first.
func openWriter(t *testing.T, p *process, fifo string) *os.File {
	t.Helper()
	opened := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		opened <- w
	}()
	select {
	case w := <-opened:
		if w == nil {
			t.FailNow()
		}
		return w
	case <-p.eof:
		t.Fatalf("pysumdb ended before opening %s:\n%s", fifo, p.stderr())
		return nil
	}
}
