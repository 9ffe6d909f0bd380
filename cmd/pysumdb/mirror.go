//go:build !pysumdb_client

package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/mirror"
)

func newMirrorCommand(g *globals) *cobra.Command {
	var from, to, vkeyArg string
	var witnesses witnessFlags
	c := &cobra.Command{
		Use:   "mirror --from URL_OR_STORE --to STORE --vkey VKEY",
		Short: "Copy a log to another store, verifying all of it on the way",
		Long: `mirror copies the log at --from (an http(s) URL, a directory, or
gs://bucket/prefix) to the store --to. It checks first and writes after:
it refuses a source whose checkpoint is older than the copy's (stale, exit 1)
or forks from it (exit 3), then audits the whole log as 'pysumdb audit' does,
writing nothing; only if everything passed does it write the tiles and entry
bundles (create-only, fetched again and checked against what was verified),
then the project indexes, filename notes and project list (never replacing
one the copy holds for a larger tree size), then the checkpoint, last. So a
failed mirror leaves the copy as it was, and mirroring again extends it.
From a directory or a bucket the sequencer's state and the alarms are copied
too, so that the copy can take over sequencing (a backup, or a move between
backends).

` + witnessFlagsHelp + `

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "from", "to", "vkey"); err != nil {
				return err
			}
			vkey, err := readVerifierKey(vkeyArg)
			if err != nil {
				return err
			}
			policy, err := witnesses.policy(c)
			if err != nil {
				return err
			}
			logger := g.logger()
			var fetch client.Fetcher
			if u, err := url.Parse(from); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
				if fetch, err = client.NewHTTPFetcher(from, nil); err != nil {
					return usageError{err}
				}
			} else {
				src, closeSrc, err := openStore(c.Context(), from, logger)
				if err != nil {
					return err
				}
				defer closeSrc()
				fetch = mirror.StoreFetcher{Store: src}
			}
			dst, closeDst, err := openStore(c.Context(), to, logger)
			if err != nil {
				return err
			}
			defer closeDst()
			src, err := mirror.NewSource(fetch, vkey)
			if err != nil {
				return usageError{err}
			}
			if policy != nil {
				src.RequireWitnesses(policy)
			}
			rep, err := src.Mirror(c.Context(), dst, logger)
			if wrongOrigin, ok := errors.AsType[*client.OriginError](err); ok {
				return originUsageError(from, wrongOrigin)
			}
			if rep != nil {
				printAuditFindings(g, rep)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "mirrored %s at size %d to %s: %d entries, %d entry bundles, %d hash tiles, %d project indexes, all verified\n",
				src.Origin(), rep.Checkpoint.N, strings.TrimSuffix(to, "/"), rep.Entries, rep.Bundles, rep.HashTiles, rep.Indexes)
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "the log to copy: an http(s) URL, a directory or gs://bucket/prefix")
	c.Flags().StringVar(&to, "to", "", "where to copy it: "+storeHelp)
	c.Flags().StringVar(&vkeyArg, "vkey", "", "the log's verifier key, or a file holding it")
	witnesses.register(c)
	return c
}
