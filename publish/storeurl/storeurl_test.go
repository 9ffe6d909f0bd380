package storeurl_test

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/gcs"
	"github.com/pysumdb/pysumdb/publish/storeurl"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		location string
		want     storeurl.Location
	}{
		{"/var/lib/pysumdb/log", storeurl.Location{Dir: "/var/lib/pysumdb/log"}},
		{"log", storeurl.Location{Dir: "log"}},
		{"./a:b", storeurl.Location{Dir: "./a:b"}},
		{"file:///var/lib/pysumdb/log", storeurl.Location{Dir: "/var/lib/pysumdb/log"}},
		{"file://localhost/srv/log", storeurl.Location{Dir: "/srv/log"}},
		{"FILE:///srv/log", storeurl.Location{Dir: "/srv/log"}},
		{"file:///srv/with%20space", storeurl.Location{Dir: "/srv/with space"}},
		{"gs://bucket", storeurl.Location{Bucket: "bucket"}},
		{"gs://bucket/", storeurl.Location{Bucket: "bucket"}},
		{"gs://bucket/logs/pypi", storeurl.Location{Bucket: "bucket", Prefix: "logs/pypi"}},
		{"gs://bucket/logs/pypi/", storeurl.Location{Bucket: "bucket", Prefix: "logs/pypi"}},
	} {
		got, err := storeurl.Parse(tc.location)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.location, got, err, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		location, wantErr string
	}{
		{"", "empty store location"},
		{"s3://bucket/log", `unsupported scheme "s3"`},
		{"https://example.org/log", `unsupported scheme "https"`},
		{"a:b", `unsupported scheme "a"`},
		{"file://host/srv/log", `names host "host"`},
		{"file://", "has no path"},
		{"file:relative", "invalid store location"},
		{"gs://", "has no bucket"},
		{"gs:/bucket/log", "has no bucket"},
		{"gs://bucket/log?versions=1", "invalid store location"},
		{"gs://bucket/log#x", "invalid store location"},
		{"gs://user@bucket/log", "invalid store location"},
		{"gs://bucket:443/log", "invalid store location"},
	} {
		_, err := storeurl.Parse(tc.location)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Parse(%q): %v, want an error saying %q", tc.location, err, tc.wantErr)
		}
	}
}

func TestOpenDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	for _, location := range []string{dir, "file://" + dir} {
		s, closeStore, err := storeurl.Open(context.Background(), location, nil)
		if err != nil {
			t.Fatalf("Open(%q): %v", location, err)
		}
		if d, ok := s.(*publish.Dir); !ok || d.Root() != dir {
			t.Errorf("Open(%q) = %#v, want a Dir at %s", location, s, dir)
		}
		if err := closeStore(); err != nil {
			t.Error(err)
		}
	}
}

// TestOpenGCS opens a gs:// location on fake-gcs-server named by
// STORAGE_EMULATOR_HOST and checks that writes land under the prefix.
func TestOpenGCS(t *testing.T) {
	ctx := context.Background()
	server, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()
	server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "bucket"})
	front := httptest.NewServer(server.HTTPHandler())
	defer front.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(front.URL, "http://"))

	s, closeStore, err := storeurl.Open(ctx, "gs://bucket/logs/pypi/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if _, ok := s.(*gcs.Store); !ok {
		t.Fatalf("Open(gs://...) = %T, want *gcs.Store", s)
	}
	v, err := s.Swap(ctx, "checkpoint", publish.NoVersion, []byte("cp"))
	if err != nil {
		t.Fatal(err)
	}
	if data, readVersion, err := s.Read(ctx, "checkpoint"); err != nil || string(data) != "cp" || readVersion != v {
		t.Fatalf("Read = %q, %q, %v; want \"cp\", %q", data, readVersion, err, v)
	}
	if obj, err := server.GetObject("bucket", "logs/pypi/checkpoint"); err != nil || string(obj.Content) != "cp" {
		t.Fatalf("object logs/pypi/checkpoint in the bucket: %q, %v", obj.Content, err)
	}
}
