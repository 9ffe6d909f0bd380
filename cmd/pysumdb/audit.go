package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newAuditCommand(g *globals) *cobra.Command {
	var location, vkey string
	c := &cobra.Command{
		Use:   "audit --log DIR_OR_URL --vkey VKEY",
		Short: "Re-verify a whole log from its static files",
		Long: `audit re-verifies the whole log from its static files: the checkpoint's
signature, every entry parses, the tree rebuilt from the entries equals every
published tile and the checkpoint's root, no filename is logged twice, every
project index is signed, complete and correct. It exits 0 only if all hold;
otherwise it lists what failed and where, and exits 3.

VKEY is the log's verifier key, or a file holding it.

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "log", "vkey"); err != nil {
				return err
			}
			l, err := openLog(location, vkey)
			if err != nil {
				return err
			}
			rep, err := l.Audit(c.Context(), g.logger())
			if rep != nil {
				for _, p := range rep.Problems {
					fmt.Fprintln(g.stdout, "FAIL:", p)
				}
				fmt.Fprintf(g.stdout, "audited %s at size %d: %d entries, %d entry bundles, %d hash tiles, %d project indexes",
					l.Origin(), rep.Checkpoint.N, rep.Entries, rep.Bundles, rep.HashTiles, rep.Indexes)
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
	return c
}
