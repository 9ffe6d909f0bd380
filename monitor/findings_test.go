package monitor_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/monitor"
	"github.com/pysumdb/pysumdb/monitor/monitortest"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/tiles"
)

// wantEvidenceIndex checks that a finding's evidence holds the signed
// index of project, as the log serves it.
func wantEvidenceIndex(t *testing.T, f monitor.Finding, vkey, project string, served []byte) {
	t.Helper()
	for _, n := range f.Evidence.Notes {
		if n.Key != tiles.IndexKey(project) {
			continue
		}
		if n.Text != string(served) {
			t.Fatalf("evidence %s is not the index served", n.Key)
		}
		if _, err := tiles.OpenIndex([]byte(n.Text), verifierOf(t, vkey), project); err != nil {
			t.Fatalf("evidence %s doesn't verify: %v", n.Key, err)
		}
		return
	}
	t.Fatalf("evidence %+v lacks index/%s", f.Evidence.Notes, project)
}

// wantProvenEntry checks that a finding's evidence proves the entry at
// leaf, against its checkpoint.
func wantProvenEntry(t *testing.T, f monitor.Finding, leaf int64, filename string) {
	t.Helper()
	for _, e := range f.Evidence.Entries {
		if e.Leaf != leaf {
			continue
		}
		if len(e.InclusionProof) == 0 && e.TreeSize > 1 {
			t.Fatalf("entry %d without inclusion proof", leaf)
		}
		if filename != "" && !strings.Contains(e.Entry, "\n"+filename+"\n") {
			t.Fatalf("entry %d is %q, want %s", leaf, e.Entry, filename)
		}
		return
	}
	t.Fatalf("evidence lacks leaf %d", leaf)
}

// An index rewritten to drop a file before the monitor ever read it: the
// file is in no index. After the monitor verified it: the index no longer
// lists it. Each is found, with the signed index as evidence.
func TestIndexDropsAFile(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		store, skey, vkey := clienttest.NewBarLog(t)
		dropped := lineOf(t, store, vkey, "project-5", 0)
		clienttest.RewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) { x.Lines = x.Lines[1:] })
		rep := monitorOnce(t, t.TempDir(), logAt{store.Root(), vkey})
		f := wantOnly(t, rep, monitor.KindIndexOmits)
		if leafOf(f) != dropped.Leaf || f.Filename != dropped.Filename {
			t.Fatalf("finding %+v, want leaf %d (%s)", f, dropped.Leaf, dropped.Filename)
		}
		wantEvidenceIndex(t, f, vkey, "project-5", read(t, store, tiles.IndexKey("project-5")))
		wantProvenEntry(t, f, dropped.Leaf, dropped.Filename)
	})
	t.Run("after", func(t *testing.T) {
		store, skey, vkey := clienttest.NewBarLog(t)
		state := t.TempDir()
		wantNoFindings(t, monitorOnce(t, state, logAt{store.Root(), vkey}))
		// A new batch extends project-5; then its index loses an old file.
		appendRecords(t, store, skey, 1000, 300)
		dropped := lineOf(t, store, vkey, "project-5", 1)
		clienttest.RewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) {
			x.Lines = append(x.Lines[:1], x.Lines[2:]...)
		})
		rep := monitorOnce(t, state, logAt{store.Root(), vkey})
		f := wantOnly(t, rep, monitor.KindIndexOmits)
		if leafOf(f) != dropped.Leaf || !strings.Contains(f.Message, "no longer lists") {
			t.Fatalf("finding %+v, want leaf %d no longer listed", f, dropped.Leaf)
		}
		wantEvidenceIndex(t, f, vkey, "project-5", read(t, store, tiles.IndexKey("project-5")))
		wantProvenEntry(t, f, dropped.Leaf, dropped.Filename)
		if lr := rep.Logs[0]; lr.Verified != 1002 {
			t.Fatalf("%+v", lr)
		}
	})
}

// Index lines that misstate or add a file, before and after the monitor
// verified the index.
func TestIndexLies(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind string
		edit func(x *tiles.Index)
		// after: the lie is told after the monitor verified the log
		// (and a new batch extends the project).
		after bool
	}{
		{"sha256", monitor.KindIndexMisstates, func(x *tiles.Index) { x.Lines[2].SHA256[31] ^= 1 }, false},
		{"sha256 after", monitor.KindIndexMisstates, func(x *tiles.Index) { x.Lines[2].SHA256[31] ^= 1 }, true},
		{"filename", monitor.KindIndexAdds, func(x *tiles.Index) { x.Lines[2].Filename = "project_5-999999.0-py3-none-any.whl" }, false},
		{"filename after", monitor.KindIndexAdds, func(x *tiles.Index) { x.Lines[2].Filename = "project_5-999999.0-py3-none-any.whl" }, true},
		{"leaf of another project", monitor.KindIndexAdds, func(x *tiles.Index) { x.Lines = append(x.Lines, tiles.IndexLine{}) }, false},
		{"leaf of another project after", monitor.KindIndexAdds, func(x *tiles.Index) { x.Lines = append(x.Lines, tiles.IndexLine{}) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, skey, vkey := clienttest.NewBarLog(t)
			state := t.TempDir()
			// Before: one chunk, so that only the checks of the lines of
			// the chunk's leaves see the lie.
			chunk := 4096
			if tc.after {
				chunk = 256
				wantNoFindings(t, monitorOnce(t, state, logAt{store.Root(), vkey}))
				appendRecords(t, store, skey, 1000, 300)
			}
			// Leaf 6 is project-6's first file: listing it in project-5's
			// index adds a file to project-5.
			other := lineOf(t, store, vkey, "project-6", 0)
			clienttest.RewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) {
				tc.edit(x)
				if last := &x.Lines[len(x.Lines)-1]; last.Filename == "" {
					*last = other
					sortLines(x)
				}
			})
			cfg := config(t, state, logAt{store.Root(), vkey})
			cfg.ChunkEntries = chunk
			rep := runOnce(t, openMonitor(t, cfg))
			f := wantOnly(t, rep, tc.kind)
			if f.Project != "project-5" {
				t.Fatalf("finding %+v", f)
			}
			wantEvidenceIndex(t, f, vkey, "project-5", read(t, store, tiles.IndexKey("project-5")))
			wantProvenEntry(t, f, leafOf(f), "")
		})
	}
}

func sortLines(x *tiles.Index) {
	for i := len(x.Lines) - 1; i > 0 && x.Lines[i].Leaf < x.Lines[i-1].Leaf; i-- {
		x.Lines[i], x.Lines[i-1] = x.Lines[i-1], x.Lines[i]
	}
}

// An index older than the checkpoint (a stale copy in a cache) is not
// evidence: the chunk waits for the next run, without finding.
func TestStaleIndexIsNoFinding(t *testing.T) {
	store, skey, vkey := clienttest.NewStoreLog(t)
	old := read(t, store, tiles.IndexKey("project-5"))
	// One file of project-5, at leaf 700: the size the old index covers.
	appendRecords(t, store, skey, 37*30+5, 1)
	if leaf := lineOf(t, store, vkey, "project-5", -1).Leaf; leaf != 700 {
		t.Fatalf("project-5's new file is at leaf %d", leaf)
	}
	appendRecords(t, store, skey, 1000, 37)
	fresh := read(t, store, tiles.IndexKey("project-5"))
	clienttest.Put(t, store, tiles.IndexKey("project-5"), old)
	state := t.TempDir()
	m, err := monitor.Open(config(t, state, logAt{store.Root(), vkey}))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.RunOnce(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "can't be checked yet") {
		t.Fatalf("run: %v, want a stale index error", err)
	}
	wantNoFindings(t, rep)
	clienttest.Put(t, store, tiles.IndexKey("project-5"), fresh)
	rep = monitorOnce(t, state, logAt{store.Root(), vkey})
	wantNoFindings(t, rep)
	if lr := rep.Logs[0]; lr.Verified != 738 {
		t.Fatalf("%+v", lr)
	}
}

// newKey returns a new log key of origin.
func newKey(t *testing.T, origin string) (string, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

// A filename logged twice, in one chunk and across runs: found, naming
// both leaves, with both entries proven.
func TestDuplicateFilename(t *testing.T) {
	skey, vkey := newKey(t, "dup.test/log")
	dir := t.TempDir()
	var files []monitortest.File
	for i := range 300 {
		name := "foo-" + itoa(i) + ".0.tar.gz"
		files = append(files, monitortest.File{Project: "foo", Entry: monitortest.Entry(t, name, "")})
	}
	files = append(files, monitortest.File{Project: "foo", Entry: monitortest.Entry(t, "foo-3.0.tar.gz", "again")})
	monitortest.Write(t, dir, skey, files)
	state := t.TempDir()
	rep := monitorOnce(t, state, logAt{dir, vkey})
	f := wantOnly(t, rep, monitor.KindDuplicateFilename)
	if leafOf(f) != 300 || f.Filename != "foo-3.0.tar.gz" || !strings.Contains(f.Message, "leaves 3 and 300") {
		t.Fatalf("finding %+v", f)
	}
	wantProvenEntry(t, f, 3, "foo-3.0.tar.gz")
	wantProvenEntry(t, f, 300, "foo-3.0.tar.gz")

	// Within one chunk.
	files = append(files, monitortest.File{Project: "foo", Entry: monitortest.Entry(t, "foo-400.0.tar.gz", "")},
		monitortest.File{Project: "foo", Entry: monitortest.Entry(t, "foo-400.0.tar.gz", "again")})
	monitortest.Write(t, dir, skey, files)
	rep = monitorOnce(t, state, logAt{dir, vkey})
	f = wantOnly(t, rep, monitor.KindDuplicateFilename)
	if leafOf(f) != 302 || f.Filename != "foo-400.0.tar.gz" || !strings.Contains(f.Message, "leaves 301 and 302") {
		t.Fatalf("finding %+v", f)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// An entry that is not pypi-transparency/v1.
func TestMalformedEntry(t *testing.T) {
	skey, vkey := newKey(t, "v2.test/log")
	dir := t.TempDir()
	good := monitortest.Entry(t, "foo-1.0.tar.gz", "")
	v2 := []byte(strings.Replace(string(monitortest.Entry(t, "foo-2.0.tar.gz", "")), "/v1\n", "/v2\n", 1))
	monitortest.Write(t, dir, skey, []monitortest.File{{Project: "foo", Entry: good}, {Entry: v2}})
	rep := monitorOnce(t, t.TempDir(), logAt{dir, vkey})
	f := wantOnly(t, rep, monitor.KindMalformedEntry)
	if leafOf(f) != 1 || len(f.Evidence.Entries) != 1 || f.Evidence.Entries[0].Entry != string(v2) {
		t.Fatalf("finding %+v", f)
	}
	wantProvenEntry(t, f, 1, "foo-2.0.tar.gz")
}

// Two logs that hold one filename with another sha256, or another
// publisher: found once, with both entries; honest peers agree.
func TestPeersDisagree(t *testing.T) {
	agreed := []sequencer.Record{clienttest.Record("foo", "foo-1.0.tar.gz"), clienttest.Record("foo", "foo-1.1.tar.gz")}
	changed := []sequencer.Record{clienttest.Record("foo", "foo-1.0.tar.gz"), clienttest.Record("foo", "foo-1.1.tar.gz")}
	changed[1].SHA256[31] ^= 1
	// Publishers that differ in the last character.
	release := func(tag string) *tiles.Publisher {
		return &tiles.Publisher{Kind: tiles.PublisherGitHub, SAN: "https://github.com/foo/foo/.github/workflows/release.yml@refs/tags/v1." + tag}
	}
	agreed[0].Publisher = release("0")
	published := []sequencer.Record{clienttest.Record("foo", "foo-1.0.tar.gz"), clienttest.Record("foo", "foo-1.1.tar.gz")}
	published[0].Publisher = release("1")
	changed[0].Publisher = release("0")
	for _, tc := range []struct {
		name   string
		other  []sequencer.Record
		leaf   int64
		detail string
	}{
		{"sha256", changed, 301, "sha256:"},
		{"publisher", published, 300, "another publisher"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := clienttest.NewLog(t, "a.test/log", agreed)
			b := clienttest.NewLog(t, "b.test/log", tc.other)
			c := clienttest.NewLog(t, "c.test/log", agreed)
			rep := monitorOnce(t, t.TempDir(), logAt{a.Store.Root(), a.VKey}, logAt{b.Store.Root(), b.VKey}, logAt{c.Store.Root(), c.VKey})
			if len(rep.Findings) != 2 {
				t.Fatalf("findings %q, want two (b with a, c with b)", kinds(rep))
			}
			for _, f := range rep.Findings {
				if f.Kind != monitor.KindPeerDisagrees || leafOf(f) != tc.leaf || !strings.Contains(f.Message, tc.detail) {
					t.Fatalf("finding %+v", f)
				}
				if len(f.Evidence.Entries) != 2 || f.Evidence.PeerCheckpoint == "" || f.Evidence.Checkpoint == "" {
					t.Fatalf("evidence %+v", f.Evidence)
				}
				if f.Evidence.Entries[0].Entry == f.Evidence.Entries[1].Entry {
					t.Fatalf("the two entries are the same: %q", f.Evidence.Entries[0].Entry)
				}
			}
		})
	}
}

// A logged file PyPI now serves with another sha256.
func TestPyPIChanged(t *testing.T) {
	l := clienttest.NewLog(t, "pypi.test/log", []sequencer.Record{clienttest.Record("foo", "foo-1.0.tar.gz"), clienttest.Record("foo", "foo-1.1.tar.gz")})
	srv := fakepypi.NewServer()
	defer srv.Close()
	for _, name := range []string{"foo-1.0.tar.gz", "foo-1.1.tar.gz"} {
		if _, err := srv.AddFile("foo", fakepypi.File{Filename: name, Version: "1", SHA256: clienttest.DigestOf(name), Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := pypi.NewClient(pypi.Config{BaseURL: srv.URL, RequestsPerSecond: -1, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(t, t.TempDir(), logAt{l.Store.Root(), l.VKey})
	cfg.PyPI = pc
	m := openMonitor(t, cfg)
	wantNoFindings(t, runOnce(t, m))

	// Another sha256, in its last hex digit.
	evil := clienttest.DigestOf("foo-1.1.tar.gz")
	evil = evil[:63] + map[bool]string{true: "1", false: "0"}[evil[63] == '0']
	if err := srv.TamperFile("foo", "foo-1.1.tar.gz", evil, 1); err != nil {
		t.Fatal(err)
	}
	l.Append(t, []sequencer.Record{clienttest.Record("foo", "foo-1.2.tar.gz")})
	rep := runOnce(t, m)
	wantNoFindings(t, rep) // foo-1.1 was compared with its own chunk

	cfg = config(t, t.TempDir(), logAt{l.Store.Root(), l.VKey})
	cfg.PyPI = pc
	rep = runOnce(t, openMonitor(t, cfg))
	f := wantOnly(t, rep, monitor.KindPyPIChanged)
	if f.Filename != "foo-1.1.tar.gz" || f.Evidence.PyPI == nil || f.Evidence.PyPI.SHA256 != "sha256:"+evil {
		t.Fatalf("finding %+v", f)
	}
	wantProvenEntry(t, f, leafOf(f), "foo-1.1.tar.gz")
}

// Findings are POSTed once to the webhook; a failed POST is retried at
// the next run.
func TestNotify(t *testing.T) {
	var mu sync.Mutex
	var got []monitor.Finding
	fail := true
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var f monitor.Finding
		if err := json.Unmarshal(body, &f); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook body %q: %v", body, err)
		}
		got = append(got, f)
	}))
	defer hook.Close()

	store, skey, vkey := clienttest.NewStoreLog(t)
	clienttest.RewriteIndex(t, store, skey, "project-5", func(x *tiles.Index) { x.Lines = x.Lines[1:] })
	cfg := config(t, t.TempDir(), logAt{store.Root(), vkey})
	cfg.Notify = hook.URL
	m := openMonitor(t, cfg)
	rep := runOnce(t, m)
	if len(rep.Findings) != 1 || rep.Notified != 0 || rep.NotifyFailed != 1 {
		t.Fatalf("first run: %d findings, %d notified, %d failed", len(rep.Findings), rep.Notified, rep.NotifyFailed)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	rep = runOnce(t, m)
	if rep.Notified != 1 || rep.NotifyFailed != 0 {
		t.Fatalf("second run: %d notified, %d failed", rep.Notified, rep.NotifyFailed)
	}
	rep = runOnce(t, m)
	if rep.Notified != 0 {
		t.Fatalf("third run notified %d", rep.Notified)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Kind != monitor.KindIndexOmits || got[0].Evidence.Checkpoint == "" {
		t.Fatalf("webhook got %+v", got)
	}
	data, err := os.ReadFile(filepath.Join(cfg.StateDir, "findings", got[0].ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var written monitor.Finding
	if err := json.Unmarshal(data, &written); err != nil || written.ID != got[0].ID {
		t.Fatalf("finding file: %v %+v", err, written)
	}
}

// The state of a log belongs to its key.
func TestStateKeepsTheKey(t *testing.T) {
	store, _, vkey := clienttest.NewStoreLog(t)
	state := t.TempDir()
	monitorOnce(t, state, logAt{store.Root(), vkey})
	other, _ := newKey(t, "pysumdb.test/log")
	otherV, _ := tiles.VerifierKey(other)
	_, err := monitor.Open(config(t, state, logAt{store.Root(), otherV}))
	if err == nil || !strings.Contains(err.Error(), "was verified with the key") {
		t.Fatalf("open with another key: %v", err)
	}
	if errors.Is(err, tiles.ErrVerification) {
		t.Fatal("a user's mistake reported as a verification failure")
	}
}

// lineOf returns the i-th line of project's index in store.
func lineOf(t *testing.T, store *publish.Dir, vkey, project string, i int) tiles.IndexLine {
	t.Helper()
	x, err := tiles.OpenIndex(read(t, store, tiles.IndexKey(project)), verifierOf(t, vkey), project)
	if err != nil {
		t.Fatal(err)
	}
	if i < 0 {
		i += len(x.Lines)
	}
	return x.Lines[i]
}

// A file of a project its filename does not give is found through its
// home's filename note; without the note, it is in no index.
func TestFilenameNote(t *testing.T) {
	skey, vkey := newKey(t, "note.test/log")
	dir := t.TempDir()
	monitortest.Write(t, dir, skey, []monitortest.File{
		{Project: "qux", Entry: monitortest.Entry(t, "qux-1.0.tar.gz", "")},
		{Project: "bar", Entry: monitortest.Entry(t, "baz-1.0.tar.gz", "")},
	})
	wantNoFindings(t, monitorOnce(t, t.TempDir(), logAt{dir, vkey}))

	if err := os.Remove(filepath.Join(dir, "filenames", "baz")); err != nil {
		t.Fatal(err)
	}
	rep := monitorOnce(t, t.TempDir(), logAt{dir, vkey})
	f := wantOnly(t, rep, monitor.KindIndexOmits)
	if leafOf(f) != 1 || f.Filename != "baz-1.0.tar.gz" || !slices.Equal(f.Evidence.Absent, []string{"index/baz", "filenames/baz"}) {
		t.Fatalf("finding %+v", f)
	}
}
