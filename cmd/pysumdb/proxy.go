package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/proxy"
	"github.com/pysumdb/pysumdb/verify"
)

// Limits of the proxy's HTTP server. There is no write timeout: a large
// file to a slow client takes as long as it takes, and the upstream side
// is bounded by its stall timeout.
const (
	proxyReadHeaderTimeout = 10 * time.Second
	proxyIdleTimeout       = 2 * time.Minute
	proxyMaxHeaderBytes    = 64 << 10
	// proxyStartTimeout bounds the first look at each log.
	proxyStartTimeout = 30 * time.Second
)

func newProxyCommand(g *globals) *cobra.Command {
	lf := logFlags{}
	var listen, upstream, notInLog, cacheSize string
	var public bool
	c := &cobra.Command{
		Use:   "proxy [--log URL --vkey VKEY | --config FILE] [--listen 127.0.0.1:3141] [--upstream https://pypi.org]",
		Short: "Serve pip and uv an index whose every file is checked against the logs",
		Long: `proxy is a package index for pip and uv (the Simple API, PEP 503 HTML and
PEP 691 JSON) that fetches from the upstream index and serves a file only
when its sha256 is the one the logs prove for its filename, as GOPROXY and
GOSUMDB do for Go:

  pysumdb proxy --config logs.toml &
  pip install --index-url http://127.0.0.1:3141/simple/ requests
  uv pip install --index-url http://127.0.0.1:3141/simple/ requests
  export UV_INDEX_URL=http://127.0.0.1:3141/simple/ PIP_INDEX_URL=$UV_INDEX_URL

Project pages are rewritten: files are served by the proxy, with the log's
sha256 in the URL fragment (pip checks it too), and without the core
metadata links (PEP 658), so that everything an installer reads comes from
a verified file. Each file is checked twice: the hash the upstream lists,
against the logs, before a byte is sent; and the bytes, hashed while they
stream, the last ones held back until the hash matches. A file the logs
hold with another hash is refused (HTTP 403, the reason in the status line,
which pip prints) and recorded as an alarm: logged as a SECURITY ERROR and
kept as JSON evidence in the cache directory's proxy/alarms/. Bytes that
differ from the verified hash are cut short: the client never has the whole
file.

A file no log has (yet) follows --not-in-log: allow serves it, warn (the
default) serves it and logs a warning, deny refuses it; served, it carries
the header X-Pysumdb-Verdict: not-in-log. Private projects (--exclude,
PYSUMDB_EXCLUDE, exclude in the configuration file: the same as verify's)
are passed through from the upstream without asking any log, so that their
names never reach a log.

Verified files are kept in the cache directory's proxy/files/ up to
--cache-size (least recently used removed first) and hashed again before
each use; the last page of each project is kept too, and served while the
upstream can't be reached. GET /healthz answers with the proxy's state.

It listens on loopback only, unless --public: then anyone who can reach the
address can download through it, from your network, and fill its cache.
It stops on SIGINT or SIGTERM after the transfers in progress finish (a
second signal ends it at once).

` + logFlagsHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			logger := g.logger()
			if err := checkListen(listen, public, logger); err != nil {
				return err
			}
			up, err := proxy.UpstreamURL(upstream)
			if err != nil {
				return usagef("--upstream: %v", err)
			}
			capBytes, err := humanize.ParseBytes(cacheSize)
			if err != nil {
				return usagef("--cache-size %q: %v (give a size such as 10GB, 500MiB, or 0 to cache no files)", cacheSize, err)
			}
			logs, err := lf.open(c, logger)
			if err != nil {
				return err
			}
			if err := checkLogsAtStart(c.Context(), logs, logger); err != nil {
				return err
			}
			cacheDir := logs.cacheDir
			p, err := proxy.New(proxy.Config{
				Upstream:      up,
				Verifier:      logs.verifier,
				NotInLog:      proxy.NotInLogPolicy(notInLog),
				CacheDir:      filepath.Join(cacheDir, "proxy"),
				CacheMaxBytes: int64(min(capBytes, 1<<62)),
				Logger:        logger,
			})
			if err != nil {
				return usageError{err}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("couldn't listen: %w", err)
			}
			logger.Info("proxy listening", "index_url", "http://"+ln.Addr().String()+"/simple/", "upstream", up.String(),
				"logs", len(logs.logs), "quorum", logs.verifier.Quorum, "not_in_log", notInLog, "cache", filepath.Join(cacheDir, "proxy"), "cache_size", cacheSize)
			return serveProxy(c.Context(), ln, p, logger)
		},
	}
	lf.register(c)
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:3141", "address to listen on (loopback unless --public)")
	c.Flags().StringVar(&upstream, "upstream", "https://pypi.org", "the upstream index (its Simple API, or a host whose /simple/ it is)")
	c.Flags().StringVar(&notInLog, "not-in-log", string(proxy.NotInLogWarn), "what to do with a file no log has: allow, warn or deny")
	c.Flags().StringVar(&cacheSize, "cache-size", "10GB", "the most verified files to keep on disk (0: none)")
	c.Flags().BoolVar(&public, "public", false, "allow listening on an address that is not loopback")
	return c
}

// checkListen refuses an address that is not loopback unless public, and
// then says what it exposes.
func checkListen(listen string, public bool, logger *slog.Logger) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usagef("--listen %q: %v (give host:port, such as 127.0.0.1:3141)", listen, err)
	}
	ip := net.ParseIP(host)
	if strings.EqualFold(host, "localhost") || ip != nil && ip.IsLoopback() {
		return nil
	}
	if !public {
		return usagef("--listen %s is not a loopback address: anyone who can reach it could download through the proxy, from your network, and fill its cache; listen on 127.0.0.1, or add --public to accept that", listen)
	}
	logger.Warn("listening on a public address (--public): anyone who can reach it can download through the proxy, from this network, and fill its cache; put it behind TLS and access control", "listen", listen)
	return nil
}

// checkLogsAtStart reads each log's checkpoint once: a key that is not
// the log's is a usage error now rather than a refusal at every download;
// a log that can't be reached is only a warning (it may come back, and
// the quorum may hold without it).
func checkLogsAtStart(ctx context.Context, logs *openedLogs, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, proxyStartTimeout)
	defer cancel()
	statuses := make([]verify.LogStatus, len(logs.logs))
	var wg sync.WaitGroup
	for i, l := range logs.logs {
		wg.Go(func() {
			cp, _, err := l.Checkpoint(ctx)
			statuses[i] = verify.LogStatus{Origin: l.Origin(), Checkpoint: cp, Err: err}
			if err == nil {
				logger.Info("log", "origin", cp.Origin, "size", cp.N, "location", logs.locations[i])
			}
		})
	}
	wg.Wait()
	if err := logs.wrongOrigin(statuses); err != nil {
		return err
	}
	answered := 0
	for i, st := range statuses {
		if st.Err != nil {
			logger.Warn("the log can't be used now: files it would prove wait for it", "location", logs.locations[i], "err", st.Err)
			continue
		}
		answered++
	}
	if answered < logs.verifier.Quorum {
		logger.Warn("fewer logs answer than the quorum: downloads are refused until enough answer", "answered", answered, "quorum", logs.verifier.Quorum)
	}
	return nil
}

// serveProxy serves p on ln until ctx ends, then lets the transfers in
// progress finish before it returns.
func serveProxy(ctx context.Context, ln net.Listener, p *proxy.Proxy, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: proxyReadHeaderTimeout,
		IdleTimeout:       proxyIdleTimeout,
		MaxHeaderBytes:    proxyMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	shutdown := make(chan error, 1)
	go func() {
		<-ctx.Done()
		logger.Info("stopping: finishing the transfers in progress (signal again to abort)")
		// No deadline: the transfers take what they take, and a second
		// signal ends the process.
		shutdown <- srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("proxy server: %w", err)
	}
	if err := <-shutdown; err != nil {
		return fmt.Errorf("proxy shutdown: %w", err)
	}
	if n := p.Alarms(); n > 0 {
		logger.Error("SECURITY ERROR: proxy stopped after refusing files whose bytes are not what the logs prove (see the SECURITY ERROR lines above)", "alarms", n)
		return errAlarm
	}
	logger.Info("proxy stopped")
	return nil
}
