package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
)

func newAuditCommand(g *globals) *cobra.Command {
	var location, vkey string
	var witnesses witnessFlags
	c := &cobra.Command{
		Use:   "audit --log DIR_OR_URL --vkey VKEY",
		Short: "Re-verify a whole log from its static files",
		Long: `audit re-verifies the whole log from its static files: the checkpoint's
signature, every entry parses, the tree rebuilt from the entries equals every
published tile and the checkpoint's root, no filename is logged twice, every
project index is signed, complete and correct, the project list names every
index, and every file whose project its filename does not give is in its
filename note. It exits 0 only if all hold; otherwise it lists what failed
and where, and exits 3.

Index lines beyond the checkpoint are a batch the sequencer has not yet
published (indexes are written before the checkpoint): audit prints a
WARNING naming the leaves and exits 0, unless they contradict the log.

VKEY is the log's verifier key, or a file holding it.

` + witnessFlagsHelp + `

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "log", "vkey"); err != nil {
				return err
			}
			l, err := openLog(c, location, vkey, &witnesses)
			if err != nil {
				return err
			}
			rep, err := l.Audit(c.Context(), g.logger())
			if rep != nil {
				printAuditFindings(g, rep)
				fmt.Fprintf(g.stdout, "audited %s at size %d: %d entries, %d entry bundles, %d hash tiles, %d project indexes, %d project list shards, %d filename notes",
					l.Origin(), rep.Checkpoint.N, rep.Entries, rep.Bundles, rep.HashTiles, rep.Indexes, rep.ProjectLists, rep.FilenameNotes)
				if rep.NotYetProvable > 0 {
					fmt.Fprintf(g.stdout, " (%d index lines beyond the checkpoint, not yet provable)", rep.NotYetProvable)
				}
				fmt.Fprintln(g.stdout)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "OK: the log is consistent")
			return nil
		},
	}
	c.Flags().StringVar(&location, "log", "", "the log: a directory or an http(s) URL")
	c.Flags().StringVar(&vkey, "vkey", "", "the log's verifier key, or a file holding it")
	witnesses.register(c)
	return c
}

// printAuditFindings prints an audit's problems and warnings.
func printAuditFindings(g *globals, rep *client.AuditReport) {
	for _, p := range rep.Problems {
		fmt.Fprintln(g.stdout, "FAIL:", p)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(g.stdout, "WARNING:", w)
	}
}
