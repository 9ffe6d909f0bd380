package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/mirror"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/storetest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/attest"
	"github.com/pysumdb/pysumdb/sequencer/ingest"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
)

// seed publishes projects × files synthetic files on srv.
func seed(t testing.TB, srv *fakepypi.Server, projects, files, offset int) {
	t.Helper()
	for p := range projects {
		name := fmt.Sprintf("Proj_%d", p)
		for f := range files {
			k := offset + p*files + f
			_, err := srv.AddFile(name, fakepypi.File{
				Filename:   fmt.Sprintf("proj_%d-%d.0.tar.gz", p, k),
				Version:    fmt.Sprintf("%d.0", k),
				SHA256:     fmt.Sprintf("%064x", k+1),
				Size:       int64(100 + k),
				UploadTime: "2024-03-04T05:06:07.123456Z",
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

type fixture struct {
	srv   *fakepypi.Server
	store publish.Store
	skey  string
	vkey  string
}

func newFixture(t *testing.T) *fixture {
	srv := fakepypi.NewServer()
	t.Cleanup(srv.Close)
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey := seqtest.NewKey(t)
	return &fixture{srv, store, skey, vkey}
}

func (f *fixture) config(t testing.TB, store publish.Store) ingest.Config {
	c, err := pypi.NewClient(pypi.Config{BaseURL: f.srv.URL, RequestsPerSecond: -1, RetryBackoff: 1, StaleRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return ingest.Config{Sequencer: sequencer.Config{Store: store, Key: f.skey}, PyPI: c, MaxFiles: 40}
}

func (f *fixture) run(t testing.TB) (ingest.Summary, error) {
	return ingest.Run(context.Background(), f.config(t, f.store))
}

func TestBackfillThenFollow(t *testing.T) {
	f := newFixture(t)
	seed(t, f.srv, 20, 7, 0)
	sum, err := f.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Appended != 140 || sum.TreeSize != 140 || sum.Batches < 3 || sum.Phase != pypi.PhaseFollow {
		t.Fatalf("backfill: %+v", sum)
	}
	seqtest.Audit(t, f.store, f.vkey)

	// New files and a deleted one: the new are logged, the deleted stays.
	seed(t, f.srv, 3, 2, 1000)
	if _, err := f.srv.RemoveFile("Proj_0", "proj_0-0.0.tar.gz"); err != nil {
		t.Fatal(err)
	}
	sum, err = f.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Appended != 6 || sum.TreeSize != 146 {
		t.Fatalf("follow: %+v", sum)
	}
	rep := seqtest.Audit(t, f.store, f.vkey)
	if rep.Entries != 146 {
		t.Fatalf("audit: %d entries", rep.Entries)
	}
	// Caught up: nothing more.
	if sum, err = f.run(t); err != nil || sum.Appended != 0 {
		t.Fatalf("caught up: %+v, %v", sum, err)
	}
}

func TestTamperRaisesAlarmUntilAcknowledged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	seed(t, f.srv, 4, 3, 0)
	if _, err := f.run(t); err != nil {
		t.Fatal(err)
	}
	bad := fmt.Sprintf("%064x", 0xbad)
	if err := f.srv.TamperFile("Proj_1", "proj_1-4.0.tar.gz", bad, 104); err != nil {
		t.Fatal(err)
	}
	// A change elsewhere in the project makes following read it again.
	seed(t, f.srv, 2, 1, 500)
	sum, err := f.run(t)
	if !errors.Is(err, sequencer.ErrAlarm) {
		t.Fatalf("tampered run: %v, want ErrAlarm", err)
	}
	if len(sum.Alarms) != 1 || sum.Unacknowledged != 1 || sum.Appended != 2 {
		t.Fatalf("tampered run: %+v", sum)
	}
	a := sum.Alarms[0]
	if a.Filename != "proj_1-4.0.tar.gz" || a.ServedSHA256 != bad || a.LoggedSHA256 != fmt.Sprintf("%064x", 5) || a.Leaf < 0 || a.Project != "proj-1" {
		t.Fatalf("alarm %+v", a)
	}
	// Reported by every run until acknowledged, even one told to stop
	// before its first batch...
	if sum, err = f.run(t); !errors.Is(err, sequencer.ErrAlarm) || sum.Unacknowledged != 1 || len(sum.Alarms) != 0 {
		t.Fatalf("next run: %+v, %v", sum, err)
	}
	stopped := f.config(t, f.store)
	stop := make(chan struct{})
	close(stop)
	stopped.Stop = stop
	if sum, err = ingest.Run(ctx, stopped); !errors.Is(err, sequencer.ErrAlarm) || sum.Unacknowledged != 1 || sum.Batches != 0 {
		t.Fatalf("stopped run: %+v, %v", sum, err)
	}
	// ... and by one that failed: the alarm is reported with the failure.
	other := f.config(t, f.store)
	other.PyPI, err = pypi.NewClient(pypi.Config{BaseURL: f.srv.URL + "/other", RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = ingest.Run(ctx, other); !errors.Is(err, sequencer.ErrAlarm) || !errors.Is(err, ingest.ErrCursorMismatch) {
		t.Fatalf("failed run: %v, want ErrAlarm and ErrCursorMismatch", err)
	}
	alarms, err := sequencer.ListAlarms(ctx, f.store)
	if err != nil || len(alarms) != 1 {
		t.Fatalf("ListAlarms: %v, %v", alarms, err)
	}
	if err := sequencer.Acknowledge(ctx, f.store, &alarms[0], "tester@host", time.Now()); err != nil {
		t.Fatal(err)
	}
	if sum, err = f.run(t); err != nil || sum.Unacknowledged != 0 {
		t.Fatalf("after acknowledging: %+v, %v", sum, err)
	}
	seqtest.Audit(t, f.store, f.vkey)
}

func TestCursorOfAnotherIndex(t *testing.T) {
	f := newFixture(t)
	seed(t, f.srv, 2, 2, 0)
	if _, err := f.run(t); err != nil {
		t.Fatal(err)
	}
	other := fakepypi.NewServer()
	defer other.Close()
	seed(t, other, 3, 2, 0)
	cfg := f.config(t, f.store)
	cfg.PyPI, _ = pypi.NewClient(pypi.Config{BaseURL: other.URL, RequestsPerSecond: -1})
	if _, err := ingest.Run(context.Background(), cfg); !errors.Is(err, ingest.ErrCursorMismatch) {
		t.Fatalf("another index: %v, want ErrCursorMismatch", err)
	}
	cfg.ResetCursor = true
	sum, err := ingest.Run(context.Background(), cfg)
	if err != nil || sum.Appended != 2 || sum.Duplicates != 4 {
		t.Fatalf("reset: %+v, %v (want the two new files appended, the four known deduped)", sum, err)
	}
}

func TestLogFromJSONLinesIsBackfilled(t *testing.T) {
	f := newFixture(t)
	seed(t, f.srv, 3, 3, 0)
	// A log made from JSON lines holding some of PyPI's files, no cursor.
	records := []sequencer.Record{{Project: "proj-0", Filename: "proj_0-0.0.tar.gz", SHA256: [32]byte{31: 1}, Size: 100, UploadTime: "-"}}
	if _, err := seqtest.Append(context.Background(), f.store, f.skey, records, ""); err != nil {
		t.Fatal(err)
	}
	sum, err := f.run(t)
	if err != nil || sum.Appended != 8 || sum.Duplicates != 1 || sum.TreeSize != 9 {
		t.Fatalf("%+v, %v", sum, err)
	}
}

func TestAttestedPublisherIsLogged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	provenance, err := os.ReadFile("testdata/sigstore-3.6.1.tar.gz.provenance")
	if err != nil {
		t.Fatal(err)
	}
	for project, file := range map[string]fakepypi.File{
		"sigstore": {Filename: "sigstore-3.6.1.tar.gz", Version: "3.6.1", Size: 10,
			SHA256: "ee60fdc9236fd6709271ad53b44027461360c3fde155d2af15482e4c451ff865", Provenance: provenance},
		// Served with the attestation of another file: suspicious.
		"pypi-attestations": {Filename: "pypi_attestations-0.0.19.tar.gz", Version: "0.0.19", Size: 20,
			SHA256: "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3", Provenance: provenance},
		"plain": {Filename: "plain-1.0.tar.gz", Version: "1.0", Size: 30, SHA256: fmt.Sprintf("%064x", 7)},
	} {
		if _, err := f.srv.AddFile(project, file); err != nil {
			t.Fatal(err)
		}
	}
	cfg := f.config(t, f.store)
	if cfg.Attestations, err = attest.NewVerifier(attest.Config{PinnedRoot: true}); err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.Run(ctx, cfg)
	if !errors.Is(err, sequencer.ErrAlarm) {
		t.Fatalf("run: %v, want ErrAlarm", err)
	}
	if sum.Attested != 1 || sum.Appended != 3 || sum.Unacknowledged != 1 {
		t.Fatalf("%+v", sum)
	}
	alarms, err := sequencer.ListAlarms(ctx, f.store)
	if err != nil || len(alarms) != 1 || alarms[0].Reason != sequencer.ReasonInvalidAttestation ||
		alarms[0].Filename != "pypi_attestations-0.0.19.tar.gz" || !strings.Contains(alarms[0].Detail, "sigstore-3.6.1.tar.gz") {
		t.Fatalf("alarms: %+v, %v", alarms, err)
	}
	l, _ := client.NewLog(mirror.StoreFetcher{Store: f.store}, f.vkey)
	cp, _, _ := l.Checkpoint(ctx)
	want := map[string]string{
		"sigstore":          "https://github.com/sigstore/sigstore-python/.github/workflows/release.yml@refs/tags/v3.6.1",
		"pypi-attestations": "",
		"plain":             "",
	}
	for project, san := range want {
		files, err := l.Lookup(ctx, cp.Tree, project, "")
		if err != nil || len(files) != 1 || !files[0].Proven {
			t.Fatalf("lookup %s: %+v, %v", project, files, err)
		}
		got := ""
		if p := files[0].Publisher; p != nil {
			got = p.SAN
			if p.Kind != "github" {
				t.Errorf("%s: publisher kind %q", project, p.Kind)
			}
		}
		if got != san {
			t.Errorf("%s: publisher %q, want %q", project, got, san)
		}
	}
}

// TestFaultAtEveryWrite kills an ingest run at every write of its store in
// turn (the write lost, or done and its answer lost) and checks that the
// next run finishes the job: every file logged once, the log audits.
func TestFaultAtEveryWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	for _, afterPersist := range []bool{false, true} {
		for failAt := 1; ; failAt++ {
			faulted := false
			t.Run(fmt.Sprintf("write%d-persisted=%v", failAt, afterPersist), func(t *testing.T) {
				f := newFixture(t)
				seed(t, f.srv, 6, 5, 0)
				faulty := &storetest.Faulty{Store: f.store, FailAt: failAt, AfterPersist: afterPersist}
				_, err := ingest.Run(context.Background(), f.config(t, faulty))
				if faulted = faulty.Writes() >= failAt; !faulted {
					if err != nil {
						t.Fatalf("run without fault: %v", err)
					}
					return
				}
				if err == nil && !afterPersist {
					t.Fatalf("write %d failed and the run succeeded", failAt)
				}
				seed(t, f.srv, 1, 2, 100)
				sum, err := f.run(t)
				if err != nil {
					t.Fatalf("recovery run: %v", err)
				}
				if sum.TreeSize != 32 {
					t.Fatalf("size %d after recovery, want 32", sum.TreeSize)
				}
				seqtest.Audit(t, f.store, f.vkey)
			})
			if !faulted || t.Failed() {
				break
			}
		}
	}
}
