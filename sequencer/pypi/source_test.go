package pypi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
)

// store round-trips a cursor through JSON, as the sequencer's state does.
func store(t testing.TB, cur pypi.Cursor) pypi.Cursor {
	t.Helper()
	b, err := json.Marshal(cur)
	if err != nil {
		t.Fatal(err)
	}
	var stored pypi.Cursor
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	return stored
}

// run calls Next until no more work is available and returns the files
// by filename (the last version seen), the stored cursor and the batches.
func run(t testing.TB, src *pypi.Source, cur pypi.Cursor, maxFiles int) (map[string]pypi.File, pypi.Cursor, []pypi.Batch) {
	t.Helper()
	files := make(map[string]pypi.File)
	var batches []pypi.Batch
	for {
		b, err := src.Next(context.Background(), cur, maxFiles)
		if err != nil {
			t.Fatalf("Next(%+v): %v", cur, err)
		}
		batches = append(batches, b)
		for _, f := range b.Files {
			files[f.Filename] = f
		}
		cur = store(t, b.Next)
		if !b.More {
			return files, cur, batches
		}
		if len(batches) > 10000 {
			t.Fatal("Next never caught up")
		}
	}
}

func filenames(files []pypi.File) []string {
	var names []string
	for _, f := range files {
		names = append(names, f.Filename)
	}
	slices.Sort(names)
	return names
}

// checkBatchSize checks the documented bound of a batch: maxFiles, plus
// the files of the projects in flight when it was reached.
func checkBatchSize(t *testing.T, b pypi.Batch, maxFiles, filesPerProject int) {
	t.Helper()
	if limit := maxFiles - 1 + pypi.DefaultConcurrency*filesPerProject; len(b.Files) > limit {
		t.Errorf("batch of %d files for maxFiles %d, over %d", len(b.Files), maxFiles, limit)
	}
}

func newSource(t testing.TB, cfg pypi.Config) *pypi.Source {
	return pypi.NewSource(newClient(t, cfg))
}

func TestBackfillThenFollow(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 30, 3)
	startSerial := srv.Serial()
	src := newSource(t, testConfig(srv, &logRecorder{}))

	files, cur, batches := run(t, src, pypi.Cursor{}, 10)
	if len(files) != 90 {
		t.Errorf("backfill returned %d files, want 90", len(files))
	}
	total := 0
	for _, b := range batches {
		total += len(b.Files)
		if b.Stats.Files != len(b.Files) {
			t.Errorf("Stats.Files %d for %d files", b.Stats.Files, len(b.Files))
		}
		checkBatchSize(t, b, 10, 3)
	}
	if total != 90 {
		t.Errorf("backfill returned %d files in all, want each of 90 once", total)
	}
	if cur.Phase != pypi.PhaseFollow || cur.Serial != startSerial || cur.URL != srv.URL || len(cur.Pending) != 0 {
		t.Fatalf("cursor after backfill = %+v", cur)
	}
	f := files["p_0007-1.tar.gz"]
	if f.Project != "p-0007" || f.Size != int64(len("p_0007-1.tar.gz")) {
		t.Errorf("file = %+v", f)
	}

	add(t, srv, "P_0003", "p_0003-new.tar.gz")
	add(t, srv, "new.project", "new_project-1.tar.gz")
	add(t, srv, "P_0029", "p_0029-new.tar.gz")
	b, err := src.Next(context.Background(), cur, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"new_project-1.tar.gz", "p_0003-0.tar.gz", "p_0003-1.tar.gz", "p_0003-2.tar.gz", "p_0003-new.tar.gz",
		"p_0029-0.tar.gz", "p_0029-1.tar.gz", "p_0029-2.tar.gz", "p_0029-new.tar.gz"}
	if got := filenames(b.Files); !slices.Equal(got, want) {
		t.Errorf("follow returned %v, want %v", got, want)
	}
	if b.More || b.Next.Serial != srv.Serial() || b.Stats.Projects != 3 {
		t.Errorf("follow batch: more %v, serial %d (server %d), stats %+v", b.More, b.Next.Serial, srv.Serial(), b.Stats)
	}

	b, err = src.Next(context.Background(), b.Next, 1000)
	if err != nil || len(b.Files) != 0 || b.More || b.Next.Serial != srv.Serial() {
		t.Errorf("caught up: %+v, %v", b, err)
	}
}

// TestBackfillEmptyProjects checks that a batch reads at most maxFiles
// projects even when they have no files.
func TestBackfillEmptyProjects(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	for i := range 20 {
		if _, err := srv.AddProject(fmt.Sprintf("empty%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	add(t, srv, "zzz", "zzz-1.tar.gz")
	files, cur, batches := run(t, newSource(t, testConfig(srv, &logRecorder{})), pypi.Cursor{}, 3)
	if len(files) != 1 || cur.Phase != pypi.PhaseFollow {
		t.Errorf("%d files, cursor %+v", len(files), cur)
	}
	read := 0
	for _, b := range batches {
		if b.Stats.Projects > 3 {
			t.Errorf("a batch read %d projects, more than maxFiles", b.Stats.Projects)
		}
		read += b.Stats.Projects
	}
	if read != 21 {
		t.Errorf("%d projects read, want 21", read)
	}
}

// TestChangesDuringBackfill checks that a change made after the backfill
// started is caught by following, even in a project already read.
func TestChangesDuringBackfill(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 10, 2)
	src := newSource(t, testConfig(srv, &logRecorder{}))
	b, err := src.Next(context.Background(), pypi.Cursor{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	add(t, srv, "P_0000", "p_0000-late.tar.gz") // already read
	add(t, srv, "A_first", "a_first-1.tar.gz")  // sorts before the position
	files, _, _ := run(t, src, store(t, b.Next), 4)
	for _, name := range []string{"p_0000-late.tar.gz", "a_first-1.tar.gz", "p_0009-1.tar.gz"} {
		if _, ok := files[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestFollowChangelogPagination(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 3, 1)
	src := newSource(t, testConfig(srv, &logRecorder{}))
	_, cur, _ := run(t, src, pypi.Cursor{}, 100)

	before := srv.Serial()
	for i := range 7 {
		add(t, srv, fmt.Sprintf("Q%d", i), fmt.Sprintf("q%d-1.tar.gz", i)) // 3 rows each
	}
	rows := srv.Serial() - before
	srv.SetChangelogLimit(2)
	xmlrpcBefore := srv.Requests().ByEndpoint[fakepypi.EndpointXMLRPC]
	files, cur, _ := run(t, src, cur, 1000)
	if len(files) != 7 {
		t.Errorf("%d files, want 7", len(files))
	}
	if cur.Serial != srv.Serial() {
		t.Errorf("cursor serial %d, want %d", cur.Serial, srv.Serial())
	}
	calls := srv.Requests().ByEndpoint[fakepypi.EndpointXMLRPC] - xmlrpcBefore
	if want := 1 + (rows+1)/2; calls != want {
		t.Errorf("%d XML-RPC calls, want %d (last serial, then %d rows 2 at a time)", calls, want, rows)
	}
}

func TestFollowBatchLimit(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 2, 1)
	src := newSource(t, testConfig(srv, &logRecorder{}))
	_, cur, _ := run(t, src, pypi.Cursor{}, 100)
	for i := range 25 {
		add(t, srv, fmt.Sprintf("Q%02d", i), fmt.Sprintf("q%02d-1.tar.gz", i))
		add(t, srv, fmt.Sprintf("Q%02d", i), fmt.Sprintf("q%02d-2.tar.gz", i))
	}
	files, cur, batches := run(t, src, cur, 5)
	if len(files) != 50 || cur.Serial != srv.Serial() {
		t.Errorf("%d files, serial %d; want 50, %d", len(files), cur.Serial, srv.Serial())
	}
	for _, b := range batches {
		checkBatchSize(t, b, 5, 2)
	}
	for _, b := range batches[:len(batches)-1] {
		if !b.More {
			t.Error("a batch before the last has More false")
		}
	}
}

func TestFollowFallbackWithoutXMLRPC(t *testing.T) {
	for _, refusal := range []fakepypi.Fault{
		{Kind: fakepypi.FaultStatus, Status: http.StatusMethodNotAllowed},
		{Kind: fakepypi.FaultXMLRPC, Message: "RuntimeError: PyPI no longer supports 'changelog_since_serial'"},
	} {
		t.Run(fmt.Sprint(refusal.Kind), func(t *testing.T) {
			srv := fakepypi.NewServer()
			defer srv.Close()
			populate(t, srv, 5, 2)
			refusal.Endpoint, refusal.Times = fakepypi.EndpointXMLRPC, fakepypi.Always
			srv.AddFault(refusal)
			logs := &logRecorder{}
			src := newSource(t, testConfig(srv, logs))
			files, cur, _ := run(t, src, pypi.Cursor{}, 100)
			if len(files) != 10 {
				t.Fatalf("backfill: %d files", len(files))
			}

			add(t, srv, "P_0001", "p_0001-new.tar.gz")
			add(t, srv, "fresh", "fresh-1.tar.gz")
			if _, err := srv.RemoveProject("P_0002"); err != nil {
				t.Fatal(err)
			}
			files, cur, batches := run(t, src, cur, 100)
			if len(batches) != 1 {
				t.Errorf("%d batches, want 1: the fallback catches up at once", len(batches))
			}
			want := []string{"fresh-1.tar.gz", "p_0001-0.tar.gz", "p_0001-1.tar.gz", "p_0001-new.tar.gz"}
			if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, want) {
				t.Errorf("follow by the project list returned %v, want %v", got, want)
			}
			if cur.Serial != srv.Serial() {
				t.Errorf("cursor serial %d, want %d", cur.Serial, srv.Serial())
			}
			if n := srv.Requests().ByEndpoint[fakepypi.EndpointXMLRPC]; n != 1 {
				t.Errorf("%d XML-RPC calls, want 1: a refusal is remembered", n)
			}
			if len(logs.find("XML-RPC changelog refused; following the project list's serials instead")) != 1 {
				t.Error("fallback not logged")
			}

			// A fresh Source, as in the next cron run.
			add(t, srv, "P_0004", "p_0004-new.tar.gz")
			files, _, _ = run(t, newSource(t, testConfig(srv, logs)), cur, 100)
			if _, ok := files["p_0004-new.tar.gz"]; !ok || len(files) != 3 {
				t.Errorf("next run returned %v", slices.Sorted(maps.Keys(files)))
			}
		})
	}
}

func TestStalePageRetried(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 3, 1)
	src := newSource(t, testConfig(srv, &logRecorder{}))
	_, cur, _ := run(t, src, pypi.Cursor{}, 100)

	add(t, srv, "P_0001", "p_0001-new.tar.gz")
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Project: "p-0001", Kind: fakepypi.FaultStale, Times: 2})
	b, err := src.Next(context.Background(), cur, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := filenames(b.Files); !slices.Equal(got, []string{"p_0001-0.tar.gz", "p_0001-new.tar.gz"}) {
		t.Errorf("files %v", got)
	}
	if len(b.Next.Pending) != 0 || b.Stats.Stale != 0 || b.Next.Serial != srv.Serial() {
		t.Errorf("batch %+v", b)
	}
	if n := srv.Requests().ByEndpoint[fakepypi.EndpointProject]; n != 3+3 {
		t.Errorf("%d project requests, want 6 (3 backfill, 2 stale, 1 fresh)", n)
	}
}

func TestStalePageLeftPending(t *testing.T) {
	for _, xmlrpc := range []bool{true, false} {
		t.Run(fmt.Sprintf("xmlrpc=%v", xmlrpc), func(t *testing.T) {
			srv := fakepypi.NewServer()
			defer srv.Close()
			if !xmlrpc {
				srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointXMLRPC, Kind: fakepypi.FaultStatus, Status: http.StatusForbidden, Times: fakepypi.Always})
			}
			populate(t, srv, 3, 1)
			cfg := testConfig(srv, &logRecorder{})
			cfg.StaleRetries = 2
			src := newSource(t, cfg)
			_, cur, _ := run(t, src, pypi.Cursor{}, 100)

			add(t, srv, "P_0001", "p_0001-new.tar.gz")
			lagging := srv.Serial()
			add(t, srv, "P_0002", "p_0002-new.tar.gz")
			srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Project: "p-0001", Kind: fakepypi.FaultStale, Times: fakepypi.Always})
			b, err := src.Next(context.Background(), cur, 100)
			if err != nil {
				t.Fatal(err)
			}
			if got := filenames(b.Files); !slices.Equal(got, []string{"p_0002-0.tar.gz", "p_0002-new.tar.gz"}) {
				t.Errorf("files %v", got)
			}
			if !maps.Equal(b.Next.Pending, map[string]int64{"p-0001": lagging}) || b.Stats.Stale != 1 || b.Stats.Pending != 1 {
				t.Errorf("pending %v, stats %+v; want p-0001 at %d", b.Next.Pending, b.Stats, lagging)
			}
			if len(b.Failures) != 1 || b.Failures[0].Project != "p-0001" || !errors.Is(b.Failures[0].Err, pypi.ErrStale) {
				t.Errorf("failures %v", b.Failures)
			}
			if b.More {
				t.Error("More after a batch whose only leftover is pending")
			}

			// Still stale on the next run: still pending, nothing lost.
			cur = store(t, b.Next)
			b, err = src.Next(context.Background(), cur, 100)
			if err != nil || len(b.Files) != 0 || b.Next.Pending["p-0001"] != lagging {
				t.Fatalf("second run: %+v, %v", b, err)
			}

			srv.ClearFaults()
			if !xmlrpc {
				srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointXMLRPC, Kind: fakepypi.FaultStatus, Status: http.StatusForbidden, Times: fakepypi.Always})
			}
			b, err = src.Next(context.Background(), store(t, b.Next), 100)
			if err != nil {
				t.Fatal(err)
			}
			if got := filenames(b.Files); !slices.Equal(got, []string{"p_0001-0.tar.gz", "p_0001-new.tar.gz"}) || len(b.Next.Pending) != 0 {
				t.Errorf("once fresh: files %v, pending %v", got, b.Next.Pending)
			}
		})
	}
}

func TestStaleDuringBackfill(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 4, 2)
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Project: "p-0002", Kind: fakepypi.FaultStale, Times: 3})
	cfg := testConfig(srv, &logRecorder{})
	cfg.StaleRetries = 1
	src := newSource(t, cfg)
	b, err := src.Next(context.Background(), pypi.Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Files) != 6 || b.Next.Pending["p-0002"] == 0 || b.Next.Phase != pypi.PhaseFollow {
		t.Fatalf("first batch: %d files, cursor %+v", len(b.Files), b.Next)
	}
	files, cur, _ := run(t, src, store(t, b.Next), 100)
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, []string{"p_0002-0.tar.gz", "p_0002-1.tar.gz"}) || len(cur.Pending) != 0 {
		t.Errorf("retry of the pending project: %v, cursor %+v", got, cur)
	}
}

func TestDeletionsIgnored(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 3, 3)
	logs := &logRecorder{}
	src := newSource(t, testConfig(srv, logs))
	_, cur, _ := run(t, src, pypi.Cursor{}, 100)

	if _, err := srv.RemoveFile("P_0000", "p_0000-1.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.RemoveProject("P_0001"); err != nil {
		t.Fatal(err)
	}
	before := srv.Requests().ByEndpoint[fakepypi.EndpointProject]
	b, err := src.Next(context.Background(), cur, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := filenames(b.Files); !slices.Equal(got, []string{"p_0000-0.tar.gz", "p_0000-2.tar.gz"}) {
		t.Errorf("files %v", got)
	}
	if b.Stats.Skipped != 1 || len(b.Next.Pending) != 0 || len(b.Failures) != 0 || b.Next.Serial != srv.Serial() {
		t.Errorf("batch %+v", b)
	}
	if n := srv.Requests().ByEndpoint[fakepypi.EndpointProject] - before; n != 1 {
		t.Errorf("%d project requests, want 1: a removed project is not fetched", n)
	}
}

func TestListedProjectNotFound(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 3, 2)
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Project: "p-0001", Kind: fakepypi.FaultStatus, Status: http.StatusNotFound, Times: fakepypi.Always})
	logs := &logRecorder{}
	files, cur, batches := run(t, newSource(t, testConfig(srv, logs)), pypi.Cursor{}, 100)
	if len(files) != 4 || len(cur.Pending) != 0 || batches[0].Stats.Skipped != 1 {
		t.Errorf("%d files, cursor %+v, stats %+v", len(files), cur, batches[0].Stats)
	}
	if warnings := logs.find("project gone from PyPI, skipped"); len(warnings) != 1 || warnings[0]["project"].String() != "p-0001" {
		t.Errorf("warnings %v", warnings)
	}
}

func TestFailedProjectLeftPending(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 3, 2)
	if _, err := srv.AddFile("broken", fakepypi.File{Filename: "broken-1.tar.gz", Size: 1}); err != nil { // no sha256
		t.Fatal(err)
	}
	src := newSource(t, testConfig(srv, &logRecorder{}))
	b, err := src.Next(context.Background(), pypi.Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Files) != 6 || b.Stats.Failed != 1 || len(b.Failures) != 1 || !errors.Is(b.Failures[0].Err, pypi.ErrMalformed) {
		t.Fatalf("batch: %d files, stats %+v, failures %v", len(b.Files), b.Stats, b.Failures)
	}
	if _, ok := b.Next.Pending["broken"]; !ok {
		t.Fatalf("broken not pending: %+v", b.Next)
	}
	cur := store(t, b.Next)

	if err := srv.TamperFile("broken", "broken-1.tar.gz", digestOf("broken-1.tar.gz"), 1); err != nil {
		t.Fatal(err)
	}
	files, cur, _ := run(t, src, cur, 100)
	if _, ok := files["broken-1.tar.gz"]; !ok || len(cur.Pending) != 0 {
		t.Errorf("after the fix: files %v, cursor %+v", slices.Sorted(maps.Keys(files)), cur)
	}
}

func TestListFailureIsAnError(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 2, 1)
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointIndex, Kind: fakepypi.FaultMalformed, Times: 1})
	src := newSource(t, testConfig(srv, &logRecorder{}))
	if _, err := src.Next(context.Background(), pypi.Cursor{}, 100); !errors.Is(err, pypi.ErrMalformed) {
		t.Errorf("Next with a malformed list: %v, want ErrMalformed", err)
	}
	if files, _, _ := run(t, src, pypi.Cursor{}, 100); len(files) != 2 {
		t.Errorf("%d files on the next try, want 2", len(files))
	}
}

func TestUnavailableAbortsBatch(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 30, 1)
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Kind: fakepypi.FaultStatus, Status: http.StatusServiceUnavailable, Times: fakepypi.Always})
	cfg := testConfig(srv, &logRecorder{})
	cfg.MaxRetries = -1
	src := newSource(t, cfg)
	if b, err := src.Next(context.Background(), pypi.Cursor{}, 100); !errors.Is(err, pypi.ErrUnavailable) {
		t.Errorf("Next = %+v, %v; want ErrUnavailable", b, err)
	}
	if n := srv.Requests().ByEndpoint[fakepypi.EndpointProject]; n >= 30 {
		t.Errorf("%d project requests: the batch went on after failing in a row", n)
	}
}

// cancellingTransport cancels a context once a number of project pages
// were requested, to interrupt a run midway.
type cancellingTransport struct {
	after  int64
	count  atomic.Int64
	cancel atomic.Pointer[context.CancelFunc]
}

func (ct *cancellingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/simple/") && req.URL.Path != "/simple/" && ct.count.Add(1) == ct.after {
		if cancel := ct.cancel.Load(); cancel != nil {
			(*cancel)()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestBackfillResumesAfterInterruption(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 40, 3)
	if _, err := srv.AddFile("broken", fakepypi.File{Filename: "broken-1.tar.gz", Size: 1}); err != nil {
		t.Fatal(err)
	}
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Project: "p-0017", Kind: fakepypi.FaultStatus, Status: http.StatusNotFound, Times: fakepypi.Always})
	want, wantCur, _ := run(t, newSource(t, testConfig(srv, &logRecorder{})), pypi.Cursor{}, 7)

	for _, after := range []int64{1, 5, 23, 40} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			transport := &cancellingTransport{after: after}
			cfg := testConfig(srv, &logRecorder{})
			cfg.HTTPClient = &http.Client{Transport: transport}
			src := newSource(t, cfg)
			got := make(map[string]pypi.File)
			var cur pypi.Cursor
			interruptions := 0
			for {
				ctx, cancel := context.WithCancel(context.Background())
				transport.cancel.Store(&cancel)
				b, err := src.Next(ctx, cur, 7)
				cancel()
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						t.Fatal(err)
					}
					// As after a crash: a new process resumes from the
					// stored cursor.
					interruptions++
					src = newSource(t, cfg)
					continue
				}
				for _, f := range b.Files {
					got[f.Filename] = f
				}
				cur = store(t, b.Next)
				if !b.More {
					break
				}
			}
			if interruptions != 1 {
				t.Fatalf("%d interruptions, want 1", interruptions)
			}
			if !maps.Equal(got, want) {
				t.Errorf("interrupted backfill returned %d files, uninterrupted %d", len(got), len(want))
			}
			if cur.Serial != wantCur.Serial || !maps.Equal(cur.Pending, wantCur.Pending) {
				t.Errorf("cursor %+v, uninterrupted %+v", cur, wantCur)
			}
		})
	}
}

func TestTamperedFileShowsUp(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 3, 2)
	first, cur, _ := run(t, newSource(t, testConfig(srv, &logRecorder{})), pypi.Cursor{}, 100)

	const victim = "p_0001-0.tar.gz"
	evil := strings.Repeat("e", 64)
	if err := srv.TamperFile("P_0001", victim, evil, 666); err != nil {
		t.Fatal(err)
	}
	// A second full read (a new backfill, as an audit would do) sees it.
	second, _, _ := run(t, newSource(t, testConfig(srv, &logRecorder{})), pypi.Cursor{}, 100)
	if second[victim] == first[victim] || second[victim].Size != 666 || fmt.Sprintf("%x", second[victim].SHA256) != evil {
		t.Errorf("tampered file read as %+v, before %+v", second[victim], first[victim])
	}
	for name, f := range first {
		if name != victim && second[name] != f {
			t.Errorf("%s changed: %+v, before %+v", name, second[name], f)
		}
	}

	// Following sees it once the project changes.
	add(t, srv, "P_0001", "p_0001-later.tar.gz")
	followed, _, _ := run(t, newSource(t, testConfig(srv, &logRecorder{})), cur, 100)
	if followed[victim] != second[victim] {
		t.Errorf("follow read %+v, want the tampered %+v", followed[victim], second[victim])
	}
}

func TestCursorChecks(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 1, 1)
	src := newSource(t, testConfig(srv, &logRecorder{}))
	ctx := context.Background()
	for _, tc := range []struct {
		cur  pypi.Cursor
		want error
	}{
		{pypi.Cursor{URL: "https://pypi.org", Phase: pypi.PhaseFollow, Serial: 3}, pypi.ErrCursorMismatch},
		{pypi.Cursor{URL: srv.URL, Phase: "sideways"}, pypi.ErrInvalidCursor},
		{pypi.Cursor{URL: srv.URL, Phase: pypi.PhaseFollow, Serial: -1}, pypi.ErrInvalidCursor},
		{pypi.Cursor{URL: srv.URL, Phase: pypi.PhaseFollow, NextProject: "foo"}, pypi.ErrInvalidCursor},
		{pypi.Cursor{URL: srv.URL, Phase: pypi.PhaseBackfill, NextProject: "Not_Normal"}, pypi.ErrInvalidCursor},
		{pypi.Cursor{URL: srv.URL, Phase: pypi.PhaseFollow, Pending: map[string]int64{"Foo": 1}}, pypi.ErrInvalidCursor},
		{pypi.Cursor{Phase: pypi.PhaseFollow}, pypi.ErrCursorMismatch},
	} {
		if _, err := src.Next(ctx, tc.cur, 10); !errors.Is(err, tc.want) {
			t.Errorf("Next(%+v): %v, want %v", tc.cur, err, tc.want)
		}
	}
	if _, err := src.Next(ctx, pypi.Cursor{}, 0); err == nil {
		t.Error("Next with maxFiles 0 succeeded")
	}
	if n := srv.Requests().Total; n != 0 {
		t.Errorf("%d requests for refused cursors", n)
	}

	// Next never changes the caller's cursor.
	pending := map[string]int64{"p-0000": 1}
	cur := pypi.Cursor{URL: srv.URL, Phase: pypi.PhaseFollow, Serial: srv.Serial(), Pending: pending}
	b, err := src.Next(ctx, cur, 10)
	if err != nil || len(b.Files) != 1 || len(b.Next.Pending) != 0 || !maps.Equal(pending, map[string]int64{"p-0000": 1}) {
		t.Errorf("Next = %+v, %v; caller's pending now %v", b, err, pending)
	}
}

func TestBackfillProgress(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	populate(t, srv, 6, 1)

	// checkReports checks the reports of one backfill of total projects:
	// the start, one a project read, then the end.
	checkReports := func(t *testing.T, reports []pypi.Progress, total int) {
		t.Helper()
		if len(reports) != total+2 {
			t.Fatalf("%d reports, want %d: %+v", len(reports), total+2, reports)
		}
		for i, p := range reports {
			want := pypi.Progress{Started: reports[0].Started, Total: total, Done: min(i, total), Finished: i == total+1}
			if p != want || p.Started.IsZero() {
				t.Errorf("report %d = %+v, want %+v", i, p, want)
			}
		}
	}

	var reports []pypi.Progress // calls are serialized
	logs := &logRecorder{}
	cfg := testConfig(srv, logs)
	cfg.Progress = func(p pypi.Progress) { reports = append(reports, p) }
	_, cur, _ := run(t, newSource(t, cfg), pypi.Cursor{}, 2)
	checkReports(t, reports, 6)
	summary := logs.find("backfill finished")
	if len(summary) != 1 || summary[0]["projects"].Int64() != 6 || summary[0]["files"].Int64() != 6 || summary[0]["requests"].Int64() != 7 {
		t.Errorf("summary %v", summary)
	}
	if batches := logs.find("PyPI batch fetched"); len(batches) != 4 {
		t.Errorf("%d batch lines, want 4", len(batches))
	}

	// Following is not reported.
	reports = nil
	add(t, srv, "P_0001", "p_0001-new.tar.gz")
	run(t, newSource(t, cfg), cur, 2)
	if len(reports) != 0 {
		t.Errorf("following reported %+v", reports)
	}

	// A backfill resumed from a cursor counts the projects left; the
	// pending ones it reads again are not counted.
	b, err := newSource(t, testConfig(srv, &logRecorder{})).Next(context.Background(), pypi.Cursor{}, 2)
	if err != nil || b.Next.NextProject != "p-0002" {
		t.Fatalf("first batch: %+v, %v", b.Next, err)
	}
	b.Next.Pending = map[string]int64{"p-0000": 1}
	reports = nil
	run(t, newSource(t, cfg), store(t, b.Next), 2)
	checkReports(t, reports, 4)

	// Without a callback, nothing is reported and the backfill is the same.
	files, _, _ := run(t, newSource(t, testConfig(srv, &logRecorder{})), pypi.Cursor{}, 2)
	if len(files) != 7 {
		t.Errorf("%d files without a progress callback, want 7", len(files))
	}
}
