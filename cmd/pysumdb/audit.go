package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
)

func newAuditCommand(g *globals) *cobra.Command {
	var location, vkey string
	var witnesses witnessFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "audit --log DIR_OR_URL --vkey VKEY [--json]",
		Short: "Re-verify a whole log from its static files",
		Long: `audit re-verifies the whole log from its static files: the checkpoint's
signature, every entry parses, the tree rebuilt from the entries equals every
published tile and the checkpoint's root, no filename is logged twice, every
project index is signed, complete and correct, the project list names every
index, and every file whose project its filename does not give is in its
filename note. It exits 0 only if all hold ("OK: the log is consistent");
otherwise it lists what failed ("FAIL:") and where, and exits 3.

Index lines beyond the checkpoint are a batch the sequencer has not yet
published (indexes are written before the checkpoint): audit prints a
WARNING naming the leaves and exits 0, unless they contradict the log.

VKEY is the log's verifier key, or a file holding it: a key of another
origin than the log's checkpoint is a usage error (exit 2). --json prints
the report as JSON (its fields are described in the README, "JSON output").

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
			var wrongOrigin *client.OriginError
			if errors.As(err, &wrongOrigin) {
				return originUsageError(location, wrongOrigin)
			}
			if rep != nil {
				if asJSON {
					if werr := writeAuditJSON(g.stdout, l.Origin(), location, rep, err); werr != nil {
						return werr
					}
				} else {
					printAuditFindings(g, rep)
					fmt.Fprintf(g.stdout, "audited %s at size %d: %d entries, %d entry bundles, %d hash tiles, %d project indexes, %d project list shards, %d filename notes",
						l.Origin(), rep.Checkpoint.N, rep.Entries, rep.Bundles, rep.HashTiles, rep.Indexes, rep.ProjectLists, rep.FilenameNotes)
					if rep.NotYetProvable > 0 {
						fmt.Fprintf(g.stdout, " (%d index lines beyond the checkpoint, not yet provable)", rep.NotYetProvable)
					}
					fmt.Fprintln(g.stdout)
				}
			}
			if err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprintln(g.stdout, "OK: the log is consistent")
			}
			return nil
		},
	}
	c.Flags().StringVar(&location, "log", "", "the log: a directory or an http(s) URL")
	c.Flags().StringVar(&vkey, "vkey", "", "the log's verifier key, or a file holding it")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
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

// jsonAuditReport is the JSON report of audit: the text's FAIL lines are
// failures, its WARNING lines warnings, "OK: the log is consistent" is
// consistent.
type jsonAuditReport struct {
	SchemaVersion  int      `json:"schema_version"`
	Origin         string   `json:"origin"`
	URL            string   `json:"url"`
	Size           int64    `json:"size"`
	RootHash       string   `json:"root_hash"`
	Entries        int64    `json:"entries"`
	EntryBundles   int64    `json:"entry_bundles"`
	HashTiles      int64    `json:"hash_tiles"`
	ProjectIndexes int64    `json:"project_indexes"`
	ProjectLists   int64    `json:"project_list_shards"`
	FilenameNotes  int64    `json:"filename_notes"`
	NotYetProvable int64    `json:"not_yet_provable"`
	Failures       []string `json:"failures"`
	Warnings       []string `json:"warnings"`
	Consistent     bool     `json:"consistent"`
	Error          string   `json:"error,omitempty"`
	ExitStatus     int      `json:"exit_status"`
}

func writeAuditJSON(w io.Writer, origin, location string, rep *client.AuditReport, err error) error {
	out := jsonAuditReport{
		SchemaVersion: jsonSchemaVersion, Origin: origin, URL: location, Size: rep.Checkpoint.N,
		RootHash: base64.StdEncoding.EncodeToString(rep.Checkpoint.Hash[:]),
		Entries:  rep.Entries, EntryBundles: rep.Bundles, HashTiles: rep.HashTiles, ProjectIndexes: rep.Indexes,
		ProjectLists: rep.ProjectLists, FilenameNotes: rep.FilenameNotes, NotYetProvable: rep.NotYetProvable,
		Failures: append([]string{}, rep.Problems...), Warnings: append([]string{}, rep.Warnings...),
		Consistent: err == nil, ExitStatus: exitStatus(err),
	}
	if err != nil {
		out.Error = err.Error()
	}
	return writeJSON(w, out)
}
