//go:build !pysumdb_client

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/web"
)

func newPublishWebCommand(g *globals) *cobra.Command {
	var storeLoc, keyFile, vkeyArg string
	c := &cobra.Command{
		Use:   "publish-web --store STORE (--key KEYFILE|KMS_KEY_URL | --vkey VKEY)",
		Short: "Publish the log's web page in its store",
		Long: `publish-web writes the log's web page into STORE, beside the log: the files
under web/ (index.html, its script and style, the verifier pysumdb.wasm
and Go's wasm_exec.js) and web/config.json, which names the verifier key
the page pins. 'pysumdb sequence' and 'pysumdb run' publish it after
their runs; publish-web does it by hand, for a log whose sequencer runs
elsewhere, or an older one.

The page is then at <log URL>/web/ wherever the log is served: 'pysumdb
serve' (which redirects / to it), the bucket or the CDN in front of it.
Anyone can look a project up there, or check a lockfile, the browser
verifying the checkpoint's signature and the inclusion proofs from the
log's static files; no server computes anything.

The key is the log's: --key KEYFILE reads the private key and publishes
its verifier key (--key kms://... reads the public key of a Cloud KMS key
version, as sequence does), --vkey VKEY takes the verifier key itself (or
a file holding it), so that the private key need not be on this machine. A store
whose .well-known/bt/tlog-key holds another key, or none (no log yet: run
'pysumdb sequence' first), is refused. Files the store holds already with
the same bytes are not written again.

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "store"); err != nil {
				return err
			}
			if (keyFile == "") == (vkeyArg == "") {
				return usagef("publish-web needs exactly one of --key and --vkey (see '%s --help')", c.CommandPath())
			}
			var vkey string
			if keyFile != "" {
				key, err := readLogKey(c.Context(), keyFile, g.stderr)
				if err != nil {
					return err
				}
				key.close()
				vkey = key.vkey
			} else {
				var err error
				if vkey, err = readVerifierKey(vkeyArg); err != nil {
					return err
				}
			}
			logger := g.logger()
			store, closeStore, err := openStore(c.Context(), storeLoc, logger)
			if err != nil {
				return err
			}
			defer closeStore()
			written, err := publishPage(c.Context(), store, vkey)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "web page published in %s under %s: %d objects written; the log's key %s\n", storeLoc, publish.WebPrefix, written, vkey)
			return nil
		},
	}
	c.Flags().StringVar(&storeLoc, "store", "", storeHelp)
	c.Flags().StringVar(&keyFile, "key", "", "the log's private key file (from keygen), or Cloud KMS key version (kms://...): its verifier key is published")
	c.Flags().StringVar(&vkeyArg, "vkey", "", "the log's verifier key, or a file holding it")
	return c
}

// publishPage writes the web page into store, pinning vkey, if vkey is
// the key of the log there: a page that pins another key would call the
// log's every signature bad. It returns how many objects it wrote.
func publishPage(ctx context.Context, store publish.Store, vkey string) (int64, error) {
	stored, _, err := store.Read(ctx, tiles.KeyKey)
	switch {
	case errors.Is(err, publish.ErrNotExist):
		return 0, usagef("the store holds no log (no %s): run 'pysumdb sequence' first", tiles.KeyKey)
	case err != nil:
		return 0, fmt.Errorf("couldn't read the log's key: %w", err)
	case string(bytes.TrimSpace(stored)) != vkey:
		return 0, usagef("the store holds the log of key %q, not %q", bytes.TrimSpace(stored), vkey)
	}
	counting := &publish.Counting{Store: store}
	if err := web.Publish(ctx, counting, vkey); err != nil {
		return 0, err
	}
	written, _ := counting.Written()
	return written, nil
}

// publishPageAfter publishes the web page after a run of the sequencer
// with verifier key vkey, if the run reached the log (runErr is nil or
// only alarms): so the page in the store is always the one of this
// binary. The page is a convenience beside the log: failing to publish it
// is logged, and changes nothing of the run's outcome.
func publishPageAfter(ctx context.Context, runErr error, store publish.Store, vkey string, logger *slog.Logger) bool {
	if runErr != nil && !errors.Is(runErr, sequencer.ErrAlarm) {
		return false
	}
	written, err := publishPage(ctx, store, vkey)
	if err == nil {
		if written > 0 {
			logger.Info("web page published", "prefix", publish.WebPrefix, "objects", written)
		}
		return true
	}
	logger.Error("couldn't publish the web page; the log is unaffected", "err", err)
	return false
}
