package client

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/tiles"
)

// Timeouts and retries of an HTTPFetcher. A log's server is not trusted:
// whatever it does, a fetch ends within DefaultObjectTimeout, holding at
// most the object's bound (tiles.MaxObjectSize) in memory.
const (
	// DefaultStallTimeout abandons an attempt that receives nothing (no
	// header, no byte of the body) for this long: a connection that died
	// without a reset, or a server that stops sending. It is retried.
	DefaultStallTimeout = 20 * time.Second

	// DefaultObjectTimeout bounds a whole fetch of one object, all its
	// attempts and the waits between them included, so that a server
	// that drips a byte every few seconds can't hold a client forever.
	// A realistic large project index (15 MB) takes two minutes at
	// 1 Mbit/s; the largest one allowed (64 MiB) needs 3 Mbit/s.
	DefaultObjectTimeout = 3 * time.Minute

	// DefaultTries is how many times an object is requested, at most:
	// answers 408, 429 and 5xx, timeouts and connection failures are
	// tried again. A 404, any other answer, an object too large, and
	// too many redirects are not.
	DefaultTries = 4

	// DefaultRetryBackoff is the wait before the first retry; it doubles
	// on every retry up to maxRetryBackoff, with ±50% jitter so that
	// clients failed by one outage don't come back together.
	DefaultRetryBackoff = 500 * time.Millisecond

	// maxRetryBackoff bounds the wait between two retries.
	maxRetryBackoff = 8 * time.Second

	// DefaultMaxRetryAfter caps the wait a Retry-After header asks for
	// (the header is honoured up to it), so that a server can't park a
	// client.
	DefaultMaxRetryAfter = 30 * time.Second

	// MaxRedirects is how many redirects a fetch follows (net/http's
	// default is 10): a CDN redirects once or twice, a loop forever.
	MaxRedirects = 5
)

// HTTPFetcher reads a log over HTTP(S) with keep-alive connections. Each
// object is read through a bound of its size; gzip, when the server sends
// it, is decompressed through the same bound. Failures that may go away
// are retried with backoff (see DefaultTries).
type HTTPFetcher struct {
	base   string
	client *http.Client

	// The defaults above; tests shorten them.
	stallTimeout, objectTimeout time.Duration
	tries                       int
	retryBackoff, maxRetryAfter time.Duration
	// onRetry, if set, is called before each wait for a retry.
	onRetry func(err error, wait time.Duration)
}

// NewHTTPFetcher returns a fetcher for the log at base. A nil client means
// a client with keep-alive connections and no transparent decompression;
// a client's own Timeout, if any, still applies to each attempt. At most
// MaxRedirects redirects are followed, whatever the client.
func NewHTTPFetcher(base string, client *http.Client) (*HTTPFetcher, error) {
	if client == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		// As many as the objects a run fetches at once (maxPrefetch), so
		// that a server without HTTP/2 has its connections reused.
		transport.MaxIdleConnsPerHost = maxPrefetch
		// Fetch sets Accept-Encoding itself, which also turns off the
		// transport's decompression, unbounded; this is for clarity.
		transport.DisableCompression = true
		client = &http.Client{Transport: transport}
	}
	// A copy, so as not to change the caller's client.
	c := *client
	checkRedirect := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		// via holds the requests made: the first and each redirect followed.
		if len(via) > MaxRedirects {
			return errTooManyRedirects
		}
		if checkRedirect != nil {
			return checkRedirect(req, via)
		}
		return nil
	}
	return &HTTPFetcher{
		base:          strings.TrimSuffix(base, "/") + "/",
		client:        &c,
		stallTimeout:  DefaultStallTimeout,
		objectTimeout: DefaultObjectTimeout,
		tries:         DefaultTries,
		retryBackoff:  DefaultRetryBackoff,
		maxRetryAfter: DefaultMaxRetryAfter,
	}, nil
}

var (
	errTooManyRedirects = fmt.Errorf("stopped after %d redirects", MaxRedirects)
	errStalled          = errors.New("stalled")
	errObjectTimeout    = errors.New("object timeout")
)

// Fetch reads the object at key: ErrNotFound if the server answers 404,
// ErrTooLarge if it is larger than tiles.MaxObjectSize(key) allows.
func (h *HTTPFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	return h.fetch(ctx, key, false)
}

// FetchFresh is Fetch asking every cache on the way (a CDN, a proxy) for
// the object's current version ("Cache-Control: no-cache").
func (h *HTTPFetcher) FetchFresh(ctx context.Context, key string) ([]byte, error) {
	return h.fetch(ctx, key, true)
}

func (h *HTTPFetcher) fetch(ctx context.Context, key string, fresh bool) ([]byte, error) {
	if err := tiles.CheckKey(key); err != nil {
		return nil, err
	}
	addr := h.base + key
	ctx, cancel := context.WithTimeoutCause(ctx, h.objectTimeout, errObjectTimeout)
	defer cancel()
	tries := 0
	data, err := backoff.Retry(ctx, func() ([]byte, error) {
		tries++
		return h.attempt(ctx, key, addr, fresh)
	},
		backoff.WithBackOff(&backoff.ExponentialBackOff{
			InitialInterval:     h.retryBackoff,
			RandomizationFactor: 0.5,
			Multiplier:          2,
			MaxInterval:         max(maxRetryBackoff, h.retryBackoff),
		}),
		backoff.WithMaxTries(uint(h.tries)),
		// A retry that would start after the object's deadline is not
		// tried: the last error says more than the deadline would.
		backoff.WithMaxElapsedTime(h.objectTimeout),
		backoff.WithNotify(func(err error, wait time.Duration) {
			if h.onRetry != nil {
				h.onRetry(err, wait)
			}
		}))
	if err == nil {
		return data, nil
	}
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if errors.Is(context.Cause(ctx), errObjectTimeout) {
		err = fmt.Errorf("not complete after %v", h.objectTimeout)
	}
	if tries > 1 {
		return nil, fmt.Errorf("couldn't fetch %s (%d tries): %w", addr, tries, err)
	}
	return nil, fmt.Errorf("couldn't fetch %s: %w", addr, err)
}

// attempt requests the object once. Its error is permanent (see
// backoff.Permanent) unless another attempt may succeed.
func (h *HTTPFetcher) attempt(ctx context.Context, key, addr string, fresh bool) ([]byte, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Restarted by every byte received: see progressReader.
	stall := time.AfterFunc(h.stallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, addr, nil)
	if err != nil {
		return nil, backoff.Permanent(err)
	}
	req.Header.Set("User-Agent", UserAgent)
	// Asked for explicitly, so that net/http hands over the body as sent
	// and fetch decompresses it through the object's bound.
	req.Header.Set("Accept-Encoding", "gzip")
	if fresh {
		req.Header.Set("Cache-Control", "no-cache")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, h.failure(ctx, actx, err)
	}
	defer resp.Body.Close()
	stall.Reset(h.stallTimeout)

	switch code := resp.StatusCode; {
	case code == http.StatusOK:
	case code == http.StatusNotFound:
		return nil, backoff.Permanent(fmt.Errorf("%s: %w", addr, ErrNotFound))
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		// Drained a little, so that the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		statusErr := errors.New(resp.Status)
		if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now(), h.maxRetryAfter); ok {
			return nil, fmt.Errorf("%w; %w", statusErr, &backoff.RetryAfterError{Duration: wait})
		}
		return nil, statusErr
	default:
		return nil, backoff.Permanent(errors.New(resp.Status))
	}

	limit := tiles.MaxObjectSize(key)
	body := &progressReader{r: resp.Body, stall: stall, timeout: h.stallTimeout, key: key, max: limit}
	var data []byte
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		if resp.ContentLength > limit {
			return nil, backoff.Permanent(&TooLargeError{Key: key, Max: limit})
		}
		data, err = bounded.Read(body, key, limit, resp.ContentLength)
	case "gzip", "x-gzip":
		// The decompressed size is what is bounded; the compressed bytes
		// too, so that an endless run of empty gzip members (which
		// decompress to nothing) ends as well. Deflate adds at most 5
		// bytes per 16 KiB block to incompressible data, gzip 18 bytes
		// per member.
		wire := limit + limit/16 + 4096
		if resp.ContentLength > wire {
			return nil, backoff.Permanent(&TooLargeError{Key: key, Max: limit})
		}
		body.left = wire
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(body); err == nil {
			data, err = bounded.Read(zr, key, limit, 0)
		}
	default:
		return nil, backoff.Permanent(fmt.Errorf("unsupported Content-Encoding %q", enc))
	}
	if err != nil {
		return nil, h.failure(ctx, actx, err)
	}
	return data, nil
}

// failure classifies the error of an attempt: permanent, or worth another
// try.
func (h *HTTPFetcher) failure(ctx, actx context.Context, err error) error {
	if uerr, ok := errors.AsType[*url.Error](err); ok {
		// Without "Get <URL>": Fetch names the object's URL.
		err = uerr.Err
	}
	var certErr *tls.CertificateVerificationError
	switch {
	case ctx.Err() != nil:
		// The caller gave up, or the object's deadline passed.
		return backoff.Permanent(context.Cause(ctx))
	case errors.Is(context.Cause(actx), errStalled):
		return fmt.Errorf("nothing received for %v", h.stallTimeout)
	case errors.Is(err, ErrTooLarge), errors.Is(err, errTooManyRedirects), errors.As(err, &certErr):
		return backoff.Permanent(err)
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum):
		return backoff.Permanent(fmt.Errorf("couldn't decompress: %w", err))
	}
	// A connection refused, reset or cut short, a truncated body.
	return err
}

// progressReader restarts the stall timer on every byte received and, if
// left is positive, fails with a TooLargeError (of key and max) once it has
// read more than left bytes.
type progressReader struct {
	r       io.Reader
	stall   *time.Timer
	timeout time.Duration
	left    int64
	read    int64
	key     string
	max     int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	if p.left > 0 && p.read > p.left {
		return 0, &TooLargeError{Key: p.key, Max: p.max}
	}
	n, err := p.r.Read(b)
	if n > 0 {
		p.stall.Reset(p.timeout)
		p.read += int64(n)
	}
	return n, err
}

// parseRetryAfter parses a Retry-After header, seconds or an HTTP date,
// capped at limit.
func parseRetryAfter(value string, now time.Time, limit time.Duration) (time.Duration, bool) {
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(value, 10, 64); err == nil {
		if secs > uint64(limit/time.Second) {
			return limit, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(value); err == nil {
		return min(max(t.Sub(now), 0), limit), true
	}
	return 0, false
}
