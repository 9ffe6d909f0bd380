package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

// generateBuild starts the go:generate line of generate.go that builds
// the verifier: the tests build it with the same command.
const generateBuild = "//go:generate env GOOS=js GOARCH=wasm go build "

// buildWASM builds the verifier into a temporary directory, with the
// flags of generate.go's go:generate line, and returns its path.
func buildWASM(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(string(src)) {
		if rest, ok := strings.CutPrefix(l, generateBuild); ok {
			line = rest
		}
	}
	if line == "" {
		t.Fatalf("generate.go has no line %q", generateBuild)
	}
	args, err := generateArgs(line)
	if err != nil {
		t.Fatalf("generate.go: %v", err)
	}
	out := filepath.Join(t.TempDir(), "pysumdb.wasm")
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return out
}

// generateArgs splits the arguments of a go:generate line as go generate
// does: at spaces, a double-quoted string (Go syntax) being one argument.
func generateArgs(line string) ([]string, error) {
	var args []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '"' {
			quoted, err := strconv.QuotedPrefix(line)
			if err != nil {
				return nil, fmt.Errorf("bad quoting in %q: %w", line, err)
			}
			arg, err := strconv.Unquote(quoted)
			if err != nil {
				return nil, fmt.Errorf("bad quoting in %q: %w", line, err)
			}
			args = append(args, arg)
			line = line[len(quoted):]
			continue
		}
		arg, rest, _ := strings.Cut(line, " ")
		args = append(args, arg)
		line = rest
	}
	return args, nil
}

// TestWASMUpToDate checks that the committed verifier and wasm_exec.js are
// what go generate makes of the sources with this toolchain: Go builds
// with -trimpath and without VCS stamping are reproducible.
func TestWASMUpToDate(t *testing.T) {
	built := buildWASM(t)
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	for _, f := range []struct{ committed, fresh string }{
		{"static/pysumdb.wasm", built},
		{"static/wasm_exec.js", filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js")},
	} {
		committed, err := os.ReadFile(f.committed)
		if err != nil {
			t.Errorf("%v: run go generate ./web", err)
			continue
		}
		fresh, err := os.ReadFile(f.fresh)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(committed, fresh) {
			t.Errorf("web/%s is not what the sources and this Go toolchain make of it: run go generate ./web", f.committed)
		}
	}
}

// nodeDriver runs the verifier under Node.js as the page runs it: it
// loads wasm_exec.js and the wasm (argv[2], argv[3]), defines
// pysumdbReady, and then reads calls from stdin, one JSON array of
// {fn, args} a line, made all at once; it writes a line "RESULT " and the
// JSON array of their outcomes, {value} or {error: message}.
const nodeDriver = `"use strict";
const fs = require("fs");
const readline = require("readline");
const [wasmExec, wasm] = process.argv.slice(2);
require(wasmExec);

async function settle(call) {
	try {
		return { value: await globalThis.pysumdb[call.fn](...call.args) };
	} catch (e) {
		return { error: e instanceof Error ? e.message : "rejected with a non-Error: " + String(e) };
	}
}

globalThis.pysumdbReady = () => {
	const lines = readline.createInterface({ input: process.stdin });
	let queue = Promise.resolve();
	lines.on("line", (line) => {
		const calls = JSON.parse(line);
		queue = queue.then(async () => {
			const results = await Promise.all(calls.map(settle));
			process.stdout.write("RESULT " + JSON.stringify(results) + "\n");
		});
	});
	lines.on("close", () => queue.then(() => process.exit(0)));
};

const go = new Go();
WebAssembly.instantiate(fs.readFileSync(wasm), go.importObject)
	.then((result) => go.run(result.instance))
	.catch((err) => { console.error(err); process.exit(1); });
`

// page is the verifier running under Node.js.
type page struct {
	t      *testing.T
	in     io.Writer
	out    *bufio.Scanner
	stderr *bytes.Buffer
	done   chan error
}

// jsCall is a call of a function of the pysumdb object.
type jsCall struct {
	Fn   string   `json:"fn"`
	Args []string `json:"args"`
}

// jsOutcome is what a call's Promise settled with.
type jsOutcome struct {
	Value json.RawMessage `json:"value"`
	Error *string         `json:"error"`
}

// startPage runs the verifier at wasm under Node.js until the test ends.
// Node.js's fetch() stands for the browser's.
func startPage(t *testing.T, node, wasm string) *page {
	t.Helper()
	dir := t.TempDir()
	driver := filepath.Join(dir, "driver.js")
	if err := os.WriteFile(driver, []byte(nodeDriver), 0o644); err != nil {
		t.Fatal(err)
	}
	wasmExec, err := filepath.Abs("static/wasm_exec.js")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, node, driver, wasmExec, wasm)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &page{t: t, in: in, out: bufio.NewScanner(out), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	p.out.Buffer(nil, 16<<20)
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		in.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Error("node didn't exit after its input ended")
		}
		cancel()
	})
	return p
}

// callAll makes calls at once and returns their outcomes.
func (p *page) callAll(calls ...jsCall) []jsOutcome {
	p.t.Helper()
	for i := range calls {
		if calls[i].Args == nil {
			calls[i].Args = []string{}
		}
	}
	line, err := json.Marshal(calls)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.in.Write(append(line, '\n')); err != nil {
		p.t.Fatalf("writing to node: %v", err)
	}
	for p.out.Scan() {
		if rest, ok := strings.CutPrefix(p.out.Text(), "RESULT "); ok {
			var outcomes []jsOutcome
			if err := json.Unmarshal([]byte(rest), &outcomes); err != nil {
				p.t.Fatalf("node's answer %s: %v", rest, err)
			}
			return outcomes
		}
		p.t.Logf("node: %s", p.out.Text())
	}
	p.t.Fatalf("node ended without answering %s (%v): %v\n%s", line, p.out.Err(), <-p.done, p.stderr)
	return nil
}

// ok makes a call that must succeed and decodes its value into v.
func (p *page) ok(v any, fn string, args ...string) {
	p.t.Helper()
	o := p.callAll(jsCall{fn, args})[0]
	if o.Error != nil {
		p.t.Fatalf("pysumdb.%s(%q): %s", fn, args, *o.Error)
	}
	if err := json.Unmarshal(o.Value, v); err != nil {
		p.t.Fatalf("pysumdb.%s(%q) = %s: %v", fn, args, o.Value, err)
	}
}

// fails makes a call that must be rejected with an Error whose message
// starts with prefix and contains want.
func (p *page) fails(prefix, want, fn string, args ...string) {
	p.t.Helper()
	checkRejected(p.t, p.callAll(jsCall{fn, args})[0], prefix, want, fn, args)
}

func checkRejected(t *testing.T, o jsOutcome, prefix, want, fn string, args []string) {
	t.Helper()
	switch {
	case o.Error == nil:
		t.Errorf("pysumdb.%s(%q) = %s, want an error containing %q", fn, args, o.Value, want)
	case !strings.HasPrefix(*o.Error, prefix) || !strings.Contains(*o.Error, want):
		t.Errorf("pysumdb.%s(%q) rejected with %q, want %q…%q", fn, args, *o.Error, prefix, want)
	}
}

// The results of the API, as the page reads them.
type (
	openResult struct {
		Origin string `json:"origin"`
		VKey   string `json:"vkey"`
	}
	checkpointResult struct {
		Origin       string `json:"origin"`
		Size         int64  `json:"size"`
		RootHash     string `json:"root_hash"`
		Text         string `json:"text"`
		Cosignatures []struct {
			Name     string `json:"name"`
			KeyHash  string `json:"key_hash"`
			Time     string `json:"time"`
			Verified bool   `json:"verified"`
		} `json:"cosignatures"`
		LastModified *string `json:"last_modified"`
	}
	lookupResult struct {
		Project  string `json:"project"`
		TreeSize int64  `json:"tree_size"`
		Files    []struct {
			Filename   string `json:"filename"`
			SHA256     string `json:"sha256"`
			Size       int64  `json:"size"`
			UploadTime string `json:"upload_time"`
			Leaf       int64  `json:"leaf"`
			Publisher  string `json:"publisher"`
			Verified   bool   `json:"verified"`
			Note       string `json:"note"`
		} `json:"files"`
	}
	verifyResult struct {
		Format    string `json:"format"`
		Artifacts []struct {
			Project  string `json:"project"`
			Version  string `json:"version"`
			Filename string `json:"filename"`
			SHA256   string `json:"sha256"`
			Line     int    `json:"line"`
			Status   string `json:"status"`
			Detail   string `json:"detail"`
		} `json:"artifacts"`
		Counts         map[string]int `json:"counts"`
		CheckpointSize int64          `json:"checkpoint_size"`
	}
)

// The files of the test log: foo 1.0 and an attested bar 2.0, then foo
// 1.1.
var (
	firstBatch = []sequencer.Record{
		clienttest.Record("foo", "foo-1.0.tar.gz"),
		clienttest.Record("foo", "foo-1.0-py3-none-any.whl"),
		attested(clienttest.Record("bar", "bar-2.0.tar.gz")),
	}
	secondBatch = []sequencer.Record{clienttest.Record("foo", "foo-1.1.tar.gz")}
)

const barPublisher = "https://github.com/bar/bar/.github/workflows/release.yml@refs/tags/v2.0"

func attested(r sequencer.Record) sequencer.Record {
	r.Publisher = &tiles.Publisher{Kind: tiles.PublisherGitHub, SAN: barPublisher}
	return r
}

// TestWASMAPI runs the verifier under Node.js against logs served over
// HTTP, honest and not, through the JavaScript API the page uses.
func TestWASMAPI(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node is not on PATH: %v", err)
	}
	wasm := buildWASM(t)

	t.Run("honest log", func(t *testing.T) {
		tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
		witness := clienttest.NewWitness(t, "witness.test/w")
		clienttest.CosignCheckpoint(t, tl.Store, witness)
		srv := clienttest.Serve(t, tl)
		p := startPage(t, node, wasm)

		p.fails("", "no log opened", "checkpoint")
		p.fails("", "not a verifier key", "open", "pysumdb.test/log+nope", srv.URL)
		p.fails("", "not an absolute http(s) URL", "open", tl.VKey, "../")
		var opened openResult
		p.ok(&opened, "open", tl.VKey, srv.URL+"/")
		if opened != (openResult{Origin: "pysumdb.test/log", VKey: tl.VKey}) {
			t.Errorf("open = %+v", opened)
		}

		var cp checkpointResult
		p.ok(&cp, "checkpoint")
		signed := string(tl.Read(t, tiles.CheckpointKey))
		if cp.Origin != "pysumdb.test/log" || cp.Size != tl.Size(t) || cp.Text != signed ||
			!strings.HasPrefix(signed, fmt.Sprintf("%s\n%d\n%s\n", cp.Origin, cp.Size, cp.RootHash)) ||
			cp.LastModified == nil || *cp.LastModified != "" {
			t.Errorf("checkpoint = %+v, want the log's of size %d:\n%s", cp, tl.Size(t), signed)
		}
		if len(cp.Cosignatures) != 1 {
			t.Fatalf("cosignatures = %+v, want the witness's", cp.Cosignatures)
		}
		c := cp.Cosignatures[0]
		cosigned, err := time.Parse(time.RFC3339, c.Time)
		if c.Name != "witness.test/w" || !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(c.KeyHash) || c.Verified ||
			err != nil || time.Since(cosigned) > time.Hour {
			t.Errorf("cosignature = %+v (%v)", c, err)
		}

		var foo lookupResult
		p.ok(&foo, "lookup", "Foo")
		if foo.Project != "foo" || foo.TreeSize != cp.Size || len(foo.Files) != 2 {
			t.Fatalf("lookup(Foo) = %+v", foo)
		}
		for _, f := range foo.Files {
			if f.SHA256 != clienttest.DigestOf(f.Filename) || f.Leaf != tl.LeafOf(t, "foo", f.Filename) ||
				f.Size != int64(len(f.Filename)) || f.UploadTime != "" || f.Publisher != "" || !f.Verified || f.Note != "" {
				t.Errorf("lookup(Foo) file %+v", f)
			}
		}
		var bar lookupResult
		p.ok(&bar, "lookup", "bar")
		if len(bar.Files) != 1 || bar.Files[0].Publisher != "github "+barPublisher || !bar.Files[0].Verified {
			t.Errorf("lookup(bar) = %+v, want its file with its publisher", bar)
		}
		p.fails("", "not a project name", "lookup", "-foo")
		// All at once, as a page may ask.
		outcomes := p.callAll(jsCall{"lookup", []string{"nope"}}, jsCall{"lookup", []string{"foo"}}, jsCall{"checkpoint", nil})
		checkRejected(t, outcomes[0], "project nope is not in the log", "", "lookup", []string{"nope"})
		if outcomes[1].Error != nil || outcomes[2].Error != nil {
			t.Errorf("lookup and checkpoint at once: %+v", outcomes)
		}

		reqs := fmt.Sprintf("foo==1.0 --hash=sha256:%s\nbar==2.0 --hash=sha256:%s\nbaz==1.0 --hash=sha256:%s\n-e ./local\n",
			clienttest.DigestOf("foo-1.0-py3-none-any.whl"), clienttest.DigestOf("evil"), clienttest.DigestOf("baz-1.0.tar.gz"))
		var rep verifyResult
		p.ok(&rep, "verifyLockfile", "requirements.txt", reqs)
		wantCounts := map[string]int{"verified": 1, "mismatch": 1, "not-in-log": 1, "skipped": 1, "error": 0}
		if rep.Format != "requirements" || rep.CheckpointSize != cp.Size || fmt.Sprint(rep.Counts) != fmt.Sprint(wantCounts) || len(rep.Artifacts) != 4 {
			t.Fatalf("verifyLockfile(requirements.txt) = %+v", rep)
		}
		for i, want := range []struct{ project, status, detail string }{
			{"foo", "verified", fmt.Sprintf("foo-1.0-py3-none-any.whl sha256:%s at leaf %d", clienttest.DigestOf("foo-1.0-py3-none-any.whl"), tl.LeafOf(t, "foo", "foo-1.0-py3-none-any.whl"))},
			{"bar", "mismatch", "is none of the 1 logged files of bar 2.0: bar-2.0.tar.gz"},
			{"baz", "not-in-log", "project baz is not in the log"},
			{"", "skipped", "editable install: not a PyPI file"},
		} {
			a := rep.Artifacts[i]
			if a.Project != want.project || a.Status != want.status || !strings.Contains(a.Detail, want.detail) || a.Line != i+1 {
				t.Errorf("artifact %d = %+v, want %s %s %q", i, a, want.project, want.status, want.detail)
			}
		}
		uvLock := fmt.Sprintf(`version = 1
requires-python = ">=3.9"

[[package]]
name = "foo"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.pythonhosted.org/packages/ab/cd/foo-1.0.tar.gz", hash = "sha256:%s" }
`, clienttest.DigestOf("foo-1.0.tar.gz"))
		// The format from the content, as the command tells it.
		p.ok(&rep, "verifyLockfile", "", uvLock)
		if rep.Format != "uv" || len(rep.Artifacts) != 1 || rep.Artifacts[0].Filename != "foo-1.0.tar.gz" || rep.Artifacts[0].Status != "verified" {
			t.Errorf("verifyLockfile of a uv.lock without a name = %+v", rep)
		}
		p.fails("couldn't parse uv.lock", "", "verifyLockfile", "uv.lock", "version = 1\n[[package]\n")
		p.fails("", "can't tell the lockfile format", "verifyLockfile", "notes", "hello")

		// The log grows: the new checkpoint is proven consistent with the
		// one verified before.
		tl.Append(t, secondBatch)
		p.ok(&cp, "checkpoint")
		if cp.Size != tl.Size(t) {
			t.Errorf("checkpoint after the log grew: size %d, want %d", cp.Size, tl.Size(t))
		}
		p.ok(&foo, "lookup", "foo")
		if len(foo.Files) != 3 || !foo.Files[2].Verified || foo.Files[2].Filename != "foo-1.1.tar.gz" {
			t.Errorf("lookup(foo) after the log grew = %+v", foo)
		}
	})

	t.Run("misbehaving log", func(t *testing.T) {
		tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
		tile := tl.Read(t, "tile/0/001")
		forged := clienttest.ResignIndex(t, tl, tl.Read(t, tiles.IndexKey("foo")), "foo",
			clienttest.ForgeSHA256(t, "foo-1.0.tar.gz", clienttest.DigestOf("evil")))
		// Its file is in tile/0/001, and its index line the forged one.
		reqs := fmt.Sprintf("foo==1.0 --hash=sha256:%s\n", clienttest.DigestOf("foo-1.0.tar.gz"))
		for name, tc := range map[string]struct {
			rewrite clienttest.Rewrite
			want    string
		}{
			"bad checkpoint signature": {clienttest.Replace(tiles.CheckpointKey, clienttest.BreakSignature(tl.Read(t, tiles.CheckpointKey))), "checkpoint signature"},
			"truncated tile":           {clienttest.Replace("tile/0/001", tile[:len(tile)-32]), "inclusion of leaf"},
			"forged index":             {clienttest.Replace(tiles.IndexKey("foo"), forged), "index says leaf"},
		} {
			t.Run(name, func(t *testing.T) {
				srv := clienttest.Serve(t, tl)
				srv.SetRewrite(tc.rewrite)
				p := startPage(t, node, wasm)
				var opened openResult
				p.ok(&opened, "open", tl.VKey, srv.URL)
				p.fails("SECURITY ERROR: ", tc.want, "lookup", "foo")
				p.fails("SECURITY ERROR: ", tc.want, "verifyLockfile", "requirements.txt", reqs)
			})
		}
	})

	t.Run("rollback and fork", func(t *testing.T) {
		tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
		old := tl.Read(t, tiles.CheckpointKey)
		tl.Append(t, secondBatch)
		// The same key signing another history of the same beginning.
		fork := clienttest.NewKeyedLog(t, tl.SKey, tl.VKey, firstBatch, []sequencer.Record{clienttest.Record("evil", "evil-1.0.tar.gz")})
		srv := clienttest.Serve(t, tl)
		p := startPage(t, node, wasm)
		var opened openResult
		p.ok(&opened, "open", tl.VKey, srv.URL)
		var cp checkpointResult
		p.ok(&cp, "checkpoint")

		srv.SetRewrite(clienttest.Replace(tiles.CheckpointKey, old))
		p.fails("SECURITY ERROR: ", "rollback", "checkpoint")
		srv.SetRewrite(func(key string, _ int, _ []byte) (int, []byte) {
			data, _, err := fork.Store.Read(context.Background(), key)
			if err != nil {
				return http.StatusNotFound, nil
			}
			return http.StatusOK, data
		})
		p.fails("SECURITY ERROR: ", "misbehaves", "checkpoint")
		p.fails("SECURITY ERROR: ", "misbehaves", "lookup", "foo")
		p.fails("SECURITY ERROR: ", "misbehaves", "verifyLockfile", "requirements.txt",
			fmt.Sprintf("foo==1.0 --hash=sha256:%s\n", clienttest.DigestOf("foo-1.0.tar.gz")))

		// Served honestly again, the log is as verified before.
		srv.SetRewrite(nil)
		var again checkpointResult
		p.ok(&again, "checkpoint")
		if again.Size != cp.Size || again.RootHash != cp.RootHash {
			t.Errorf("checkpoint = %+v, want %+v", again, cp)
		}
		if _, err := base64.StdEncoding.DecodeString(again.RootHash); err != nil {
			t.Errorf("root hash %q: %v", again.RootHash, err)
		}
	})
}
