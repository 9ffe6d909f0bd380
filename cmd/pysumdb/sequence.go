package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
)

func holderName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s pid %d", host, os.Getpid())
}

func newSequenceCommand(g *globals) *cobra.Command {
	var storeDir, keyFile, jsonl string
	c := &cobra.Command{
		Use:   "sequence --store DIR --key KEYFILE --from-jsonl FILE",
		Short: "Append one batch of files to the log, then exit",
		Long: `sequence runs one batch: it finishes any batch an earlier run left
half-done, appends the files not yet logged, publishes the tiles, a signed
checkpoint and the project indexes, and exits. Run it from cron, or use
'pysumdb run' for a schedule.

--from-jsonl FILE reads records as JSON lines (- for standard input):
  {"project": "Foo", "filename": "foo-1.0.tar.gz", "sha256": "<64 hex>",
   "size": 1234, "upload_time": "2024-01-02T03:04:05Z"}
upload_time may be null or absent. Project names are normalized (PEP 503).
A bad line fails the run before anything is written.

A file the log already holds with the same sha256 and size is skipped; with
another sha256 or size it is NOT appended: an ALARM is logged with both
values and the leaf index, recorded under alarms/ in the store, and the run
exits 3 after logging the rest of the batch.

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "store", "key", "from-jsonl"); err != nil {
				return err
			}
			skey, err := readSignerKey(keyFile)
			if err != nil {
				return err
			}
			records, err := readRecords(jsonl)
			if err != nil {
				return err
			}
			store, err := publish.OpenDir(storeDir)
			if err != nil {
				return err
			}
			logger := g.logger()
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
			if len(res.Alarms) > 0 {
				for _, a := range res.Alarms {
					fmt.Fprintf(g.stderr, "ALARM: %s (%s): logged at leaf %d as sha256:%s size %d, now sha256:%s size %d\n",
						a.Filename, a.Project, a.Leaf, a.LoggedSHA256, a.LoggedSize, a.ServedSHA256, a.ServedSize)
				}
				return errAlarm
			}
			return nil
		},
	}
	c.Flags().StringVar(&storeDir, "store", "", "directory of the log")
	c.Flags().StringVar(&keyFile, "key", "", "the log's private key file (from keygen)")
	c.Flags().StringVar(&jsonl, "from-jsonl", "", "JSON lines file of records to log (- for stdin)")
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
