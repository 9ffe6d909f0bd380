package publish_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
)

// TestDirLeaseBusyNamesHolder checks the busy message: the holder's name,
// or words saying there is none, never an empty "held by )".
func TestDirLeaseBusyNamesHolder(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		holder string
		remove bool // .lease-holder gone (its write failed)
		want   string
	}{
		{holder: "host 123", want: "(held by host 123)"},
		{holder: "", want: "(held by an unnamed holder)"},
		{holder: " \t", want: "(held by an unnamed holder)"},
		{holder: "host 123", remove: true, want: "(held by an unnamed holder)"},
		{holder: "evil\x1b[2Jholder\nline", want: `(held by "evil\x1b[2Jholder\nline")`},
	} {
		root := t.TempDir()
		first, err := publish.OpenDir(root)
		if err != nil {
			t.Fatal(err)
		}
		release, err := first.Lock(ctx, c.holder)
		if err != nil {
			t.Fatal(err)
		}
		if c.remove {
			os.Remove(filepath.Join(root, ".lease-holder"))
		}
		second, err := publish.OpenDir(root)
		if err != nil {
			t.Fatal(err)
		}
		_, err = second.Lock(ctx, "second")
		if !errors.Is(err, publish.ErrBusy) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("holder %q: busy error %v, want ErrBusy saying %q", c.holder, err, c.want)
		}
		release(ctx)
	}
}
