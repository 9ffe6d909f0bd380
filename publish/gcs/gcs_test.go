package gcs_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/internal/syncbuf"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/gcs"
	"github.com/pysumdb/pysumdb/publish/storetest"
	"github.com/pysumdb/pysumdb/tiles"
)

// TestConformance runs the shared Store tests, each on its own prefix of
// one bucket, so that they also show that prefixes keep logs apart.
func TestConformance(t *testing.T) {
	fake := newFakeGCS(t)
	fake.createBucket("conformance")
	var runs atomic.Int64
	storetest.Run(t, func(t *testing.T) publish.Store {
		return fake.open(t, gcs.Config{Bucket: "conformance", Prefix: fmt.Sprintf("run-%d/", runs.Add(1))})
	})
}

// TestListAtBucketRoot shows that List at the bucket's root leaves out the
// lease object, which is not a key.
func TestListAtBucketRoot(t *testing.T) {
	ctx := context.Background()
	fake := newFakeGCS(t)
	fake.createBucket("root")
	s := fake.open(t, gcs.Config{Bucket: "root"})
	release, err := s.Lock(ctx, "lister")
	if err != nil {
		t.Fatal(err)
	}
	defer release(ctx)
	if err := s.Create(ctx, "tile/0/000", []byte("t")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Swap(ctx, ".well-known/bt/tlog-key", publish.NoVersion, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.lease(t, "root", ""); !ok {
		t.Fatal("no lease object at the bucket's root")
	}
	keys, err := s.List(ctx, "")
	if want := []string{".well-known/bt/tlog-key", "tile/0/000"}; err != nil || !slices.Equal(keys, want) {
		t.Fatalf("List(\"\") = %q, %v; want %q", keys, err, want)
	}
}

// TestObjectHeaders shows that every object is stored with the
// Cache-Control and Content-Type of its kind, as GCS will serve them.
func TestObjectHeaders(t *testing.T) {
	ctx := context.Background()
	fake := newFakeGCS(t)
	fake.createBucket("headers")
	s := fake.open(t, gcs.Config{Bucket: "headers", Prefix: "log"})
	for _, tc := range []struct {
		key, cacheControl, contentType string
		immutable                      bool
	}{
		{"tile/0/x001/234", "public, max-age=31536000, immutable", "application/octet-stream", true},
		{"tile/1/000.p/7", "public, max-age=31536000, immutable", "application/octet-stream", true},
		{"tile/entries/000.p/3", "public, max-age=31536000, immutable", "application/octet-stream", true},
		{"checkpoint", "public, max-age=60", "text/plain; charset=utf-8", false},
		{"index/requests", "public, max-age=60", "text/plain; charset=utf-8", false},
		{".well-known/bt/tlog-key", "public, max-age=3600", "text/plain; charset=utf-8", false},
		{"state/cursor.json", "no-store", "application/json", false},
	} {
		var err error
		if tc.immutable {
			err = s.Create(ctx, tc.key, []byte("content"))
		} else {
			_, err = s.Swap(ctx, tc.key, publish.NoVersion, []byte("content"))
		}
		if err != nil {
			t.Fatalf("writing %s: %v", tc.key, err)
		}
		attrs := fake.attrs(t, "headers", "log/"+tc.key)
		if attrs.CacheControl != tc.cacheControl || attrs.ContentType != tc.contentType {
			t.Errorf("%s: Cache-Control %q, Content-Type %q; want %q, %q", tc.key, attrs.CacheControl, attrs.ContentType, tc.cacheControl, tc.contentType)
		}
	}
}

// TestCorruptedUploadIsRefused: every upload carries the CRC32C of its
// bytes, so bytes damaged on the way are refused instead of stored.
func TestCorruptedUploadIsRefused(t *testing.T) {
	ctx := context.Background()
	fake := newFakeGCS(t)
	fake.createBucket("crc")
	s := fake.open(t, gcs.Config{Bucket: "crc"})
	fake.mm.corruptNextUpload("tile/0/000")
	if err := s.Create(ctx, "tile/0/000", []byte("intact tile")); err == nil {
		t.Fatal("Create with bytes corrupted on the way succeeded")
	}
	if obj, err := fake.server.GetObject("crc", "tile/0/000"); err == nil {
		t.Fatalf("the corrupted upload was stored: %q", obj.Content)
	}
	if err := s.Create(ctx, "tile/0/000", []byte("intact tile")); err != nil {
		t.Fatalf("Create after the refused upload: %v", err)
	}
}

// TestLeaseTakenOverAfterExpiry: a lease is busy while it lasts, names its
// holder and expiry, can be taken over once expired, and the old holder's
// release then leaves the new holder's lease alone.
func TestLeaseTakenOverAfterExpiry(t *testing.T) {
	ctx := context.Background()
	fake := newFakeGCS(t)
	fake.createBucket("lease")
	clock := newFakeClock()
	// Renewals never come within the test: expiry is up to the fake clock.
	cfg := gcs.Config{Bucket: "lease", Prefix: "log", LeaseTTL: 24 * time.Hour, LeaseRenewInterval: 23 * time.Hour, Now: clock.Now}
	first, second, third := fake.open(t, cfg), fake.open(t, cfg), fake.open(t, cfg)

	releaseFirst, err := first.Lock(ctx, "first")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(cfg.LeaseTTL - time.Second)
	_, err = second.Lock(ctx, "second")
	if !errors.Is(err, publish.ErrBusy) {
		t.Fatalf("Lock of a live lease: %v, want ErrBusy", err)
	}
	if want := "held by first until 2026-01-03T03:04:05Z"; !strings.Contains(err.Error(), want) {
		t.Errorf("busy error %q does not say %q", err, want)
	}

	clock.Advance(2 * time.Second)
	releaseSecond, err := second.Lock(ctx, "second")
	if err != nil {
		t.Fatalf("Lock of an expired lease: %v", err)
	}
	taken, _ := fake.lease(t, "lease", "log/")
	err = releaseFirst(ctx)
	if !errors.Is(err, publish.ErrBusy) || !strings.Contains(err.Error(), "taken over by second") {
		t.Fatalf("release of a lease taken over: %v, want ErrBusy naming second", err)
	}
	if after, ok := fake.lease(t, "lease", "log/"); !ok || after != taken {
		t.Fatalf("after the old holder's release the lease is %+v (present %v), want %+v", after, ok, taken)
	}
	if _, err := third.Lock(ctx, "third"); !errors.Is(err, publish.ErrBusy) {
		t.Fatalf("Lock while the new holder has it: %v, want ErrBusy", err)
	}

	if err := releaseSecond(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.lease(t, "lease", "log/"); ok {
		t.Fatal("lease object still there after release")
	}
	releaseThird, err := third.Lock(ctx, "third")
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	releaseThird(ctx)
}

// TestLeaseRenewalKeepsIt: a held lease is renewed, so it stays busy long
// after the TTL it was taken with.
func TestLeaseRenewalKeepsIt(t *testing.T) {
	ctx := context.Background()
	fake := newFakeGCS(t)
	fake.createBucket("renew")
	clock := newFakeClock()
	cfg := gcs.Config{Bucket: "renew", LeaseTTL: 24 * time.Hour, LeaseRenewInterval: time.Millisecond, Now: clock.Now}
	holder, other := fake.open(t, cfg), fake.open(t, cfg)

	release, err := holder.Lock(ctx, "holder")
	if err != nil {
		t.Fatal(err)
	}
	taken, _ := fake.lease(t, "renew", "")
	clock.Advance(2 * cfg.LeaseTTL)
	// Without renewal the lease would now have expired a day ago.
	waitFor(t, "a renewal", func() bool {
		l, ok := fake.lease(t, "renew", "")
		return ok && l.Expires.After(clock.Now())
	})
	if _, err := other.Lock(ctx, "other"); !errors.Is(err, publish.ErrBusy) {
		t.Fatalf("Lock of a renewed lease: %v, want ErrBusy", err)
	}
	if renewed, _ := fake.lease(t, "renew", ""); renewed.Holder != "holder" || renewed.Generation == taken.Generation {
		t.Fatalf("lease after renewal %+v, want holder's, with a new generation than %d", renewed, taken.Generation)
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	releaseOther, err := other.Lock(ctx, "other")
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	releaseOther(ctx)
}

// TestLeaseLostWhileUnreachable: a holder cut off from GCS cannot renew,
// its lease expires and is taken over; when it gets through again it finds
// out, stops renewing and does not touch the new holder's lease.
func TestLeaseLostWhileUnreachable(t *testing.T) {
	ctx := context.Background()
	direct := newFakeGCS(t)
	cutOff := newFront(t, direct.server)
	direct.createBucket("lost")
	clock := newFakeClock()
	var logs syncbuf.Buffer
	cfg := gcs.Config{Bucket: "lost", LeaseTTL: 24 * time.Hour, LeaseRenewInterval: time.Millisecond, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	holder := cutOff.open(t, cfg)
	cfg.Logger = nil
	other := direct.open(t, cfg)

	release, err := holder.Lock(ctx, "holder")
	if err != nil {
		t.Fatal(err)
	}
	cutOff.mm.setUnreachable(true)
	waitFor(t, "a failed renewal to be logged", func() bool {
		return strings.Contains(logs.String(), "couldn't renew the lease")
	})
	clock.Advance(2 * cfg.LeaseTTL)
	releaseOther, err := other.Lock(ctx, "other")
	if err != nil {
		t.Fatalf("Lock of a lease its holder could not renew: %v", err)
	}

	cutOff.mm.setUnreachable(false)
	waitFor(t, "the holder to notice it lost the lease", func() bool {
		return strings.Contains(logs.String(), "lost the lease")
	})
	if err := release(ctx); !errors.Is(err, publish.ErrBusy) {
		t.Fatalf("release of a lost lease: %v, want ErrBusy", err)
	}
	// The new holder renews its lease too, so only the holder is stable.
	if after, ok := direct.lease(t, "lost", ""); !ok || after.Holder != "other" {
		t.Fatalf("lease after the old holder came back: %+v (present %v), want other's", after, ok)
	}
	if err := releaseOther(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRetriedWritesAreIdempotent loses the answer to the first upload of a
// write, so that the library retries it and the retry meets its own first
// attempt: the write must succeed, once.
func TestRetriedWritesAreIdempotent(t *testing.T) {
	ctx := context.Background()
	fake := newFakeGCS(t)
	fake.createBucket("retry")
	s := fake.open(t, gcs.Config{Bucket: "retry", Prefix: "log"})
	// appliedOnce checks that the first upload of name was carried out
	// and its retry refused by the precondition: the client retried, and
	// the write was applied exactly once.
	appliedOnce := func(t *testing.T, name string) {
		t.Helper()
		if got, want := fake.mm.uploadStatuses(name), []int{http.StatusOK, http.StatusPreconditionFailed}; !slices.Equal(got, want) {
			t.Fatalf("server answers to the uploads of %s: %v, want %v", name, got, want)
		}
	}

	t.Run("Create", func(t *testing.T) {
		fake.mm.loseNextAnswer("log/tile/0/000")
		if err := s.Create(ctx, "tile/0/000", []byte("tile")); err != nil {
			t.Fatalf("Create: %v", err)
		}
		appliedOnce(t, "log/tile/0/000")
	})

	for _, tc := range []struct {
		name, key string
		from      []byte // nil: swap from NoVersion
	}{
		{"SwapFromNoVersion", "index/new", nil},
		{"SwapFromVersion", "checkpoint", []byte("old checkpoint")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := publish.NoVersion
			if tc.from != nil {
				var err error
				if old, err = s.Swap(ctx, tc.key, publish.NoVersion, tc.from); err != nil {
					t.Fatal(err)
				}
			}
			fake.mm.loseNextAnswer("log/" + tc.key)
			v, err := s.Swap(ctx, tc.key, old, []byte("new"))
			if err != nil {
				t.Fatalf("Swap: %v", err)
			}
			data, readVersion, err := s.Read(ctx, tc.key)
			if err != nil || string(data) != "new" || readVersion != v {
				t.Fatalf("Read = %q, %q, %v; want \"new\" at the version Swap returned, %q", data, readVersion, err, v)
			}
			statuses := fake.mm.uploadStatuses("log/" + tc.key)
			if tc.from != nil {
				statuses = statuses[1:] // the swap that set it up
			}
			if want := []int{http.StatusOK, http.StatusPreconditionFailed}; !slices.Equal(statuses, want) {
				t.Fatalf("server answers to the uploads of %s: %v, want %v", tc.key, statuses, want)
			}
		})
	}

	t.Run("Lock", func(t *testing.T) {
		fake.mm.loseNextAnswer("log/.lease")
		release, err := s.Lock(ctx, "retrier")
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		appliedOnce(t, "log/.lease")
		if err := release(ctx); err != nil {
			t.Fatalf("release: %v", err)
		}
	})
}

// TestDeletesCarryGenerationPreconditions checks what fake-gcs-server
// cannot enforce: every DELETE names the generation it means, so that a
// retried delete, or a release racing a takeover, cannot delete a newer
// object.
func TestDeletesCarryGenerationPreconditions(t *testing.T) {
	ctx := context.Background()
	fake := newFakeGCS(t)
	fake.createBucket("deletes")
	s := fake.open(t, gcs.Config{Bucket: "deletes"})

	v, err := s.Swap(ctx, "alarms/1", publish.NoVersion, []byte("alarm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "alarms/1"); err != nil {
		t.Fatal(err)
	}
	release, err := s.Lock(ctx, "holder")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := fake.lease(t, "deletes", "")
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}

	deletes := fake.mm.deleteURLs()
	want := []string{string(v), strconv.FormatInt(l.Generation, 10)}
	if len(deletes) != len(want) {
		t.Fatalf("%d DELETE requests (%v), want %d", len(deletes), deletes, len(want))
	}
	for i, u := range deletes {
		if got := u.Query().Get("ifGenerationMatch"); got != want[i] {
			t.Errorf("DELETE %s: ifGenerationMatch=%q, want %q", u.Path, got, want[i])
		}
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	// A reachable server, so that only the checks of the config can fail.
	fake := newFakeGCS(t)
	for _, cfg := range []gcs.Config{
		{Bucket: ""},
		{Bucket: "Upper"},
		{Bucket: "a"},
		{Bucket: "ok-bucket", Prefix: "/abs"},
		{Bucket: "ok-bucket", Prefix: "a//b"},
		{Bucket: "ok-bucket", Prefix: "a/../b"},
		{Bucket: "ok-bucket", LeaseTTL: time.Minute, LeaseRenewInterval: time.Minute},
	} {
		cfg.ClientOptions = fake.clientOptions()
		if s, err := gcs.Open(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded, want an error", cfg)
		}
	}
}

// BenchmarkCreateTile creates full hash tiles (256 hashes, 8 KiB) one
// after the other in fake-gcs-server and in a local directory. The
// emulator's in-memory bucket scans all its objects on every write, so
// its rate falls as the bucket fills: compare runs of a fixed count
// (-benchtime=200x).
func BenchmarkCreateTile(b *testing.B) {
	data := make([]byte, tiles.TileWidth*32)
	rand.Read(data)
	run := func(b *testing.B, s publish.Store) {
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			key := tiles.TilePath(tlog.Tile{H: tiles.TileHeight, L: 0, N: int64(i), W: tiles.TileWidth})
			if err := s.Create(ctx, key, data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
	}
	b.Run("fake-gcs-server", func(b *testing.B) {
		fake := newFakeGCS(b)
		fake.createBucket("bench")
		run(b, fake.open(b, gcs.Config{Bucket: "bench", Prefix: "log"}))
	})
	b.Run("dir", func(b *testing.B) {
		d, err := publish.OpenDir(filepath.Join(b.TempDir(), "log"))
		if err != nil {
			b.Fatal(err)
		}
		run(b, d)
	})
}
