package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/ingest"
)

func holderName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s pid %d", host, os.Getpid())
}

func newSequenceCommand(g *globals) *cobra.Command {
	var storeLoc, keyFile, jsonl string
	var ingestOpts ingestFlags
	c := &cobra.Command{
		Use:   "sequence --store STORE --key KEYFILE (--pypi URL | --from-jsonl FILE)",
		Short: "Append new files to the log, then exit (for cron)",
		Long: `sequence finishes any batch an earlier run left half-done, appends the files
not yet logged, publishes the tiles, a signed checkpoint and the project
indexes, and exits. Run it from cron, or use 'pysumdb run' for a schedule.

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

A file the log already holds with the same sha256 and size is skipped; with
another sha256 or size it is NOT appended: an ALARM is logged with both
values and the leaf index, recorded under alarms/ in the store, and the run
exits 3 after logging the rest. Every later run reports it again (exit 3)
until 'pysumdb alarms' lists it. An attestation that does not verify is an
alarm too (the file is logged without publisher).

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "store", "key"); err != nil {
				return err
			}
			if (jsonl == "") == (ingestOpts.pypiURL == "") {
				return usagef("sequence needs exactly one of --pypi and --from-jsonl (see '%s --help')", c.CommandPath())
			}
			skey, err := readSignerKey(keyFile)
			if err != nil {
				return err
			}
			var records []sequencer.Record
			if jsonl != "" {
				// Read it all first: a bad file writes nothing.
				if records, err = readRecords(jsonl); err != nil {
					return err
				}
			}
			logger := g.logger()
			store, closeStore, err := openStore(c.Context(), storeLoc, logger)
			if err != nil {
				return err
			}
			defer closeStore()
			if jsonl == "" {
				cfg, err := ingestOpts.config(store, skey, logger)
				if err != nil {
					return err
				}
				start := time.Now()
				sum, err := ingest.Run(c.Context(), cfg)
				return reportIngest(g, sum, err, time.Since(start))
			}
			seq, err := sequencer.Open(c.Context(), sequencer.Config{Store: store, Key: skey, Logger: logger, Holder: holderName()})
			if err != nil {
				return err
			}
			defer seq.Close(c.Context())
			res, err := seq.Append(c.Context(), records, seq.Cursor())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "appended %d, already logged %d, alarms %d; log size %d\n",
				res.Appended, res.Duplicates, len(res.Alarms), res.TreeSize)
			printAlarms(g, res.Alarms)
			if len(res.Alarms) > 0 {
				return errAlarm
			}
			return nil
		},
	}
	c.Flags().StringVar(&storeLoc, "store", "", storeHelp)
	c.Flags().StringVar(&keyFile, "key", "", "the log's private key file (from keygen)")
	c.Flags().StringVar(&jsonl, "from-jsonl", "", "JSON lines file of records to log (- for stdin)")
	ingestOpts.register(c.Flags(), "")
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
	records, err := sequencer.ReadJSONL(in, name)
	if err != nil {
		return nil, usageError{err}
	}
	return records, nil
}
