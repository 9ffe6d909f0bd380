//go:build !pysumdb_client

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/intake"
)

// Timeouts of the intake's HTTP server: a request is at most 256 KiB and
// its answer a line; the handler's own work (an issuer's keys, the store)
// is bounded at 30 s.
const (
	intakeReadHeaderTimeout = 10 * time.Second
	intakeReadTimeout       = 30 * time.Second
	intakeWriteTimeout      = 60 * time.Second
	intakeIdleTimeout       = 2 * time.Minute
	// intakeMaxHeaderBytes leaves room for an OIDC token (about 2 KiB,
	// at most 16 KiB).
	intakeMaxHeaderBytes = 32 << 10
	// intakeShutdownTimeout bounds the wait for requests in progress at
	// the first signal.
	intakeShutdownTimeout = 10 * time.Second
	// defaultIntakeListen is the address without --listen or $PORT.
	defaultIntakeListen = "127.0.0.1:7391"
)

func newIntakeCommand(g *globals) *cobra.Command {
	var location, listen, audience string
	var issuers []string
	var clientRate, projectRate float64
	var proxyHops int
	c := &cobra.Command{
		Use:   "intake --store LOCATION [--listen ADDR] [--audience AUD] [--oidc-issuer URL...]",
		Short: "Serve a maintainer-claims intake that stores verified claims beside a log",
		Long: `intake serves the claims of projects' maintainers ('pysumdb claim'): it
verifies each claim and stores it, create-only, under claims/ in the log's
store (a directory or gs://BUCKET[/PREFIX]), where the sequencer reads them
and anyone can audit them. It runs beside the batch sequencer (on Cloud Run,
say); the log itself stays static.

  POST /v1/claim      a claim: signed with a key (the header
                      Pysumdb-Claim-Key names it) or sent with an OIDC token
                      (Authorization: Bearer)
  POST /v1/identity   a change of a project's claim identity
  GET  /healthz

A project's first accepted claim registers its identity (a key, or a CI
workflow); later claims must come from it, and only a change made by it
replaces it. Every registration, change and claim is stored with its
evidence (the signed note, or the claim and the token) and published. A
filename is claimed once: other bytes for it are refused (409). Nothing is
written before a request verifies.

OIDC tokens must be issued for --audience by an issuer of --oidc-issuer
(default: GitHub Actions and gitlab.com), given as [github=|gitlab=]URL:
without a kind, GitHub's issuer proves GitHub workflows and any other a
GitLab's on its own host. Giving --oidc-issuer replaces the defaults. An
issuer is https, or http on a loopback address (tests).

Requests are limited per client address (--rate, behind --proxy-hops
proxies that append X-Forwarded-For) and per project (--project-rate),
per second. It listens on --listen, or :$PORT if PORT is set (Cloud Run),
and stops on SIGINT or SIGTERM, finishing the requests in progress; put it
behind a TLS-terminating proxy.

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "store"); err != nil {
				return err
			}
			var trusted []intake.Issuer
			for _, s := range issuers {
				iss, err := intake.ParseIssuer(s)
				if err != nil {
					return usagef("--oidc-issuer: %v", err)
				}
				trusted = append(trusted, iss)
			}
			if trusted == nil {
				trusted = intake.DefaultIssuers
			}
			if audience == "" || strings.ContainsAny(audience, " \t\n") {
				return usagef("--audience %q: want a non-empty word", audience)
			}
			if !c.Flags().Changed("listen") {
				if port := os.Getenv("PORT"); port != "" {
					listen = ":" + port
				}
			}
			logger := g.logger()
			store, closeStore, err := openStore(c.Context(), location, logger)
			if err != nil {
				return err
			}
			defer closeStore()
			srv, err := intake.New(intake.Config{
				Store:       store,
				Audience:    audience,
				Issuers:     trusted,
				ClientRate:  clientRate,
				ProjectRate: projectRate,
				ProxyHops:   proxyHops,
				Logger:      logger,
			})
			if err != nil {
				return usageError{err}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("couldn't listen: %w", err)
			}
			var names []string
			for _, iss := range trusted {
				names = append(names, iss.Kind+"="+iss.URL)
			}
			logger.Info("intake listening", "url", "http://"+ln.Addr().String()+"/", "store", location, "audience", audience, "issuers", strings.Join(names, ","))
			return serveIntake(c.Context(), ln, srv, logger)
		},
	}
	c.Flags().StringVar(&location, "store", "", "the log's store: a directory or gs://BUCKET[/PREFIX]")
	c.Flags().StringVar(&listen, "listen", defaultIntakeListen, "address to listen on (:$PORT if PORT is set and this is not given)")
	c.Flags().StringVar(&audience, "audience", intake.DefaultAudience, "the audience OIDC tokens must be issued for")
	c.Flags().StringArrayVar(&issuers, "oidc-issuer", nil, "a trusted OIDC issuer, [github=|gitlab=]URL (repeated; replaces the defaults, GitHub Actions and gitlab.com)")
	c.Flags().Float64Var(&clientRate, "rate", intake.DefaultClientRate, "requests per second of one client address, at most (burst 20; negative: no limit)")
	c.Flags().Float64Var(&projectRate, "project-rate", intake.DefaultProjectRate, "authenticated requests per second for one project, at most (burst 10; negative: no limit)")
	c.Flags().IntVar(&proxyHops, "proxy-hops", 0, "proxies in front that append X-Forwarded-For (a load balancer: 1); 0 counts the peer's address")
	return c
}

// serveIntake serves srv on ln until ctx ends, then shuts the server down,
// letting the requests in progress finish.
func serveIntake(ctx context.Context, ln net.Listener, srv http.Handler, logger *slog.Logger) error {
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: intakeReadHeaderTimeout,
		ReadTimeout:       intakeReadTimeout,
		WriteTimeout:      intakeWriteTimeout,
		IdleTimeout:       intakeIdleTimeout,
		MaxHeaderBytes:    intakeMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return serveUntilDone(ctx, "intake", hs, ln, intakeShutdownTimeout, logger)
}
