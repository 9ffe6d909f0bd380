//go:build !pysumdb_client

package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/sequencer/pypi"
)

// feedBackfill reports a backfill of total projects started at started,
// as a pypi.Source does.
func feedBackfill(report func(pypi.Progress), started time.Time, total int) {
	for done := range total + 1 {
		report(pypi.Progress{Started: started, Total: total, Done: done})
	}
	report(pypi.Progress{Started: started, Total: total, Done: total, Finished: true})
}

// progressLines returns the "backfill progress" lines logged as JSON.
func progressLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "backfill progress" {
			lines = append(lines, m)
		}
	}
	return lines
}

func TestBackfillProgressLogsWithoutTerminal(t *testing.T) {
	var stderr, logs bytes.Buffer
	report := newBackfillProgress(&stderr, slog.New(slog.NewJSONHandler(&logs, nil)))

	// Started a minute ago: the start is logged at once (a line is due
	// every 30 s), the projects read within 30 s of that line are not,
	// the end is.
	feedBackfill(report, time.Now().Add(-time.Minute), 6)
	lines := progressLines(t, &logs)
	if len(lines) != 2 {
		t.Fatalf("%d progress lines, want 2: %s", len(lines), logs.String())
	}
	if first := lines[0]; first["count"] != 0.0 || first["total"] != 6.0 || first["rate_per_s"] != "0.0" || first["eta"] != nil {
		t.Errorf("first line %v", first)
	}
	if last := lines[1]; last["count"] != 6.0 || last["total"] != 6.0 || last["rate_per_s"] != "0.1" || last["eta"] == nil || last["elapsed"] == nil {
		t.Errorf("last line %v", last)
	}
	if stderr.Len() != 0 {
		t.Errorf("a bar drawn on a writer that is not a terminal: %q", stderr.String())
	}

	// A backfill just started logs its end only.
	logs.Reset()
	feedBackfill(report, time.Now(), 3)
	if lines := progressLines(t, &logs); len(lines) != 1 || lines[0]["count"] != 3.0 || lines[0]["total"] != 3.0 {
		t.Errorf("progress lines %v", lines)
	}
}

func TestBackfillProgressBarOnTerminal(t *testing.T) {
	var terminal, logs bytes.Buffer
	p := &backfillProgress{terminal: &terminal, log: slog.New(slog.NewJSONHandler(&logs, nil)), interval: progressInterval}
	feedBackfill(p.report, time.Now(), 6)
	if out := terminal.String(); !strings.Contains(out, "backfill") || !strings.Contains(out, "6/6") || !strings.HasSuffix(out, "\n") {
		t.Errorf("progress bar output %q", out)
	}
	// Another backfill of the same process gets its own bar.
	terminal.Reset()
	feedBackfill(p.report, time.Now(), 3)
	if out := terminal.String(); !strings.Contains(out, "3/3") {
		t.Errorf("second progress bar output %q", out)
	}
	if logs.Len() != 0 {
		t.Errorf("progress logged with a bar: %s", logs.String())
	}
}
