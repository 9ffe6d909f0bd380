// Package storeurl opens the publish.Store a location string names:
//
//	/var/lib/pysumdb/log, ./log   a local directory (publish.OpenDir), the default
//	file:///var/lib/pysumdb/log   the same, as a URL
//	gs://bucket                   a Google Cloud Storage bucket (package gcs)
//	gs://bucket/logs/pypi         a prefix (folder) in it
//
// Anything that starts like a URL ("scheme:") is taken as one, so a
// relative path with a colon in its first segment must be written ./a:b.
package storeurl

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/gcs"
)

// Location is a parsed store location: either Dir, or Bucket and Prefix.
type Location struct {
	// Dir is the local directory of a plain path or file:// URL.
	Dir string
	// Bucket is the GCS bucket of a gs:// URL.
	Bucket string
	// Prefix is the folder in the bucket, without slashes at either end;
	// "" for the bucket's root.
	Prefix string
}

// urlStart matches a URL scheme and its colon (RFC 3986).
var urlStart = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

const usage = "want a path, file:///path or gs://bucket[/prefix]"

// Parse parses a store location.
func Parse(location string) (Location, error) {
	if location == "" {
		return Location{}, fmt.Errorf("empty store location (%s)", usage)
	}
	if !urlStart.MatchString(location) {
		return Location{Dir: location}, nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return Location{}, fmt.Errorf("invalid store location: %w", err)
	}
	if u.Scheme != "file" && u.Scheme != "gs" { // url.Parse lowercases it
		return Location{}, fmt.Errorf("unsupported scheme %q in store location %q (%s)", u.Scheme, location, usage)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Port() != "" || u.Opaque != "" {
		return Location{}, fmt.Errorf("invalid store location %q (%s)", location, usage)
	}
	if u.Scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("store location %q names host %q: a file:// URL needs three slashes and an absolute path (%s)", location, u.Host, usage)
		}
		if u.Path == "" {
			return Location{}, fmt.Errorf("store location %q has no path (%s)", location, usage)
		}
		return Location{Dir: u.Path}, nil
	}
	if u.Host == "" {
		return Location{}, fmt.Errorf("store location %q has no bucket (%s)", location, usage)
	}
	return Location{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}, nil
}

// Open opens the store at location. The returned close function releases
// the store's resources (the GCS client's connections); call it when done.
// GCS stores use Application Default Credentials, or the emulator named
// by STORAGE_EMULATOR_HOST, and the defaults of gcs.Config.
func Open(ctx context.Context, location string, logger *slog.Logger) (store publish.Store, closeStore func() error, err error) {
	l, err := Parse(location)
	if err != nil {
		return nil, nil, err
	}
	if l.Bucket == "" {
		d, err := publish.OpenDir(l.Dir)
		if err != nil {
			return nil, nil, err
		}
		return d, func() error { return nil }, nil
	}
	s, err := gcs.Open(ctx, gcs.Config{Bucket: l.Bucket, Prefix: l.Prefix, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}
