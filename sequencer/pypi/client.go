package pypi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"

	"github.com/pysumdb/pysumdb/internal/logging"
)

// Defaults for the zero fields of a Config.
const (
	DefaultBaseURL           = "https://pypi.org"
	DefaultUserAgent         = "pysumdb (+https://github.com/pysumdb/pysumdb)"
	DefaultRequestsPerSecond = 10
	DefaultConcurrency       = 4
	DefaultMaxRetries        = 5
	DefaultRetryBackoff      = time.Second
	DefaultTimeout           = time.Minute
	DefaultStaleRetries      = 3
	DefaultCacheEntries      = 1024
)

const (
	// maxRetryAfter caps the wait a Retry-After header can impose, so that
	// a bogus header can't park a run for hours.
	maxRetryAfter = 5 * time.Minute
	// maxBackoff caps the exponential backoff between retries.
	maxBackoff = time.Minute
	// maxBodySize bounds an answer; PyPI's whole project list is ~50 MB.
	maxBodySize = 512 << 20
)

// Sentinel errors, for callers to branch on with errors.Is.
var (
	// ErrNotFound: PyPI answered 404 (a deleted project or file).
	ErrNotFound = errors.New("not found on PyPI")
	// ErrMalformed: an answer failed validation (bad JSON or XML, a file
	// without a valid sha256, a bad filename or project name, ...). It is
	// not retried within a run.
	ErrMalformed = errors.New("malformed PyPI answer")
	// ErrXMLRPCUnavailable: the XML-RPC API refused the call (HTTP 403,
	// 404, 405, 410, 501 or an XML-RPC fault). PyPI has deprecated parts of
	// it; the Source then falls back to the Simple API's serials.
	ErrXMLRPCUnavailable = errors.New("PyPI XML-RPC API unavailable")
	// ErrStale: a project page kept showing a serial older than the
	// change the changelog or project list announced (CDN lag).
	ErrStale = errors.New("PyPI served a stale project page")
	// ErrUnavailable: so many project fetches failed in a row that the
	// batch was abandoned rather than turning every project into a retry.
	ErrUnavailable = errors.New("PyPI unavailable")
	// ErrCursorMismatch: the cursor was made for another index URL. Pass
	// a zero Cursor to start over against the configured one.
	ErrCursorMismatch = errors.New("cursor belongs to another index")
	// ErrInvalidCursor: the cursor's fields are inconsistent.
	ErrInvalidCursor = errors.New("invalid cursor")
)

// StatusError is an HTTP answer other than success, after retries.
type StatusError struct {
	// URL is the URL requested.
	URL string
	// Code is the HTTP status code.
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// Is makes a 404 match ErrNotFound.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.Code == http.StatusNotFound
}

// Config configures a Client and the Source built on it. The zero value
// of every field means its default.
type Config struct {
	// BaseURL is the index's base URL: DefaultBaseURL for PyPI. The
	// Simple API is at BaseURL/simple/, the XML-RPC API at BaseURL/pypi.
	// The Simple API's own URL, as pip users write it
	// (https://pypi.org/simple/), is taken as the same index: see
	// NormalizeBaseURL. A cursor records the normalized URL.
	BaseURL string
	// UserAgent is sent with every request. PyPI asks bulk clients to name
	// themselves and a contact; DefaultUserAgent does.
	UserAgent string
	// RequestsPerSecond limits requests, retries included, to be polite to
	// PyPI: DefaultRequestsPerSecond when 0, no limit when negative (tests,
	// benchmarks, a private mirror).
	RequestsPerSecond float64
	// Concurrency bounds project pages fetched at once:
	// DefaultConcurrency when 0.
	Concurrency int
	// MaxRetries is the number of retries of a failed request (429, 5xx,
	// timeout, connection error, truncated body): DefaultMaxRetries when
	// 0, none when negative.
	MaxRetries int
	// RetryBackoff is the wait before the first retry; later waits double,
	// with ±50% jitter, up to a minute. A Retry-After header overrides it
	// (capped at 5 minutes). DefaultRetryBackoff when 0.
	RetryBackoff time.Duration
	// Timeout bounds one attempt of a request, reading the body included:
	// DefaultTimeout when 0.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means a client with its own
	// transport sized for Concurrency. Its redirect policy must forward
	// headers to the same host, as net/http's default does.
	HTTPClient *http.Client
	// StaleRetries is how many times the Source fetches again a project
	// page older than the change it must show, with backoff, before
	// leaving the project for the next run: DefaultStaleRetries when 0,
	// none when negative.
	StaleRetries int
	// CacheEntries is how many answers with an ETag are kept to revalidate
	// with If-None-Match: DefaultCacheEntries when 0.
	CacheEntries int
	// Logger receives retries, skipped and failed projects, the start and
	// end of the backfill, and batch summaries; nil discards them.
	Logger *slog.Logger
	// Progress, when not nil, receives the backfill's progress (see
	// [Progress]), for the caller to show. Calls are serialized, but made
	// from the goroutines reading projects: it must return promptly.
	Progress func(Progress)
}

// withDefaults returns cfg with zero fields set to their defaults and
// negative "none" values turned into zero.
func (cfg Config) withDefaults() Config {
	setDefault := func(v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	cfg.BaseURL = NormalizeBaseURL(cfg.BaseURL)
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.RequestsPerSecond == 0 {
		cfg.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	setDefault(&cfg.MaxRetries, DefaultMaxRetries)
	setDefault(&cfg.StaleRetries, DefaultStaleRetries)
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CacheEntries <= 0 {
		cfg.CacheEntries = DefaultCacheEntries
	}
	cfg.Logger = logging.OrDiscard(cfg.Logger)
	if cfg.HTTPClient == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = cfg.Concurrency + 1
		cfg.HTTPClient = &http.Client{Transport: transport}
	}
	return cfg
}

// NormalizeBaseURL returns an index's base URL as a Client uses it:
// DefaultBaseURL for "", and otherwise without trailing slashes and
// without the Simple API's "/simple" suffix, so that
// https://pypi.org/simple/ (how pip users write an index URL),
// https://pypi.org/ and https://pypi.org name the same index. It is the one
// place every command taking an index URL (--pypi) goes through.
func NormalizeBaseURL(base string) string {
	base = strings.TrimSpace(base)
	if base == "" {
		return DefaultBaseURL
	}
	base = strings.TrimRight(base, "/")
	if trimmed, ok := strings.CutSuffix(base, "/simple"); ok && !strings.HasSuffix(trimmed, ":/") && !strings.HasSuffix(trimmed, ":") {
		base = strings.TrimRight(trimmed, "/")
	}
	return base
}

// Client reads an index that speaks PyPI's protocols: the JSON Simple API
// (PEP 691), the XML-RPC changelog and provenance objects (PEP 740). Every
// answer is validated; requests are rate limited and retried. It is safe
// for concurrent use.
type Client struct {
	cfg      Config
	limiter  *rate.Limiter
	cache    *etagCache
	requests atomic.Int64
}

// NewClient returns a client for cfg.BaseURL.
func NewClient(cfg Config) (*Client, error) {
	given := cfg.BaseURL
	cfg = cfg.withDefaults()
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("index URL %q: want http(s)://host[/path], or the index's /simple/ URL", given)
	}
	limit := rate.Limit(cfg.RequestsPerSecond)
	if cfg.RequestsPerSecond < 0 {
		limit = rate.Inf
	}
	return &Client{
		cfg:     cfg,
		limiter: rate.NewLimiter(limit, 1),
		cache:   newETagCache(cfg.CacheEntries),
	}, nil
}

// BaseURL returns the index's base URL, as cursors record it.
func (c *Client) BaseURL() string { return c.cfg.BaseURL }

// Requests returns the number of HTTP requests sent so far, retries and
// revalidations included.
func (c *Client) Requests() int64 { return c.requests.Load() }

func (c *Client) newBackoff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     c.cfg.RetryBackoff,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         max(maxBackoff, c.cfg.RetryBackoff),
	}
}

// request is what do sends, again on every attempt.
type request struct {
	method string
	url    string
	header http.Header
	body   []byte
}

// retryableError marks an error found in a successful HTTP answer that is
// still worth retrying (an XML-RPC "too many requests" fault).
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// do sends req until it gets a 200 or 304 answer whose body decode
// accepts, retrying with backoff what may succeed on another try.
func do[T any](ctx context.Context, c *Client, req request, decode func(resp *http.Response, body []byte) (T, error)) (T, error) {
	attempt := 0
	op := func() (T, error) {
		attempt++
		var zero T
		if err := c.limiter.Wait(ctx); err != nil {
			return zero, backoff.Permanent(err)
		}
		attemptCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
		httpReq, err := http.NewRequestWithContext(attemptCtx, req.method, req.url, bytes.NewReader(req.body))
		if err != nil {
			return zero, backoff.Permanent(err)
		}
		for k, v := range req.header {
			httpReq.Header[k] = v
		}
		httpReq.Header.Set("User-Agent", c.cfg.UserAgent)
		c.requests.Add(1)
		resp, err := c.cfg.HTTPClient.Do(httpReq)
		if err != nil {
			if ctx.Err() != nil {
				return zero, backoff.Permanent(context.Cause(ctx))
			}
			return zero, err // connection error or timeout: retried
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotModified {
			statusErr := &StatusError{URL: req.url, Code: resp.StatusCode}
			if !retryableStatus(resp.StatusCode) {
				return zero, backoff.Permanent(statusErr)
			}
			// Drained so that the connection can be reused.
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				return zero, fmt.Errorf("%w; %w", statusErr, &backoff.RetryAfterError{Duration: wait})
			}
			return zero, statusErr
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
		if err != nil {
			if ctx.Err() != nil {
				return zero, backoff.Permanent(context.Cause(ctx))
			}
			return zero, fmt.Errorf("couldn't read %s: %w", req.url, err) // truncated: retried
		}
		if len(body) > maxBodySize {
			return zero, backoff.Permanent(fmt.Errorf("%w: %s: answer larger than %d bytes", ErrMalformed, req.url, maxBodySize))
		}
		v, err := decode(resp, body)
		if err != nil {
			if _, ok := errors.AsType[*retryableError](err); ok {
				return zero, err
			}
			return zero, backoff.Permanent(err)
		}
		return v, nil
	}
	notify := func(err error, wait time.Duration) {
		c.cfg.Logger.Warn("retrying PyPI request", "url", req.url, "attempt", attempt, "wait", wait, "err", err)
	}
	v, err := backoff.Retry(ctx, op,
		backoff.WithBackOff(c.newBackoff()),
		backoff.WithMaxTries(uint(c.cfg.MaxRetries)+1),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(notify))
	if err != nil {
		return v, fmt.Errorf("couldn't fetch %s: %w", req.url, err)
	}
	return v, nil
}

// retryableStatus reports whether an HTTP status may go away on retry.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// parseRetryAfter parses a Retry-After header, seconds or an HTTP date,
// capped at maxRetryAfter.
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(value, 10, 64); err == nil {
		return time.Duration(min(secs, uint64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(value); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
