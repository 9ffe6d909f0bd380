package sequencer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// stats is the statistics object (publish.StatsKey), which the web page
// draws as the log's growth: the files the log counted, by the UTC day of
// their upload time. It is not signed and nothing verifies it; it is
// read, added to and written back once per batch (DESIGN.md, "The web
// page").
type stats struct {
	// TreeSize is the log size the counts reach: every leaf below it
	// that they count is counted once, no leaf at or beyond it is.
	TreeSize int64 `json:"tree_size"`
	// Days are the days with files, in increasing date order.
	Days []dayFiles `json:"days"`
	// Unknown counts the files PyPI gave no upload time ("-").
	Unknown int64 `json:"unknown"`
	// Updated is when the batch that brought the log to TreeSize was
	// counted (RFC 3339, UTC, the sequencer's clock): the page shows the
	// age of a checkpoint of that size from it, saying it is not signed.
	Updated string `json:"updated,omitempty"`
}

type dayFiles struct {
	Date  string `json:"date"` // YYYY-MM-DD, UTC
	Files int64  `json:"files"`
}

// dateLayout is the format of dayFiles.Date.
const dateLayout = "2006-01-02"

// updateStats counts the files of batch b in the statistics object. The
// statistics are a convenience of the web page, not part of the log: a
// failure is logged, and the batch goes on.
func (s *Sequencer) updateStats(ctx context.Context, b *stagedBatch) {
	if err := s.addStats(ctx, b); err != nil {
		s.log.Warn("couldn't update the statistics; the batch goes on without them", "key", publish.StatsKey, "err", err)
	}
}

// addStats reads the statistics, adds the leaves of b they do not count
// yet and writes them back from the version read. The statistics' tree
// size makes this idempotent: a batch replayed after a crash finds its
// leaves counted already. Statistics that don't parse, or that count
// beyond the batch, are started again from this batch: the files logged
// before are then left uncounted (the page shows how many), never counted
// twice.
func (s *Sequencer) addStats(ctx context.Context, b *stagedBatch) error {
	data, v, err := s.cfg.Store.Read(ctx, publish.StatsKey)
	old := &stats{}
	switch {
	case errors.Is(err, publish.ErrNotExist):
	case err != nil:
		return fmt.Errorf("couldn't read the statistics: %w", err)
	default:
		parsed, err := parseStats(data)
		if err == nil && parsed.TreeSize > b.end() {
			err = fmt.Errorf("they count a log of size %d, beyond this batch's end %d", parsed.TreeSize, b.end())
		}
		if err != nil {
			s.log.Warn("the statistics are damaged: counting again from this batch", "key", publish.StatsKey, "err", err, "from", b.Start)
			break
		}
		old = parsed
	}
	from := max(old.TreeSize, b.Start)
	if from >= b.end() {
		return nil
	}
	next := old.add(b.Records[from-b.Start:], b.end())
	next.Updated = s.cfg.Now().UTC().Format(time.RFC3339)
	out, err := json.Marshal(next)
	if err != nil {
		return err
	}
	out = append(out, '\n')
	if limit := tiles.MaxObjectSize(publish.StatsKey); int64(len(out)) > limit {
		return fmt.Errorf("the statistics would be %d bytes, more than the %d a store reads back", len(out), limit)
	}
	if _, err := s.cfg.Store.Swap(ctx, publish.StatsKey, v, out); err != nil {
		return fmt.Errorf("couldn't write the statistics: %w", err)
	}
	return nil
}

// add returns st with records counted and its tree size set to size.
func (st *stats) add(records []Record, size int64) *stats {
	perDay := make(map[string]int64, len(st.Days)+1)
	for _, d := range st.Days {
		perDay[d.Date] = d.Files
	}
	next := &stats{TreeSize: size, Unknown: st.Unknown}
	for i := range records {
		if day, ok := uploadDay(records[i].UploadTime); ok {
			perDay[day]++
		} else {
			next.Unknown++
		}
	}
	next.Days = make([]dayFiles, 0, len(perDay))
	for _, day := range slices.Sorted(maps.Keys(perDay)) {
		next.Days = append(next.Days, dayFiles{Date: day, Files: perDay[day]})
	}
	return next
}

// uploadDay returns the UTC date of an upload time, and false for
// tiles.NoUploadTime (Record.Check allows no other kind of time).
func uploadDay(uploadTime string) (string, bool) {
	t, err := time.Parse(time.RFC3339Nano, uploadTime)
	if err != nil {
		return "", false
	}
	return t.UTC().Format(dateLayout), true
}

// parseStats decodes and checks the statistics object: dates valid and
// increasing, counts positive, and no more files counted than the tree
// size it claims.
func parseStats(data []byte) (*stats, error) {
	var st stats
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	if st.TreeSize < 0 || st.Unknown < 0 {
		return nil, fmt.Errorf("negative tree size %d or unknown count %d", st.TreeSize, st.Unknown)
	}
	total := st.Unknown
	for i, d := range st.Days {
		if t, err := time.Parse(dateLayout, d.Date); err != nil || t.Format(dateLayout) != d.Date {
			return nil, fmt.Errorf("day %d: invalid date %q", i, d.Date)
		}
		if i > 0 && d.Date <= st.Days[i-1].Date {
			return nil, fmt.Errorf("day %d: %s after %s", i, d.Date, st.Days[i-1].Date)
		}
		if d.Files <= 0 || d.Files > st.TreeSize {
			return nil, fmt.Errorf("day %s: %d files", d.Date, d.Files)
		}
		total += d.Files
	}
	if total > st.TreeSize {
		return nil, fmt.Errorf("%d files counted in a log of size %d", total, st.TreeSize)
	}
	return &st, nil
}
