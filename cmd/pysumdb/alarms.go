//go:build !pysumdb_client

package main

import (
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/sequencer"
)

func newAlarmsCommand(g *globals) *cobra.Command {
	var storeLoc string
	c := &cobra.Command{
		Use:   "alarms --store STORE",
		Short: "List the log's alarms (and acknowledge them with 'alarms ack')",
		Long: `alarms lists every alarm the sequencer recorded under alarms/: files an index
served with other bytes than logged, attestations that did not verify. Each
is shown with its ID, when it was detected, and its status: NEW, or
"acknowledged by WHO at WHEN". Listing changes nothing in the store.

Until an alarm is acknowledged with 'pysumdb alarms ack', every 'sequence'
and 'run', from any source, reports it again and exits 3, so that none goes
unnoticed. Acknowledged alarms stay in the store (they are evidence).

` + exitStatusHelp,
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
			unacknowledged := 0
			for i := range alarms {
				printStoredAlarm(g, &alarms[i])
				if alarms[i].Acknowledged == "" {
					unacknowledged++
				}
			}
			fmt.Fprintf(g.stdout, "%d alarms\n", len(alarms))
			if unacknowledged > 0 {
				fmt.Fprintf(g.stdout, "%d NEW: acknowledge with 'pysumdb alarms ack --store %s ID...' (or --all)\n", unacknowledged, storeLoc)
			}
			return nil
		},
	}
	c.PersistentFlags().StringVar(&storeLoc, "store", "", storeHelp)
	c.AddCommand(newAlarmsAckCommand(g, &storeLoc))
	return c
}

func printStoredAlarm(g *globals, a *sequencer.StoredAlarm) {
	status := "NEW"
	switch {
	case a.Acknowledged != "" && a.AcknowledgedBy != "":
		status = fmt.Sprintf("acknowledged by %s at %s", a.AcknowledgedBy, a.Acknowledged)
	case a.Acknowledged != "":
		status = "acknowledged at " + a.Acknowledged
	}
	fmt.Fprintf(g.stdout, "%s  %s  %s  %s (%s) leaf %d\n  %s: %s\n", a.ID(), a.Detected, status, a.Filename, a.Project, a.Leaf, a.Code, a.Reason)
	if a.LoggedProject != "" {
		fmt.Fprintf(g.stdout, "  logged under project %s\n", a.LoggedProject)
	}
	if a.LoggedSHA256 != "" {
		fmt.Fprintf(g.stdout, "  logged sha256:%s size %d\n", a.LoggedSHA256, a.LoggedSize)
	}
	if a.ServedSHA256 != "" {
		fmt.Fprintf(g.stdout, "  served sha256:%s size %d\n", a.ServedSHA256, a.ServedSize)
	}
	if a.ClaimedSHA256 != "" {
		fmt.Fprintf(g.stdout, "  claimed sha256:%s size %d by %s (%s)\n", a.ClaimedSHA256, a.ClaimedSize, a.Claimant, a.Claim)
	}
	if a.Detail != "" {
		fmt.Fprintf(g.stdout, "  %s\n", a.Detail)
	}
}

func newAlarmsAckCommand(g *globals, storeLoc *string) *cobra.Command {
	var all bool
	var by string
	c := &cobra.Command{
		Use:   "ack --store STORE (ID... | --all) [--by NAME]",
		Short: "Acknowledge alarms, so that later runs stop reporting them",
		Long: `ack acknowledges the alarms named by their IDs (as 'pysumdb alarms' shows
them), or every alarm not acknowledged yet with --all. It records who (--by,
user@host by default) and when in each alarm, which stays in the store as
evidence; from then on 'sequence' and 'run' stop reporting it and exiting 3.
An alarm someone already acknowledged keeps its first acknowledgement.

An ID the store does not hold is a usage error (exit 2), and nothing is
acknowledged.

` + exitStatusHelp,
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "store"); err != nil {
				return err
			}
			if all == (len(args) > 0) {
				return usagef("alarms ack needs alarm IDs or --all, not both (see '%s --help')", c.CommandPath())
			}
			if by == "" {
				by = defaultAcknowledger()
			}
			store, closeStore, err := openStore(c.Context(), *storeLoc, g.logger())
			if err != nil {
				return err
			}
			defer closeStore()
			alarms, err := sequencer.ListAlarms(c.Context(), store)
			if err != nil {
				return err
			}
			byID := make(map[string]*sequencer.StoredAlarm, len(alarms))
			for i := range alarms {
				byID[alarms[i].ID()] = &alarms[i]
			}
			var chosen []*sequencer.StoredAlarm
			if all {
				for i := range alarms {
					if alarms[i].Acknowledged == "" {
						chosen = append(chosen, &alarms[i])
					}
				}
			}
			// Every ID is checked before any alarm is acknowledged: a typo
			// acknowledges nothing.
			for _, id := range args {
				a, ok := byID[id]
				if !ok {
					return usagef("no alarm %s in %s (list the alarms and their IDs with 'pysumdb alarms --store %s')", id, *storeLoc, *storeLoc)
				}
				chosen = append(chosen, a)
			}
			now := time.Now()
			acknowledged := 0
			for _, a := range chosen {
				if a.Acknowledged != "" {
					fmt.Fprintf(g.stdout, "%s  %s: already acknowledged by %s at %s\n", a.ID(), a.Filename, a.AcknowledgedBy, a.Acknowledged)
					continue
				}
				if err := sequencer.Acknowledge(c.Context(), store, a, by, now); err != nil {
					return err
				}
				if a.AcknowledgedBy != by {
					// Someone else was first.
					fmt.Fprintf(g.stdout, "%s  %s: already acknowledged by %s at %s\n", a.ID(), a.Filename, a.AcknowledgedBy, a.Acknowledged)
					continue
				}
				acknowledged++
				fmt.Fprintf(g.stdout, "%s  %s: acknowledged by %s at %s\n", a.ID(), a.Filename, a.AcknowledgedBy, a.Acknowledged)
			}
			fmt.Fprintf(g.stdout, "%d alarms acknowledged\n", acknowledged)
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "acknowledge every alarm not acknowledged yet")
	c.Flags().StringVar(&by, "by", "", "who acknowledges (default user@host)")
	return c
}

// defaultAcknowledger names the person at this terminal: user@host.
func defaultAcknowledger() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return name + "@" + host
}
