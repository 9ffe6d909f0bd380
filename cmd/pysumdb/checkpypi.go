package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

func newCheckPyPICommand(g *globals) *cobra.Command {
	var lf logFlags
	var pypiURL string
	var strict, asJSON bool
	c := &cobra.Command{
		Use:   "check-pypi PROJECT[==VERSION] [--log URL --vkey VKEY | --config FILE] [--pypi URL]",
		Short: "Compare the files PyPI serves for a project with the logs",
		Long: `check-pypi asks PyPI for the current files of PROJECT (of VERSION only, if
given) with their sha256 and size, and the logs for theirs, and reports every
difference: the check to run after a release.

  verified     the logs prove the hash PyPI serves (at least the quorum)
  ALARM        PyPI serves a logged file with another sha256, or with another
               size than the log's index states
  NOT IN LOG   a file PyPI serves that the logs don't have (yet): a
               warning, a failure with --strict
  NOT ON PYPI  a logged file that PyPI no longer serves (deleted, which PyPI
               allows)

--pypi takes the index's base URL or its Simple API's, as pip users write it
(https://pypi.org and https://pypi.org/simple/ are the same). --json prints
the report as JSON (its fields are described in the README, "JSON output").
A private project (see below) is refused (exit 2): neither PyPI nor a log
is asked about it.

` + logFlagsHelp + `

Exit status: 0 no alarm (files not yet logged and files deleted from PyPI
are reported, not failures), 1 PyPI or the logs couldn't be read (or, with
--strict, a file is not in the log), 2 usage error (a --vkey for another log
than --log's among them), 3 ALARM or SECURITY ERROR.`,
		Args: argsBetween(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			if off, err := verificationOff(g); off || err != nil {
				return err
			}
			name, version, _ := strings.Cut(args[0], "==")
			project, err := tiles.NormalizeProject(name)
			if err != nil {
				return usageError{err}
			}
			logger := g.logger()
			logs, err := lf.open(c, logger)
			if err != nil {
				return err
			}
			if x, private := logs.verifier.Exclude.Match(project); private {
				return usagef("%s is %s: check-pypi asks neither PyPI nor a log about it (remove it from the exclusions to check it)", project, x.Reason())
			}
			pc, err := pypi.NewClient(pypi.Config{BaseURL: pypiURL, Logger: logger})
			if err != nil {
				return usagef("--pypi: %v", err)
			}
			index := pc.BaseURL()
			start := time.Now()
			page, err := pc.Project(c.Context(), project)
			if errors.Is(err, pypi.ErrNotFound) {
				return fmt.Errorf("project %s is not on %s", project, index)
			}
			var urlErr *url.Error
			switch {
			case errors.As(err, &urlErr):
				// Say the address once, not as each layer does.
				return fmt.Errorf("couldn't read project %s from %s: %w", project, urlErr.URL, urlErr.Err)
			case err != nil:
				return fmt.Errorf("couldn't read project %s from %s: %w", project, index, err)
			}
			published := make([]verify.PublishedFile, len(page.Files))
			for i, f := range page.Files {
				published[i] = verify.PublishedFile{Filename: f.Filename, SHA256: f.SHA256, Size: f.Size}
			}
			cmp, err := logs.verifier.ComparePublished(c.Context(), project, version, published)
			if err != nil {
				return err
			}
			f := cmp.Failures(strict)
			if len(f.Security) == 0 && f.WrongOrigin != nil {
				return logs.wrongOrigin(cmp.Logs)
			}
			what := project
			if version != "" {
				what += " " + version
			}
			if len(cmp.Results) == 0 && len(cmp.Unpublished) == 0 && len(cmp.SecurityErrors()) == 0 {
				return fmt.Errorf("no file of %s on %s nor in the logs", what, index)
			}
			if asJSON {
				err = writeCheckPyPIJSON(g.stdout, project, version, index, cmp, logs, f, time.Since(start))
			} else {
				writeCheckPyPIText(g.stdout, g.quiet, what, index, cmp, logs, strict, time.Now())
			}
			if err != nil {
				return err
			}
			return verifyOutcome(g.stderr, f)
		},
	}
	lf.register(c)
	c.Flags().StringVar(&pypiURL, "pypi", pypi.DefaultBaseURL, "the package index: its base URL, or its Simple API's (https://pypi.org/simple/)")
	c.Flags().BoolVar(&strict, "strict", false, "fail on files PyPI serves that are not in the logs")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

// checkPyPIStatus names a status as check-pypi's text does: a file PyPI
// serves with other bytes than logged is an alarm.
func checkPyPIStatus(s verify.Status) verify.Status {
	if s == verify.StatusMismatch {
		return "alarm"
	}
	return s
}

func writeCheckPyPIText(w io.Writer, quiet bool, what, index string, cmp *verify.Comparison, logs *openedLogs, strict bool, now time.Time) {
	for _, res := range cmp.Results {
		a := res.Artifact
		label := statusLabels[res.Status]
		if res.Status == verify.StatusMismatch {
			label = "ALARM"
		}
		failure := res.Status == verify.StatusMismatch || res.Status == verify.StatusError || strict && (res.Status == verify.StatusNotInLog || res.Disagreement)
		if quiet && !failure {
			continue
		}
		if res.Disagreement {
			label = disagreementLabel(res.Status, label)
		}
		fmt.Fprintf(w, "%s %s: PyPI serves sha256:%s\n", label, a.Filename, a.SHA256)
		writeLogLines(w, cmp.Report, res)
	}
	for _, d := range cmp.SizeDiffers {
		fmt.Fprintf(w, "ALARM %s: PyPI says size %d; %s: the index says size %d (leaf %d)\n", d.Filename, d.Published, d.Origin, d.Logged, d.Leaf)
	}
	for _, err := range cmp.IndexErrors {
		fmt.Fprintf(w, "ERROR %v\n", err)
	}
	for _, u := range cmp.Unpublished {
		if u.Err != nil {
			fmt.Fprintf(w, "ERROR %s: listed by %s at leaf %d: %v\n", u.Line.Filename, u.Origin, u.Line.Leaf, u.Err)
			continue
		}
		if !quiet {
			fmt.Fprintf(w, "NOT ON PYPI %s: %s holds it with %s at leaf %d (deleted from PyPI)\n", u.Line.Filename, u.Origin, tiles.FormatSHA256(u.Line.SHA256), u.Line.Leaf)
		}
	}
	if !quiet {
		if n := cmp.Count(verify.StatusNotInLog); n > 0 {
			verdict := "a warning; --strict makes it a failure"
			if strict {
				verdict = "a failure with --strict"
			}
			fmt.Fprintf(w, "note: %d %s PyPI serves %s not in the log (%s).\n", n, plural(n, "file", "files"), plural(n, "is", "are"), verdict)
			fmt.Fprintln(w, "  Why: the log may be behind PyPI: files uploaded after the log's last batch are not in it yet.")
			for _, fr := range cmp.Freshness() {
				fmt.Fprintf(w, "  %s\n", freshnessText(fr, now))
			}
			fmt.Fprintln(w, "  What to do: check again once the log has caught up.")
		}
		for i, ls := range cmp.Logs {
			st := logs.stats(i)
			state := fmt.Sprintf("checkpoint size %d", ls.Checkpoint.N)
			if ls.Err != nil {
				state = "UNUSABLE: " + ls.Err.Error()
			}
			fmt.Fprintf(w, "log %s (%s): %s; %d requests, %d bytes\n", ls.Origin, logs.locations[i], state, st.Requests, st.Bytes)
		}
	}
	fmt.Fprintf(w, "%s on %s: %d files, %d verified, %d alarms, %d not in log, %d errors; %d size differences; %d logged files not on PyPI (quorum %d of %d logs)\n",
		what, index, len(cmp.Results), cmp.Count(verify.StatusVerified), cmp.Count(verify.StatusMismatch),
		cmp.Count(verify.StatusNotInLog), cmp.Count(verify.StatusError), len(cmp.SizeDiffers), len(cmp.Unpublished), cmp.Quorum, len(cmp.Logs))
}

type (
	jsonCheckPyPIReport struct {
		SchemaVersion int               `json:"schema_version"`
		Project       string            `json:"project"`
		Version       string            `json:"version,omitempty"`
		PyPI          string            `json:"pypi"`
		Quorum        int               `json:"quorum"`
		Logs          []jsonLog         `json:"logs"`
		Files         []jsonArtifact    `json:"files"`
		SizeDiffers   []jsonSizeDiffers `json:"size_differs"`
		Unpublished   []jsonUnpublished `json:"not_on_pypi"`
		IndexErrors   []string          `json:"index_errors"`
		Counts        map[string]int    `json:"counts"`
		Security      []string          `json:"security_errors"`
		Failures      []string          `json:"failures"`
		ExitStatus    int               `json:"exit_status"`
		Seconds       float64           `json:"seconds"`
	}
	jsonSizeDiffers struct {
		Origin    string `json:"origin"`
		Filename  string `json:"filename"`
		Leaf      int64  `json:"leaf"`
		Logged    int64  `json:"logged_size"`
		Published int64  `json:"pypi_size"`
	}
	jsonUnpublished struct {
		Origin   string `json:"origin"`
		Filename string `json:"filename"`
		Leaf     int64  `json:"leaf"`
		SHA256   string `json:"sha256"`
		Error    string `json:"error,omitempty"`
	}
)

func writeCheckPyPIJSON(w io.Writer, project, version, index string, cmp *verify.Comparison, logs *openedLogs, f verify.Failures, elapsed time.Duration) error {
	out := jsonCheckPyPIReport{
		SchemaVersion: jsonSchemaVersion, Project: project, Version: version, PyPI: index, Quorum: cmp.Quorum,
		Logs: jsonLogs(cmp.Report, logs), Files: jsonArtifacts(cmp.Report, checkPyPIStatus),
		SizeDiffers: []jsonSizeDiffers{}, Unpublished: []jsonUnpublished{}, IndexErrors: []string{},
		Counts: jsonCounts(cmp.Results, checkPyPIStatus), Security: jsonSecurityErrors(cmp.Report),
		Failures: jsonFailures(f), Seconds: elapsed.Seconds(),
	}
	out.ExitStatus = failureStatus(f)
	for _, d := range cmp.SizeDiffers {
		out.SizeDiffers = append(out.SizeDiffers, jsonSizeDiffers(d))
	}
	for _, u := range cmp.Unpublished {
		ju := jsonUnpublished{Origin: u.Origin, Filename: u.Line.Filename, Leaf: u.Line.Leaf, SHA256: hex.EncodeToString(u.Line.SHA256[:])}
		if u.Err != nil {
			ju.Error = u.Err.Error()
		}
		out.Unpublished = append(out.Unpublished, ju)
	}
	for _, err := range cmp.IndexErrors {
		out.IndexErrors = append(out.IndexErrors, err.Error())
	}
	return writeJSON(w, out)
}
