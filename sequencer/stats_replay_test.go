package sequencer

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/publish"
)

// TestStatsReplayCountsOnce: the statistics record the tree size they
// count to, so that a batch replayed after a crash (their write done, the
// checkpoint not) counts nothing twice, and a batch that overlaps them
// counts only its leaves beyond.
func TestStatsReplayCountsOnce(t *testing.T) {
	ctx := context.Background()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)
	s := &Sequencer{cfg: Config{Store: store, Now: func() time.Time { return now }}, log: logging.OrDiscard(nil)}
	records := stagedRecords(6) // upload times on 2024-01-02
	records[5].UploadTime = "-"
	read := func() stats {
		t.Helper()
		data, _, err := store.Read(ctx, publish.StatsKey)
		if err != nil {
			t.Fatal(err)
		}
		var st stats
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	first := &stagedBatch{Start: 0, Records: records[:4]}
	for range 2 {
		if err := s.addStats(ctx, first); err != nil {
			t.Fatal(err)
		}
		if st := read(); st.TreeSize != 4 || len(st.Days) != 1 || st.Days[0].Files != 4 || st.Unknown != 0 || st.Updated != "2026-11-28T01:02:03Z" {
			t.Fatalf("after the first batch: %+v", st)
		}
	}
	// A batch from 2 to 6: leaves 2 and 3 are counted already.
	overlapping := &stagedBatch{Start: 2, Records: records[2:]}
	if err := s.addStats(ctx, overlapping); err != nil {
		t.Fatal(err)
	}
	if st := read(); st.TreeSize != 6 || len(st.Days) != 1 || st.Days[0].Files != 5 || st.Unknown != 1 {
		t.Fatalf("after the overlapping batch: %+v", st)
	}
}
