//go:build !pysumdb_client

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/export"
	"github.com/pysumdb/pysumdb/sequencer/ingest"
	"github.com/pysumdb/pysumdb/sequencer/jsonl"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
)

func holderName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s pid %d", host, os.Getpid())
}

func newSequenceCommand(g *globals) *cobra.Command {
	var storeLoc, keyFile, jsonl, witnessesFile string
	var exportPaths []string
	var exportMargin time.Duration
	var ingestOpts ingestFlags
	c := &cobra.Command{
		Use:   "sequence --store STORE --key KEYFILE|KMS_KEY_URL (--pypi URL | --from-jsonl FILE | --from-export PATH...)",
		Short: "Append new files to the log, then exit (for cron)",
		Long: `sequence finishes any batch an earlier run left half-done, appends the files
not yet logged, publishes the tiles, a signed checkpoint and the project
indexes, and exits. Run it from cron, or use 'pysumdb run' for a schedule.
With each batch it counts the new files per upload day in stats.json, and
after the run it publishes the log's web page under web/ (see 'pysumdb
publish-web').

--pypi URL logs an index speaking PyPI's protocols (https://pypi.org): a
full backfill on a new log, then the projects changed since the last run
(XML-RPC changelog, or the serials of /simple/ when XML-RPC is refused),
in batches of about --batch-size files, each published on its own, until
caught up. The position is stored with the log once each batch is
published, so a killed run resumes where it stopped. New files with a PEP
740 attestation are logged with their verified publisher.

--from-jsonl FILE reads records as JSON lines (- for standard input):
  {"project": "Foo", "filename": "foo-1.0.tar.gz", "sha256": "<64 hex>",
   "size": 1234, "upload_time": "2024-01-02T03:04:05Z"}
upload_time may be null or absent. Project names are normalized (PEP 503).
A bad line fails the run before anything is written.

--from-export PATH logs an export of PyPI's BigQuery table of files
(bigquery-public-data.pypi.distribution_metadata) as Parquet or
newline-delimited JSON, gzipped or not: a backfill in minutes instead of a
day of the Simple API. PATH is a file or a directory of them (read in name
order); repeat the flag for more. See the README ("Backfill from BigQuery")
for the query and the export command. Records are logged in batches of
--batch-size, each published with the export's position, so a stopped or
killed run resumes after the last published batch (when given the same
files). Then the run finds in PyPI's changelog (--pypi, https://pypi.org
by default) the serial of the export's newest upload time less
--export-margin, and stores it: 'sequence --pypi' follows from there. A
bad row stops the run (exit 2): the rows before it are logged, it and the
rest are not; fix it and run again to go on. Files
from an export are logged without publisher; 'sequence --pypi --recheck'
later compares every project with the Simple API.

A file the log already holds with the same sha256 and size is skipped; with
another sha256 or size it is NOT appended: an ALARM is logged with both
values and the leaf index, recorded under alarms/ in the store, and the run
exits 3 after logging the rest. An attestation that does not verify is an
alarm too (the file is logged without publisher). Every later run, from
either source, logs every alarm nobody has acknowledged yet and exits 3,
until someone acknowledges it with 'pysumdb alarms ack' (listing alarms
with 'pysumdb alarms' changes nothing).

SIGINT or SIGTERM: the first finishes and publishes the batch in progress
(with --pypi, no further batch is fetched; with --from-jsonl, the file is
the one batch: it is read to its end and published), then sequence exits
with the status of what it did: 0 if every batch it started is published
(3 with unacknowledged alarms). A second signal aborts at once with status
130, whatever sequence is doing (reading a FIFO or a stalled stdin
included): nothing is lost, the next run finishes the batch (on GCS once
the aborted run's lease has expired, 5 minutes by default).

` + kmsKeyHelp + `

` + witnessesHelp + `

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "store", "key"); err != nil {
				return err
			}
			fromExport := len(exportPaths) > 0
			switch {
			case fromExport && jsonl != "":
				return usagef("sequence takes --from-export or --from-jsonl, not both (see '%s --help')", c.CommandPath())
			case fromExport && (ingestOpts.recheck || c.Flags().Changed("attestations")):
				return usagef("--recheck and --attestations are for 'sequence --pypi': an export is logged without publishers")
			case fromExport && ingestOpts.pypiURL == "":
				ingestOpts.pypiURL = pypi.DefaultBaseURL
			case !fromExport && (jsonl == "") == (ingestOpts.pypiURL == ""):
				return usagef("sequence needs exactly one of --pypi, --from-jsonl and --from-export (see '%s --help')", c.CommandPath())
			}
			if exportMargin < 0 {
				return usagef("--export-margin must not be negative")
			}
			key, err := readLogKey(c.Context(), keyFile, g.stderr)
			if err != nil {
				return err
			}
			defer key.close()
			if ingestOpts.witnesses, ingestOpts.witnessTimeout, err = readWitnesses(witnessesFile); err != nil {
				return err
			}
			logger := g.logger()
			// The first signal ends c.Context(), which only asks to stop:
			// the batch in progress is done under work, which no signal
			// cancels (the second one ends the process).
			work := workContext(c.Context())
			defer context.AfterFunc(c.Context(), func() {
				logger.Info("stopping: publishing the batch in progress, then exiting (signal again to abort)")
			})()
			var records []sequencer.Record
			if jsonl != "" {
				// Read it all first: a bad file writes nothing.
				if records, err = readRecords(jsonl); err != nil {
					return err
				}
			}
			store, closeStore, err := openStore(work, storeLoc, logger)
			if err != nil {
				return err
			}
			defer closeStore()
			if fromExport {
				client, err := ingestOpts.client(logger)
				if err != nil {
					return err
				}
				seqCfg, err := ingestOpts.sequencer(store, key, logger)
				if err != nil {
					return err
				}
				reader, err := export.Open(exportPaths)
				if err != nil {
					return usageError{err}
				}
				defer reader.Close()
				start := time.Now()
				sum, err := ingest.RunExport(work, ingest.ExportConfig{
					Sequencer: seqCfg, Export: reader, PyPI: client, MaxFiles: ingestOpts.batchSize,
					Margin: exportMargin, ResetCursor: ingestOpts.resetCursor, Stop: c.Context().Done(),
				})
				if errors.Is(err, sequencer.ErrBadRecord) {
					// A bad row of the export: fix the export, not the log.
					err = usageError{err}
				}
				publishPageAfter(work, err, store, key.vkey, logger)
				return reportIngest(g, storeLoc, sum, err, time.Since(start))
			}
			if jsonl == "" {
				cfg, err := ingestOpts.config(store, key, logger)
				if err != nil {
					return err
				}
				cfg.Stop = c.Context().Done()
				start := time.Now()
				sum, err := ingest.Run(work, cfg)
				publishPageAfter(work, err, store, key.vkey, logger)
				return reportIngest(g, storeLoc, sum, err, time.Since(start))
			}
			seqCfg, err := ingestOpts.sequencer(store, key, logger)
			if err != nil {
				return err
			}
			seq, err := sequencer.Open(work, seqCfg)
			if err != nil {
				return err
			}
			defer func() {
				rctx, cancel := context.WithTimeout(work, releaseTimeout)
				defer cancel()
				if err := seq.Close(rctx); err != nil {
					logger.Warn("couldn't release the lease", "err", err)
				}
			}()
			res, err := seq.Append(work, records, seq.Cursor())
			if err == nil {
				fmt.Fprintf(g.stdout, "appended %d, already logged %d, alarms %d; log size %d\n",
					res.Appended, res.Duplicates, len(res.Alarms), res.TreeSize)
				printAlarms(g, res.Alarms)
			}
			open, aerr := seq.CheckAlarms(work)
			err = errors.Join(err, aerr)
			publishPageAfter(work, err, store, key.vkey, logger)
			return alarmOutcome(g, storeLoc, len(open), err)
		},
	}
	c.Flags().StringVar(&storeLoc, "store", "", storeHelp)
	c.Flags().StringVar(&keyFile, "key", "", keyFlagHelp)
	c.Flags().StringVar(&jsonl, "from-jsonl", "", "JSON lines file of records to log (- for stdin)")
	c.Flags().StringArrayVar(&exportPaths, "from-export", nil, "a BigQuery export of PyPI's files to log, Parquet or JSON lines: a file or a directory of them (repeated)")
	c.Flags().DurationVar(&exportMargin, "export-margin", ingest.DefaultExportMargin, "after --from-export, follow PyPI from the changes this long before the export's newest upload")
	ingestOpts.register(c.Flags(), "")
	c.Flags().StringVar(&witnessesFile, "witnesses", "", witnessesFlagHelp)
	return c
}

func readRecords(path string) ([]sequencer.Record, error) {
	in := os.Stdin
	name := "stdin"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("couldn't open records: %v", err)
		}
		defer f.Close()
		in, name = f, path
	}
	records, err := jsonl.Read(in, name)
	if err != nil {
		return nil, usageError{err}
	}
	return records, nil
}
