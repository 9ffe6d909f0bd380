package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/tiles"
)

func newPublishersCommand(g *globals) *cobra.Command {
	var f logFlags
	c := &cobra.Command{
		Use:   "publishers [--log DIR_OR_URL --vkey VKEY | --config FILE] PROJECT",
		Short: "Print a project's publisher history from the log, flagging every change",
		Long: `publishers prints, in log order, the publisher identity the log records for
each file of PROJECT (verified from a PEP 740 attestation when the file was
logged), each entry proven by an inclusion proof, and flags every change of
identity: a new workflow or repository, a new account, or a file uploaded
without an attestation after attested ones. A change is not proof of an
attack, but it is what to look at first when a dependency is hijacked.

It exits 0 when the publisher never changed, 1 when it did.

` + oneLogHelp + `

` + exitStatusHelp,
		Args: argsBetween(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			_, _, cp, project, files, err := lookupProject(c, g, &f, args[0], "")
			if err != nil {
				return err
			}
			changes := printPublisherHistory(g, files)
			fmt.Fprintf(g.stdout, "%s: %d files, %d changes of publisher (checkpoint size %d)\n", project, len(files), changes, cp.N)
			if changes > 0 {
				return fmt.Errorf("the publisher of %s changed %d times", project, changes)
			}
			return nil
		},
	}
	f.register(c)
	return c
}

// printPublisherHistory prints one line per proven file and returns how
// many times the publisher changed from one file to the next.
func printPublisherHistory(g *globals, files []client.LoggedFile) int {
	changes := 0
	var last *tiles.Publisher
	seen := false
	for _, f := range files {
		if !f.Proven {
			fmt.Fprintf(g.stdout, "%d %s (not yet provable)\n", f.Leaf, f.Filename)
			continue
		}
		who := "no attestation"
		if f.Publisher != nil {
			who = f.Publisher.Kind + " " + f.Publisher.SAN
		}
		flag := ""
		if seen && !samePublisher(last, f.Publisher) {
			changes++
			flag = "  CHANGED (was " + publisherName(last) + ")"
		}
		fmt.Fprintf(g.stdout, "%d %s %s %s%s\n", f.Leaf, f.UploadTime, f.Filename, who, flag)
		last, seen = f.Publisher, true
	}
	return changes
}

// samePublisher compares identities, ignoring the ref a GitHub or GitLab
// workflow ran at (each release has its own tag).
func samePublisher(a, b *tiles.Publisher) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && workflowIdentity(a.SAN) == workflowIdentity(b.SAN)
}

// workflowIdentity drops the "@refs/..." suffix of a workflow SAN.
func workflowIdentity(san string) string {
	for i := len(san) - 1; i >= 0; i-- {
		if san[i] == '@' && len(san) > i+5 && san[i+1:i+6] == "refs/" {
			return san[:i]
		}
	}
	return san
}

func publisherName(p *tiles.Publisher) string {
	if p == nil {
		return "no attestation"
	}
	return p.Kind + " " + workflowIdentity(p.SAN)
}
