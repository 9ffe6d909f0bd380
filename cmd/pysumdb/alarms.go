package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/sequencer"
)

func newAlarmsCommand(g *globals) *cobra.Command {
	var storeLoc string
	c := &cobra.Command{
		Use:   "alarms --store STORE",
		Short: "List the log's alarms, and stop later runs from reporting them",
		Long: `alarms lists every alarm the sequencer recorded under alarms/: files an index
served with other bytes than logged, attestations that did not verify. Until
an alarm has been listed here once, every 'sequence' and 'run' reports it
again and exits 3, so that none goes unnoticed. Listed alarms stay in the
store (they are evidence), marked with when they were first listed.`,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "store"); err != nil {
				return err
			}
			store, closeStore, err := openStore(c.Context(), storeLoc, g.logger())
			if err != nil {
				return err
			}
			defer closeStore()
			alarms, err := sequencer.ListAlarms(c.Context(), store)
			if err != nil {
				return err
			}
			now := time.Now()
			for i := range alarms {
				a := &alarms[i]
				status := "NEW"
				if a.Acknowledged != "" {
					status = "listed " + a.Acknowledged
				}
				fmt.Fprintf(g.stdout, "%s  %s  %s (%s) leaf %d\n  %s\n", a.Detected, status, a.Filename, a.Project, a.Leaf, a.Reason)
				if a.LoggedSHA256 != "" {
					fmt.Fprintf(g.stdout, "  logged sha256:%s size %d\n", a.LoggedSHA256, a.LoggedSize)
				}
				fmt.Fprintf(g.stdout, "  served sha256:%s size %d\n", a.ServedSHA256, a.ServedSize)
				if a.Detail != "" {
					fmt.Fprintf(g.stdout, "  %s\n", a.Detail)
				}
				if err := sequencer.Acknowledge(c.Context(), store, a, now); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.stdout, "%d alarms\n", len(alarms))
			return nil
		},
	}
	c.Flags().StringVar(&storeLoc, "store", "", storeHelp)
	return c
}
