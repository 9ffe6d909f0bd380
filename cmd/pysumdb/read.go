package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/tiles"
)

// openLog opens the log at location, verified with the key vkeyArg (or
// the key file it names) and the witness policy of witnesses.
func openLog(c *cobra.Command, location, vkeyArg string, witnesses *witnessFlags) (*client.Log, error) {
	vkey, err := readVerifierKey(vkeyArg)
	if err != nil {
		return nil, err
	}
	policy, err := witnesses.policy(c)
	if err != nil {
		return nil, err
	}
	fetch, err := client.NewFetcher(location)
	if err != nil {
		return nil, usageError{err}
	}
	l, err := client.NewLog(fetch, vkey)
	if err != nil {
		return nil, err
	}
	if policy != nil {
		l.RequireWitnesses(policy)
	}
	return l, nil
}

// readFlags are the flags of lookup and publishers: one log, and the cache
// that keeps its last verified checkpoint.
type readFlags struct {
	location, vkey, cacheDir string
	witnesses                witnessFlags
}

func (f *readFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.location, "log", "", "the log: a directory or an http(s) URL")
	c.Flags().StringVar(&f.vkey, "vkey", "", "the log's verifier key, or a file holding it")
	c.Flags().StringVar(&f.cacheDir, "cache-dir", "", "where verified checkpoints and tiles are kept, shared with verify (default $"+client.CacheDirEnv+", or pysumdb in the user cache directory)")
	f.witnesses.register(c)
}

const readCacheHelp = `The last checkpoint verified of the log is kept in the cache directory, the
same as verify's: every later checkpoint must be proven consistent with it,
and one that is smaller or inconsistent (a rollback or a fork of the log) is
a SECURITY ERROR, exit 3, printed with both checkpoints and the proof. A
cached checkpoint that doesn't verify is an error (exit 2) naming the file:
deleting it makes the next run trust the log's checkpoint on first use.

` + witnessFlagsHelp

// lookupProject verifies the log's checkpoint, consistent with the one
// kept in the cache, and looks up a project's files (only filename, if not
// empty), for lookup and publishers. A rollback or a fork is printed with
// its evidence.
func lookupProject(c *cobra.Command, g *globals, f readFlags, projectArg, filename string) (*client.Log, tiles.Checkpoint, string, []client.LoggedFile, error) {
	if err := requireFlags(c, "log", "vkey"); err != nil {
		return nil, tiles.Checkpoint{}, "", nil, err
	}
	project, err := tiles.NormalizeProject(projectArg)
	if err != nil {
		return nil, tiles.Checkpoint{}, "", nil, usageError{err}
	}
	l, err := openLog(c, f.location, f.vkey, &f.witnesses)
	if err != nil {
		return nil, tiles.Checkpoint{}, "", nil, err
	}
	cache, err := openCache(f.cacheDir, g.logger())
	if err != nil {
		return nil, tiles.Checkpoint{}, "", nil, err
	}
	l.UseCache(cache)
	cp, err := l.VerifiedCheckpoint(c.Context())
	if err != nil {
		return l, cp, project, nil, checkpointError(g, f.location, err)
	}
	files, err := l.Lookup(c.Context(), cp.Tree, project, filename)
	return l, cp, project, files, err
}

// checkpointError prints the evidence of a rollback or a fork and returns
// the error of a checkpoint that couldn't be verified: a usage error if the
// cached checkpoint is unusable, or if the log at location is not the one
// the key is for.
func checkpointError(g *globals, location string, err error) error {
	var fork *client.ForkError
	var wrongOrigin *client.OriginError
	switch {
	case errors.As(err, &fork):
		writeSecurityErrors(g.stderr, []error{err})
	case errors.As(err, &wrongOrigin):
		return originUsageError(location, wrongOrigin)
	case errors.Is(err, client.ErrCorruptCache):
		return usageError{err}
	}
	return err
}

func newLookupCommand(g *globals) *cobra.Command {
	var f readFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "lookup --log DIR_OR_URL --vkey VKEY PROJECT [FILENAME] [--json]",
		Short: "Print the logged files of a project, each proven against the checkpoint",
		Long: `lookup prints the files the log holds for PROJECT (or only FILENAME): leaf
index, filename, sha256, size and upload time, each proven by an inclusion
proof against the verified checkpoint ("verified"). Files the project index
lists beyond the checkpoint's size are shown as "not yet provable". --json
prints them as JSON (its fields are described in the README, "JSON
output").

` + readCacheHelp + `

` + exitStatusHelp,
		Args: argsBetween(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			filename := ""
			if len(args) == 2 {
				filename = args[1]
			}
			l, cp, project, files, err := lookupProject(c, g, f, args[0], filename)
			if errors.Is(err, client.ErrNotInLog) {
				return fmt.Errorf("project %s is not in the log %s (size %d)", project, l.Origin(), cp.N)
			}
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("%s is not in the log %s (size %d)", filename, l.Origin(), cp.N)
			}
			if asJSON {
				return writeLookupJSON(g.stdout, l.Origin(), f.location, cp, project, filename, files)
			}
			fmt.Fprintf(g.stdout, "# %s, checkpoint size %d\n", l.Origin(), cp.N)
			for _, f := range files {
				fmt.Fprintf(g.stdout, "%d %s %s %d %s %s", f.Leaf, f.Filename, tiles.FormatSHA256(f.SHA256), f.Size, f.UploadTime, lookupStatus(f))
				if f.Publisher != nil {
					fmt.Fprintf(g.stdout, " publisher=%s:%s", f.Publisher.Kind, f.Publisher.SAN)
				}
				fmt.Fprintln(g.stdout)
			}
			return nil
		},
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print the files as JSON")
	return c
}

// lookupStatus names whether a logged file was proven, in the words of the
// text and the JSON.
func lookupStatus(f client.LoggedFile) string {
	if f.Proven {
		return "verified"
	}
	return "not yet provable"
}

type (
	jsonLookupReport struct {
		SchemaVersion int              `json:"schema_version"`
		Origin        string           `json:"origin"`
		URL           string           `json:"url"`
		Size          int64            `json:"size"`
		RootHash      string           `json:"root_hash"`
		Project       string           `json:"project"`
		Filename      string           `json:"filename,omitempty"`
		Files         []jsonLookupFile `json:"files"`
	}
	jsonLookupFile struct {
		Leaf       int64          `json:"leaf"`
		Filename   string         `json:"filename"`
		SHA256     string         `json:"sha256"`
		Size       int64          `json:"size"`
		UploadTime *string        `json:"upload_time"`
		Status     string         `json:"status"`
		Publisher  *jsonPublisher `json:"publisher,omitempty"`
	}
)

func writeLookupJSON(w io.Writer, origin, location string, cp tiles.Checkpoint, project, filename string, files []client.LoggedFile) error {
	out := jsonLookupReport{
		SchemaVersion: jsonSchemaVersion, Origin: origin, URL: location, Size: cp.N,
		RootHash: base64.StdEncoding.EncodeToString(cp.Hash[:]), Project: project, Filename: filename,
		Files: []jsonLookupFile{},
	}
	for _, f := range files {
		jf := jsonLookupFile{Leaf: f.Leaf, Filename: f.Filename, SHA256: hex.EncodeToString(f.SHA256[:]), Size: f.Size,
			Status: strings.ReplaceAll(lookupStatus(f), " ", "-"), Publisher: publisherJSON(f.Publisher)}
		if f.UploadTime != tiles.NoUploadTime {
			t := f.UploadTime
			jf.UploadTime = &t
		}
		out.Files = append(out.Files, jf)
	}
	return writeJSON(w, out)
}
