package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/internal/witnesstest"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
)

// cliRun runs the command line args in-process and returns its exit
// status and output.
func cliRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := runContext(context.Background(), args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

// mustRun runs args and fails the test unless it exits with want.
func mustRun(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	status, stdout, stderr := cliRun(t, args...)
	if status != want {
		t.Fatalf("pysumdb %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), status, want, stdout, stderr)
	}
	return stdout, stderr
}

// testWitnessServer is a witness a cosigning test runs: ours, litewitness
// or omniwitness.
type testWitnessServer interface {
	URL() string
	VKey() string
	Stop()
	Restart()
}

// cosignLog is a log whose sequencer asks witnesses to cosign.
type cosignLog struct {
	dir, store, key, vkey, witnesses, cache string
	batches                                 int
}

// newCosignLog makes a log key and an empty store.
func newCosignLog(t *testing.T, origin string) *cosignLog {
	t.Helper()
	dir := t.TempDir()
	l := &cosignLog{dir: dir, store: filepath.Join(dir, "log"), key: filepath.Join(dir, "log.key"),
		witnesses: filepath.Join(dir, "witnesses.toml"), cache: filepath.Join(dir, "cache")}
	stdout, _ := mustRun(t, 0, "keygen", "--origin", origin, "--out", l.key)
	l.vkey = strings.TrimSpace(stdout)
	return l
}

// useWitnesses writes the sequencer's witness list.
func (l *cosignLog) useWitnesses(t *testing.T, ws ...testWitnessServer) {
	t.Helper()
	var b strings.Builder
	b.WriteString("timeout_seconds = 5\n")
	for _, w := range ws {
		fmt.Fprintf(&b, "\n[[witness]]\nurl = %q\nvkey = %q\n", w.URL(), w.VKey())
	}
	if err := os.WriteFile(l.witnesses, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sequence logs a new batch of n files and returns the sequencer's
// standard error.
func (l *cosignLog) sequence(t *testing.T, n int) string {
	t.Helper()
	records := filepath.Join(l.dir, fmt.Sprintf("batch%d.jsonl", l.batches))
	var data []byte
	for _, r := range seqtest.Records(l.batches*1000, n) {
		data = append(data, jsonLine(r)...)
	}
	l.batches++
	if err := os.WriteFile(records, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := mustRun(t, 0, "sequence", "--store", l.store, "--key", l.key, "--from-jsonl", records, "--witnesses", l.witnesses)
	return stderr
}

// witnessArgs returns the client flags of a policy: quorum of ws.
func witnessArgs(quorum int, ws ...testWitnessServer) []string {
	var args []string
	for _, w := range ws {
		args = append(args, "--witness", w.VKey())
	}
	return append(args, "--witness-quorum", fmt.Sprint(quorum))
}

// clientArgs returns the arguments of a client command on the log.
func (l *cosignLog) clientArgs(command string, extra ...string) []string {
	args := []string{command, "--log", l.store, "--vkey", l.vkey}
	if command == "lookup" || command == "publishers" {
		args = append(args, "--cache-dir", l.cache)
	}
	return append(args, extra...)
}

// runCosignScenario runs what issue 12 asks of every witness: a log
// cosigned by two witnesses passes a client policy of 2 of 2 in every
// client command; with one witness down batches still publish and a
// client needing it fails clearly; when it comes back, the next batch gets
// its cosignature.
func runCosignScenario(t *testing.T, l *cosignLog, w1, w2 testWitnessServer) {
	l.useWitnesses(t, w1, w2)
	l.sequence(t, 300)
	l.sequence(t, 20)
	both := witnessArgs(2, w1, w2)
	project := strings.ToLower(seqtest.Records(1000, 1)[0].Project)
	for _, command := range [][]string{
		l.clientArgs("lookup", append(both, project)...),
		l.clientArgs("publishers", append(both, project)...),
		l.clientArgs("audit", both...),
		append([]string{"mirror", "--from", l.store, "--to", filepath.Join(l.dir, "mirror"), "--vkey", l.vkey}, both...),
	} {
		mustRun(t, 0, command...)
	}
	// The mirror copied the cosigned checkpoint.
	mirrored, err := os.ReadFile(filepath.Join(l.dir, "mirror", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	published, _ := os.ReadFile(filepath.Join(l.store, "checkpoint"))
	if !bytes.Equal(mirrored, published) {
		t.Errorf("the mirror's checkpoint differs from the log's:\n%s\n%s", mirrored, published)
	}

	// One witness down: the batch is published, with one cosignature.
	w2.Stop()
	stderr := l.sequence(t, 5)
	if !strings.Contains(stderr, "witness did not cosign the checkpoint") {
		t.Errorf("the sequencer does not say a witness failed:\n%s", stderr)
	}
	_, stderr = mustRun(t, 1, l.clientArgs("lookup", append(both, project)...)...)
	name2 := strings.SplitN(w2.VKey(), "+", 2)[0]
	name1 := strings.SplitN(w1.VKey(), "+", 2)[0]
	for _, want := range []string{"has 1 witness cosignatures, the witness policy needs 2", "cosigned by " + name1, "no cosignature from " + name2} {
		if !strings.Contains(stderr, want) {
			t.Errorf("lookup short of the policy does not say %q:\n%s", want, stderr)
		}
	}
	mustRun(t, 0, l.clientArgs("lookup", append(witnessArgs(1, w1, w2), project)...)...)

	// Back: the next batch gets its cosignature, the witness caught up
	// from the size it held.
	w2.Restart()
	l.sequence(t, 7)
	mustRun(t, 0, l.clientArgs("lookup", append(both, project)...)...)
	mustRun(t, 0, l.clientArgs("audit", both...)...)
}

// ourWitness is a `pysumdb witness` command run in-process.
type ourWitness struct {
	t     *testing.T
	setup []string
	run   *runningServer
	vkey  string
	url   string
}

// startOurWitness starts `pysumdb witness` for the log of logVKey.
func startOurWitness(t *testing.T, name, logVKey string) *ourWitness {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "witness.key")
	mustRun(t, 0, "keygen", "--origin", name, "--out", key)
	stdout, _ := mustRun(t, 0, "witness", "vkey", "--key", key)
	config := filepath.Join(dir, "witness.toml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("[[log]]\nvkey = %q\n", logVKey)), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	w := &ourWitness{t: t, vkey: strings.TrimSpace(stdout),
		setup: []string{"witness", "--key", key, "--config", config, "--state", state, "--listen", "127.0.0.1:0"}}
	w.Restart()
	return w
}

func (w *ourWitness) URL() string  { return w.url }
func (w *ourWitness) VKey() string { return w.vkey }

func (w *ourWitness) Stop() {
	if status := w.run.shutdown(); status != 0 {
		w.t.Fatalf("witness exited %d: %s", status, w.run.stderr)
	}
}

// Restart starts the witness again on its state. Its port changes, as a
// witness moved to another machine would: the sequencer's list is
// rewritten by the test where that matters.
func (w *ourWitness) Restart() {
	listen := "127.0.0.1:0"
	if w.url != "" {
		listen = strings.TrimSuffix(strings.TrimPrefix(w.url, "http://"), "/")
	}
	args := append([]string(nil), w.setup...)
	args[len(args)-1] = listen
	w.run = startWitness(w.t, args)
	w.url = w.run.url
}

func TestCosignOurWitnesses(t *testing.T) {
	l := newCosignLog(t, "pysumdb.test/cosigned")
	w1 := startOurWitness(t, "witness.test/w1", l.vkey)
	w2 := startOurWitness(t, "witness.test/w2", l.vkey)
	runCosignScenario(t, l, w1, w2)
}

// TestCosignFork forks a cosigned log, at the same size and then at a
// larger one: the witness refuses both and prints both checkpoints and the
// proof; the fork is still published, without the cosignature, so a client
// with the policy refuses it, and a client that saw the first log refuses
// it as a fork, printing both checkpoints and the proof.
func TestCosignFork(t *testing.T) {
	l := newCosignLog(t, "pysumdb.test/forked")
	w := startOurWitness(t, "witness.test/w", l.vkey)
	l.useWitnesses(t, w)
	l.sequence(t, 300)
	fork := *l
	fork.store = filepath.Join(l.dir, "fork")
	if err := os.CopyFS(fork.store, os.DirFS(l.store)); err != nil {
		t.Fatal(err)
	}
	l.sequence(t, 20)
	one := witnessArgs(1, w)
	project := strings.ToLower(seqtest.Records(0, 1)[0].Project)
	mustRun(t, 0, l.clientArgs("lookup", append(one, project)...)...)
	honest, err := os.ReadFile(filepath.Join(l.store, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}

	// The same size, other entries: the fork's batch is numbered apart.
	fork.batches = 7
	stderr := fork.sequence(t, 20)
	if !strings.Contains(stderr, "it has seen a fork of this log") {
		t.Errorf("the fork's sequencer does not report the witness's refusal:\n%s", stderr)
	}
	forked, _ := os.ReadFile(filepath.Join(fork.store, "checkpoint"))
	if bytes.Equal(checkpointText(honest), checkpointText(forked)) {
		t.Fatal("the fork has the log's checkpoint")
	}
	w.checkEvidence(t, honest, forked, false)

	// A larger tree, inconsistent with the one the witness holds: its
	// proof fails.
	stderr = fork.sequence(t, 5)
	if !strings.Contains(stderr, "422") {
		t.Errorf("the fork's sequencer does not report the witness's 422:\n%s", stderr)
	}
	forked, _ = os.ReadFile(filepath.Join(fork.store, "checkpoint"))
	w.checkEvidence(t, honest, forked, true)

	// A client with the policy refuses the fork (no cosignature); one
	// that saw the honest log refuses it as a fork, with the evidence.
	_, stderr = mustRun(t, 1, fork.clientArgs("lookup", append(one, project)...)...)
	if !strings.Contains(stderr, "no cosignature from witness.test/w") {
		t.Errorf("lookup does not say the fork lacks the witness's cosignature:\n%s", stderr)
	}
	_, stderr = mustRun(t, 3, fork.clientArgs("lookup", project)...)
	wants := []string{"SECURITY ERROR", "proof of misbehaviour"}
	wants = append(wants, strings.Fields(string(checkpointText(honest)))...)
	wants = append(wants, strings.Fields(string(checkpointText(forked)))...)
	for _, want := range wants {
		if !strings.Contains(stderr, want) {
			t.Errorf("lookup of the fork does not print %q:\n%s", want, stderr)
		}
	}
}

// checkpointText returns the body of a signed checkpoint.
func checkpointText(signed []byte) []byte {
	text, _, _ := bytes.Cut(signed, []byte("\n\n"))
	return append(text, '\n')
}

// checkEvidence checks that the witness refused submitted, printing and
// keeping both checkpoints (and the proof, if withProof).
func (w *ourWitness) checkEvidence(t *testing.T, witnessed, submitted []byte, withProof bool) {
	t.Helper()
	stderr := w.run.stderr.String()
	if !strings.Contains(stderr, "SECURITY ERROR") {
		t.Errorf("the witness does not report a SECURITY ERROR:\n%s", stderr)
	}
	files, _ := filepath.Glob(filepath.Join(w.state(), "evidence", "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Witnessed string   `json:"witnessed_checkpoint"`
			Submitted string   `json:"submitted_checkpoint"`
			Proof     []string `json:"proof"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.HasPrefix(ev.Submitted, string(checkpointText(submitted))) {
			continue
		}
		if !strings.HasPrefix(ev.Witnessed, string(checkpointText(witnessed))) {
			t.Errorf("the evidence of %s holds the witnessed checkpoint\n%s\nwant\n%s", f, ev.Witnessed, witnessed)
		}
		if withProof && len(ev.Proof) == 0 {
			t.Errorf("the evidence of %s holds no proof", f)
		}
		// Printed too, whole.
		for _, line := range append(ev.Proof, strings.Split(strings.TrimSpace(string(checkpointText(submitted))), "\n")...) {
			if !strings.Contains(stderr, line) {
				t.Errorf("the witness does not print %q:\n%s", line, stderr)
			}
		}
		return
	}
	t.Fatalf("the witness kept no evidence of\n%s(files %v)", submitted, files)
}

func (w *ourWitness) state() string {
	return w.setup[6]
}

// realWitness adapts a witness of witnesstest (torchwood's litewitness,
// transparency-dev's omniwitness) to the scenario.
type realWitness struct{ w *witnesstest.Witness }

func (r realWitness) URL() string  { return r.w.URL }
func (r realWitness) VKey() string { return r.w.VKey }
func (r realWitness) Stop()        { r.w.Stop() }
func (r realWitness) Restart()     { r.w.Restart() }

// TestCosignIndependentWitnesses runs the scenario against two witnesses
// written by others, started on loopback: a log they cosign passes a
// client policy of 2 of 2.
func TestCosignIndependentWitnesses(t *testing.T) {
	l := newCosignLog(t, "pysumdb.test/interop")
	lite := realWitness{witnesstest.StartLitewitness(t, l.vkey)}
	omni := realWitness{witnesstest.StartOmniwitness(t, l.vkey)}
	runCosignScenario(t, l, lite, omni)
	// And the other way round: omniwitness down.
	omni.Stop()
	l.sequence(t, 3)
	_, stderr := mustRun(t, 1, l.clientArgs("audit", witnessArgs(2, lite, omni)...)...)
	if !strings.Contains(stderr, "no cosignature from "+omni.w.Name) {
		t.Errorf("audit short of the policy does not name omniwitness:\n%s", stderr)
	}
	omni.Restart()
	l.sequence(t, 3)
	mustRun(t, 0, l.clientArgs("audit", witnessArgs(2, lite, omni)...)...)
}
