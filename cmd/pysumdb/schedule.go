package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser parses the --schedule of run and monitor: a cron line
// (minute hour day month weekday) or a descriptor ("@every 10m").
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseSchedule parses a --schedule flag.
func parseSchedule(spec string) (cron.Schedule, error) {
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return nil, usagef("--schedule %q: %v", spec, err)
	}
	return sched, nil
}

// runScheduled runs job on sched (and once at start if now) until ctx
// ends, never two runs at once (a run still going when the next is due
// makes that one skip), then waits for the run in progress and returns
// the outcome of the last run: nil, errAlarm (its alarms were reported),
// or its failure. A job returning errSkipped leaves the last outcome as it
// was. stopping is logged when ctx ends.
func runScheduled(ctx context.Context, sched cron.Schedule, spec string, now bool, logger *slog.Logger, stopping string, job func() error) error {
	var mu sync.Mutex
	var last error
	runner := cron.New(cron.WithParser(cronParser), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	id := runner.Schedule(sched, cron.FuncJob(func() {
		err := job()
		if errors.Is(err, errSkipped) {
			return
		}
		mu.Lock()
		last = err
		mu.Unlock()
	}))
	runner.Start()
	var initial sync.WaitGroup
	if now {
		// Through the chain, so that a scheduled run can't overlap it.
		initial.Go(runner.Entry(id).WrappedJob.Run)
	}
	logger.Info("scheduled", "schedule", spec, "next", runner.Entry(id).Next.Format(time.RFC3339))
	<-ctx.Done()
	logger.Info(stopping)
	<-runner.Stop().Done()
	initial.Wait()
	mu.Lock()
	defer mu.Unlock()
	if last != nil && !errors.Is(last, errAlarm) {
		return fmt.Errorf("the last run failed: %w", last)
	}
	return last
}

// errSkipped is a scheduled job's outcome that is no outcome of a run (it
// was asked to stop before it did anything).
var errSkipped = errors.New("run skipped")
