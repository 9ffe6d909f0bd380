//go:build !pysumdb_client

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/pysumdb/pysumdb/intake"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/storeurl"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/attest"
	"github.com/pysumdb/pysumdb/sequencer/ingest"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
)

const storeHelp = "the log's store: a directory (default), file:///path or gs://bucket/prefix"

// openStore opens the store a --store flag names.
func openStore(ctx context.Context, location string, logger *slog.Logger) (publish.Store, func() error, error) {
	store, closeStore, err := storeurl.Open(ctx, location, logger)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("couldn't open store %s: %w", location, err)}
	}
	return store, closeStore, nil
}

// ingestFlags are the flags of commands that log PyPI.
type ingestFlags struct {
	pypiURL      string
	rate         float64
	concurrency  int
	batchSize    int
	resetCursor  bool
	recheck      bool
	attestations bool
	pinnedRoot   bool
	// witnesses are read from --witnesses by sequence and run, which
	// register that flag themselves.
	witnesses      []sequencer.Witness
	witnessTimeout time.Duration
	claimDeadline  time.Duration
	claimIssuers   []string
}

func (f *ingestFlags) register(fs *pflag.FlagSet, defaultIndex string) {
	fs.StringVar(&f.pypiURL, "pypi", defaultIndex, "the index to log, e.g. "+pypi.DefaultBaseURL)
	fs.Float64Var(&f.rate, "rate", pypi.DefaultRequestsPerSecond, "requests per second to the index, at most (politeness)")
	fs.IntVar(&f.concurrency, "concurrency", pypi.DefaultConcurrency, "project pages fetched at once")
	fs.IntVar(&f.batchSize, "batch-size", ingest.DefaultMaxFiles, "files per batch, about (each batch is published on its own)")
	fs.BoolVar(&f.resetCursor, "reset-cursor", false, "the log follows another index URL: backfill this one instead (deduped against the log)")
	fs.BoolVar(&f.recheck, "recheck", false, "read every project again (deduped against the log) to catch files changed without an announced change")
	fs.BoolVar(&f.attestations, "attestations", true, "verify PEP 740 attestations of new files and record their publisher")
	fs.BoolVar(&f.pinnedRoot, "pin-trusted-root", false, "trust only the Sigstore root shipped in the binary (no TUF refresh)")
	fs.DurationVar(&f.claimDeadline, "claim-deadline", sequencer.DefaultClaimDeadline, "a file its maintainer claimed that the log hasn't found on PyPI this long after the claim is an alarm (0: no such alarm)")
	fs.StringArrayVar(&f.claimIssuers, "claim-issuer", nil, "an OIDC issuer the claims' tokens are verified with again, [github=|gitlab=]URL, as pysumdb intake's --oidc-issuer (repeated; replaces the defaults, GitHub Actions and gitlab.com)")
}

// sequencer returns the sequencer's configuration for store, key and
// logger, with the options of the flags.
func (f *ingestFlags) sequencer(store publish.Store, key logKey, logger *slog.Logger) (sequencer.Config, error) {
	cfg := sequencer.Config{
		Store: store, Logger: logger, Holder: holderName(),
		Witnesses: f.witnesses, WitnessTimeout: f.witnessTimeout, ClaimDeadline: f.claimDeadline,
	}
	key.configure(&cfg)
	if f.claimDeadline == 0 {
		cfg.ClaimDeadline = -1
	}
	for _, s := range f.claimIssuers {
		iss, err := intake.ParseIssuer(s)
		if err != nil {
			return cfg, usagef("--claim-issuer: %v", err)
		}
		cfg.ClaimIssuers = append(cfg.ClaimIssuers, iss)
	}
	return cfg, nil
}

// client returns the client of the --pypi index, polite as the flags say.
func (f *ingestFlags) client(logger *slog.Logger) (*pypi.Client, error) {
	client, err := pypi.NewClient(pypi.Config{
		BaseURL:           f.pypiURL,
		RequestsPerSecond: f.rate,
		Concurrency:       f.concurrency,
		Logger:            logger,
		// A bar if the process's standard error is a terminal, log
		// lines otherwise.
		Progress: newBackfillProgress(os.Stderr, logger),
	})
	if err != nil {
		return nil, usageError{err}
	}
	return client, nil
}

// config builds the ingest configuration for store.
func (f *ingestFlags) config(store publish.Store, key logKey, logger *slog.Logger) (ingest.Config, error) {
	client, err := f.client(logger)
	if err != nil {
		return ingest.Config{}, err
	}
	seq, err := f.sequencer(store, key, logger)
	if err != nil {
		return ingest.Config{}, err
	}
	cfg := ingest.Config{
		Sequencer: seq, PyPI: client, MaxFiles: f.batchSize,
		ResetCursor: f.resetCursor, Recheck: f.recheck,
	}
	if f.attestations {
		cacheDir := ""
		if dir, err := os.UserCacheDir(); err == nil {
			cacheDir = filepath.Join(dir, "pysumdb", "tuf")
		}
		cfg.Attestations, err = attest.NewVerifier(attest.Config{Logger: logger, PinnedRoot: f.pinnedRoot, TUFCacheDir: cacheDir})
		if err != nil {
			return ingest.Config{}, fmt.Errorf("couldn't load the Sigstore trusted root: %w", err)
		}
	}
	return cfg, nil
}

// reportIngest prints a run's summary and returns the error that sets the
// exit status: alarms (3) before failures (1).
func reportIngest(g *globals, storeLoc string, sum ingest.Summary, err error, elapsed time.Duration) error {
	fmt.Fprintf(g.stdout, "%d batches: appended %d, already logged %d, attested %d, alarms %d (unacknowledged %d); log size %d; %s in %s\n",
		sum.Batches, sum.Appended, sum.Duplicates, sum.Attested, len(sum.Alarms), sum.Unacknowledged, sum.TreeSize, sum.Phase, elapsed.Round(time.Millisecond))
	printAlarms(g, sum.Alarms)
	err = alarmOutcome(g, storeLoc, sum.Unacknowledged, err)
	if errors.Is(err, ingest.ErrCursorMismatch) || errors.Is(err, ingest.ErrExportUnfinished) || errors.Is(err, ingest.ErrExportChanged) {
		return usageError{err}
	}
	return err
}

// alarmOutcome applies the alarm policy's verdict (sequencer.CheckAlarms)
// to a run's error: with unacknowledged alarms, it prints the run's other
// failures, then how to see and acknowledge the alarms, and returns
// errAlarm (exit 3, nothing more printed); otherwise it returns err.
func alarmOutcome(g *globals, storeLoc string, unacknowledged int, err error) error {
	if !errors.Is(err, sequencer.ErrAlarm) {
		return err
	}
	for _, e := range flattenErrors(err) {
		if !errors.Is(e, sequencer.ErrAlarm) {
			fmt.Fprintln(g.stderr, "pysumdb:", e)
		}
	}
	fmt.Fprintf(g.stderr, "pysumdb: %d unacknowledged alarms: list them with 'pysumdb alarms --store %s', "+
		"then acknowledge them with 'pysumdb alarms ack --store %s ID...' (or --all)\n", unacknowledged, storeLoc, storeLoc)
	return errAlarm
}

// flattenErrors returns the errors joined in err (errors.Join), or err.
func flattenErrors(err error) []error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, flattenErrors(e)...)
	}
	return out
}

func printAlarms(g *globals, alarms []sequencer.Alarm) {
	for _, a := range alarms {
		switch a.Code {
		case sequencer.AlarmChangedFile:
			fmt.Fprintf(g.stderr, "ALARM: %s (%s): logged at leaf %d as sha256:%s size %d, now sha256:%s size %d\n",
				a.Filename, a.Project, a.Leaf, a.LoggedSHA256, a.LoggedSize, a.ServedSHA256, a.ServedSize)
		case sequencer.AlarmOtherProject:
			fmt.Fprintf(g.stderr, "ALARM: %s: logged at leaf %d under project %s (sha256:%s size %d), now served under project %s (sha256:%s size %d)\n",
				a.Filename, a.Leaf, a.LoggedProject, a.LoggedSHA256, a.LoggedSize, a.Project, a.ServedSHA256, a.ServedSize)
		default:
			fmt.Fprintf(g.stderr, "ALARM: %s (%s): %s: %s\n", a.Filename, a.Project, a.Reason, a.Detail)
		}
	}
}
