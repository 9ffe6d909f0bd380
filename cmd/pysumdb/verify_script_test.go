package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/jsonl"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/tiles"
)

// TestVerifyScripts runs the end-to-end scripts of verify and check-pypi
// in testdata/verify, with commands that build logs from real lockfiles,
// serve them over HTTP through a middleman that can misbehave, and run an
// in-memory PyPI.
func TestVerifyScripts(t *testing.T) {
	lockfiles, err := filepath.Abs("testdata/lockfiles")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/verify",
		Setup: func(env *testscript.Env) error {
			env.Setenv("LOCKFILES", lockfiles)
			env.Setenv("GORACE", os.Getenv("GORACE")) // see TestMain
			env.Setenv("PYSUMDB_CACHE", filepath.Join(env.WorkDir, "cache"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":      exits,
			"genrecords": genRecords,
			"flipbyte":   flipByte,
			"lockjsonl":  lockJSONL,
			"servelog":   serveLogCmd,
			"logfault":   logFault,
			"lieindex":   lieIndex,
			"pypiserve":  pypiServe,
			"pypitamper": pypiTamper,
		},
	})
}

// lockfileRecords returns the PyPI files a lockfile pins, as records for
// the sequencer: real filenames, sha256, sizes and upload times where the
// lockfile has them; for artifacts without filename, one made up from the
// project and version (an sdist for the first hash of a release, wheels
// with a build tag for the others). Skipped artifacts are left out, and so
// is a hash or filename seen before.
func lockfileRecords(path string, format lockfile.Format) ([]sequencer.Record, error) {
	artifacts, err := lockfile.ParseFile(path, format)
	if err != nil {
		return nil, err
	}
	meta, err := fileMetadata(path)
	if err != nil {
		return nil, err
	}
	var records []sequencer.Record
	seenFile, seenHash := map[string]bool{}, map[string]bool{}
	perRelease := map[string]int{}
	for _, a := range artifacts {
		if a.Skip != "" || seenHash[a.SHA256] {
			continue
		}
		filename := a.Filename
		if filename == "" {
			version := a.Version
			if version == "" {
				version = "0"
			}
			name := strings.ReplaceAll(a.Project, "-", "_")
			release := a.Project + "==" + version
			if k := perRelease[release]; k == 0 {
				filename = fmt.Sprintf("%s-%s.tar.gz", name, version)
			} else {
				filename = fmt.Sprintf("%s-%s-%d-py3-none-any.whl", name, version, k)
			}
			perRelease[release]++
		}
		if seenFile[filename] {
			continue
		}
		seenFile[filename], seenHash[a.SHA256] = true, true
		m, ok := meta[filename]
		if !ok {
			m.uploadTime = tiles.NoUploadTime
		}
		digest, err := tiles.ParseHexDigest(a.SHA256)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filename, err)
		}
		records = append(records, sequencer.Record{Project: a.Project, Filename: filename, SHA256: digest, Size: m.size, UploadTime: m.uploadTime})
	}
	return records, nil
}

type fileMeta struct {
	size       int64
	uploadTime string
}

// fileMetadata returns the size and upload time of every file a TOML
// lockfile describes (uv.lock and pylock.toml do, in tables with a url or
// name, a size and an upload-time); nothing for other formats.
func fileMetadata(lockPath string) (map[string]fileMeta, error) {
	meta := map[string]fileMeta{}
	if !strings.HasSuffix(lockPath, ".lock") && !strings.HasSuffix(lockPath, ".toml") || strings.HasSuffix(lockPath, "Pipfile.lock") {
		return meta, nil
	}
	data, err := os.ReadFile(lockPath)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			size, ok := v["size"].(int64)
			name, _ := v["name"].(string)
			if u, isURL := v["url"].(string); isURL && name == "" {
				if parsed, err := url.Parse(u); err == nil {
					name = path.Base(parsed.Path)
				}
			}
			if ok && tiles.CheckFilename(name) == nil {
				m := fileMeta{size: size, uploadTime: tiles.NoUploadTime}
				switch t := v["upload-time"].(type) {
				case time.Time:
					m.uploadTime = t.UTC().Format(time.RFC3339Nano)
				case string:
					if parsed, err := time.Parse(time.RFC3339Nano, t); err == nil {
						m.uploadTime = parsed.UTC().Format(time.RFC3339Nano)
					}
				}
				meta[name] = m
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		case []map[string]any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
	return meta, nil
}

// otherDigest returns a digest that is not d, derived from it.
func otherDigest(d [32]byte) [32]byte {
	return sha256.Sum256(d[:])
}

// lockJSONL writes the records of a lockfile as JSON lines, the input of
// `pysumdb sequence --from-jsonl`: lockjsonl [-tamper FILENAME]...
// [-drop PROJECT[==VERSION]]... [-format FORMAT] LOCKFILE OUT. -tamper
// gives a file another sha256 (a log that holds it with another hash);
// -drop leaves out a project or a release.
func lockJSONL(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("lockjsonl", flag.ContinueOnError)
	var tamper, drop multiFlag
	fs.Var(&tamper, "tamper", "filename to log with another sha256")
	fs.Var(&drop, "drop", "project or project==version to leave out")
	format := fs.String("format", "", "lockfile format")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 || neg {
		ts.Fatalf("usage: lockjsonl [-tamper FILENAME]... [-drop PROJECT[==VERSION]]... [-format FORMAT] LOCKFILE OUT")
	}
	records, err := lockfileRecords(ts.MkAbs(fs.Arg(0)), lockfile.Format(*format))
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(fs.Arg(1)))
	ts.Check(err)
	w := bufio.NewWriter(f)
	tampered := 0
	for _, r := range records {
		if dropped(drop, r) {
			continue
		}
		if slices.Contains(tamper, r.Filename) {
			r.SHA256 = otherDigest(r.SHA256)
			tampered++
		}
		_, err := w.Write(jsonLine(r))
		ts.Check(err)
	}
	ts.Check(w.Flush())
	ts.Check(f.Close())
	if tampered != len(tamper) {
		ts.Fatalf("lockjsonl: %d of the files to tamper with are not in the lockfile", len(tamper)-tampered)
	}
}

func dropped(drop []string, r sequencer.Record) bool {
	for _, d := range drop {
		project, version, pinned := strings.Cut(d, "==")
		if r.Project != project {
			continue
		}
		if !pinned {
			return true
		}
		if v, ok := lockfile.FilenameVersion(r.Project, r.Filename); ok && lockfile.EqualVersions(v, version) {
			return true
		}
	}
	return false
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// faultyLogServer serves a log through a middleman that can misbehave.
type faultyLogServer struct {
	dir   string
	mu    sync.Mutex
	fault func(w http.ResponseWriter, key string) bool
}

var (
	logServersMu sync.Mutex
	logServers   = map[*testscript.TestScript]map[string]*faultyLogServer{}
)

// serveLogCmd serves the log in STORE over HTTP as `pysumdb serve` does,
// through a middleman, and sets $NAME to its URL: servelog NAME STORE.
func serveLogCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: servelog NAME STORE")
	}
	store, err := publish.OpenDir(ts.MkAbs(args[1]))
	ts.Check(err)
	s := &faultyLogServer{dir: store.Root()}
	handler := publish.Handler(store, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		fault := s.fault
		s.mu.Unlock()
		if fault != nil && fault(w, strings.TrimPrefix(r.URL.Path, "/")) {
			return
		}
		handler.ServeHTTP(w, r)
	}))
	ts.Defer(srv.Close)
	logServersMu.Lock()
	if logServers[ts] == nil {
		logServers[ts] = map[string]*faultyLogServer{}
		ts.Defer(func() {
			logServersMu.Lock()
			delete(logServers, ts)
			logServersMu.Unlock()
		})
	}
	logServers[ts][args[0]] = s
	logServersMu.Unlock()
	ts.Setenv(args[0], srv.URL+"/")
}

// logFault makes a log served by servelog misbehave, or stop to: logfault
// NAME none | down | badsig | truncate KEY | serve KEY FILE. down answers
// 503 to everything; badsig serves the checkpoint with a broken signature;
// truncate serves KEY without its last byte; serve answers KEY with the
// content of FILE.
func logFault(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || neg {
		ts.Fatalf("usage: logfault NAME none|down|badsig|truncate KEY|serve KEY FILE")
	}
	logServersMu.Lock()
	s := logServers[ts][args[0]]
	logServersMu.Unlock()
	if s == nil {
		ts.Fatalf("no log served as %s", args[0])
	}
	store := func(key string) []byte {
		data, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(key)))
		ts.Check(err)
		return data
	}
	var fault func(w http.ResponseWriter, key string) bool
	switch mode := args[1]; {
	case mode == "none" && len(args) == 2:
	case mode == "down" && len(args) == 2:
		fault = func(w http.ResponseWriter, key string) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
	case mode == "badsig" && len(args) == 2:
		// Swap one base64 digit of the signature for another valid one, so
		// the note still parses and only the signature fails.
		data := store(tiles.CheckpointKey)
		if i := len(data) - 5; data[i] == 'A' {
			data[i] = 'B'
		} else {
			data[i] = 'A'
		}
		fault = answer(tiles.CheckpointKey, data)
	case mode == "truncate" && len(args) == 3:
		data := store(args[2])
		fault = answer(args[2], data[:len(data)-1])
	case mode == "serve" && len(args) == 4:
		data, err := os.ReadFile(ts.MkAbs(args[3]))
		ts.Check(err)
		fault = answer(args[2], data)
	default:
		ts.Fatalf("usage: logfault NAME none|down|badsig|truncate KEY|serve KEY FILE")
	}
	s.mu.Lock()
	s.fault = fault
	s.mu.Unlock()
}

func answer(key string, data []byte) func(w http.ResponseWriter, k string) bool {
	return func(w http.ResponseWriter, k string) bool {
		if k != key {
			return false
		}
		w.Write(data)
		return true
	}
}

// lieIndex rewrites and re-signs a project index in a log directory, as a
// log lying in its index would: lieindex STORE KEYFILE PROJECT omit
// FILENAME | swap FILENAME OTHER (the leaves of two files).
func lieIndex(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 5 || args[3] == "omit" && len(args) != 5 || args[3] == "swap" && len(args) != 6 {
		ts.Fatalf("usage: lieindex STORE KEYFILE PROJECT omit FILENAME | swap FILENAME OTHER")
	}
	keyData, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	skey := strings.TrimSpace(string(keyData))
	signer, err := note.NewSigner(skey)
	ts.Check(err)
	vkey, err := tiles.VerifierKey(skey)
	ts.Check(err)
	verifier, err := note.NewVerifier(vkey)
	ts.Check(err)
	indexPath := ts.MkAbs(filepath.Join(args[0], filepath.FromSlash(tiles.IndexKey(args[2]))))
	data, err := os.ReadFile(indexPath)
	ts.Check(err)
	x, err := tiles.OpenIndex(data, verifier, args[2])
	ts.Check(err)
	find := func(filename string) int {
		i := slices.IndexFunc(x.Lines, func(l tiles.IndexLine) bool { return l.Filename == filename })
		if i < 0 {
			ts.Fatalf("%s is not in the index of %s", filename, args[2])
		}
		return i
	}
	i := find(args[4])
	if args[3] == "omit" {
		x.Lines = slices.Delete(x.Lines, i, i+1)
	} else {
		j := find(args[5])
		x.Lines[i].Leaf, x.Lines[j].Leaf = x.Lines[j].Leaf, x.Lines[i].Leaf
		slices.SortFunc(x.Lines, func(a, b tiles.IndexLine) int { return int(a.Leaf - b.Leaf) })
	}
	signed, err := tiles.SignIndex(x, signer)
	ts.Check(err)
	ts.Check(os.WriteFile(indexPath, signed, 0o644))
}

var (
	pypiServersMu sync.Mutex
	pypiServers   = map[*testscript.TestScript]map[string]*fakepypi.Server{}
)

// pypiServe starts an in-memory PyPI serving the files of a JSON lines
// file (as lockjsonl writes) and sets $NAME to its URL: pypiserve NAME
// JSONL.
func pypiServe(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: pypiserve NAME JSONL")
	}
	records, err := jsonl.Read(strings.NewReader(ts.ReadFile(args[1])), args[1])
	ts.Check(err)
	srv := fakepypi.NewServer()
	ts.Defer(srv.Close)
	for _, r := range records {
		version, _ := lockfile.FilenameVersion(r.Project, r.Filename)
		_, err := srv.AddFile(r.Project, fakepypi.File{Filename: r.Filename, Version: version, SHA256: hex.EncodeToString(r.SHA256[:]), Size: r.Size})
		ts.Check(err)
	}
	pypiServersMu.Lock()
	if pypiServers[ts] == nil {
		pypiServers[ts] = map[string]*fakepypi.Server{}
		ts.Defer(func() {
			pypiServersMu.Lock()
			delete(pypiServers, ts)
			pypiServersMu.Unlock()
		})
	}
	pypiServers[ts][args[0]] = srv
	pypiServersMu.Unlock()
	ts.Setenv(args[0], srv.URL)
}

// pypiTamper changes a file of a PyPI started by pypiserve behind the
// log's back, or deletes it: pypitamper NAME PROJECT FILENAME (SHA256 SIZE
// | delete).
func pypiTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 && len(args) != 5 {
		ts.Fatalf("usage: pypitamper NAME PROJECT FILENAME (SHA256 SIZE | delete)")
	}
	pypiServersMu.Lock()
	srv := pypiServers[ts][args[0]]
	pypiServersMu.Unlock()
	if srv == nil {
		ts.Fatalf("no PyPI served as %s", args[0])
	}
	if len(args) == 4 {
		if args[3] != "delete" {
			ts.Fatalf("usage: pypitamper NAME PROJECT FILENAME (SHA256 SIZE | delete)")
		}
		_, err := srv.RemoveFile(args[1], args[2])
		ts.Check(err)
		return
	}
	size, err := strconv.ParseInt(args[4], 10, 64)
	ts.Check(err)
	ts.Check(srv.TamperFile(args[1], args[2], args[3], size))
}
