//go:build !pysumdb_client

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogFormatJSON: with --log-format json every line a command logs is
// a JSON object Cloud Logging reads (severity, message), alarms at ERROR;
// any other format is a usage error.
func TestLogFormatJSON(t *testing.T) {
	dir := t.TempDir()
	key, store := filepath.Join(dir, "log.key"), filepath.Join(dir, "log")
	claimRun(t, exitOK, "keygen", "--origin", "pysumdb.test/log", "--out", key)
	input := filepath.Join(dir, "records.jsonl")
	line := func(sha string) string {
		return `{"project": "foo", "filename": "foo-1.0.tar.gz", "sha256": "` + strings.Repeat(sha, 64) + `", "size": 3}` + "\n"
	}
	if err := os.WriteFile(input, []byte(line("a")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := claimRun(t, exitOK, "--log-format", "json", "sequence", "--store", store, "--key", key, "--from-jsonl", input)
	severities := jsonSeverities(t, stderr)
	if severities["INFO"] == 0 || severities["ERROR"] != 0 {
		t.Fatalf("severities %v:\n%s", severities, stderr)
	}
	// The same filename with other bytes: the alarm is an ERROR record.
	if err := os.WriteFile(input, []byte(line("b")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr = claimRun(t, exitAlarm, "--log-format", "json", "sequence", "--store", store, "--key", key, "--from-jsonl", input)
	// The command's own summary of the alarms, and its error, stay lines
	// for people, after the records.
	var records []string
	for line := range strings.Lines(stderr) {
		if strings.HasPrefix(line, "{") {
			records = append(records, line)
		} else if !strings.HasPrefix(line, "ALARM: ") && !strings.HasPrefix(line, "pysumdb: ") {
			t.Fatalf("a line neither a record nor the summary: %q", line)
		}
	}
	if severities := jsonSeverities(t, strings.Join(records, "")); severities["ERROR"] == 0 {
		t.Fatalf("no ERROR record for the alarm:\n%s", stderr)
	}
	_, stderr = claimRun(t, exitUsage, "--log-format", "xml", "sequence", "--store", store, "--key", key, "--from-jsonl", input)
	wantContains(t, "--log-format xml", stderr, `--log-format "xml": want text or json`)
}

// jsonSeverities counts the log records of text by severity, failing t on
// a line that is not a JSON record with a message.
func jsonSeverities(t *testing.T, text string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for line := range strings.Lines(text) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["message"] == nil {
			t.Fatalf("not a JSON log record: %q (%v)", line, err)
		}
		s, _ := m["severity"].(string)
		counts[s]++
	}
	return counts
}
