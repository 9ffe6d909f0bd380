package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/export"
	"github.com/pysumdb/pysumdb/sequencer/export/exporttest"
	"github.com/pysumdb/pysumdb/sequencer/ingest"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
)

// exportDay is when the export's first file was uploaded; the others
// follow two hours apart, over four days.
var exportDay = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

// exportFixture is a PyPI of 10 projects × 5 files uploaded from exportDay,
// an export of them written in format ("parquet" or "json") into two
// files of a directory, and a log.
type exportFixture struct {
	*fixture
	dir  string
	rows []exporttest.Row
}

func newExportFixture(t *testing.T, format string) *exportFixture {
	f := &exportFixture{fixture: newFixture(t), dir: t.TempDir()}
	for p := range 10 {
		for i := range 5 {
			k := p*5 + i
			at := exportDay.Add(time.Duration(k) * 2 * time.Hour)
			f.srv.SetClock(func() time.Time { return at })
			file := fakepypi.File{
				Filename: fmt.Sprintf("proj_%d-%d.0.tar.gz", p, i), Version: fmt.Sprintf("%d.0", i),
				SHA256: fmt.Sprintf("%064x", k+1), Size: int64(100 + k), UploadTime: at.Format("2006-01-02T15:04:05.000000Z"),
			}
			if _, err := f.srv.AddFile(fmt.Sprintf("Proj_%d", p), file); err != nil {
				t.Fatal(err)
			}
			f.rows = append(f.rows, exporttest.Row{Name: fmt.Sprintf("Proj_%d", p), Version: file.Version,
				Filename: file.Filename, SHA256: file.SHA256, Size: file.Size, UploadTime: &at})
		}
	}
	f.write(t, format, f.rows)
	return f
}

// write replaces the export by rows, split into two files.
func (f *exportFixture) write(t *testing.T, format string, rows []exporttest.Row) {
	t.Helper()
	entries, _ := os.ReadDir(f.dir)
	for _, e := range entries {
		os.Remove(filepath.Join(f.dir, e.Name()))
	}
	half := len(rows) / 2
	for i, part := range [][]exporttest.Row{rows[:half], rows[half:]} {
		out, err := os.Create(filepath.Join(f.dir, fmt.Sprintf("files-%012d.%s", i, format)))
		if err != nil {
			t.Fatal(err)
		}
		write := exporttest.WriteNDJSON
		if format == "parquet" {
			write = exporttest.WriteParquet
		}
		if err := write(out, part); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *exportFixture) runExport(t *testing.T, reset bool, stop <-chan struct{}, logger *slog.Logger) (ingest.Summary, error) {
	t.Helper()
	reader, err := export.Open([]string{f.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	cfg := f.config(t, f.store)
	cfg.Sequencer.Logger = logger
	return ingest.RunExport(context.Background(), ingest.ExportConfig{
		Sequencer: cfg.Sequencer, Export: reader, PyPI: cfg.PyPI, MaxFiles: 7, Margin: ingest.DefaultExportMargin, ResetCursor: reset, Stop: stop,
	})
}

// storedCursor reads the cursor of the log's state.
func (f *exportFixture) storedCursor(t *testing.T) json.RawMessage {
	t.Helper()
	seq, err := sequencer.Open(context.Background(), sequencer.Config{Store: f.store, Key: f.skey})
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close(context.Background())
	return seq.Cursor()
}

func TestExportThenFollow(t *testing.T) {
	for _, format := range []string{"parquet", "json"} {
		t.Run(format, func(t *testing.T) {
			f := newExportFixture(t, format)
			newest := *f.rows[len(f.rows)-1].UploadTime
			// A file uploaded 2 hours before the export's newest but
			// missing from it: within the margin, following finds it.
			f.srv.SetClock(func() time.Time { return newest.Add(-2 * time.Hour) })
			if _, err := f.srv.AddFile("Proj_3", fakepypi.File{Filename: "proj_3-9.0.tar.gz", Version: "9.0", SHA256: fmt.Sprintf("%064x", 999), Size: 9}); err != nil {
				t.Fatal(err)
			}
			// A change after the export.
			f.srv.SetClock(func() time.Time { return newest.Add(48 * time.Hour) })
			if _, err := f.srv.AddFile("Proj_9", fakepypi.File{Filename: "proj_9-10.0.tar.gz", Version: "10.0", SHA256: fmt.Sprintf("%064x", 1000), Size: 10}); err != nil {
				t.Fatal(err)
			}

			sum, err := f.runExport(t, false, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Appended != 50 || sum.Batches != 8 || sum.TreeSize != 50 || sum.Phase != pypi.PhaseFollow {
				t.Fatalf("export: %+v", sum)
			}
			var cur pypi.Cursor
			if err := json.Unmarshal(f.storedCursor(t), &cur); err != nil {
				t.Fatal(err)
			}
			// The last change at or before newest-24h: the changelog
			// dates each file's changes at its upload.
			want := lastSerialAtOrBefore(t, f.srv, newest.Add(-ingest.DefaultExportMargin))
			if cur.URL != f.srv.URL || cur.Phase != pypi.PhaseFollow || cur.Serial != want || want == 0 {
				t.Fatalf("cursor %+v, want follow from serial %d", cur, want)
			}
			seqtest.Audit(t, f.store, f.vkey)

			// Following reads the projects changed since, not all of them,
			// and logs the two files the export lacks.
			before := f.srv.Requests().ByEndpoint[fakepypi.EndpointProject]
			sum, err = f.run(t)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Appended != 2 || sum.TreeSize != 52 {
				t.Fatalf("follow: %+v", sum)
			}
			if pages := f.srv.Requests().ByEndpoint[fakepypi.EndpointProject] - before; pages >= 10 {
				t.Errorf("following read %d project pages, want fewer than the 10 projects", pages)
			}
			seqtest.Audit(t, f.store, f.vkey)
		})
	}
}

// lastSerialAtOrBefore reads the whole changelog of srv.
func lastSerialAtOrBefore(t *testing.T, srv *fakepypi.Server, at time.Time) int64 {
	c, err := pypi.NewClient(pypi.Config{BaseURL: srv.URL, RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := c.ChangelogSince(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var serial int64
	for _, r := range rows {
		if !r.Time.After(at) {
			serial = r.Serial
		}
	}
	return serial
}

// stopAfter is a slog handler that closes stop once msg has been logged n
// times.
type stopAfter struct {
	msg  string
	n    int
	stop chan struct{}
	mu   sync.Mutex
	seen int
}

func (s *stopAfter) Enabled(context.Context, slog.Level) bool { return true }
func (s *stopAfter) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *stopAfter) WithGroup(string) slog.Handler            { return s }
func (s *stopAfter) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Message == s.msg {
		if s.seen++; s.seen == s.n {
			close(s.stop)
		}
	}
	return nil
}

func TestExportResumes(t *testing.T) {
	f := newExportFixture(t, "parquet")
	stop := &stopAfter{msg: "export batch logged", n: 3, stop: make(chan struct{})}
	sum, err := f.runExport(t, false, stop.stop, slog.New(stop))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Appended != 21 || sum.Phase != ingest.PhaseExport {
		t.Fatalf("stopped run: %+v", sum)
	}
	seqtest.Audit(t, f.store, f.vkey)

	// Following can't start before the export is finished.
	if _, err := f.run(t); !errors.Is(err, ingest.ErrExportUnfinished) {
		t.Fatalf("--pypi during an export: %v, want ErrExportUnfinished", err)
	}
	// Nor can an export of another index go on from it.
	other := fakepypi.NewServer()
	defer other.Close()
	otherURL := f.srv.URL
	f.srv.URL = other.URL
	if sum, err := f.runExport(t, false, nil, nil); !errors.Is(err, ingest.ErrCursorMismatch) || sum.Appended != 0 {
		t.Fatalf("export for another index: %+v, %v; want ErrCursorMismatch", sum, err)
	}
	f.srv.URL = otherURL

	// Other files: refused, nothing appended.
	changed := append([]exporttest.Row(nil), f.rows...)
	changed[20].SHA256, changed[49].SHA256 = changed[49].SHA256, changed[20].SHA256
	f.write(t, "parquet", changed)
	if sum, err := f.runExport(t, false, nil, nil); !errors.Is(err, ingest.ErrExportChanged) || sum.Appended != 0 {
		t.Fatalf("changed export: %+v, %v; want ErrExportChanged", sum, err)
	}
	f.write(t, "parquet", f.rows[:15])
	if _, err := f.runExport(t, false, nil, nil); !errors.Is(err, ingest.ErrExportChanged) {
		t.Fatalf("shorter export: %v; want ErrExportChanged", err)
	}

	// The same files: the run skips what is logged and finishes.
	f.write(t, "parquet", f.rows)
	sum, err = f.runExport(t, false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Appended != 29 || sum.Duplicates != 0 || sum.TreeSize != 50 || sum.Phase != pypi.PhaseFollow {
		t.Fatalf("resumed run: %+v", sum)
	}
	seqtest.Audit(t, f.store, f.vkey)

	// Again, with --reset-cursor: everything is already logged.
	sum, err = f.runExport(t, true, nil, nil)
	if err != nil || sum.Appended != 0 || sum.Duplicates != 50 || sum.Phase != pypi.PhaseFollow {
		t.Fatalf("export again: %+v, %v", sum, err)
	}
}

func TestExportWithoutChangelog(t *testing.T) {
	f := newExportFixture(t, "json")
	// PyPI down: the export is logged, the cursor can't be placed; the
	// next run reads the export again, appends nothing, and places it.
	f.srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointXMLRPC, Kind: fakepypi.FaultStatus, Status: http.StatusServiceUnavailable, Times: fakepypi.Always})
	sum, err := f.runExport(t, false, nil, nil)
	if err == nil || errors.Is(err, pypi.ErrXMLRPCUnavailable) || sum.Appended != 50 || sum.Phase != ingest.PhaseExport {
		t.Fatalf("PyPI down: %+v, %v; want an error and the export logged", sum, err)
	}
	f.srv.ClearFaults()
	sum, err = f.runExport(t, false, nil, nil)
	if err != nil || sum.Appended != 0 || sum.Duplicates != 0 || sum.Phase != pypi.PhaseFollow {
		t.Fatalf("PyPI back: %+v, %v", sum, err)
	}

	// XML-RPC turned off: following has to backfill the index.
	f.srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointXMLRPC, Kind: fakepypi.FaultStatus, Status: http.StatusForbidden, Times: fakepypi.Always})
	sum, err = f.runExport(t, true, nil, nil)
	if err != nil || sum.Phase != pypi.PhaseBackfill {
		t.Fatalf("XML-RPC off: %+v, %v", sum, err)
	}
	if cur := f.storedCursor(t); string(cur) != "null" {
		t.Fatalf("cursor %s, want null (a backfill)", cur)
	}
}
