package sequencer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/internal/syncbuf"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

// statsObject is stats.json as the web page reads it.
type statsObject struct {
	TreeSize int64 `json:"tree_size"`
	Days     []struct {
		Date  string `json:"date"`
		Files int64  `json:"files"`
	} `json:"days"`
	Unknown int64 `json:"unknown"`
}

func (s statsObject) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "size %d unknown %d", s.TreeSize, s.Unknown)
	for _, d := range s.Days {
		fmt.Fprintf(&b, " %s:%d", d.Date, d.Files)
	}
	return b.String()
}

func readStats(t *testing.T, store publish.Store) string {
	t.Helper()
	data, _, err := store.Read(context.Background(), publish.StatsKey)
	if err != nil {
		t.Fatalf("reading the statistics: %v", err)
	}
	var st statsObject
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("statistics %q: %v", data, err)
	}
	return st.String()
}

// uploads returns one record per upload time, files of one project.
func uploads(project string, first int, times ...string) []sequencer.Record {
	out := make([]sequencer.Record, len(times))
	for i, ut := range times {
		k := first + i
		out[i] = sequencer.Record{
			Project: project, Filename: fmt.Sprintf("%s-%d.0.tar.gz", project, k),
			SHA256: digest(k), Size: int64(100 + k), UploadTime: ut,
		}
	}
	return out
}

func appendWithLog(t *testing.T, store publish.Store, skey string, records []sequencer.Record) (sequencer.Result, string) {
	t.Helper()
	ctx := context.Background()
	var logs syncbuf.Buffer
	s, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey, Holder: t.Name(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close(ctx)
	res, err := s.Append(ctx, records, nil)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res, logs.String()
}

// TestStatsCountEveryBatch: stats.json counts the files of each batch by
// their upload day (UTC), those without an upload time apart, and
// follows the log's size; a batch of nothing new leaves it alone.
func TestStatsCountEveryBatch(t *testing.T) {
	store := newTestStore(t)
	skey, _ := testKey(t)
	_, warnings := appendWithLog(t, store, skey, uploads("alpha", 0,
		"2024-01-02T03:04:05Z", "2024-01-02T23:59:59.999Z", "-"))
	if warnings != "" {
		t.Errorf("warnings: %s", warnings)
	}
	if got, want := readStats(t, store), "size 3 unknown 1 2024-01-02:2"; got != want {
		t.Errorf("after the first batch: %s, want %s", got, want)
	}
	appendWithLog(t, store, skey, uploads("beta", 10,
		"2024-01-03T00:00:00Z", "2023-12-31T12:00:00Z", "2024-01-02T00:00:00Z", "-"))
	if got, want := readStats(t, store), "size 7 unknown 2 2023-12-31:1 2024-01-02:3 2024-01-03:1"; got != want {
		t.Errorf("after the second batch: %s, want %s", got, want)
	}
	before, _, _ := store.Read(context.Background(), publish.StatsKey)
	if res, _ := appendWithLog(t, store, skey, uploads("beta", 10, "2024-01-03T00:00:00Z")); res.Appended != 0 {
		t.Fatalf("the same file again: %+v", res)
	}
	if after, _, _ := store.Read(context.Background(), publish.StatsKey); !bytes.Equal(before, after) {
		t.Errorf("a batch of nothing new changed the statistics: %s to %s", before, after)
	}
}

// TestStatsDamagedAreStartedAgain: statistics that don't parse, or
// contradict themselves or the log, never stop a batch: a warning is
// logged, and they count again from that batch.
func TestStatsDamagedAreStartedAgain(t *testing.T) {
	for name, damaged := range map[string]string{
		"not JSON":          "{\"tree_size\": 3, \"days\": [",
		"binary":            "\x00\xff\x13",
		"bad date":          `{"tree_size": 3, "days": [{"date": "2024-13-01", "files": 1}], "unknown": 0}`,
		"unsorted":          `{"tree_size": 3, "days": [{"date": "2024-01-02", "files": 1}, {"date": "2024-01-01", "files": 1}], "unknown": 0}`,
		"negative":          `{"tree_size": 3, "days": [{"date": "2024-01-02", "files": -1}], "unknown": 0}`,
		"more than the log": `{"tree_size": 3, "days": [{"date": "2024-01-02", "files": 2}], "unknown": 2}`,
		"a larger log":      `{"tree_size": 1000000, "days": [{"date": "2024-01-02", "files": 1000000}], "unknown": 0}`,
	} {
		t.Run(name, func(t *testing.T) {
			store := newTestStore(t)
			skey, _ := testKey(t)
			appendWithLog(t, store, skey, uploads("alpha", 0, "2024-01-02T03:04:05Z", "-", "-"))
			_, v, err := store.Read(context.Background(), publish.StatsKey)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.Swap(context.Background(), publish.StatsKey, v, []byte(damaged)); err != nil {
				t.Fatal(err)
			}
			res, warnings := appendWithLog(t, store, skey, uploads("beta", 10, "2024-02-01T00:00:00Z", "2024-02-01T01:00:00Z"))
			if res.Appended != 2 || res.TreeSize != 5 {
				t.Fatalf("Append: %+v", res)
			}
			if !strings.Contains(warnings, "statistics are damaged") || !strings.Contains(warnings, publish.StatsKey) {
				t.Errorf("no warning naming %s: %q", publish.StatsKey, warnings)
			}
			if got, want := readStats(t, store), "size 5 unknown 0 2024-02-01:2"; got != want {
				t.Errorf("statistics: %s, want %s", got, want)
			}
		})
	}
}

// statsRefused is a store whose writes of the statistics fail.
type statsRefused struct {
	publish.Store
	mu      sync.Mutex
	refused int
}

func (s *statsRefused) Swap(ctx context.Context, key string, old publish.Version, data []byte) (publish.Version, error) {
	if key == publish.StatsKey {
		s.mu.Lock()
		s.refused++
		s.mu.Unlock()
		return old, errors.New("injected: statistics refused")
	}
	return s.Store.Swap(ctx, key, old, data)
}

// TestStatsFailureDoesNotFailTheBatch: a store that refuses the
// statistics still gets the batch, checkpoint and all.
func TestStatsFailureDoesNotFailTheBatch(t *testing.T) {
	store := newTestStore(t)
	refusing := &statsRefused{Store: store}
	skey, _ := testKey(t)
	res, warnings := appendWithLog(t, refusing, skey, uploads("alpha", 0, "2024-01-02T03:04:05Z"))
	if res.Appended != 1 || refusing.refused != 1 {
		t.Fatalf("Append: %+v, %d refused writes", res, refusing.refused)
	}
	if !strings.Contains(warnings, "couldn't update the statistics") || !strings.Contains(warnings, "injected") {
		t.Errorf("warnings: %q", warnings)
	}
	data, _, err := store.Read(context.Background(), tiles.CheckpointKey)
	if err != nil || !bytes.Contains(data, []byte("\n1\n")) {
		t.Fatalf("checkpoint %q, %v: want size 1", data, err)
	}
	// The next batch writes them, counting from itself: the page shows
	// that one file is not counted.
	appendWithLog(t, store, skey, uploads("alpha", 1, "-"))
	if got, want := readStats(t, store), "size 2 unknown 1"; got != want {
		t.Errorf("statistics: %s, want %s", got, want)
	}
}

// TestStatsObjectIsWhatThePageReads pins the field names and types of
// stats.json (DESIGN.md, "The web page"): app.js reads them.
func TestStatsObjectIsWhatThePageReads(t *testing.T) {
	store := newTestStore(t)
	skey, _ := testKey(t)
	appendWithLog(t, store, skey, uploads("alpha", 0, "2024-01-02T03:04:05Z", "-"))
	data, _, err := store.Read(context.Background(), publish.StatsKey)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	// The sequencer's clock: checked as a time, then left out.
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(generic["updated"])); err != nil {
		t.Errorf("updated %v: %v", generic["updated"], err)
	}
	delete(generic, "updated")
	want := map[string]any{
		"tree_size": 2.0,
		"days":      []any{map[string]any{"date": "2024-01-02", "files": 1.0}},
		"unknown":   1.0,
	}
	if !reflect.DeepEqual(generic, want) {
		t.Errorf("stats.json = %s, want %v", data, want)
	}
}
