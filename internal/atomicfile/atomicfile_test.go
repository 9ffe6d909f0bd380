package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, durable := range []bool{true, false} {
		for _, content := range []string{"one", "two, longer"} {
			if err := Replace(path, []byte(content), durable); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != content {
				t.Fatalf("read %q, %v; want %q", got, err, content)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// A directory that doesn't exist: an error, nothing written.
	if err := Replace(filepath.Join(dir, "no", "state"), []byte("x"), true); err == nil {
		t.Error("Replace into a missing directory succeeded")
	}
}
