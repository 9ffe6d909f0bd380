package logging

import (
	"bytes"
	"log/slog"
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
