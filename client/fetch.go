// Package client reads a pysumdb log from its static files only, over
// HTTP(S) or from a directory, and verifies everything it reads: checkpoint
// signatures, inclusion and consistency proofs, project indexes. There is
// no log server to ask; a log that serves anything inconsistent is caught
// and reported as an error wrapping tiles.ErrVerification.
//
// A Verifier checks lockfile artifacts against one or more logs with a
// quorum (Config is its TOML configuration); ComparePublished compares
// what PyPI serves with the logs. A Cache keeps, per log, the last verified
// checkpoint, so that a rollback or a fork is caught across runs
// (ForkError), and the tiles once verified, so that a second run fetches
// only the checkpoint and the project indexes.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/publish"
)

// ErrNotFound reports an object the log does not have.
var ErrNotFound = errors.New("not found")

// Fetcher reads a log's objects by key (e.g. "checkpoint",
// "tile/0/000").
type Fetcher interface {
	Fetch(ctx context.Context, key string) ([]byte, error)
}

// Lister is implemented by fetchers that can enumerate objects (a log in a
// directory); over HTTP a log can't be listed.
type Lister interface {
	List(ctx context.Context, prefix string) ([]string, error)
}

// UserAgent is sent with every HTTP request.
const UserAgent = "pysumdb-client (+https://github.com/pysumdb/pysumdb)"

// NewFetcher returns a fetcher for location: an http:// or https:// URL of
// the log's base, a file:// URL, or a directory path.
func NewFetcher(location string) (Fetcher, error) {
	u, err := url.Parse(location)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return NewHTTPFetcher(location, nil)
	}
	dir := location
	if err == nil && u.Scheme == "file" {
		dir = u.Path
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("couldn't open log directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("log location %s is neither a URL nor a directory", location)
	}
	return DirFetcher(dir), nil
}

// DirFetcher reads a log from a local directory (a publish.Dir store).
type DirFetcher string

var (
	_ Fetcher = DirFetcher("")
	_ Lister  = DirFetcher("")
)

func (d DirFetcher) store() StoreFetcher { return StoreFetcher{publish.ReadDir(string(d))} }

func (d DirFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	return d.store().Fetch(ctx, key)
}

func (d DirFetcher) List(ctx context.Context, prefix string) ([]string, error) {
	return d.store().List(ctx, prefix)
}

// HTTPFetcher reads a log over HTTP(S) with keep-alive connections.
type HTTPFetcher struct {
	base   string
	client *http.Client
}

// NewHTTPFetcher returns a fetcher for the log at base. A nil client means
// a client with keep-alive and a 30 s timeout.
func NewHTTPFetcher(base string, client *http.Client) (*HTTPFetcher, error) {
	if client == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = 32
		client = &http.Client{Timeout: 30 * time.Second, Transport: transport}
	}
	return &HTTPFetcher{base: strings.TrimSuffix(base, "/") + "/", client: client}, nil
}

func (h *HTTPFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	if err := publish.CheckKey(key); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+key, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch %s: %w", key, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s%s: %w", h.base, key, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("couldn't fetch %s%s: %s", h.base, key, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch %s%s: %w", h.base, key, err)
	}
	return data, nil
}

// StoreFetcher reads a log straight from its publish.Store, so that the
// sequencer's own tests and tools can audit any backend.
type StoreFetcher struct{ Store publish.Store }

var (
	_ Fetcher = StoreFetcher{}
	_ Lister  = StoreFetcher{}
)

func (s StoreFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	data, _, err := s.Store.Read(ctx, key)
	if errors.Is(err, publish.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return data, err
}

func (s StoreFetcher) List(ctx context.Context, prefix string) ([]string, error) {
	return s.Store.List(ctx, prefix)
}
