package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/internal/syncbuf"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/witness"
)

// witnessSetup writes a witness key, a log key and a configuration listing
// the log, and makes a state directory.
type witnessSetup struct {
	dir, key, config, state string
	logSigner               note.Signer
	logVKey                 string
}

func newWitnessSetup(t *testing.T) *witnessSetup {
	t.Helper()
	s := &witnessSetup{dir: t.TempDir()}
	wkey, _, err := note.GenerateKey(rand.Reader, "witness.test/w1")
	if err != nil {
		t.Fatal(err)
	}
	lkey, lvkey, err := note.GenerateKey(rand.Reader, "pysumdb.test/log")
	if err != nil {
		t.Fatal(err)
	}
	s.logSigner, err = note.NewSigner(lkey)
	if err != nil {
		t.Fatal(err)
	}
	s.logVKey = lvkey
	s.key = filepath.Join(s.dir, "witness.key")
	s.config = filepath.Join(s.dir, "witness.toml")
	s.state = filepath.Join(s.dir, "state")
	if err := os.WriteFile(s.key, []byte(wkey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.config, []byte("# the logs\n[[log]]\nvkey = \""+lvkey+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(s.state, 0o700); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *witnessSetup) args(extra ...string) []string {
	return append([]string{"witness", "--key", s.key, "--config", s.config, "--state", s.state, "--listen", "127.0.0.1:0"}, extra...)
}

// checkpoint returns the log's signed checkpoint of a tree of n leaves.
func (s *witnessSetup) checkpoint(t *testing.T, n int64) []byte {
	t.Helper()
	msg, err := tiles.SignCheckpoint(tiles.Checkpoint{Origin: "pysumdb.test/log", Tree: tlog.Tree{N: n, Hash: tlog.Hash{byte(n)}}}, s.logSigner)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

var witnessURLPattern = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/)`)

// startWitness runs `pysumdb witness` (args) in the test's process until
// the test ends.
func startWitness(t *testing.T, args []string) *runningServer {
	t.Helper()
	return startServer(t, "witness", witnessURLPattern, args)
}

func TestWitnessCommand(t *testing.T) {
	s := newWitnessSetup(t)
	var stdout, stderr bytes.Buffer
	if status := runContext(context.Background(), []string{"witness", "vkey", "--key", s.key}, &stdout, &stderr); status != 0 {
		t.Fatalf("witness vkey: exit %d: %s", status, stderr.String())
	}
	vkey := strings.TrimSpace(stdout.String())
	cosigV, err := tiles.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatalf("witness vkey printed %q: %v", vkey, err)
	}
	logV, err := note.NewVerifier(s.logVKey)
	if err != nil {
		t.Fatal(err)
	}

	w := startWitness(t, s.args())
	if !strings.Contains(w.stderr.String(), vkey) {
		t.Errorf("start line lacks the vkey %s: %s", vkey, w.stderr)
	}
	ctx := context.Background()
	cp := s.checkpoint(t, 0)
	sigs, err := witness.AddCheckpoint(ctx, nil, w.url, 0, nil, cp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(append(cp, sigs...), note.VerifierList(logV, cosigV)); err != nil {
		t.Fatalf("cosignature does not verify with the printed vkey: %v", err)
	}
	cp = s.checkpoint(t, 1) // from the empty tree, no proof needed
	if _, err := witness.AddCheckpoint(ctx, nil, w.url, 0, nil, cp); err != nil {
		t.Fatal(err)
	}
	if status := w.shutdown(); status != 0 {
		t.Fatalf("exit %d after the first signal: %s", status, w.stderr)
	}
	if !strings.Contains(w.stderr.String(), "witness stopped") {
		t.Errorf("no stop line: %s", w.stderr)
	}

	// The state survives: the witness is at 1.
	w = startWitness(t, s.args())
	_, err = witness.AddCheckpoint(ctx, nil, w.url, 0, nil, s.checkpoint(t, 2))
	var conflict *witness.ConflictError
	if !errors.As(err, &conflict) || conflict.Size != 1 {
		t.Fatalf("after a restart: %v, want a conflict at 1", err)
	}
	// A second witness on the same state is refused.
	var out2 syncbuf.Buffer
	if status := runContext(ctx, s.args(), &out2, &out2); status != exitFailure || !strings.Contains(out2.String(), "in use") {
		t.Fatalf("second witness on one state: exit %d: %s", status, out2.String())
	}
	w.shutdown()

	// A damaged state stops the start.
	state := filepath.Join(s.state, "logs", "pysumdb%2Etest%2Flog")
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, bytes.Replace(data, []byte("\n1\n"), []byte("\n7\n"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if status := runContext(ctx, s.args(), &stdout, &stderr); status != exitFailure || !strings.Contains(stderr.String(), "damaged") {
		t.Fatalf("damaged state: exit %d: %s", status, stderr.String())
	}
}

func TestWitnessCommandUsage(t *testing.T) {
	s := newWitnessSetup(t)
	write := func(name, content string) string {
		p := filepath.Join(s.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vkey, err := tiles.CosignatureVerifierKey(strings.TrimSpace(string(witnessMust(os.ReadFile(s.key)))))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no key":        {[]string{"witness", "--config", s.config, "--state", s.state}, "needs --key"},
		"no config":     {[]string{"witness", "--key", s.key, "--state", s.state}, "needs --config"},
		"no state":      {[]string{"witness", "--key", s.key, "--config", s.config}, "needs --state"},
		"argument":      {append(s.args(), "x"), "takes 0 arguments"},
		"missing state": {[]string{"witness", "--key", s.key, "--config", s.config, "--state", filepath.Join(s.dir, "nope")}, "does not exist"},
		"vkey as key":   {[]string{"witness", "--key", write("vkey", s.logVKey), "--config", s.config, "--state", s.state}, "not a private note key"},
		"missing config": {[]string{"witness", "--key", s.key, "--config", filepath.Join(s.dir, "nope.toml"), "--state", s.state},
			"couldn't read the witness configuration"},
		"unknown key": {[]string{"witness", "--key", s.key, "--config", write("c1.toml", "[[log]]\nvkey = \""+s.logVKey+"\"\nurl = \"x\"\n"), "--state", s.state},
			"line 3: unknown key log.url"},
		"bad toml":   {[]string{"witness", "--key", s.key, "--config", write("c2.toml", "[[log]\n"), "--state", s.state}, "line 1"},
		"no logs":    {[]string{"witness", "--key", s.key, "--config", write("c3.toml", "# nothing\n"), "--state", s.state}, "no [[log]]"},
		"empty vkey": {[]string{"witness", "--key", s.key, "--config", write("c4.toml", "[[log]]\n"), "--state", s.state}, "log 1 has no vkey"},
		"bad vkey": {[]string{"witness", "--key", s.key, "--config", write("c5.toml", "[[log]]\nvkey = \"nope\"\n"), "--state", s.state},
			"verifier key"},
		"cosignature key as a log's": {[]string{"witness", "--key", s.key, "--config", write("c6.toml", "[[log]]\nvkey = \""+vkey+"\"\n"), "--state", s.state},
			"verifier key"},
		"log twice": {[]string{"witness", "--key", s.key, "--config", write("c7.toml", "[[log]]\nvkey = \""+s.logVKey+"\"\n[[log]]\nvkey = \""+s.logVKey+"\"\n"), "--state", s.state},
			"given twice"},
		"vkey without key": {[]string{"witness", "vkey"}, "needs --key"},
		"bad listen":       {append(s.args()[:len(s.args())-2], "--listen", "nonsense"), ""},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := runContext(context.Background(), tc.args, &stdout, &stderr)
			want := exitUsage
			if name == "bad listen" {
				want = exitFailure
			}
			if status != want || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, want %d; stderr %q, want %q", status, want, stderr.String(), tc.want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if status := runContext(context.Background(), []string{"witness", "--help"}, &stdout, &stderr); status != 0 ||
		!strings.Contains(stdout.String(), "pysumdb keygen --origin") || !strings.Contains(stdout.String(), "[[log]]") {
		t.Fatalf("witness --help: exit %d: %s", status, stdout.String())
	}
}

func witnessMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
