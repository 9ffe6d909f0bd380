package gcs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/gcs"
)

// TestLeaseBusyNamesHolder checks the busy message when the holder has no
// name (a lease written by another tool or by hand): words saying so, never
// an empty "held by  until".
func TestLeaseBusyNamesHolder(t *testing.T) {
	ctx := context.Background()
	fake := newFakeGCS(t)
	fake.createBucket("lease")
	clock := newFakeClock()
	cfg := gcs.Config{Bucket: "lease", LeaseTTL: time.Hour, LeaseRenewInterval: 59 * time.Minute, Now: clock.Now}
	for _, c := range []struct{ holder, want string }{
		{"", "held by an unnamed holder until "},
		{"  ", "held by an unnamed holder until "},
		{"host\n123", `held by "host\n123" until `},
		{"host 123", "held by host 123 until "},
	} {
		release, err := fake.open(t, cfg).Lock(ctx, c.holder)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fake.open(t, cfg).Lock(ctx, "second")
		if !errors.Is(err, publish.ErrBusy) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("holder %q: busy error %v, want ErrBusy saying %q", c.holder, err, c.want)
		}
		if err := release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
