//go:build !pysumdb_client

package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/sequencer/ingest"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
)

func newRunCommand(g *globals) *cobra.Command {
	var storeLoc, keyFile, schedule, witnessesFile string
	var now bool
	ingestOpts := ingestFlags{}
	c := &cobra.Command{
		Use:   "run --schedule SPEC --store STORE --key KEYFILE|KMS_KEY_URL [--pypi URL]",
		Short: "Log PyPI on a schedule, in one process",
		Long: `run does what 'sequence --pypi' does, on a cron schedule, in one long-lived
process: SPEC is a cron line ("*/5 * * * *", minute hour day month weekday)
or a descriptor ("@every 10m", "@hourly"). Runs never overlap: a run still
going when the next is due makes that one skip. On SIGINT or SIGTERM the
batch in progress is published and the process exits, with the status of
the last run (0 if it succeeded, 3 with unacknowledged alarms); a second
signal aborts at once with status 130 (nothing is lost: the next run
finishes the batch, on GCS once the lease has expired).

` + kmsKeyHelp + `

` + witnessesHelp + `

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "schedule", "store", "key"); err != nil {
				return err
			}
			sched, err := parseSchedule(schedule)
			if err != nil {
				return err
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
			// The command's context ends at the first signal, which only
			// asks to stop: the runs must outlive it to publish their
			// batch. A second signal ends the process (main).
			work := workContext(c.Context())
			store, closeStore, err := openStore(work, storeLoc, logger)
			if err != nil {
				return err
			}
			defer closeStore()
			cfg, err := ingestOpts.config(store, key, logger)
			if err != nil {
				return err
			}
			cfg.Stop = c.Context().Done()

			// The page is published once per process, after the first
			// run that reached the log: it is embedded, so it can't
			// change before the next start.
			pagePublished := false
			job := func() error {
				start := time.Now()
				sum, err := ingest.Run(work, cfg)
				if !pagePublished {
					pagePublished = publishPageAfter(work, err, store, key.vkey, logger)
				}
				err = reportIngest(g, storeLoc, sum, err, time.Since(start))
				if err != nil && err != errAlarm {
					logger.Error("run failed", "err", err)
				}
				return err
			}
			return runScheduled(c.Context(), sched, schedule, now, logger, "stopping: publishing the batch in progress (signal again to abort)", job)
		},
	}
	c.Flags().StringVar(&schedule, "schedule", "", `cron schedule, e.g. "*/5 * * * *" or "@every 10m"`)
	c.Flags().StringVar(&storeLoc, "store", "", storeHelp)
	c.Flags().StringVar(&keyFile, "key", "", keyFlagHelp)
	c.Flags().BoolVar(&now, "now", true, "run once at start, then on the schedule")
	ingestOpts.register(c.Flags(), pypi.DefaultBaseURL)
	c.Flags().StringVar(&witnessesFile, "witnesses", "", witnessesFlagHelp)
	return c
}
