package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/tiles"
)

func openLog(location, vkeyArg string) (*client.Log, error) {
	vkey, err := readVerifierKey(vkeyArg)
	if err != nil {
		return nil, err
	}
	fetch, err := client.NewFetcher(location)
	if err != nil {
		return nil, usageError{err}
	}
	return client.NewLog(fetch, vkey)
}

// lookupProject verifies the log's checkpoint and looks up a project's
// files (only filename, if not empty), for lookup and publishers.
func lookupProject(c *cobra.Command, location, vkey, projectArg, filename string) (*client.Log, tiles.Checkpoint, string, []client.LoggedFile, error) {
	if err := requireFlags(c, "log", "vkey"); err != nil {
		return nil, tiles.Checkpoint{}, "", nil, err
	}
	project, err := tiles.NormalizeProject(projectArg)
	if err != nil {
		return nil, tiles.Checkpoint{}, "", nil, usageError{err}
	}
	l, err := openLog(location, vkey)
	if err != nil {
		return nil, tiles.Checkpoint{}, "", nil, err
	}
	cp, _, err := l.Checkpoint(c.Context())
	if err != nil {
		return l, cp, project, nil, err
	}
	files, err := l.Lookup(c.Context(), cp.Tree, project, filename)
	return l, cp, project, files, err
}

func newLookupCommand(g *globals) *cobra.Command {
	var location, vkey string
	c := &cobra.Command{
		Use:   "lookup --log DIR_OR_URL --vkey VKEY PROJECT [FILENAME]",
		Short: "Print the logged files of a project, each proven against the checkpoint",
		Long: `lookup prints the files the log holds for PROJECT (or only FILENAME): leaf
index, filename, sha256, size and upload time, each proven by an inclusion
proof against the verified checkpoint. Files the project index lists beyond
the checkpoint's size are shown as "not yet provable".

` + exitStatusHelp,
		Args: argsBetween(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			filename := ""
			if len(args) == 2 {
				filename = args[1]
			}
			l, cp, project, files, err := lookupProject(c, location, vkey, args[0], filename)
			if errors.Is(err, client.ErrNotFound) && !client.IsSecurityError(err) && cp.N > 0 {
				return fmt.Errorf("project %s is not in the log %s (size %d)", project, l.Origin(), cp.N)
			}
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("%s is not in the log %s (size %d)", filename, l.Origin(), cp.N)
			}
			fmt.Fprintf(g.stdout, "# %s, checkpoint size %d\n", l.Origin(), cp.N)
			for _, f := range files {
				status := "verified"
				if !f.Proven {
					status = "not yet provable"
				}
				fmt.Fprintf(g.stdout, "%d %s %s %d %s %s", f.Leaf, f.Filename, tiles.FormatSHA256(f.SHA256), f.Size, f.UploadTime, status)
				if f.Publisher != nil {
					fmt.Fprintf(g.stdout, " publisher=%s:%s", f.Publisher.Kind, f.Publisher.SAN)
				}
				fmt.Fprintln(g.stdout)
			}
			return nil
		},
	}
	c.Flags().StringVar(&location, "log", "", "the log: a directory or an http(s) URL")
	c.Flags().StringVar(&vkey, "vkey", "", "the log's verifier key, or a file holding it")
	return c
}
