package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// barRecords are files whose project their filename does not give: baz-1.0
// is a file of bar, so it is listed in the filename note filenames/baz.
var barRecords = []sequencer.Record{
	{Project: "bar", Filename: "baz-1.0.tar.gz", SHA256: [32]byte(bytes.Repeat([]byte{0xab}, 32)), Size: 10, UploadTime: "-"},
	{Project: "bar", Filename: "bar-2.0.tar.gz", SHA256: [32]byte(bytes.Repeat([]byte{0xcd}, 32)), Size: 11, UploadTime: "-"},
}

// newBarLog is clienttest.NewStoreLog with barRecords appended: 702 entries (the sequencer
// sorts a batch: bar-2.0.tar.gz is leaf 700, baz-1.0.tar.gz leaf 701).
func newBarLog(t *testing.T) (*publish.Dir, string, string) {
	t.Helper()
	store, skey, vkey := clienttest.NewStoreLog(t)
	if _, err := seqtest.Append(context.Background(), store, skey, barRecords, ""); err != nil {
		t.Fatal(err)
	}
	return store, skey, vkey
}

// barLogs hands out copies of one newBarLog, built once per test.
func barLogs(t *testing.T) func(t *testing.T) (*publish.Dir, string, string) {
	base, skey, vkey := newBarLog(t)
	return func(t *testing.T) (*publish.Dir, string, string) {
		return clienttest.CopyStore(t, base), skey, vkey
	}
}

// auditWays audits store from its directory (listable) and over HTTP.
func auditWays(t *testing.T, store *publish.Dir, vkey string) map[string]auditResult {
	t.Helper()
	srv := httptest.NewServer(publish.Handler(store, nil))
	defer srv.Close()
	httpFetch, err := client.NewHTTPFetcher(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]auditResult{}
	for name, fetch := range map[string]client.Fetcher{"dir": client.DirFetcher(store.Root()), "http": httpFetch} {
		rep, err := audit(t, fetch, vkey)
		out[name] = auditResult{rep, err}
	}
	return out
}

type auditResult struct {
	rep *client.AuditReport
	err error
}

func (r auditResult) problems() string {
	if r.rep == nil {
		return ""
	}
	return strings.Join(r.rep.Problems, "\n")
}

func (r auditResult) warnings() string {
	if r.rep == nil {
		return ""
	}
	return strings.Join(r.rep.Warnings, "\n")
}

// wantOK fails t unless the audit passed without warnings.
func (r auditResult) wantOK(t *testing.T, how string) {
	t.Helper()
	if r.err != nil || len(r.rep.Warnings) > 0 {
		t.Fatalf("audit %s: %v\nproblems: %s\nwarnings: %s", how, r.err, r.problems(), r.warnings())
	}
}

// wantProblem fails t unless the audit failed with a problem containing want.
func (r auditResult) wantProblem(t *testing.T, how, want string) {
	t.Helper()
	if !errors.Is(r.err, tiles.ErrVerification) || !strings.Contains(r.problems(), want) {
		t.Fatalf("audit %s: %v\nproblems: %s\nwant a problem containing %q", how, r.err, r.problems(), want)
	}
}

// wantWarning fails t unless the audit passed with a warning containing want.
func (r auditResult) wantWarning(t *testing.T, how, want string) {
	t.Helper()
	if r.err != nil || !strings.Contains(r.warnings(), want) {
		t.Fatalf("audit %s: %v\nproblems: %s\nwarnings: %s\nwant a warning containing %q", how, r.err, r.problems(), r.warnings(), want)
	}
}

func auditKeys(t *testing.T, skey string) (note.Signer, note.Verifier) {
	t.Helper()
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	vkey, _ := tiles.VerifierKey(skey)
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return signer, verifier
}

// rewriteProjectList re-signs a shard of the project list after edit (a
// missing shard starts empty, at the checkpoint's size).
func rewriteProjectList(t *testing.T, store *publish.Dir, skey, shard string, edit func(*tiles.ProjectList)) {
	t.Helper()
	signer, verifier := auditKeys(t, skey)
	l := tiles.ProjectList{Origin: signer.Name(), Shard: shard, TreeSize: auditCheckpointSize(t, store, verifier)}
	data, _, err := store.Read(context.Background(), tiles.ProjectListKey(shard))
	if err == nil {
		if l, err = tiles.OpenProjectList(data, verifier, shard); err != nil {
			t.Fatal(err)
		}
	}
	edit(&l)
	signed, err := tiles.SignProjectList(l, signer)
	if err != nil {
		t.Fatal(err)
	}
	clienttest.Put(t, store, tiles.ProjectListKey(shard), signed)
}

// rewriteFilenameNote re-signs a filename note after edit (a missing note
// starts empty, at the checkpoint's size).
func rewriteFilenameNote(t *testing.T, store *publish.Dir, skey, home string, edit func(*tiles.FilenameNote)) {
	t.Helper()
	signer, verifier := auditKeys(t, skey)
	x := tiles.FilenameNote{Origin: signer.Name(), Home: home, TreeSize: auditCheckpointSize(t, store, verifier)}
	data, _, err := store.Read(context.Background(), tiles.FilenamesKey(home))
	if err == nil {
		if x, err = tiles.OpenFilenameNote(data, verifier, home); err != nil {
			t.Fatal(err)
		}
	}
	edit(&x)
	signed, err := tiles.SignFilenameNote(x, signer)
	if err != nil {
		t.Fatal(err)
	}
	clienttest.Put(t, store, tiles.FilenamesKey(home), signed)
}

// auditWriteIndex signs and writes a whole index.
func auditWriteIndex(t *testing.T, store *publish.Dir, skey string, x tiles.Index) {
	t.Helper()
	signer, _ := auditKeys(t, skey)
	x.Origin = signer.Name()
	signed, err := tiles.SignIndex(x, signer)
	if err != nil {
		t.Fatal(err)
	}
	clienttest.Put(t, store, tiles.IndexKey(x.Project), signed)
}

func auditCheckpointSize(t *testing.T, store *publish.Dir, verifier note.Verifier) int64 {
	t.Helper()
	data, _, err := store.Read(context.Background(), tiles.CheckpointKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := tiles.OpenCheckpoint(data, verifier)
	if err != nil {
		t.Fatal(err)
	}
	return cp.N
}

func auditRemove(t *testing.T, store *publish.Dir, key string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(store.Root(), filepath.FromSlash(key))); err != nil {
		t.Fatal(err)
	}
}

// A project whose files' names don't start with its name is found from
// the project list over HTTP as well as by listing a directory (issue 10,
// item 2: the audit used to guess projects from filenames).
func TestAuditFindsProjectsFromTheProjectList(t *testing.T) {
	store, _, vkey := newBarLog(t)
	if _, _, err := store.Read(context.Background(), tiles.FilenamesKey("baz")); err != nil {
		t.Fatalf("the sequencer wrote no filename note for baz-1.0.tar.gz of bar: %v", err)
	}
	res := auditWays(t, store, vkey)
	for how, r := range res {
		r.wantOK(t, how)
		if r.rep.Entries != 702 || r.rep.ProjectLists == 0 || r.rep.FilenameNotes != 1 {
			t.Fatalf("audit %s: %+v", how, r.rep)
		}
	}
	if res["dir"].rep.Indexes != res["http"].rep.Indexes || res["http"].rep.Indexes != 38 {
		t.Fatalf("%d indexes from the directory, %d over HTTP, want 38", res["dir"].rep.Indexes, res["http"].rep.Indexes)
	}
}

func TestAuditChecksTheProjectList(t *testing.T) {
	newBarLog := barLogs(t)
	t.Run("none", func(t *testing.T) {
		store, _, vkey := newBarLog(t)
		auditRemove(t, store, "projects")
		res := auditWays(t, store, vkey)
		res["dir"].wantWarning(t, "from the directory", "publishes no project list")
		res["http"].wantProblem(t, "over HTTP", "publishes no project list")
	})
	t.Run("project missing from its shard", func(t *testing.T) {
		store, skey, vkey := newBarLog(t)
		rewriteProjectList(t, store, skey, "ba", func(l *tiles.ProjectList) { l.Projects = nil })
		res := auditWays(t, store, vkey)
		res["dir"].wantProblem(t, "from the directory", "project list (projects/ba, size 702) does not list bar")
		res["http"].wantProblem(t, "over HTTP", "(baz-1.0.tar.gz) is in no project index")
	})
	t.Run("listed project without an index", func(t *testing.T) {
		store, skey, vkey := newBarLog(t)
		rewriteProjectList(t, store, skey, "ba", func(l *tiles.ProjectList) { l.Projects = append(l.Projects, "bay") })
		for how, r := range auditWays(t, store, vkey) {
			r.wantProblem(t, how, "projects/ba (size 702) lists bay, which has no index")
		}
	})
	t.Run("listed project without an index beyond the checkpoint", func(t *testing.T) {
		// A batch not yet published: its shard is written, its index not
		// yet.
		store, skey, vkey := newBarLog(t)
		rewriteProjectList(t, store, skey, "ba", func(l *tiles.ProjectList) {
			l.Projects = append(l.Projects, "bay")
			l.TreeSize = 710
		})
		for how, r := range auditWays(t, store, vkey) {
			r.wantWarning(t, how, "lists bay, which has no index yet")
		}
	})
	t.Run("not a shard", func(t *testing.T) {
		store, _, vkey := newBarLog(t)
		clienttest.Put(t, store, "projects/bar", []byte("x"))
		auditWays(t, store, vkey)["dir"].wantProblem(t, "from the directory", "projects/bar: not a shard of the project list")
	})
	t.Run("forged shard", func(t *testing.T) {
		store, _, vkey := newBarLog(t)
		data, _, _ := store.Read(context.Background(), "projects/ba")
		data[len(data)/3] ^= 1
		clienttest.Put(t, store, "projects/ba", data)
		for how, r := range auditWays(t, store, vkey) {
			r.wantProblem(t, how, "projects/ba: ")
		}
	})
	t.Run("unlisted index of a batch not yet published", func(t *testing.T) {
		store, skey, vkey := newBarLog(t)
		auditWriteIndex(t, store, skey, tiles.Index{Project: "newproj", TreeSize: 703, Lines: []tiles.IndexLine{
			{Leaf: 702, Filename: "newproj-1.0.tar.gz", Size: 1, UploadTime: "-"},
		}})
		r := auditWays(t, store, vkey)["dir"]
		r.wantWarning(t, "from the directory", "leaves 702..702 are in project indexes beyond the checkpoint of size 702")
		if strings.Contains(r.warnings(), "project list") {
			t.Fatalf("warnings: %s", r.warnings())
		}
	})
	t.Run("unlisted index below its shard's size", func(t *testing.T) {
		store, skey, vkey := newBarLog(t)
		auditWriteIndex(t, store, skey, tiles.Index{Project: "newproj", TreeSize: 703, Lines: []tiles.IndexLine{
			{Leaf: 702, Filename: "newproj-1.0.tar.gz", Size: 1, UploadTime: "-"},
		}})
		rewriteProjectList(t, store, skey, "ne", func(l *tiles.ProjectList) { l.TreeSize = 703 })
		auditWays(t, store, vkey)["dir"].wantProblem(t, "from the directory", "index/newproj lists leaf 702, but the project list (projects/ne, size 703) does not list newproj")
	})
}

func TestAuditChecksFilenameNotes(t *testing.T) {
	newBarLog := barLogs(t)
	for name, tc := range map[string]struct {
		edit      func(t *testing.T, store *publish.Dir, skey string)
		want      string
		dirOnly   bool
		inProcess bool
	}{
		"line missing": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				rewriteFilenameNote(t, store, skey, "baz", func(x *tiles.FilenameNote) { x.Lines = nil })
			},
			want: "filenames/baz (size 702) does not list baz-1.0.tar.gz at leaf 701 of project bar, which index/bar lists",
		},
		"note missing": {
			edit: func(t *testing.T, store *publish.Dir, skey string) { auditRemove(t, store, "filenames/baz") },
			want: "filenames/baz (size 0) does not list baz-1.0.tar.gz",
		},
		"line at another leaf": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				rewriteFilenameNote(t, store, skey, "baz", func(x *tiles.FilenameNote) { x.Lines[0].Leaf = 3 })
			},
			want: "filenames/baz: lists baz-1.0.tar.gz at leaf 3 of project bar, which index/bar does not list",
		},
		"extra line": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				rewriteFilenameNote(t, store, skey, "baz", func(x *tiles.FilenameNote) {
					x.Lines = append([]tiles.FilenameLine{{Leaf: 5, Filename: "baz-0.1.tar.gz", Project: "bar"}}, x.Lines...)
				})
			},
			want: "filenames/baz: lists baz-0.1.tar.gz at leaf 5 of project bar, which index/bar does not list",
		},
		"unexpected note": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				rewriteFilenameNote(t, store, skey, "qux", func(x *tiles.FilenameNote) {
					x.Lines = []tiles.FilenameLine{{Leaf: 5, Filename: "qux-0.1.tar.gz", Project: "bar"}}
				})
			},
			want:    "filenames/qux: lists qux-0.1.tar.gz at leaf 5 of project bar, which index/bar does not list",
			dirOnly: true,
		},
		"line of a batch not yet published": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				rewriteFilenameNote(t, store, skey, "baz", func(x *tiles.FilenameNote) {
					x.TreeSize = 711
					x.Lines = append(x.Lines, tiles.FilenameLine{Leaf: 710, Filename: "baz-3.0.tar.gz", Project: "bar"})
				})
			},
			want:      "leaves 710..710 are in project indexes beyond the checkpoint of size 702",
			inProcess: true,
		},
		"line of a batch not yet published for a logged file": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				rewriteFilenameNote(t, store, skey, "baz", func(x *tiles.FilenameNote) {
					x.TreeSize = 711
					x.Lines = append(x.Lines, tiles.FilenameLine{Leaf: 710, Filename: "baz-1.0.tar.gz", Project: "bar"})
				})
			},
			want: "filenames/baz: lists baz-1.0.tar.gz at leaf 710, beyond the checkpoint of size 702, but the log has it at leaf 701 already",
		},
	} {
		t.Run(name, func(t *testing.T) {
			store, skey, vkey := newBarLog(t)
			tc.edit(t, store, skey)
			for how, r := range auditWays(t, store, vkey) {
				switch {
				case tc.dirOnly && how == "http":
					r.wantOK(t, how)
				case tc.inProcess:
					r.wantWarning(t, how, tc.want)
				default:
					r.wantProblem(t, how, tc.want)
				}
			}
		})
	}
}

// Index lines beyond the checkpoint are a batch not yet published: a
// warning naming the leaves, unless they contradict the log (issue 10,
// items 5 and 17).
func TestAuditIndexLinesBeyondTheCheckpoint(t *testing.T) {
	newBarLog := barLogs(t)
	lineAt := func(leaf int64, filename string, digest byte) tiles.IndexLine {
		l := tiles.IndexLine{Leaf: leaf, Filename: filename, Size: 1, UploadTime: "-"}
		l.SHA256[0] = digest
		return l
	}
	add := func(t *testing.T, store *publish.Dir, skey, project string, lines ...tiles.IndexLine) {
		clienttest.RewriteIndex(t, store, skey, project, func(x *tiles.Index) {
			x.Lines = append(x.Lines, lines...)
			x.TreeSize = lines[len(lines)-1].Leaf + 1
		})
	}
	for name, tc := range map[string]struct {
		edit func(t *testing.T, store *publish.Dir, skey string)
		want string
		ok   bool
	}{
		"a batch not yet published": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				add(t, store, skey, "project-5", lineAt(702, "project_5-9000.0-py3-none-any.whl", 1), lineAt(705, "project_5-9001.0-py3-none-any.whl", 1))
				add(t, store, skey, "project-6", lineAt(703, "project_6-9002.0-py3-none-any.whl", 1))
			},
			want: "leaves 702..705 are in project indexes beyond the checkpoint of size 702: a batch not yet published; the next sequencer run publishes it",
			ok:   true,
		},
		"a logged filename with another hash": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				add(t, store, skey, "bar", lineAt(702, "baz-1.0.tar.gz", 7))
			},
			want: "index/bar: lists baz-1.0.tar.gz at leaf 702, beyond the checkpoint of size 702, but the log has it at leaf 701 already (with sha256:07",
		},
		"a logged filename with the same hash": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				l := lineAt(702, "bar-2.0.tar.gz", 0)
				l.SHA256, _ = tiles.ParseSHA256("sha256:" + strings.Repeat("cd", 32))
				add(t, store, skey, "bar", l)
			},
			want: "index/bar: lists bar-2.0.tar.gz at leaf 702, beyond the checkpoint of size 702, but the log has it at leaf 700 already (with the same sha256)",
		},
		"one leaf in two indexes": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				add(t, store, skey, "project-5", lineAt(702, "project_5-9000.0-py3-none-any.whl", 1))
				add(t, store, skey, "project-6", lineAt(702, "project_6-9000.0-py3-none-any.whl", 1))
			},
			want: "lists leaf 702 beyond the checkpoint as project_6-9000.0-py3-none-any.whl, index/project-5 as project_5-9000.0-py3-none-any.whl",
		},
		"one filename at two leaves": {
			edit: func(t *testing.T, store *publish.Dir, skey string) {
				add(t, store, skey, "project-5", lineAt(702, "project_5-9000.0-py3-none-any.whl", 1))
				add(t, store, skey, "project-6", lineAt(703, "project_5-9000.0-py3-none-any.whl", 1))
			},
			want: "index/project-6: lists project_5-9000.0-py3-none-any.whl at leaf 703 beyond the checkpoint, index/project-5 at leaf 702",
		},
	} {
		t.Run(name, func(t *testing.T) {
			store, skey, vkey := newBarLog(t)
			tc.edit(t, store, skey)
			for how, r := range auditWays(t, store, vkey) {
				if tc.ok {
					r.wantWarning(t, how, tc.want)
				} else {
					r.wantProblem(t, how, tc.want)
				}
			}
		})
	}
}

// failCheckpoint makes every write of the checkpoint fail: a batch
// interrupted right before it is published.
type failCheckpoint struct{ publish.Store }

var errInterrupted = errors.New("interrupted")

func (f failCheckpoint) Swap(ctx context.Context, key string, old publish.Version, data []byte) (publish.Version, error) {
	if key == tiles.CheckpointKey {
		return "", errInterrupted
	}
	return f.Store.Swap(ctx, key, old, data)
}

// An interrupted batch leaves indexes beyond the checkpoint: the audit
// passes with a warning naming the batch, and the next run publishes it
// (issue 10, item 5).
func TestAuditInterruptedBatch(t *testing.T) {
	ctx := context.Background()
	store, skey, vkey := newBarLog(t)
	if _, err := seqtest.Append(ctx, failCheckpoint{store}, skey, seqtest.Records(2000, 101), ""); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted batch: %v", err)
	}
	for how, r := range auditWays(t, store, vkey) {
		r.wantWarning(t, how, "leaves 702..802 are in project indexes beyond the checkpoint of size 702: a batch not yet published")
		if r.rep.NotYetProvable != 101 {
			t.Fatalf("audit %s: %d lines not yet provable, want 101", how, r.rep.NotYetProvable)
		}
	}
	if _, err := seqtest.Append(ctx, store, skey, nil, ""); err != nil {
		t.Fatalf("the next run: %v", err)
	}
	for how, r := range auditWays(t, store, vkey) {
		r.wantOK(t, how)
		if r.rep.Entries != 803 {
			t.Fatalf("audit %s: %d entries after the next run, want 803", how, r.rep.Entries)
		}
	}
}

// A signed checkpoint may claim any size up to tiles.MaxTreeSize: the
// audit must fail on what is missing without allocating in proportion to
// the claim (issue 10, item 10: 2^33 made it allocate 274 GB).
func TestAuditHugeClaimedSize(t *testing.T) {
	store, skey, vkey := clienttest.NewStoreLog(t)
	signer, _ := auditKeys(t, skey)
	for _, n := range []int64{1 << 33, tiles.MaxTreeSize} {
		var cp tiles.Checkpoint
		cp.Origin, cp.N = signer.Name(), n
		cp.Hash[0] = 1
		signed, err := tiles.SignCheckpoint(cp, signer)
		if err != nil {
			t.Fatal(err)
		}
		clienttest.Put(t, store, tiles.CheckpointKey, signed)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = audit(t, client.DirFetcher(store.Root()), vkey)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("audit of a log claiming %d entries passed", n)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Fatalf("audit of a log claiming %d entries allocated %d MB", n, alloc>>20)
		}
	}
}
