// Package witnesstest starts real, independently written witnesses (C2SP
// tlog-witness) on loopback for tests: torchwood's litewitness and
// transparency-dev's omniwitness, each with a fresh key, witnessing one
// log. A test sends them add-checkpoint requests (POST URL+"/add-checkpoint")
// and checks their cosignatures (C2SP tlog-cosignature, cosignature/v1)
// with their VKey.
//
// The witnesses are built from the module in the witnesses directory (see
// its README.md), with the go command, once per test process; the Go build
// cache keeps the executables. Without a go command on PATH, the tests
// that start a witness are skipped. The first build on a machine compiles
// SQLite in Go (modernc.org/sqlite), which takes a minute or two.
//
// Each witness runs until the end of the test that started it. Its log
// (stderr) is in its Log, and printed when the test fails.
package witnesstest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/mod/sumdb/note"
)

// Timeouts of a witness's start and stop. Both normally take milliseconds;
// these are only bounds, for a machine under load.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// Witness is a running witness on loopback.
type Witness struct {
	// URL is the witness's base URL, "http://127.0.0.1:PORT" (no trailing
	// slash): it takes add-checkpoint requests at URL+"/add-checkpoint".
	URL string
	// VKey is its cosignature/v1 verifier key,
	// "<name>+<hash>+<base64(0x04 || Ed25519 public key)>".
	VKey string
	// Name is its name, as in its cosignature lines and VKey.
	Name string

	t       testing.TB
	kind    string // "litewitness" or "omniwitness"
	bin     string
	args    func(addr string) []string // its command line, listening on addr
	addr    string                     // where it listens: 127.0.0.1:PORT
	dir     string
	logPath string

	mu   sync.Mutex // guards proc
	proc *process   // nil while stopped
}

// process is one run of a witness's executable.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error         // what Wait returned, once done is closed
}

// StartLitewitness builds (once) and starts torchwood's litewitness
// (filippo.io/torchwood/cmd/litewitness) on 127.0.0.1, with a fresh
// Ed25519 key held by an in-process ssh-agent and a SQLite database in
// t.TempDir(), witnessing the log of logVKey: a note Ed25519 verifier key,
// whose name is the log's origin. The log is registered in the database
// as witnessctl add-log and add-key would (at size 0). The witness stops
// at the end of the test; Stop and Restart take it down and bring it back
// with its database, key and URL.
func StartLitewitness(t testing.TB, logVKey string) *Witness {
	t.Helper()
	origin := logOrigin(t, logVKey)
	bin := toolPath(t, "litewitness")
	dbTool := toolPath(t, "litewitnessdb")

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	name := witnessName("litewitness")
	w := &Witness{
		VKey: cosignatureVKey(name, pub),
		Name: name,
		t:    t,
		kind: "litewitness",
		bin:  bin,
		dir:  t.TempDir(),
	}
	sock := startAgent(t, priv)
	db := filepath.Join(w.dir, "litewitness.db")
	if out, err := exec.Command(dbTool, "-db", db, "-origin", origin, "-key", logVKey).CombinedOutput(); err != nil {
		t.Fatalf("witnesstest: registering the log with litewitness: %v\n%s", err, out)
	}
	w.args = func(addr string) []string {
		return []string{
			"-name", name,
			"-db", db,
			"-ssh-agent", sock,
			"-key", ssh.FingerprintSHA256(sshPub),
			"-listen", addr,
		}
	}
	w.startFirst()
	// litewitness logs the verifier key it derived from the agent's key:
	// it must be the one computed here.
	if log := w.Log(); !strings.Contains(log, "vkey="+w.VKey) {
		t.Fatalf("witnesstest: litewitness doesn't log the verifier key %s:\n%s", w.VKey, log)
	}
	return w
}

// StartOmniwitness builds (once) and starts transparency-dev's omniwitness
// (github.com/transparency-dev/witness/cmd/omniwitness) on 127.0.0.1, with
// a fresh Ed25519 key in a file and a SQLite database in t.TempDir(),
// witnessing the log of logVKey (a note Ed25519 verifier key whose name is
// the log's origin), given in an --additional_logs file. It runs without
// metrics listener, bastion, distributor or log-list polling: it makes no
// connection of its own. It also knows the logs built into it, which no
// test sends it. It stops at the end of the test; Stop and Restart take it
// down and bring it back with its database, key and URL.
func StartOmniwitness(t testing.TB, logVKey string) *Witness {
	t.Helper()
	origin := logOrigin(t, logVKey)
	bin := toolPath(t, "omniwitness")

	name := witnessName("omniwitness")
	skey, noteVKey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	pub, err := notePublicKey(noteVKey)
	if err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	w := &Witness{
		VKey: cosignatureVKey(name, pub),
		Name: name,
		t:    t,
		kind: "omniwitness",
		bin:  bin,
		dir:  t.TempDir(),
	}
	keyFile := filepath.Join(w.dir, "witness.key")
	if err := os.WriteFile(keyFile, []byte(skey), 0o600); err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	// YAML: JSON strings are YAML double-quoted scalars.
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	logsFile := filepath.Join(w.dir, "logs.yaml")
	logs := fmt.Sprintf("Logs:\n  - Origin: %s\n    PublicKey: %s\n", quote(origin), quote(logVKey))
	if err := os.WriteFile(logsFile, []byte(logs), 0o644); err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	db := filepath.Join(w.dir, "omniwitness.db")
	w.args = func(addr string) []string {
		return []string{
			"--listen=" + addr,
			"--metrics_listen=", // none
			"--db_file=" + db,
			"--private_key_path=" + keyFile,
			"--additional_logs=" + logsFile,
			"--logtostderr=true",
		}
	}
	w.startFirst()
	return w
}

// Stop takes the witness down (SIGINT, then SIGKILL if it hasn't exited
// within seconds) and waits for it to exit. Its requests then fail to
// connect until Restart. Stopping a stopped witness does nothing. Call it
// from the test's goroutine.
func (w *Witness) Stop() {
	w.t.Helper()
	w.mu.Lock()
	p := w.proc
	w.proc = nil
	w.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.stop(); err != nil {
		w.t.Fatalf("witnesstest: stopping %s: %v", w.Name, err)
	}
}

// Restart stops the witness if it is running and starts it again, on the
// same URL with the same key and database, and waits until it serves.
// Call it from the test's goroutine.
func (w *Witness) Restart() {
	w.t.Helper()
	w.Stop()
	if err := w.start(); err != nil {
		w.t.Fatalf("witnesstest: restarting %s: %v\n%s", w.Name, err, w.logTail())
	}
}

// Log returns what the witness has written to stderr and stdout so far,
// over all its runs.
func (w *Witness) Log() string {
	b, err := os.ReadFile(w.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", w.logPath, err)
	}
	return string(b)
}

// startFirst picks the witness's port and starts it, and arranges its stop
// at the end of the test.
func (w *Witness) startFirst() {
	w.t.Helper()
	w.logPath = filepath.Join(w.dir, w.kind+".log")
	w.t.Cleanup(w.cleanup)
	var err error
	// Another process may take the free port between its pick and the
	// witness's listen, and then the witness exits: try another port.
	for range 3 {
		if w.addr, err = freeAddr(); err != nil {
			break
		}
		w.URL = "http://" + w.addr
		if err = w.start(); !errors.Is(err, errExited) {
			break
		}
	}
	if err != nil {
		w.t.Fatalf("witnesstest: starting %s: %v\n%s", w.kind, err, w.logTail())
	}
}

// start runs the witness and waits until it answers HTTP requests.
func (w *Witness) start() error {
	logf, err := os.OpenFile(w.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := w.args(w.addr)
	fmt.Fprintf(logf, "=== witnesstest: %s %s\n", w.kind, strings.Join(args, " "))
	cmd := exec.Command(w.bin, args...)
	cmd.Dir = w.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if err := w.waitReady(p); err != nil {
		p.stop()
		return err
	}
	w.mu.Lock()
	w.proc = p
	w.mu.Unlock()
	return nil
}

// errExited is the error of a witness that exited while starting.
var errExited = errors.New("exited while starting")

// waitReady polls the witness with GET / until it answers (with any
// status), it exits, or startTimeout.
func (w *Witness) waitReady(p *process) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%w: %v", errExited, p.err)
		default:
		}
		resp, err := client.Get(w.URL + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		lastErr = err
		select {
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("not serving after %v: %v", startTimeout, lastErr)
}

// stop interrupts the process, kills it if it hasn't exited after
// stopTimeout, and waits for it.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.done
	return nil
}

// cleanup stops the witness at the end of the test: a witness that exited
// by itself meanwhile fails the test. It prints the witness's log if the
// test failed.
func (w *Witness) cleanup() {
	w.mu.Lock()
	p := w.proc
	w.proc = nil
	w.mu.Unlock()
	if p != nil {
		select {
		case <-p.done:
			w.t.Errorf("witnesstest: %s (%s) exited during the test: %v", w.Name, w.URL, p.err)
		default:
			if err := p.stop(); err != nil {
				w.t.Errorf("witnesstest: stopping %s: %v", w.Name, err)
			}
		}
	}
	if w.t.Failed() {
		w.t.Logf("witnesstest: %s (%s) %s", w.Name, w.URL, w.logTail())
	}
}

// logTail returns the end of the witness's log, for an error message.
func (w *Witness) logTail() string {
	const max = 16 << 10
	log := w.Log()
	if len(log) > max {
		log = "..." + log[len(log)-max:]
	}
	return "log:\n" + log
}

// cosignatureVKey returns the cosignature/v1 verifier key of the witness
// named name with Ed25519 public key pub (C2SP tlog-cosignature):
// "<name>+<hash>+<base64(0x04 || pub)>", the hash being the first four
// bytes of SHA-256(name || "\n" || 0x04 || pub), in hex.
func cosignatureVKey(name string, pub ed25519.PublicKey) string {
	key := append([]byte{0x04}, pub...)
	h := sha256.Sum256(append([]byte(name+"\n"), key...))
	return fmt.Sprintf("%s+%08x+%s", name, binary.BigEndian.Uint32(h[:4]), base64.StdEncoding.EncodeToString(key))
}

// logOrigin returns the origin of the log of logVKey, failing t if logVKey
// isn't a note Ed25519 verifier key.
func logOrigin(t testing.TB, logVKey string) string {
	t.Helper()
	v, err := note.NewVerifier(logVKey)
	if err != nil {
		t.Fatalf("witnesstest: the log's verifier key %q: %v", logVKey, err)
	}
	return v.Name()
}

// notePublicKey returns the public key of a note Ed25519 verifier key.
func notePublicKey(vkey string) (ed25519.PublicKey, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed verifier key %q", vkey)
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != 0x01 {
		return nil, fmt.Errorf("verifier key %q is not an Ed25519 key", vkey)
	}
	return ed25519.PublicKey(key[1:]), nil
}

// witnessName returns a fresh witness name, so that two witnesses of a
// test never share one.
func witnessName(kind string) string {
	var b [4]byte
	rand.Read(b[:])
	return "witnesstest.invalid/" + kind + "-" + hex.EncodeToString(b[:])
}

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}
