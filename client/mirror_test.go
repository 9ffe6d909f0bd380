package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

func TestMirror(t *testing.T) {
	ctx := context.Background()
	src, skey, vkey := newLog(t)
	// Over HTTP (no listing) and from a directory (with the state).
	srv := httptest.NewServer(publish.Handler(src, nil))
	defer srv.Close()
	httpFetch, _ := client.NewHTTPFetcher(srv.URL, nil)
	for name, fetch := range map[string]client.Fetcher{"http": httpFetch, "dir": client.DirFetcher(src.Root())} {
		t.Run(name, func(t *testing.T) {
			dst, _ := publish.OpenDir(t.TempDir())
			l, err := client.NewLog(fetch, vkey)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := l.Mirror(ctx, dst, nil)
			if err != nil {
				t.Fatalf("mirror: %v %v", err, rep.Problems)
			}
			if got := seqtest.Audit(t, dst, vkey); got.Entries != rep.Entries || got.Indexes != rep.Indexes {
				t.Fatalf("the copy audits with %d entries, %d indexes", got.Entries, got.Indexes)
			}
			// The log grows; mirroring again extends the copy.
			if _, err := seqtest.Append(ctx, src, skey, seqtest.Records(int(rep.Entries)+1000, 300), ""); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Mirror(ctx, dst, nil); err != nil {
				t.Fatalf("second mirror: %v", err)
			}
			if got := seqtest.Audit(t, dst, vkey); got.Entries != rep.Entries+300 {
				t.Fatalf("the copy has %d entries after the second mirror, want %d", got.Entries, rep.Entries+300)
			}
			if name == "dir" {
				// The copy can take over sequencing.
				if res, err := seqtest.Append(ctx, dst, skey, seqtest.Records(5000, 3), ""); err != nil || res.Appended != 3 {
					t.Fatalf("sequencing the copy: %+v, %v", res, err)
				}
			}
		})
	}
}

func TestMirrorRefusesATamperedLog(t *testing.T) {
	ctx := context.Background()
	src, _, vkey := newLog(t)
	data, _, _ := src.Read(ctx, "tile/0/001")
	data[40] ^= 1
	if err := writeRaw(src, "tile/0/001", data); err != nil {
		t.Fatal(err)
	}
	dst, _ := publish.OpenDir(t.TempDir())
	l, _ := client.NewLog(client.DirFetcher(src.Root()), vkey)
	if _, err := l.Mirror(ctx, dst, nil); !errors.Is(err, tiles.ErrVerification) {
		t.Fatalf("mirror of a tampered log: %v, want a verification error", err)
	}
	if _, _, err := dst.Read(ctx, tiles.CheckpointKey); !errors.Is(err, publish.ErrNotExist) {
		t.Fatalf("the copy has a checkpoint: %v", err)
	}
	if _, _, err := dst.Read(ctx, "tile/0/001"); !errors.Is(err, publish.ErrNotExist) {
		t.Fatalf("the tampered tile was copied: %v", err)
	}
}
