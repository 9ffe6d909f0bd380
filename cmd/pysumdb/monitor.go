package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/monitor"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/pypi"
)

func newMonitorCommand(g *globals) *cobra.Command {
	lf := logFlags{noCache: true}
	var stateDir, schedule, pypiURL, notify string
	var once bool
	c := &cobra.Command{
		Use:   "monitor [--log URL --vkey VKEY | --config FILE] --state DIR (--once | --schedule SPEC) [--pypi URL] [--notify URL]",
		Short: "Follow logs and report every misbehaviour, with evidence",
		Long: `monitor follows one or more logs from their static files, with its own state
in DIR, and reports what a log does wrong: each run verifies the log's
checkpoint (signature and witnesses) and its consistency with the last one
verified, then reads every entry appended since, rebuilds the tree from the
entry bundles, and checks

  fork                a checkpoint inconsistent with the last one verified
  tree-mismatch       entry bundles or hash tiles that don't give the signed tree
  malformed-entry     an entry that is not pypi-transparency/v1
  duplicate-filename  a filename logged twice
  index-omits         a logged file no project index lists (or no longer lists)
  index-adds          an index line for a file the log doesn't hold there
  index-misstates     an index line with another sha256 or leaf than the entry
  pypi-changed        (--pypi) a logged file PyPI now serves with another sha256
  peer-disagrees      (with several logs) a filename two logs hold with another
                      sha256 or publisher

Each finding is printed with its evidence (the signed checkpoints, indexes
and entries with their inclusion proofs), logged as SECURITY ERROR, written
to DIR/findings/<id>.json once, and with --notify POSTed as JSON to the
webhook (retried at the next run if that fails). Memory stays bounded: the
entries are read in chunks, and what later runs need is kept in
DIR/monitor.db (about 250 bytes an entry), so a run reads only what the logs
appended since the last one; an interrupted catch-up goes on from the last
chunk committed. An index or note older than the checkpoint (a stale copy
in a cache) is not evidence: that run fails and the next one tries again.

--once runs once. --schedule SPEC runs on a cron schedule, as run does
("*/5 * * * *", "@every 10m"; a run still going when the next is due makes
that one skip); the first SIGINT or SIGTERM stops after the chunk in
progress is committed, a second one aborts.

monitor reads every project of the logs, not yours: the private projects
of the configuration don't apply (it has no --exclude), and no cache
directory is used (DIR is its state).

` + logFlagsHelp + `

Exit status: 0 nothing found, 1 a log couldn't be checked (network, a
checkpoint short of the witness policy, a stale index; or the run was
stopped), 2 usage error, 3 SECURITY ERROR: a finding, or a checkpoint whose
signature or a witness's cosignature doesn't verify (as for every client),
4 another monitor uses DIR. With --schedule, the status of the last run.`,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if once == c.Flags().Changed("schedule") {
				return usagef("monitor takes --once or --schedule SPEC (see '%s --help')", c.CommandPath())
			}
			if err := requireFlags(c, "state"); err != nil {
				return err
			}
			var sched cron.Schedule
			if !once {
				var err error
				if sched, err = parseSchedule(schedule); err != nil {
					return err
				}
			}
			if notify != "" {
				if u, err := url.Parse(notify); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return usagef("--notify %q: want an http(s) URL", notify)
				}
			}
			logger := g.logger()
			logs, err := lf.open(c, logger)
			if err != nil {
				return err
			}
			cfg := monitor.Config{StateDir: stateDir, Notify: notify, Logger: logger, Stop: c.Context().Done()}
			for i, l := range logs.logs {
				cfg.Logs = append(cfg.Logs, monitor.Log{Log: l, VKey: l.VerifierKey(), Fetch: logs.fetchers[i], Location: logs.locations[i]})
			}
			if pypiURL != "" {
				if cfg.PyPI, err = pypi.NewClient(pypi.Config{BaseURL: pypiURL, Logger: logger}); err != nil {
					return usagef("--pypi: %v", err)
				}
			}
			m, err := monitor.Open(cfg)
			switch {
			case errors.Is(err, publish.ErrBusy):
				return err
			case err != nil:
				return usagef("--state %s: %v", stateDir, err)
			}
			defer m.Close()
			// The first signal only asks to stop (cfg.Stop): the chunk in
			// progress is committed under a context it doesn't cancel.
			work := workContext(c.Context())
			if once {
				start := time.Now()
				rep, err := m.RunOnce(work)
				return reportMonitor(g.stdout, g.stderr, stateDir, rep, err, time.Since(start))
			}
			return runScheduled(c.Context(), sched, schedule, true, logger, "stopping: committing the chunk in progress (signal again to abort)", func() error {
				start := time.Now()
				rep, err := m.RunOnce(work)
				if errors.Is(err, monitor.ErrStopped) && len(rep.Findings) == 0 {
					// Asked to stop: not the outcome of a run.
					return errSkipped
				}
				return reportMonitor(g.stdout, g.stderr, stateDir, rep, err, time.Since(start))
			})
		},
	}
	lf.register(c)
	c.Flags().StringVar(&stateDir, "state", "", "the monitor's state directory (created if needed; one monitor at a time)")
	c.Flags().BoolVar(&once, "once", false, "run once and exit")
	c.Flags().StringVar(&schedule, "schedule", "", `run on a cron schedule, e.g. "*/5 * * * *" or "@every 10m"`)
	c.Flags().StringVar(&pypiURL, "pypi", "", "also compare the logged files with what this package index serves now (e.g. "+pypi.DefaultBaseURL+")")
	c.Flags().StringVar(&notify, "notify", "", "POST each new finding as JSON to this webhook URL")
	return c
}

// reportMonitor prints a run's findings with their evidence and a line
// per log, and returns the error that gives the exit status.
func reportMonitor(stdout, stderr io.Writer, stateDir string, rep *monitor.Report, err error, elapsed time.Duration) error {
	for i := range rep.Findings {
		rep.Findings[i].WriteText(stdout)
		fmt.Fprintf(stdout, "  written to %s\n\n", filepath.Join(stateDir, "findings", rep.Findings[i].ID+".json"))
	}
	for _, lr := range rep.Logs {
		state := fmt.Sprintf("verified to size %d of %d", lr.Verified, lr.Checkpoint.N)
		if lr.Err != nil {
			state += "; FAILED: " + lr.Err.Error()
		}
		rate := float64(lr.Entries) / max(lr.Elapsed.Seconds(), 1e-9)
		fmt.Fprintf(stdout, "log %s (%s): %s; %d entries checked in %s (%.0f entries/s); %d findings\n",
			lr.Origin, lr.Location, state, lr.Entries, lr.Elapsed.Round(time.Millisecond), rate, lr.Findings)
	}
	if rep.Suppressed > 0 {
		fmt.Fprintf(stdout, "%d more findings not recorded (at most %d a log a run)\n", rep.Suppressed, monitor.MaxFindingsPerRun)
	}
	if rep.NotifyFailed > 0 {
		fmt.Fprintf(stderr, "pysumdb: WARNING: %d findings couldn't be POSTed to the webhook; the next run retries\n", rep.NotifyFailed)
	}
	fmt.Fprintf(stdout, "monitor: %d findings, %d logs, %s\n", len(rep.Findings), len(rep.Logs), elapsed.Round(time.Millisecond))
	if len(rep.Findings) > 0 {
		if err != nil {
			fmt.Fprintf(stderr, "pysumdb: %v\n", err)
		}
		fmt.Fprintf(stderr, "pysumdb: SECURITY ERROR: %d findings (see above), in %s\n", len(rep.Findings), filepath.Join(stateDir, "findings"))
		return errAlarm
	}
	if client.IsSecurityError(err) {
		// A checkpoint whose signature or a cosignature doesn't verify:
		// no finding (nothing signed to keep as evidence), but the alarm
		// every client raises for it.
		fmt.Fprintf(stderr, "pysumdb: SECURITY ERROR: %v\n", err)
		return errAlarm
	}
	if err != nil {
		// Any other log that couldn't be checked is a failure, even when
		// what failed is a verification (a stale index).
		return monitorFailure{err}
	}
	return nil
}

// monitorFailure is a run that couldn't check every log: exit status 1,
// whatever the cause (it doesn't unwrap).
type monitorFailure struct{ err error }

func (e monitorFailure) Error() string { return e.err.Error() }
