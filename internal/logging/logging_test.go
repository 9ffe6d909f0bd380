package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestOrDiscard(t *testing.T) {
	OrDiscard(nil).Error("dropped") // must not panic
	var buf bytes.Buffer
	given := slog.New(slog.NewTextHandler(&buf, nil))
	OrDiscard(given).Info("kept")
	if !bytes.Contains(buf.Bytes(), []byte("kept")) {
		t.Fatalf("OrDiscard replaced the logger given: %q", buf.String())
	}
}

// TestCloudJSON: each record is one JSON object with Cloud Logging's
// severity names, "message", "time" and the attributes as fields.
func TestCloudJSON(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(NewCloudJSONHandler(&buf, slog.LevelDebug))
	logger.Debug("d", "n", 1)
	logger.Info("batch published", "size", 1000, "origin", "pysumdb.test/log")
	logger.Warn("w")
	logger.Log(context.Background(), slog.LevelWarn+2, "between")
	logger.Error("ALARM: other bytes", "filename", "foo-1.0.tar.gz")
	logger.WithGroup("g").Info("grouped", "level", "x")
	var got []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON object: %q: %v", line, err)
		}
		got = append(got, m)
	}
	want := []struct{ severity, message string }{{"DEBUG", "d"}, {"INFO", "batch published"}, {"WARNING", "w"}, {"WARNING", "between"}, {"ERROR", "ALARM: other bytes"}, {"INFO", "grouped"}}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i, w := range want {
		if got[i]["severity"] != w.severity || got[i]["message"] != w.message || got[i]["level"] != nil || got[i]["msg"] != nil {
			t.Errorf("record %d: %v, want severity %s and message %q", i, got[i], w.severity, w.message)
		}
		if ts, ok := got[i]["time"].(string); !ok || !strings.Contains(ts, "T") {
			t.Errorf("record %d: time %v", i, got[i]["time"])
		}
	}
	if got[1]["size"] != float64(1000) || got[1]["origin"] != "pysumdb.test/log" || got[4]["filename"] != "foo-1.0.tar.gz" {
		t.Errorf("attributes lost: %v, %v", got[1], got[4])
	}
	// An attribute named like a record key, in a group, is left alone.
	if g, ok := got[5]["g"].(map[string]any); !ok || g["level"] != "x" {
		t.Errorf("grouped attribute: %v", got[5])
	}
}
