//go:build !pysumdb_client

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/internal/tomlconfig"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/witness"
)

// Timeouts of the witness's HTTP server: a request is at most
// witness.MaxRequestSize bytes (some 67 KiB) and its answer a line, so a
// peer slower than these is refused rather than allowed to hold a
// connection.
const (
	witnessReadHeaderTimeout = 10 * time.Second
	witnessReadTimeout       = 30 * time.Second
	witnessWriteTimeout      = 30 * time.Second
	witnessIdleTimeout       = 2 * time.Minute
	witnessMaxHeaderBytes    = 16 << 10
	// witnessShutdownTimeout bounds the wait for requests in progress at
	// the first signal.
	witnessShutdownTimeout = 10 * time.Second
	// maxWitnessConfigSize bounds the configuration file.
	maxWitnessConfigSize = 1 << 20
)

const witnessKeyHelp = `The witness's key is a note key made by keygen; its origin is the witness's
name (for example witness.example.org/w1):

  pysumdb keygen --origin witness.example.org/w1 --out witness.key

keygen prints the key as a log's verifier key; a witness signs cosignatures
(C2SP tlog-cosignature, cosignature/v1) instead, whose verifier key
'pysumdb witness vkey --key witness.key' prints: give that one to the logs
and their clients.`

// witnessConfigFile is the TOML configuration of `pysumdb witness`.
type witnessConfigFile struct {
	// Logs are the logs to witness.
	Logs []witnessLogConfig `toml:"log"`
}

// witnessLogConfig is one [[log]] of the configuration.
type witnessLogConfig struct {
	// VKey is the log's note verifier key; its name is the log's origin.
	VKey string `toml:"vkey"`
}

func newWitnessCommand(g *globals) *cobra.Command {
	var keyFile, configFile, stateDir, listen string
	c := &cobra.Command{
		Use:   "witness --key KEYFILE --config FILE --state DIR [--listen 127.0.0.1:7380]",
		Short: "Run a witness that cosigns logs' checkpoints (C2SP tlog-witness)",
		Long: `witness runs a C2SP tlog-witness (https://c2sp.org/tlog-witness) for the
logs listed in FILE: it answers POST /add-checkpoint, verifying the log's
signature and a consistency proof from the last checkpoint it cosigned of
that log, and returns its cosignature (C2SP tlog-cosignature). It never
cosigns two checkpoints of a log that are not one the prefix of the other,
nor a smaller one after a larger one, across restarts too.

FILE is TOML, one [[log]] per log, the log's origin being its key's name:

  [[log]]
  vkey = "pysumdb.example.org/log+1a2b3c4d+AbC..."

DIR keeps, per log, the latest checkpoint cosigned (written durably before
answering), and evidence/ holds a JSON file for each checkpoint that
contradicts it (also logged as a SECURITY ERROR). DIR must exist (mkdir it
for a new witness); it is locked while the witness runs. If DIR is lost,
the witness forgets what it cosigned: back it up, or retire the witness
and its key. A state file that does not verify stops the start.

` + witnessKeyHelp + `

Put it behind a TLS-terminating proxy to serve it on the Internet. It
stops on SIGINT or SIGTERM, finishing the requests in progress.

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "key", "config", "state"); err != nil {
				return err
			}
			skey, err := readSignerKey(keyFile, g.stderr)
			if err != nil {
				return err
			}
			logs, err := readWitnessConfig(configFile)
			if err != nil {
				return err
			}
			logger := g.logger()
			w, err := witness.New(witness.Config{Key: skey, Logs: logs, StateDir: stateDir, Logger: logger})
			switch {
			case errors.Is(err, witness.ErrConfig):
				return usageError{err}
			case err != nil:
				return err
			}
			defer w.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("couldn't listen: %w", err)
			}
			return serveWitness(c.Context(), ln, w, logger, len(logs))
		},
	}
	c.Flags().StringVar(&keyFile, "key", "", "the witness's private key file (made by keygen)")
	c.Flags().StringVar(&configFile, "config", "", "TOML file listing the logs to witness")
	c.Flags().StringVar(&stateDir, "state", "", "existing directory for the witness's state")
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:7380", "address to listen on")
	c.AddCommand(newWitnessVKeyCommand(g))
	return c
}

// serveWitness serves w on ln until ctx ends, then shuts the server down,
// letting the requests in progress finish (their state written) before it
// returns.
func serveWitness(ctx context.Context, ln net.Listener, w *witness.Witness, logger *slog.Logger, nlogs int) error {
	srv := &http.Server{
		Handler:           w,
		ReadHeaderTimeout: witnessReadHeaderTimeout,
		ReadTimeout:       witnessReadTimeout,
		WriteTimeout:      witnessWriteTimeout,
		IdleTimeout:       witnessIdleTimeout,
		MaxHeaderBytes:    witnessMaxHeaderBytes,
	}
	logger.Info("witness listening", "url", "http://"+ln.Addr().String()+"/", "name", w.Name(), "vkey", w.VerifierKey(), "logs", nlogs)
	return serveUntilDone(ctx, "witness", srv, ln, witnessShutdownTimeout, logger)
}

// serveUntilDone serves srv on ln until ctx ends, then shuts it down,
// letting the requests in progress finish within timeout. name names the
// server in its errors and log lines.
func serveUntilDone(ctx context.Context, name string, srv *http.Server, ln net.Listener, timeout time.Duration, logger *slog.Logger) error {
	shutdown := make(chan error, 1)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		shutdown <- srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s server: %w", name, err)
	}
	// Serve returns at once on Shutdown; the requests in progress end
	// before Shutdown does.
	if err := <-shutdown; err != nil {
		logger.Warn(name+" stopped with requests in progress", "err", err)
		return fmt.Errorf("%s shutdown: %w", name, err)
	}
	logger.Info(name + " stopped")
	return nil
}

// readWitnessConfig reads the TOML list of logs: unknown keys, a log
// without a valid vkey, no log at all are usage errors.
func readWitnessConfig(path string) ([]witness.Log, error) {
	data, _, err := bounded.ReadFile(path, maxWitnessConfigSize)
	if err != nil {
		return nil, usagef("couldn't read the witness configuration: %v", err)
	}
	var cf witnessConfigFile
	if err := tomlconfig.Decode(data, &cf); err != nil {
		return nil, usagef("%s: %v (the keys are [[log]] vkey)", path, err)
	}
	if len(cf.Logs) == 0 {
		return nil, usagef("%s lists no [[log]] to witness", path)
	}
	logs := make([]witness.Log, len(cf.Logs))
	for i, l := range cf.Logs {
		if l.VKey == "" {
			return nil, usagef("%s: log %d has no vkey", path, i+1)
		}
		logs[i] = witness.Log{VKey: l.VKey}
	}
	return logs, nil
}

func newWitnessVKeyCommand(g *globals) *cobra.Command {
	var keyFile string
	c := &cobra.Command{
		Use:   "vkey --key KEYFILE",
		Short: "Print a witness's cosignature verifier key",
		Long: `vkey prints the cosignature/v1 verifier key (C2SP tlog-cosignature) of the
witness whose private key is KEYFILE: what logs and clients configure to
verify its cosignatures.

` + witnessKeyHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "key"); err != nil {
				return err
			}
			skey, err := readSignerKey(keyFile, g.stderr)
			if err != nil {
				return err
			}
			vkey, err := tiles.CosignatureVerifierKey(skey)
			if err != nil {
				return usagef("%s: %v", keyFile, err)
			}
			fmt.Fprintln(g.stdout, vkey)
			return nil
		},
	}
	c.Flags().StringVar(&keyFile, "key", "", "the witness's private key file (made by keygen)")
	return c
}
