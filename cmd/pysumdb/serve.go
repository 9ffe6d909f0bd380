//go:build !pysumdb_client

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/publish"
)

func newServeCommand(g *globals) *cobra.Command {
	var storeDir, listen string
	c := &cobra.Command{
		Use:   "serve --store STORE [--listen 127.0.0.1:8080]",
		Short: "Serve a log's static files over HTTP",
		Long: `serve serves the log in STORE (a directory, or gs://bucket/prefix) as
static files, as a bucket or CDN would: tiles and entry bundles with
"Cache-Control: public, max-age=31536000, immutable", the checkpoint and
project indexes with "max-age=60". Only the log's public objects are
served: the checkpoint, tiles and entry bundles, project indexes, the
project list, filename notes and .well-known/bt/tlog-key, and the log's
web page (web/, "max-age=300"; / redirects to it) with the statistics it
draws (stats.json). Anything else in the store (the sequencer's state,
alarms, a key file left there) is 404, as is a symbolic link that leads
out of the store; no directory listings. It stops on SIGINT or SIGTERM.`,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "store"); err != nil {
				return err
			}
			logger := g.logger()
			store, closeStore, err := openStore(c.Context(), storeDir, logger)
			if err != nil {
				return err
			}
			defer closeStore()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("couldn't listen: %w", err)
			}
			srv := &http.Server{Handler: publish.Handler(store, logger), ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(g.stdout, "serving %s at http://%s/\n", storeDir, ln.Addr())
			go func() {
				<-c.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&storeDir, "store", "", storeHelp)
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	return c
}
