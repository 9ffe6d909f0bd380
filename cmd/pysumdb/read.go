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

// oneLogHelp says which log lookup and publishers read.
const oneLogHelp = `They read one log, configured as for verify (below): what that log says,
not what a quorum of logs agrees on. With several logs configured, the
first is read, and a note on standard error says which; give --log and
--vkey to read another. Asking the logs in turn would print answers a
quorum never weighed, as if they were verified together.

The last checkpoint verified of the log is kept in the cache directory, the
same as verify's: every later checkpoint must be proven consistent with it,
and one that is smaller or inconsistent (a rollback or a fork of the log) is
a SECURITY ERROR, exit 3, printed with both checkpoints and the proof. A
cached checkpoint that doesn't verify is an error (exit 2) naming the file:
deleting it makes the next run trust the log's checkpoint on first use.

` + witnessFlagsHelp + `

` + configHelp

// lookupProject verifies the checkpoint of the first log configured,
// consistent with the one kept in the cache, and looks up a project's
// files (only filename, if not empty), for lookup and publishers. A
// rollback or a fork is printed with its evidence. A private project is a
// usage error: looking it up would name it to the log.
func lookupProject(c *cobra.Command, g *globals, f *logFlags, projectArg, filename string) (*client.Log, string, tiles.Checkpoint, string, []client.LoggedFile, error) {
	project, err := tiles.NormalizeProject(projectArg)
	if err != nil {
		return nil, "", tiles.Checkpoint{}, "", nil, usageError{err}
	}
	logs, err := f.open(c, g.logger())
	if err != nil {
		return nil, "", tiles.Checkpoint{}, "", nil, err
	}
	if x, private := logs.verifier.Exclude.Match(project); private {
		return nil, "", tiles.Checkpoint{}, "", nil, usagef("%s is %s: %s asks no log about it (remove it from the exclusions to look it up)", project, x.Reason(), c.Name())
	}
	l, location := logs.logs[0], logs.locations[0]
	if len(logs.logs) > 1 && !g.quiet {
		fmt.Fprintf(g.stderr, "pysumdb: note: %s reads one log: the first of the %d configured (from %s), %s at %s\n", c.Name(), len(logs.logs), logs.from.name, l.Origin(), location)
	}
	cp, err := l.VerifiedCheckpoint(c.Context())
	if err != nil {
		return l, location, cp, project, nil, logs.checkpointError(g, err)
	}
	files, err := l.Lookup(c.Context(), cp.Tree, project, filename)
	return l, location, cp, project, files, err
}

// checkpointError prints the evidence of a rollback or a fork and returns
// the error of the first log's checkpoint that couldn't be verified: a
// usage error if the cached checkpoint is unusable, or if the log is not
// the one its key is for.
func (o *openedLogs) checkpointError(g *globals, err error) error {
	var fork *client.ForkError
	var wrongOrigin *client.OriginError
	switch {
	case errors.As(err, &fork):
		writeSecurityErrors(g.stderr, []error{err})
	case errors.As(err, &wrongOrigin):
		return o.originError(0, wrongOrigin)
	case errors.Is(err, client.ErrCorruptCache):
		return usageError{err}
	}
	return err
}

func newLookupCommand(g *globals) *cobra.Command {
	var f logFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "lookup [--log DIR_OR_URL --vkey VKEY | --config FILE] PROJECT [FILENAME] [--json]",
		Short: "Print the logged files of a project, each proven against the checkpoint",
		Long: `lookup prints the files the log holds for PROJECT (or only FILENAME): leaf
index, filename, sha256, size and upload time, each proven by an inclusion
proof against the verified checkpoint ("verified"). Files the project index
lists beyond the checkpoint's size are shown as "not yet provable". A file's
verified PEP 740 publisher, if its entry records one, is shown as
publisher=KIND:SAN; its claimant, if the index line records one (the
maintainers claimed these bytes with pysumdb claim before the log found the
file on PyPI), as claimed=KIND:VALUE (KIND key, github or gitlab). --json
prints them as JSON (its fields are described in the README, "JSON
output").

` + oneLogHelp + `

` + exitStatusHelp,
		Args: argsBetween(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			filename := ""
			if len(args) == 2 {
				filename = args[1]
			}
			l, location, cp, project, files, err := lookupProject(c, g, &f, args[0], filename)
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
				return writeLookupJSON(g.stdout, l.Origin(), location, cp, project, filename, files)
			}
			fmt.Fprintf(g.stdout, "# %s, checkpoint size %d\n", l.Origin(), cp.N)
			for _, f := range files {
				fmt.Fprintf(g.stdout, "%d %s %s %d %s %s", f.Leaf, f.Filename, tiles.FormatSHA256(f.SHA256), f.Size, f.UploadTime, lookupStatus(f))
				if f.Publisher != nil {
					fmt.Fprintf(g.stdout, " publisher=%s:%s", f.Publisher.Kind, f.Publisher.SAN)
				}
				if f.Claimant != nil {
					fmt.Fprintf(g.stdout, " claimed=%s:%s", f.Claimant.Kind, f.Claimant.Value)
				}
				fmt.Fprintln(g.stdout)
				if g.verbose && f.Proven {
					fmt.Fprintf(g.stdout, "#   tlog-proof: %s\n", proofLocation(location, f.Leaf, cp.N))
				}
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
		Claimant   *jsonClaimant  `json:"claimant,omitempty"`
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
			Status: strings.ReplaceAll(lookupStatus(f), " ", "-"), Publisher: publisherJSON(f.Publisher), Claimant: claimantJSON(f.Claimant)}
		if f.UploadTime != tiles.NoUploadTime {
			t := f.UploadTime
			jf.UploadTime = &t
		}
		out.Files = append(out.Files, jf)
	}
	return writeJSON(w, out)
}
