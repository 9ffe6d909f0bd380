package witness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

// flipLastSigByte returns msg with one byte of its last signature changed
// (keeping the key hash, so that the signature is the log's and invalid).
func flipLastSigByte(t *testing.T, msg []byte) []byte {
	t.Helper()
	text, sigs, _ := bytes.Cut(msg, []byte("\n\n"))
	line := strings.TrimSuffix(string(sigs), "\n")
	i := strings.LastIndexByte(line, ' ')
	raw, err := base64.StdEncoding.DecodeString(line[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	return []byte(string(text) + "\n\n" + line[:i+1] + base64.StdEncoding.EncodeToString(raw) + "\n")
}

func TestAddCheckpointStatuses(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	other := newTestLog(t, "example.com/other")
	impostor := newTestLog(t, "example.com/log") // same origin, another key
	log.grow(t, 10, "a")
	other.grow(t, 3, "o")
	impostor.grow(t, 10, "a")

	type step struct {
		name   string
		body   func(f *fixture) []byte
		status int
		size   int64 // on 409
	}
	fork := log.fork()
	fork.grow(t, 15, "fork") // size 25, another branch from size 10
	steps := []step{
		{"unknown origin", func(f *fixture) []byte { return other.request(t, 0) }, 404, 0},
		{"origin prefix", func(f *fixture) []byte {
			return FormatAddCheckpoint(0, nil, bytes.Replace(log.checkpoint(t), []byte("example.com/log\n"), []byte("example.com/lo\n"), 1))
		}, 404, 0},
		{"other key", func(f *fixture) []byte { return impostor.request(t, 0) }, 403, 0},
		{"bad signature", func(f *fixture) []byte { return FormatAddCheckpoint(0, nil, flipLastSigByte(t, log.checkpoint(t))) }, 403, 0},
		{"altered size", func(f *fixture) []byte {
			return FormatAddCheckpoint(0, nil, bytes.Replace(log.checkpoint(t), []byte("\n10\n"), []byte("\n11\n"), 1))
		}, 403, 0},
		{"unsigned", func(f *fixture) []byte {
			return FormatAddCheckpoint(0, nil, []byte(string(tiles.FormatCheckpoint(tiles.Checkpoint{Origin: log.origin, Tree: log.tree(t)}))+"\n— example.com/log AAAAAAAA\n"))
		}, 403, 0},
		{"malformed request", func(f *fixture) []byte { return []byte("old 0\n" + string(log.checkpoint(t))) }, 400, 0},
		{"malformed note", func(f *fixture) []byte {
			return FormatAddCheckpoint(0, nil, bytes.Replace(log.checkpoint(t), []byte("\n\n"), []byte("\n"), 1))
		}, 400, 0},
		{"extension line", func(f *fixture) []byte {
			text := string(tiles.FormatCheckpoint(tiles.Checkpoint{Origin: log.origin, Tree: log.tree(t)})) + "ext\n"
			msg, err := note.Sign(&note.Note{Text: text}, log.signer)
			if err != nil {
				t.Fatal(err)
			}
			return FormatAddCheckpoint(0, nil, msg)
		}, 400, 0},
		{"old beyond new", func(f *fixture) []byte {
			return FormatAddCheckpoint(11, tlog.TreeProof{{}}, log.checkpoint(t))
		}, 400, 0},
		{"old ahead of the witness", func(f *fixture) []byte { return log.request(t, 4) }, 409, 0},
		{"first", func(f *fixture) []byte { return log.request(t, 0) }, 200, 0},
		{"again, same checkpoint", func(f *fixture) []byte { return log.request(t, 10) }, 200, 0},
		{"same checkpoint with a proof", func(f *fixture) []byte {
			return FormatAddCheckpoint(10, tlog.TreeProof{{}}, log.checkpoint(t))
		}, 422, 0},
		{"old 0 after the first", func(f *fixture) []byte { return log.request(t, 0) }, 409, 10},
		{"old behind", func(f *fixture) []byte { return FormatAddCheckpoint(9, nil, log.checkpoint(t)) }, 409, 10},
		{"grow", func(f *fixture) []byte { log.grow(t, 7, "a"); return log.request(t, 10) }, 200, 0},
		{"older checkpoint", func(f *fixture) []byte {
			// The size-10 checkpoint again: the witness is at 17.
			return FormatAddCheckpoint(10, nil, f.logs[0].fork().checkpointAt(t, 10))
		}, 409, 17},
		{"wrong proof", func(f *fixture) []byte {
			log.grow(t, 3, "a")
			p := log.proof(t, 17)
			p[0][0] ^= 1
			return FormatAddCheckpoint(17, p, log.checkpoint(t))
		}, 422, 0},
		{"truncated proof", func(f *fixture) []byte {
			p := log.proof(t, 17)
			return FormatAddCheckpoint(17, p[:len(p)-1], log.checkpoint(t))
		}, 422, 0},
		{"extra proof hash", func(f *fixture) []byte {
			p := log.proof(t, 17)
			return FormatAddCheckpoint(17, append(p, tlog.Hash{}), log.checkpoint(t))
		}, 422, 0},
		{"no proof", func(f *fixture) []byte { return FormatAddCheckpoint(17, nil, log.checkpoint(t)) }, 422, 0},
		{"fork at the same size", func(f *fixture) []byte {
			g := log.fork()
			g.n, g.hashes = 10, g.hashes[:tlog.StoredHashCount(10)]
			g.grow(t, 7, "fork")
			return FormatAddCheckpoint(17, nil, g.checkpoint(t))
		}, 409, 17},
		{"fork at a larger size", func(f *fixture) []byte {
			return FormatAddCheckpoint(17, fork.proof(t, 17), fork.checkpoint(t))
		}, 422, 0},
		{"right proof", func(f *fixture) []byte { return log.request(t, 17) }, 200, 0},
		{"not POST", nil, 405, 0},
	}
	f := newFixture(t, log)
	for _, s := range steps {
		if s.body == nil {
			rec := httptest.NewRecorder()
			f.w.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/add-checkpoint", nil))
			if rec.Code != s.status {
				t.Fatalf("%s: status %d, want %d", s.name, rec.Code, s.status)
			}
			continue
		}
		body := s.body(f)
		rec := f.post(body)
		if rec.Code != s.status {
			t.Fatalf("%s: status %d, want %d: %s", s.name, rec.Code, s.status, rec.Body)
		}
		switch s.status {
		case 200:
			_, _, cp, err := ParseAddCheckpoint(body)
			if err != nil {
				t.Fatal(err)
			}
			f.checkCosignature(log, cp, rec.Body.Bytes())
		case 409:
			if ct := rec.Header().Get("Content-Type"); ct != SizeContentType {
				t.Fatalf("%s: Content-Type %q", s.name, ct)
			}
			if got, want := rec.Body.String(), itoa(s.size)+"\n"; got != want {
				t.Fatalf("%s: body %q, want %q", s.name, got, want)
			}
		default:
			if strings.Contains(rec.Body.String(), "—") {
				t.Fatalf("%s: status %d with a signature: %s", s.name, rec.Code, rec.Body)
			}
		}
	}
	if got := f.latestSize(log); got != 20 {
		t.Fatalf("latest size %d, want 20", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// checkpointAt returns the log's signed checkpoint at size n (n at most
// its size), truncating the copy.
func (l *testLog) checkpointAt(t testing.TB, n int64) []byte {
	c := l.fork()
	c.n, c.hashes = n, c.hashes[:tlog.StoredHashCount(n)]
	return c.checkpoint(t)
}

func TestAddCheckpointFirstSizeZero(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	f := newFixture(t, log)
	empty := log.checkpoint(t)
	f.mustCosign(log, log.request(t, 0), empty)
	// Another empty tree's hash at size 0 is a fork too.
	other := FormatAddCheckpoint(0, nil, func() []byte {
		msg, err := tiles.SignCheckpoint(tiles.Checkpoint{Origin: log.origin, Tree: tlog.Tree{N: 0, Hash: tlog.Hash{1}}}, log.signer)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}())
	if rec := f.post(other); rec.Code != 409 || rec.Body.String() != "0\n" {
		t.Fatalf("other empty tree: %d %q", rec.Code, rec.Body)
	}
	log.grow(t, 3, "a")
	f.mustCosign(log, log.request(t, 0), log.checkpoint(t))
	if got := f.latestSize(log); got != 3 {
		t.Fatalf("latest size %d", got)
	}
}

func TestAddCheckpointRequestBounds(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	f := newFixture(t, log)
	rec := f.post(append([]byte("old 0\n\n"), bytes.Repeat([]byte("x"), MaxRequestSize)...))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized request: %d", rec.Code)
	}
	// Exactly the bound is read (and refused for its content, not size).
	rec = f.post(append([]byte("old 0\n\n"), bytes.Repeat([]byte("x"), MaxRequestSize-7)...))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("request of MaxRequestSize bytes: %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/", "/x", "/add-checkpoint/", "/logs"} {
		rec := httptest.NewRecorder()
		f.w.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d", path, rec.Code)
		}
	}
	rec = httptest.NewRecorder()
	f.w.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), f.w.VerifierKey()) || !strings.Contains(rec.Body.String(), log.origin) {
		t.Fatalf("GET /: %d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	f.w.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 404 {
		t.Fatalf("GET /x: %d", rec.Code)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	log.grow(t, 5, "a")
	f := newFixture(t, log)
	small := log.checkpoint(t)
	f.mustCosign(log, log.request(t, 0), small)
	log.grow(t, 5, "a")
	f.mustCosign(log, log.request(t, 5), log.checkpoint(t))

	f.open()
	if got := f.latestSize(log); got != 10 {
		t.Fatalf("after a restart: latest size %d, want 10", got)
	}
	// The smaller checkpoint, as a first one or from its own size, is
	// refused: the state never goes back.
	for _, body := range [][]byte{FormatAddCheckpoint(0, nil, small), FormatAddCheckpoint(5, nil, small)} {
		if rec := f.post(body); rec.Code != 409 || rec.Body.String() != "10\n" {
			t.Fatalf("smaller checkpoint after a restart: %d %q", rec.Code, rec.Body)
		}
	}
	// The state file is the checkpoint, signed by the log and cosigned.
	data, err := os.ReadFile(filepath.Join(f.dir, "logs", "example%2Ecom%2Flog"))
	if err != nil {
		t.Fatal(err)
	}
	f.checkCosignature(log, data, nil)
	if _, _, err := tiles.OpenCheckpoint(data, mustVerifier(t, log.vkey)); err != nil {
		t.Fatal(err)
	}
	log.grow(t, 1, "a")
	f.mustCosign(log, log.request(t, 10), log.checkpoint(t))
}

// TestStateFileCosigned checks the stored note carries the witness's
// cosignature: a monitor reading the state can check what was cosigned.
func TestStateFileCosigned(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	log.grow(t, 2, "a")
	f := newFixture(t, log)
	cp := log.checkpoint(t)
	// Junk signature lines of unknown keys are not kept.
	junk := "— junk.example AAAAAQEBAQE=\n"
	f.mustCosign(log, FormatAddCheckpoint(0, nil, append(append([]byte(nil), cp...), junk...)), cp)
	data, err := os.ReadFile(filepath.Join(f.dir, "logs", stateFileName(log.origin)))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("junk")) {
		t.Fatalf("state keeps unknown signatures: %q", data)
	}
	n, err := note.Open(data, note.VerifierList(mustVerifier(t, log.vkey), f.cosigV))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("state %q: %v, %d signatures", data, err, len(n.Sigs))
	}
}

func mustVerifier(t testing.TB, vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDamagedStateRefused(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	other := newTestLog(t, "example.com/log") // same origin, other key
	log.grow(t, 3, "a")
	other.grow(t, 3, "a")
	f := newFixture(t, log)
	f.mustCosign(log, log.request(t, 0), log.checkpoint(t))
	f.w.Close()
	path := filepath.Join(f.dir, "logs", stateFileName(log.origin))
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	logSig := bytes.Index(good, []byte("— example.com/log "))
	cosig := bytes.Index(good, []byte("— witness.test/w1 "))
	if logSig < 0 || cosig < 0 {
		t.Fatalf("state %q", good)
	}
	flip := func(at int) []byte {
		b := append([]byte(nil), good...)
		b[at] ^= 1
		return b
	}
	for name, data := range map[string][]byte{
		"flipped log signature": flip(logSig + len("— example.com/log ") + 10),
		"flipped cosignature":   flip(cosig + len("— witness.test/w1 ") + 20),
		"flipped text":          flip(3),
		"cosignature only":      append(append([]byte(nil), good[:logSig]...), good[cosig:]...),
		"other key":             other.checkpoint(t),
		"empty":                 {},
		"truncated":             good[:len(good)/2],
		"too large":             append(append([]byte(nil), good...), bytes.Repeat([]byte("— x AAAAAQ==\n"), tiles.MaxCheckpointSize/10)...),
		"other checksum":        bytes.Replace(good, []byte("\n3\n"), []byte("\n4\n"), 1),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := New(f.config())
		if !errors.Is(err, ErrState) {
			if w != nil {
				w.Close()
			}
			t.Fatalf("%s: New = %v, want ErrState", name, err)
		}
	}
	// A directory in place of the file.
	os.Remove(path)
	os.Mkdir(path, 0o700)
	if _, err := New(f.config()); !errors.Is(err, ErrState) {
		t.Fatalf("directory: New = %v, want ErrState", err)
	}
}

func TestClosedWitnessWritesNothing(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	log.grow(t, 2, "a")
	f := newFixture(t, log)
	f.w.Close()
	if rec := f.post(log.request(t, 0)); rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "—") {
		t.Fatalf("after Close: %d %q", rec.Code, rec.Body)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "logs", stateFileName(log.origin))); err == nil {
		t.Fatalf("a closed witness wrote its state")
	}
}

func TestStateDirLocked(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	f := newFixture(t, log)
	if w, err := New(f.config()); !errors.Is(err, ErrLocked) {
		if w != nil {
			w.Close()
		}
		t.Fatalf("second witness on one state: %v, want ErrLocked", err)
	}
	f.w.Close()
	w, err := New(f.config())
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	w.Close()
}

func TestNewConfigErrors(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	skey, _, _ := note.GenerateKey(rand.Reader, "witness.test/w")
	dir := t.TempDir()
	for name, cfg := range map[string]Config{
		"no key":      {Logs: []Log{{VKey: log.vkey}}, StateDir: dir},
		"bad key":     {Key: "PRIVATE+KEY+x", Logs: []Log{{VKey: log.vkey}}, StateDir: dir},
		"vkey as key": {Key: log.vkey, Logs: []Log{{VKey: log.vkey}}, StateDir: dir},
		"no logs":     {Key: skey, StateDir: dir},
		"bad vkey":    {Key: skey, Logs: []Log{{VKey: "example.com/log+12345678+AAAA"}}, StateDir: dir},
		"twice":       {Key: skey, Logs: []Log{{VKey: log.vkey}, {VKey: log.vkey}}, StateDir: dir},
		"no dir":      {Key: skey, Logs: []Log{{VKey: log.vkey}}},
		"missing dir": {Key: skey, Logs: []Log{{VKey: log.vkey}}, StateDir: filepath.Join(dir, "missing")},
	} {
		w, err := New(cfg)
		if !errors.Is(err, ErrConfig) {
			if w != nil {
				w.Close()
			}
			t.Errorf("%s: New = %v, want ErrConfig", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("New created a missing state directory")
	}
}

func TestStateFileNames(t *testing.T) {
	seen := map[string]string{}
	for _, o := range []string{"example.com/log", "Example.com/log", "example.com%2Flog", "..", ".", "a/../b", "a_b-c", "a%b"} {
		name := stateFileName(o)
		if strings.ContainsAny(name, "/.") || name == "" {
			t.Errorf("origin %q: file name %q", o, name)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("origins %q and %q share the file name %q", prev, o, name)
		}
		seen[name] = o
		// Distinct even ignoring case.
		if prev, ok := seen["lower:"+strings.ToLower(name)]; ok {
			t.Errorf("origins %q and %q share the file name %q but for case", prev, o, name)
		}
		seen["lower:"+strings.ToLower(name)] = o
	}
}

func TestStateWriteFailure(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	log.grow(t, 3, "a")
	f := newFixture(t, log)
	// logs/ is a file: the state can't be written.
	if err := os.WriteFile(filepath.Join(f.dir, "logs"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rec := f.post(log.request(t, 0))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "—") {
		t.Fatalf("unwritable state: %d %q", rec.Code, rec.Body)
	}
	if got := f.latestSize(log); got != 0 {
		t.Fatalf("latest size %d after a failed write", got)
	}
	os.Remove(filepath.Join(f.dir, "logs"))
	f.mustCosign(log, log.request(t, 0), log.checkpoint(t))
}

// TestConcurrentRequestsNeverGoBack makes two requests race between their
// checks and the state's write: without the log's lock, the slower one
// (old 0, size 5) would pass its check before the faster (old 0, size 8)
// writes, then write size 5 over 8.
func TestConcurrentRequestsNeverGoBack(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	log.grow(t, 5, "a")
	first := log.request(t, 0)
	log.grow(t, 3, "a")
	second := log.request(t, 0)
	f := newFixture(t, log)

	checked := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	f.w.testHookChecked = func() {
		once.Do(func() {
			close(checked)
			<-release
		})
	}
	var rec1, rec2 *httptest.ResponseRecorder
	var wg sync.WaitGroup
	wg.Go(func() { rec1 = f.post(first) })
	<-checked // first passed its checks, holds the log
	done2 := make(chan struct{})
	go func() { rec2 = f.post(second); close(done2) }()
	// Give the second request every chance to overtake the first (it
	// must wait for the log's lock); no outcome depends on the timing.
	select {
	case <-done2:
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	<-done2
	if rec1.Code != 200 || rec2.Code != 409 || rec2.Body.String() != "5\n" {
		t.Fatalf("racing requests: first %d %q, second %d %q; want 200 and 409 5", rec1.Code, rec1.Body, rec2.Code, rec2.Body)
	}
	if got := f.latestSize(log); got != 5 {
		t.Fatalf("latest size %d, want 5", got)
	}
}

// TestConcurrentRequests sends many requests at once, from every size, and
// checks the sizes cosigned only grow.
func TestConcurrentRequests(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	var bodies [][]byte
	var sizes []int64
	for range 20 {
		log.grow(t, 3, "a")
		sizes = append(sizes, log.n)
	}
	for i, n := range sizes {
		c := log.fork()
		c.n, c.hashes = n, c.hashes[:tlog.StoredHashCount(n)]
		old := int64(0)
		if i > 0 {
			old = sizes[i-1]
		}
		bodies = append(bodies, c.request(t, old), c.request(t, 0))
	}
	f := newFixture(t, log)
	var mu sync.Mutex
	var cosignedSizes []int64
	f.w.testHookChecked = func() {}
	var wg sync.WaitGroup
	for range 4 {
		for i, body := range bodies {
			wg.Go(func() {
				rec := f.post(body)
				if rec.Code == 200 {
					mu.Lock()
					cosignedSizes = append(cosignedSizes, sizes[i/2])
					mu.Unlock()
				} else if rec.Code != 409 {
					t.Errorf("status %d: %s", rec.Code, rec.Body)
				}
			})
		}
	}
	wg.Wait()
	latest := f.latestSize(log)
	for _, n := range cosignedSizes {
		if n > latest {
			t.Fatalf("cosigned size %d above the latest %d", n, latest)
		}
	}
}

func TestForkEvidence(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	log.grow(t, 6, "a")
	f := newFixture(t, log)
	f.mustCosign(log, log.request(t, 0), log.checkpoint(t))
	witnessed := log.checkpoint(t)

	// Same size, another root.
	fork := log.fork()
	fork.n, fork.hashes = 4, fork.hashes[:tlog.StoredHashCount(4)]
	fork.grow(t, 2, "fork")
	forked := fork.checkpoint(t)
	if rec := f.post(FormatAddCheckpoint(6, nil, forked)); rec.Code != 409 {
		t.Fatalf("fork: %d", rec.Code)
	}
	// A larger fork, with its own (valid for it, wrong for the witness)
	// proof.
	fork.grow(t, 4, "fork")
	larger := fork.checkpoint(t)
	proof := fork.proof(t, 6)
	if rec := f.post(FormatAddCheckpoint(6, proof, larger)); rec.Code != 422 {
		t.Fatalf("larger fork: %d", rec.Code)
	}
	logs := f.logBuf.String()
	for _, want := range []string{"SECURITY ERROR", "level=ERROR", noteText(witnessed), noteText(forked), noteText(larger)} {
		if !strings.Contains(logs, strings.ReplaceAll(want, "\n", `\n`)) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, h := range proof {
		if !strings.Contains(logs, base64.StdEncoding.EncodeToString(h[:])) {
			t.Errorf("log lacks proof hash %v", h)
		}
	}

	files, err := os.ReadDir(filepath.Join(f.dir, "evidence"))
	if err != nil || len(files) != 2 {
		t.Fatalf("evidence files %v, %v; want 2", files, err)
	}
	var found int
	for _, file := range files {
		data, err := os.ReadFile(filepath.Join(f.dir, "evidence", file.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var ev evidence
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ev.Witnessed, string(witnessed)) || ev.Origin != log.origin || ev.OldSize != 6 {
			t.Errorf("evidence %s: %+v", file.Name(), ev)
		}
		// Both checkpoints verify: the evidence stands on its own.
		if _, _, err := tiles.OpenCheckpoint([]byte(ev.Witnessed), mustVerifier(t, log.vkey)); err != nil {
			t.Errorf("evidence %s: witnessed checkpoint: %v", file.Name(), err)
		}
		if _, _, err := tiles.OpenCheckpoint([]byte(ev.Submitted), mustVerifier(t, log.vkey)); err != nil {
			t.Errorf("evidence %s: submitted checkpoint: %v", file.Name(), err)
		}
		switch ev.Submitted {
		case string(forked):
			found++
		case string(larger):
			found++
			if len(ev.Proof) != len(proof) || ev.Proof[0] != base64.StdEncoding.EncodeToString(proof[0][:]) {
				t.Errorf("evidence proof %v, want %v", ev.Proof, proof)
			}
		}
	}
	if found != 2 {
		t.Fatalf("evidence does not hold both submitted checkpoints")
	}

	// Submitted again, with other proofs or junk signature lines: no
	// more files.
	for i := range 5 {
		junk := []byte("— junk" + itoa(int64(i)) + " AAAAAQEBAQE=\n")
		bad := append(tlog.TreeProof(nil), proof...)
		bad[0][1] ^= byte(i + 1)
		f.post(FormatAddCheckpoint(6, bad, append(append([]byte(nil), larger...), junk...)))
		f.post(FormatAddCheckpoint(6, nil, append(append([]byte(nil), forked...), junk...)))
	}
	if files, _ := os.ReadDir(filepath.Join(f.dir, "evidence")); len(files) != 2 {
		t.Fatalf("%d evidence files after repeats, want 2", len(files))
	}
	if n := strings.Count(f.logBuf.String(), "SECURITY ERROR"); n != 2 {
		t.Fatalf("%d SECURITY ERROR lines after repeats, want 2 (one per checkpoint)", n)
	}
	if !strings.Contains(f.logBuf.String(), "evidence already recorded") {
		t.Fatalf("repeats not logged")
	}
	if got := f.latestSize(log); got != 6 {
		t.Fatalf("latest size %d after forks, want 6", got)
	}
	// The honest log still goes on.
	log.grow(t, 2, "a")
	f.mustCosign(log, log.request(t, 6), log.checkpoint(t))
}

func noteText(msg []byte) string {
	text, _, _ := bytes.Cut(msg, []byte("\n\n"))
	return string(text)
}

// TestClientAgainstWitness runs AddCheckpoint against the witness over
// HTTP: the log's side of the protocol with ours.
func TestClientAgainstWitness(t *testing.T) {
	log := newTestLog(t, "example.com/log")
	log.grow(t, 4, "a")
	f := newFixture(t, log)
	srv := httptest.NewServer(f.w)
	defer srv.Close()
	ctx := context.Background()

	cp := log.checkpoint(t)
	sigs, err := AddCheckpoint(ctx, srv.Client(), srv.URL, 0, nil, cp)
	if err != nil {
		t.Fatal(err)
	}
	f.checkCosignature(log, cp, sigs)

	log.grow(t, 4, "a")
	_, err = AddCheckpoint(ctx, srv.Client(), srv.URL, 0, nil, log.checkpoint(t))
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Size != 4 {
		t.Fatalf("AddCheckpoint from 0: %v, want a conflict at 4", err)
	}
	p := log.proof(t, 4)
	p[0][0] ^= 1
	_, err = AddCheckpoint(ctx, srv.Client(), srv.URL, 4, p, log.checkpoint(t))
	var rejected *RejectedError
	if !errors.As(err, &rejected) || rejected.StatusCode != 422 {
		t.Fatalf("wrong proof: %v, want 422", err)
	}
	cp = log.checkpoint(t)
	sigs, err = AddCheckpoint(ctx, srv.Client(), srv.URL, conflict.Size, log.proof(t, conflict.Size), cp)
	if err != nil {
		t.Fatal(err)
	}
	f.checkCosignature(log, cp, sigs)
	unknown := newTestLog(t, "example.com/unknown")
	_, err = AddCheckpoint(ctx, srv.Client(), srv.URL, 0, nil, unknown.checkpoint(t))
	if !errors.As(err, &rejected) || rejected.StatusCode != 404 || !errors.Is(err, ErrRejected) {
		t.Fatalf("unknown log: %v, want 404", err)
	}
}
