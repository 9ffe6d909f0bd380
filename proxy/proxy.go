// Package proxy is a verifying package index proxy: pip and uv use it as
// their index (PEP 503 HTML and PEP 691 JSON Simple API), it fetches
// project pages and files from an upstream index (PyPI), and it serves a
// file only if its sha256 is the one the logs prove for its filename, as
// GOPROXY and GOSUMDB together do for Go modules.
//
// Project pages are rewritten: each file's URL points to the proxy
// (/files/<project>/<filename>), with the sha256 the logs' project index
// gives in the URL fragment (#sha256=...), so that pip's own hash check
// agrees with the log; the core metadata (PEP 658/714) links are dropped,
// so that every byte an installer reads comes from a verified file.
//
// A file is checked twice: before a byte is sent, the hash the upstream
// lists is checked against the logs (a file the logs hold with another
// hash is refused with an HTTP error whose reason phrase, which pip
// prints, says why); while it streams, the bytes are hashed, and the last
// bytes are held back until the hash matches, so that a client never has a
// whole file that does not match. Verified files are kept in a disk cache
// (least recently used evicted first) and hashed again before each use.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pysumdb/pysumdb/internal/httprec"
	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// NotInLogPolicy is what the proxy does with a file that no log has (yet).
type NotInLogPolicy string

// The policies for files not in the logs.
const (
	// NotInLogAllow serves the file (with a header saying so).
	NotInLogAllow NotInLogPolicy = "allow"
	// NotInLogWarn serves the file, with the header, and logs a warning.
	NotInLogWarn NotInLogPolicy = "warn"
	// NotInLogDeny refuses the file.
	NotInLogDeny NotInLogPolicy = "deny"
)

// Defaults of Config.
const (
	// DefaultMaxFileSize bounds a file: PyPI's largest files are a few GB
	// (its per-project upload limits go up to that).
	DefaultMaxFileSize = 8 << 30
	// DefaultStallTimeout is how long the upstream may send nothing before
	// a transfer is given up.
	DefaultStallTimeout = 60 * time.Second
	// DefaultVerifyTimeout bounds asking the logs about one file.
	DefaultVerifyTimeout = 60 * time.Second
	// maxPageSize bounds an upstream project page: PyPI's largest are a
	// few MB.
	maxPageSize = 64 << 20
	// maxPagesInMemory bounds the project pages remembered for the
	// downloads that follow them.
	maxPagesInMemory = 4096
)

// Headers the proxy sets on its answers.
const (
	// HeaderVerdict says what the proxy decided about a file: "verified",
	// "not-in-log", "excluded" (passed through without asking a log).
	HeaderVerdict = "X-Pysumdb-Verdict"
	// HeaderDetail says why, in words.
	HeaderDetail = "X-Pysumdb-Detail"
	// HeaderStale is set on a project page served from the cache because
	// the upstream could not be reached.
	HeaderStale = "X-Pysumdb-Stale"
)

// Config configures a Proxy.
type Config struct {
	// Upstream is the upstream index's Simple API, such as
	// https://pypi.org/simple/ (see UpstreamURL).
	Upstream *url.URL
	// Verifier asks the logs (with their quorum and witness policy). The
	// projects its Exclude matches are private: passed through without
	// asking any log, so that their names never reach one.
	Verifier *verify.Verifier
	// NotInLog is what to do with a file no log has: NotInLogWarn when "".
	NotInLog NotInLogPolicy
	// CacheDir keeps verified files and the last project pages; "" keeps
	// nothing.
	CacheDir string
	// CacheMaxBytes caps the size of the files cached; the least recently
	// used are removed first. 0 caches no files.
	CacheMaxBytes int64
	// MaxFileSize bounds a file: DefaultMaxFileSize when 0.
	MaxFileSize int64
	// StallTimeout gives up a transfer from the upstream that sends
	// nothing for that long: DefaultStallTimeout when 0.
	StallTimeout time.Duration
	// VerifyTimeout bounds asking the logs about one file:
	// DefaultVerifyTimeout when 0.
	VerifyTimeout time.Duration
	// HTTPClient fetches from the upstream; nil uses a client of its own.
	HTTPClient *http.Client
	// Logger receives the access log, warnings and alarms; nil discards.
	Logger *slog.Logger
}

// Proxy is the verifying index proxy, an http.Handler.
type Proxy struct {
	cfg      Config
	upstream *url.URL
	client   *http.Client
	logger   *slog.Logger
	cache    *fileCache // nil: no file cache
	pages    pageStore
	alarms   atomic.Int64
}

// UpstreamURL returns the Simple API base URL of an upstream given as an
// index host (https://pypi.org) or as its Simple API (https://pypi.org/simple,
// https://example.org/pypi/simple/): with a trailing slash, "simple/"
// appended when the path does not end in it.
func UpstreamURL(upstream string) (*url.URL, error) {
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q is not an http(s) URL such as https://pypi.org", upstream)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("upstream %q: give the index URL without a query, fragment or credentials", upstream)
	}
	p := strings.TrimSuffix(u.Path, "/")
	if path.Base(p) != "simple" {
		p += "/simple"
	}
	u.Path = p + "/"
	u.RawPath = ""
	return u, nil
}

// New returns a proxy, with the cache in cfg.CacheDir opened (and
// trimmed to its cap).
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil || cfg.Verifier == nil {
		return nil, errors.New("proxy: Config needs Upstream and Verifier")
	}
	switch cfg.NotInLog {
	case "":
		cfg.NotInLog = NotInLogWarn
	case NotInLogAllow, NotInLogWarn, NotInLogDeny:
	default:
		return nil, fmt.Errorf("not-in-log policy %q is not allow, warn or deny", cfg.NotInLog)
	}
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = DefaultVerifyTimeout
	}
	p := &Proxy{cfg: cfg, upstream: cfg.Upstream, client: cfg.HTTPClient, logger: logging.OrDiscard(cfg.Logger)}
	if p.client == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = 64
		transport.ResponseHeaderTimeout = cfg.StallTimeout
		p.client = &http.Client{Transport: transport}
	}
	p.pages = pageStore{dir: "", byProject: map[string]*pageEntry{}}
	if cfg.CacheDir != "" {
		p.pages.dir = cfg.CacheDir
		if cfg.CacheMaxBytes > 0 {
			c, err := openFileCache(cfg.CacheDir, cfg.CacheMaxBytes, p.logger)
			if err != nil {
				return nil, err
			}
			p.cache = c
		}
	}
	return p, nil
}

// Alarms returns how many files were refused because their bytes are not
// the ones the logs prove.
func (p *Proxy) Alarms() int64 { return p.alarms.Load() }

// excluded reports whether project is private (the Verifier's Exclude).
func (p *Proxy) excluded(project string) bool {
	_, private := p.cfg.Verifier.Exclude.Match(project)
	return private
}

// ServeHTTP serves /healthz, the Simple API under /simple/, and the files
// under /files/, logging each request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := httprec.New(w)
	defer func() {
		// A transfer cut short panics with http.ErrAbortHandler, which
		// net/http answers by dropping the connection: logged as such.
		aborted := recover()
		level := slog.LevelInfo
		if rec.Status >= 500 || aborted != nil {
			level = slog.LevelWarn
		}
		p.logger.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path,
			"status", rec.Status, "bytes", rec.Bytes, "duration", time.Since(start).Round(time.Microsecond),
			"verdict", rec.Header().Get(HeaderVerdict), "aborted", aborted != nil, "remote", r.RemoteAddr)
		if aborted != nil {
			panic(aborted)
		}
	}()
	p.route(rec, r)
}

func (p *Proxy) route(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz":
		p.serveHealth(w, r)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "pysumdb proxy: only GET and HEAD", http.StatusMethodNotAllowed)
	case r.URL.Path == "/simple" || r.URL.Path == "/simple/" || r.URL.Path == "/":
		p.serveProjectList(w, r)
	case strings.HasPrefix(r.URL.Path, "/simple/"):
		p.serveProjectPage(w, r, strings.TrimPrefix(r.URL.Path, "/simple/"))
	case strings.HasPrefix(r.URL.Path, "/files/"):
		p.serveFile(w, r, strings.TrimPrefix(r.URL.Path, "/files/"))
	default:
		http.Error(w, "pysumdb proxy: not found (the index is at /simple/)", http.StatusNotFound)
	}
}

func (p *Proxy) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	var cached int64
	if p.cache != nil {
		cached = p.cache.size()
	}
	fmt.Fprintf(w, `{"status":"ok","upstream":%q,"logs":%d,"quorum":%d,"alarms":%d,"cached_bytes":%d}`+"\n",
		p.upstream.String(), len(p.cfg.Verifier.Logs), p.cfg.Verifier.Quorum, p.alarms.Load(), cached)
}

// normalizedProject parses the project of a request path "<name>/rest":
// the PEP 503 normalized name and whether the path used it.
func normalizedProject(name string) (string, bool) {
	n, err := tiles.NormalizeProject(name)
	if err != nil {
		return "", false
	}
	return n, n == name
}

// pageEntry is a project page as fetched from the upstream, with its
// files' URLs upstream.
type pageEntry struct {
	page    Page
	fetched time.Time
}

// pageStore remembers the last page of each project, in memory (bounded)
// and, when dir is set, on disk, so that a download finds its upstream
// URL and a page can still be served while the upstream is down.
type pageStore struct {
	dir       string
	mu        sync.Mutex
	byProject map[string]*pageEntry
	order     []string // insertion order, oldest first, for the bound
}

func (s *pageStore) get(project string) (*pageEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byProject[project]
	return e, ok
}

func (s *pageStore) put(project string, e *pageEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byProject[project]; !ok {
		s.order = append(s.order, project)
		if len(s.order) > maxPagesInMemory {
			delete(s.byProject, s.order[0])
			s.order = s.order[1:]
		}
	}
	s.byProject[project] = e
}

// contextWithStall returns a context cancelled when stall is not called
// for timeout, and stall.
func contextWithStall(ctx context.Context, timeout time.Duration) (context.Context, func(), context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(timeout, func() { cancel(fmt.Errorf("the upstream sent nothing for %v", timeout)) })
	return ctx, func() { timer.Reset(timeout) }, func() { timer.Stop(); cancel(nil) }
}
