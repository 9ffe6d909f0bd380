package sequencer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
)

// writeCounter counts the writes that reach a store.
type writeCounter struct {
	publish.Store
	writes atomic.Int64
}

func (w *writeCounter) Create(ctx context.Context, key string, data []byte) error {
	w.writes.Add(1)
	return w.Store.Create(ctx, key, data)
}

func (w *writeCounter) Swap(ctx context.Context, key string, old publish.Version, data []byte) (publish.Version, error) {
	w.writes.Add(1)
	return w.Store.Swap(ctx, key, old, data)
}

func (w *writeCounter) Delete(ctx context.Context, key string) error {
	w.writes.Add(1)
	return w.Store.Delete(ctx, key)
}

// openLogged opens a sequencer on store whose log lines go to buf.
func openLogged(t *testing.T, store publish.Store, skey string, buf *bytes.Buffer) *sequencer.Sequencer {
	t.Helper()
	s, err := sequencer.Open(context.Background(), sequencer.Config{
		Store: store, Key: skey, Holder: t.Name(),
		Logger: slog.New(slog.NewTextHandler(buf, nil)),
		Now:    func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) },
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// TestAlarmReportedUntilAcknowledged: an alarm raised by one run is
// reported by every later run, even one with nothing to log, until someone
// acknowledges it; then runs are quiet again.
func TestAlarmReportedUntilAcknowledged(t *testing.T) {
	ctx := context.Background()
	dir, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &writeCounter{Store: dir}
	skey, _ := testKey(t)
	records := synthetic.Records(0, 10)

	var log bytes.Buffer
	s := openLogged(t, store, skey, &log)
	if _, err := s.Append(ctx, records, nil); err != nil {
		t.Fatal(err)
	}
	if open, err := s.CheckAlarms(ctx); err != nil || len(open) != 0 {
		t.Fatalf("CheckAlarms without alarms = %v, %v", open, err)
	}

	// Run 1: a logged filename served with another sha256.
	changed := records[3]
	changed.SHA256 = digest(0xbad)
	res, err := s.Append(ctx, []sequencer.Record{changed}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alarms) != 1 || res.Alarms[0].Code != sequencer.AlarmChangedFile || res.Appended != 0 {
		t.Fatalf("Append of a changed file = %+v", res)
	}
	open, err := s.CheckAlarms(ctx)
	if !errors.Is(err, sequencer.ErrAlarm) || len(open) != 1 || open[0].Filename != changed.Filename {
		t.Fatalf("CheckAlarms after the alarm = %v, %v; want it and ErrAlarm", open, err)
	}
	s.Close(ctx)

	// Run 2, nothing new: still reported, at ERROR with its attributes,
	// and checking writes nothing.
	log.Reset()
	s = openLogged(t, store, skey, &log)
	if res, err := s.Append(ctx, nil, nil); err != nil || len(res.Alarms) != 0 {
		t.Fatalf("empty Append = %+v, %v", res, err)
	}
	before := store.writes.Load()
	open, err = s.CheckAlarms(ctx)
	if !errors.Is(err, sequencer.ErrAlarm) || len(open) != 1 {
		t.Fatalf("CheckAlarms in a quiet run = %v, %v; want ErrAlarm", open, err)
	}
	if store.writes.Load() != before {
		t.Fatalf("CheckAlarms wrote %d objects", store.writes.Load()-before)
	}
	id := open[0].ID()
	for _, want := range []string{"level=ERROR", "unacknowledged ALARM", "id=" + id, "code=" + sequencer.AlarmChangedFile,
		"filename=" + changed.Filename, "served_sha256=" + fmt.Sprintf("%064x", 0xbad), "leaf=3"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if id != res.Alarms[0].ID() || len(id) != 32 {
		t.Errorf("stored ID %q, raised alarm's ID %q", id, res.Alarms[0].ID())
	}
	s.Close(ctx)

	// Listing writes nothing either.
	before = store.writes.Load()
	alarms, err := sequencer.ListAlarms(ctx, store)
	if err != nil || len(alarms) != 1 || alarms[0].Acknowledged != "" {
		t.Fatalf("ListAlarms = %+v, %v", alarms, err)
	}
	if store.writes.Load() != before {
		t.Fatalf("ListAlarms wrote %d objects", store.writes.Load()-before)
	}
	when := time.Date(2025, 2, 3, 4, 5, 6, 0, time.FixedZone("x", 3600))
	if err := sequencer.Acknowledge(ctx, store, &alarms[0], "alice@host", when); err != nil {
		t.Fatal(err)
	}
	alarms, err = sequencer.ListAlarms(ctx, store)
	if err != nil || alarms[0].Acknowledged != "2025-02-03T03:05:06Z" || alarms[0].AcknowledgedBy != "alice@host" {
		t.Fatalf("after Acknowledge: %+v, %v", alarms, err)
	}

	// Run 3: acknowledged, so quiet; raising the same alarm again keeps
	// the acknowledged record.
	log.Reset()
	s = openLogged(t, store, skey, &log)
	if res, err := s.Append(ctx, []sequencer.Record{changed}, nil); err != nil || len(res.Alarms) != 1 {
		t.Fatalf("Append of the changed file again = %+v, %v", res, err)
	}
	if open, err := s.CheckAlarms(ctx); err != nil || len(open) != 0 {
		t.Fatalf("CheckAlarms after acknowledging = %v, %v", open, err)
	}
	if strings.Contains(log.String(), "unacknowledged") {
		t.Errorf("acknowledged alarm reported:\n%s", log.String())
	}
	alarms, err = sequencer.ListAlarms(ctx, store)
	if err != nil || len(alarms) != 1 || alarms[0].AcknowledgedBy != "alice@host" {
		t.Fatalf("after raising again: %+v, %v", alarms, err)
	}
}

// TestAcknowledgeKeepsTheFirst: two people acknowledging the same alarm
// from listings of the same version: the first one's record stays.
func TestAcknowledgeKeepsTheFirst(t *testing.T) {
	ctx := context.Background()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	skey, _ := testKey(t)
	var log bytes.Buffer
	s := openLogged(t, store, skey, &log)
	a := sequencer.Alarm{Code: sequencer.AlarmInvalidAttestation, Reason: sequencer.ReasonInvalidAttestation, Project: "p", Filename: "p-1.tar.gz",
		Leaf: -1, ServedSHA256: fmt.Sprintf("%064x", 1), ServedSize: 1, Detected: "2025-01-01T00:00:00Z"}
	if err := s.RaiseAlarm(ctx, a); err != nil {
		t.Fatal(err)
	}
	first, err := sequencer.ListAlarms(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	second, err := sequencer.ListAlarms(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := sequencer.Acknowledge(ctx, store, &first[0], "", time.Now()); err == nil {
		t.Fatal("Acknowledge without a name succeeded")
	}
	t1 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := sequencer.Acknowledge(ctx, store, &first[0], "alice", t1); err != nil {
		t.Fatal(err)
	}
	if err := sequencer.Acknowledge(ctx, store, &second[0], "bob", t1.Add(time.Hour)); err != nil {
		t.Fatalf("second Acknowledge: %v", err)
	}
	if second[0].AcknowledgedBy != "alice" || second[0].Acknowledged != "2025-03-01T00:00:00Z" {
		t.Errorf("stale copy after Acknowledge: %+v", second[0].Alarm)
	}
	stored, err := sequencer.ListAlarms(ctx, store)
	if err != nil || len(stored) != 1 || stored[0].AcknowledgedBy != "alice" || stored[0].Acknowledged != "2025-03-01T00:00:00Z" {
		t.Fatalf("stored: %+v, %v", stored, err)
	}
	if stored[0].ID() != a.ID() {
		t.Errorf("stored ID %s, alarm ID %s", stored[0].ID(), a.ID())
	}
}
