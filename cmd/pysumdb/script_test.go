package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/pysumdb/pysumdb/internal/pydisttest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/export/exporttest"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	// The race detector makes a process sleep a second as it exits (to
	// let other goroutines report races): scripts run hundreds of them.
	// Races are still reported, before the exit.
	if !strings.Contains(os.Getenv("GORACE"), "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	testscript.Main(m, map[string]func(){
		"pysumdb": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script, each a
// session of a user at a shell with the pysumdb binary.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Values[pypiServersKey{}] = map[string]*fakepypi.Server{}
			env.Setenv("GORACE", os.Getenv("GORACE"))
			// Each script has a client cache of its own.
			env.Setenv("PYSUMDB_CACHE", filepath.Join(env.WorkDir, ".cache"))
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond != "python" {
				return false, fmt.Errorf("unknown condition %s", cond)
			}
			_, err := exec.LookPath("python3")
			return err == nil, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"genrecords": genRecords,
			"race":       raceSequencers,
			"flipbyte":   flipByte,
			"proofof":    proofOf,
			"exits":      exits,
			"pypi":       pypiCommand,
			"waitfile":   waitFile,
			"fakegcs":    fakeGCS,
			"freeport":   freePort,
			"waitport":   waitPort,
			"venv":       venvCommand(t),
			"pip":        pipCommand(t),
		},
	})
}

// genRecords writes N synthetic JSON-lines records to FILE, numbered from
// FIRST: genrecords FIRST N FILE.
func genRecords(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: genrecords FIRST N FILE")
	}
	first, err1 := strconv.Atoi(args[0])
	n, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		ts.Fatalf("genrecords: FIRST and N must be numbers")
	}
	f, err := os.Create(ts.MkAbs(args[2]))
	ts.Check(err)
	w := bufio.NewWriter(f)
	for k := first; k < first+n; k++ {
		fmt.Fprintf(w, `{"project":"Proj_%d","filename":"proj_%d-%d.0.tar.gz","sha256":"%064x","size":%d,"upload_time":"2024-05-01T00:00:00Z"}`+"\n",
			k%50, k%50, k, k+1, 100+k)
	}
	ts.Check(w.Flush())
	ts.Check(f.Close())
}

// jsonLine returns r as a line of `sequence --from-jsonl` input.
func jsonLine(r sequencer.Record) []byte {
	line, err := json.Marshal(struct {
		Project    string           `json:"project"`
		Filename   string           `json:"filename"`
		SHA256     string           `json:"sha256"`
		Size       int64            `json:"size"`
		UploadTime string           `json:"upload_time"`
		Publisher  *tiles.Publisher `json:"publisher,omitempty"`
	}{r.Project, r.Filename, hex.EncodeToString(r.SHA256[:]), r.Size, r.UploadTime, r.Publisher})
	if err != nil {
		panic(err) // strings, an integer and a struct of strings always encode
	}
	return append(line, '\n')
}

// raceSequencers starts one `pysumdb sequence` process per records file,
// all at once on one store, and checks that each exits 0 or 4 (busy) and
// at least one exits 0: race STORE KEY FILE...
func raceSequencers(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: race STORE KEY FILE...")
	}
	var cmds []*exec.Cmd
	for _, file := range args[2:] {
		cmd := exec.Command("pysumdb", "sequence", "-q", "--store", ts.MkAbs(args[0]), "--key", ts.MkAbs(args[1]), "--from-jsonl", ts.MkAbs(file))
		cmd.Env = os.Environ()
		cmd.Env = append(cmd.Env, "PATH="+ts.Getenv("PATH"))
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		ts.Check(cmd.Start())
	}
	succeeded := 0
	for i, cmd := range cmds {
		err := cmd.Wait()
		status := cmd.ProcessState.ExitCode()
		ts.Logf("sequencer %d exited %d (%v)", i, status, err)
		switch status {
		case exitOK:
			succeeded++
		case exitBusy:
		default:
			ts.Fatalf("sequencer %d exited %d, want 0 or 4", i, status)
		}
	}
	if succeeded == 0 {
		ts.Fatalf("no sequencer succeeded")
	}
}

// flipByte flips one byte of FILE at OFFSET: flipbyte FILE OFFSET.
func flipByte(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	off, err := strconv.Atoi(args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	data[off] ^= 0x01
	ts.Check(os.WriteFile(path, data, 0o644))
}

// proofOf writes, on its own, the tlog-proof of a leaf from the object of
// the proofs of its bundle: proofof PROOFS-FILE LEAF OUT, PROOFS-FILE a
// path ending in its key (log/proof/000.p/10).
func proofOf(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 || neg {
		ts.Fatalf("usage: proofof PROOFS-FILE LEAF OUT")
	}
	path := filepath.ToSlash(args[0])
	bundle, err := tiles.ParseProofBundleKey(path[strings.Index(path, tiles.ProofPrefix):])
	ts.Check(err)
	leaf, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	proofs, err := tiles.SplitProofBundle(data, bundle)
	ts.Check(err)
	one, err := tiles.FormatTlogProof(proofs[leaf-bundle.N*tiles.TileWidth])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), one, 0o644))
}

// exits runs a command and checks its exit status, keeping its output for
// stdout and stderr: exits STATUS COMMAND ARGS...
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || neg {
		ts.Fatalf("usage: exits STATUS COMMAND ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		got = exitErr.ExitCode()
	case err != nil:
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// pypiCommand drives loopback PyPI servers for a script:
//
//	pypi start NAME PROJECTS FILES   start a server seeded with synthetic
//	                                 files; its URL is in $NAME
//	pypi add NAME PROJECT FILENAME SHA256 SIZE
//	pypi tamper NAME PROJECT FILENAME SHA256 SIZE
//	pypi export NAME parquet|json DIR
//	                                 write the files NAME lists as a
//	                                 BigQuery export, in three files of DIR
//	pypi wheel|sdist NAME PROJECT VERSION MARKER
//	                                 publish an installable wheel or sdist
//	                                 whose module has VALUE = MARKER
//	pypi swap NAME PROJECT VERSION MARKER
//	                                 serve another wheel's bytes (and list
//	                                 their hash) for PROJECT VERSION's wheel
//	pypi stop NAME
func pypiCommand(ts *testscript.TestScript, neg bool, args []string) {
	servers, _ := ts.Value(pypiServersKey{}).(map[string]*fakepypi.Server)
	if len(args) < 2 {
		ts.Fatalf("usage: pypi start|add|tamper|export|wheel|sdist|swap|stop NAME ...")
	}
	switch args[0] {
	case "wheel", "sdist", "swap":
		if len(args) != 5 {
			ts.Fatalf("usage: pypi %s NAME PROJECT VERSION MARKER", args[0])
		}
		srv := servers[args[1]]
		if srv == nil {
			ts.Fatalf("no pypi server %s", args[1])
		}
		build := pydisttest.Wheel
		if args[0] == "sdist" {
			build = pydisttest.Sdist
		}
		filename, data, err := build(args[2], args[3], args[4])
		ts.Check(err)
		if args[0] != "swap" {
			_, err = srv.AddDist(args[2], args[3], filename, data)
			ts.Check(err)
			return
		}
		sum := sha256.Sum256(data)
		ts.Check(srv.TamperFile(args[2], filename, hex.EncodeToString(sum[:]), int64(len(data))))
		ts.Check(srv.ReplaceContent(args[2], filename, data))
		return
	case "stop":
		srv := servers[args[1]]
		if srv == nil {
			ts.Fatalf("no pypi server %s", args[1])
		}
		srv.Close()
		return
	case "start":
		if len(args) != 4 {
			ts.Fatalf("usage: pypi start NAME PROJECTS FILES")
		}
		projects, err1 := strconv.Atoi(args[2])
		files, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil {
			ts.Fatalf("pypi start: PROJECTS and FILES must be numbers")
		}
		srv := fakepypi.NewServer()
		ts.Defer(srv.Close)
		// The changelog dates the seed files at their upload time, as
		// PyPI would, for `pypi export`; later changes are dated now.
		srv.SetClock(func() time.Time { return seedUploadTime })
		defer srv.SetClock(time.Now)
		for p := range projects {
			for f := range files {
				k := p*files + f
				_, err := srv.AddFile(fmt.Sprintf("Demo_Project_%d", p), fakepypi.File{
					Filename: fmt.Sprintf("demo_project_%d-%d.0.tar.gz", p, f), Version: fmt.Sprintf("%d.0", f),
					SHA256: fmt.Sprintf("%064x", k+1), Size: int64(1000 + k), UploadTime: seedUploadTime.Format(time.RFC3339),
				})
				ts.Check(err)
			}
		}
		servers[args[1]] = srv
		ts.Setenv(args[1], srv.URL)
	case "export":
		if len(args) != 4 || (args[2] != "parquet" && args[2] != "json") {
			ts.Fatalf("usage: pypi export NAME parquet|json DIR")
		}
		srv := servers[args[1]]
		if srv == nil {
			ts.Fatalf("no pypi server %s", args[1])
		}
		writeExport(ts, srv, args[2], ts.MkAbs(args[3]))
	case "add", "tamper":
		if len(args) != 6 {
			ts.Fatalf("usage: pypi %s NAME PROJECT FILENAME SHA256 SIZE", args[0])
		}
		srv := servers[args[1]]
		if srv == nil {
			ts.Fatalf("no pypi server %s", args[1])
		}
		size, err := strconv.ParseInt(args[5], 10, 64)
		ts.Check(err)
		if args[0] == "add" {
			_, err = srv.AddFile(args[2], fakepypi.File{Filename: args[3], Version: "9", SHA256: args[4], Size: size})
		} else {
			err = srv.TamperFile(args[2], args[3], args[4], size)
		}
		ts.Check(err)
	default:
		ts.Fatalf("pypi: unknown subcommand %s", args[0])
	}
}

type pypiServersKey struct{}

// seedUploadTime is the upload time of the files `pypi start` publishes.
var seedUploadTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// writeExport writes the files srv lists as a BigQuery export would, in
// three files of dir.
func writeExport(ts *testscript.TestScript, srv *fakepypi.Server, format, dir string) {
	var rows []exporttest.Row
	for _, f := range srv.Files() {
		row := exporttest.Row{Name: f.Project, Version: f.Version, Filename: f.Filename, SHA256: f.SHA256, Size: f.Size}
		if f.UploadTime != "" {
			at, err := time.Parse(time.RFC3339Nano, f.UploadTime)
			ts.Check(err)
			row.UploadTime = &at
		}
		rows = append(rows, row)
	}
	ts.Check(os.MkdirAll(dir, 0o755))
	write := exporttest.WriteNDJSON
	if format == "parquet" {
		write = exporttest.WriteParquet
	}
	for i := range 3 {
		out, err := os.Create(filepath.Join(dir, fmt.Sprintf("files-%012d.%s", i, format)))
		ts.Check(err)
		ts.Check(write(out, rows[i*len(rows)/3:(i+1)*len(rows)/3]))
		ts.Check(out.Close())
	}
}

// waitFile waits (up to a minute) until FILE exists: waitfile FILE.
func waitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	for range 600 {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear", args[0])
}

// freePort sets $VAR to a TCP port on 127.0.0.1 that nothing listens on:
// freeport VAR. (Another process could take it before the script does;
// nothing else here listens on fixed ports.)
func freePort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Setenv(args[0], strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	ts.Check(l.Close())
}

// waitPort waits until something listens on ADDR: waitport ADDR.
func waitPort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitport ADDR")
	}
	for range 600 {
		if c, err := net.DialTimeout("tcp", args[0], time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.Fatalf("nothing listens on %s", args[0])
}

// fakeGCS starts fake-gcs-server on 127.0.0.1 with a bucket and points
// $STORAGE_EMULATOR_HOST at it: fakegcs BUCKET.
func fakeGCS(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fakegcs BUCKET")
	}
	server, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard})
	ts.Check(err)
	ts.Defer(server.Stop)
	server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: args[0]})
	front := httptest.NewServer(server.HTTPHandler())
	ts.Defer(front.Close)
	ts.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(front.URL, "http://"))
}

// venvCommand makes a Python virtual environment and sets $VAR to its
// python: venv VAR. (Scripts skip without python3: [!python] skip.)
func venvCommand(t *testing.T) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 || neg {
			ts.Fatalf("usage: venv VAR")
		}
		// pydisttest.Venv's temporary directory is t's: removed when the
		// scripts are done.
		ts.Setenv(args[0], pydisttest.Venv(t))
	}
}

// pipCommand runs pip in a virtual environment, with an environment that
// reaches no index but those in ARGS; its output goes to stdout: pip
// PYTHON ARGS...
func pipCommand(t *testing.T) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 2 {
			ts.Fatalf("usage: pip PYTHON ARGS...")
		}
		out, err := pydisttest.Pip(t, args[0], args[1:]...)
		ts.Stdout().Write([]byte(out))
		switch {
		case err != nil && !neg:
			ts.Fatalf("pip %s: %v", strings.Join(args[1:], " "), err)
		case err == nil && neg:
			ts.Fatalf("pip %s succeeded", strings.Join(args[1:], " "))
		}
	}
}
