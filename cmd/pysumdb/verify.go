package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// logFlags name the logs a client command verifies against, and its cache.
type logFlags struct {
	location, vkey, config, cacheDir string
	witnesses                        witnessFlags
	// noCache opens the logs without the cache (and registers no
	// --cache-dir): for a monitor, which keeps its own state and must not
	// copy a whole log's tiles into the user's cache.
	noCache bool
}

func (f *logFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.location, "log", "", "the log: an http(s) URL or a directory (with --vkey)")
	c.Flags().StringVar(&f.vkey, "vkey", "", "the log's verifier key, or a file holding it")
	c.Flags().StringVar(&f.config, "config", "", "a TOML file listing several logs and the quorum, and the witnesses (instead of --log, --vkey and --witness)")
	f.witnesses.register(c)
	if !f.noCache {
		c.Flags().StringVar(&f.cacheDir, "cache-dir", "", "where verified checkpoints and tiles are kept (default $"+client.CacheDirEnv+", or pysumdb in the user cache directory)")
	}
}

const logFlagsHelp = `The logs: --log and --vkey for one log, or --config FILE for several, a TOML
file such as

  quorum = 2           # how many logs must prove each hash
  witness_quorum = 1   # how many witnesses must cosign each checkpoint (default all)

  [[log]]
  url = "https://pysumdb.example.org/log/"    # or a directory
  vkey = "pysumdb.example.org/log+1a2b3c4d+AbC..."

  [[log]]
  url = "https://mirror.example.net/pysumdb/"
  vkey = "mirror.example.net/pysumdb+5e6f7a8b+DeF..."

  [[witness]]
  vkey = "witness.example.com+9a8b7c6d+BGh..."

A log that can't be reached leaves the decision to the others. The last
checkpoint verified of each log is kept in the cache directory (shared with
lookup and publishers): every later checkpoint must be proven consistent
with it, and one that is smaller or inconsistent (a rollback or a fork of
the log) is a SECURITY ERROR, exit 3, printed with both checkpoints and the
proof. Runs sharing the cache only ever move it forward. A cached checkpoint
that doesn't verify is an error (exit 2) naming the file: deleting it makes
the next run trust the log's checkpoint on first use. Tiles, once verified,
are kept there too, so a second run fetches only the checkpoint and the
project indexes.

` + witnessFlagsHelp

// openedLogs are the logs of a command, with what fetching them cost.
type openedLogs struct {
	verifier  *verify.Verifier
	locations []string
	fetchers  []*client.CountingFetcher
	logs      []*client.Log
}

// maxConfigSize bounds the logs configuration: a few lines a log.
const maxConfigSize = 1 << 20

// open reads the flags (or the configuration file) and opens the logs with
// the cache.
func (f *logFlags) open(c *cobra.Command, logger *slog.Logger) (*openedLogs, error) {
	var cfg verify.Config
	switch {
	case f.config != "" && (c.Flags().Changed("log") || c.Flags().Changed("vkey") || f.witnesses.changed(c)):
		return nil, usagef("%s takes --config or --log, --vkey and --witness, not both (list witnesses in the configuration as [[witness]] vkey = ...)", c.Name())
	case f.config != "":
		data, _, err := bounded.ReadFile(f.config, maxConfigSize)
		if err != nil {
			return nil, usagef("couldn't read the configuration: %v", err)
		}
		if cfg, err = verify.ParseConfig(data); err != nil {
			return nil, usagef("%s: %v", f.config, err)
		}
		for i, l := range cfg.Logs {
			if u, err := url.Parse(l.URL); (err != nil || u.Scheme == "") && !filepath.IsAbs(l.URL) {
				cfg.Logs[i].URL = filepath.Join(filepath.Dir(f.config), l.URL)
			}
		}
	default:
		if err := requireFlags(c, "log", "vkey"); err != nil {
			return nil, usagef("%s needs --log and --vkey, or --config (see '%s --help')", c.Name(), c.CommandPath())
		}
		vkey, err := readVerifierKey(f.vkey)
		if err != nil {
			return nil, err
		}
		cfg = verify.Config{Quorum: 1, Logs: []verify.LogConfig{{URL: f.location, VKey: vkey}}}
	}
	witnesses, err := cfg.WitnessPolicy()
	if err != nil {
		return nil, usagef("%s: %v", f.config, err)
	}
	if f.config == "" {
		if witnesses, err = f.witnesses.policy(c); err != nil {
			return nil, err
		}
	}
	var cache *client.Cache
	if !f.noCache {
		var err error
		if cache, err = openCache(f.cacheDir, logger); err != nil {
			return nil, err
		}
	}
	o := &openedLogs{verifier: &verify.Verifier{Quorum: cfg.Quorum, Logger: logger}}
	for _, lc := range cfg.Logs {
		fetch, err := client.NewFetcher(lc.URL)
		if err != nil {
			return nil, usageError{err}
		}
		counting := &client.CountingFetcher{Fetcher: fetch}
		l, err := client.NewLog(counting, lc.VKey)
		if err != nil {
			return nil, usageError{err}
		}
		if cache != nil {
			l.UseCache(cache)
		}
		if witnesses != nil {
			l.RequireWitnesses(witnesses)
		}
		o.verifier.Logs = append(o.verifier.Logs, l)
		o.locations = append(o.locations, lc.URL)
		o.fetchers = append(o.fetchers, counting)
		o.logs = append(o.logs, l)
	}
	return o, nil
}

// openCache opens the cache in dir, by default DefaultCacheDir.
func openCache(dir string, logger *slog.Logger) (*client.Cache, error) {
	if dir == "" {
		var err error
		if dir, err = client.DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	return client.OpenCache(dir, logger)
}

// stats returns a log's fetch counts.
func (o *openedLogs) stats(i int) logStats {
	requests, bytes := o.fetchers[i].Counts()
	return logStats{Requests: requests, Bytes: bytes, TilesFromCache: o.logs[i].TilesFromCache()}
}

// logStats is what reading one log cost.
type logStats struct {
	Requests       int64 `json:"requests"`
	Bytes          int64 `json:"bytes"`
	TilesFromCache int64 `json:"tiles_from_cache"`
}

func newVerifyCommand(g *globals) *cobra.Command {
	var lf logFlags
	var format string
	var strict, asJSON, requirePublisher bool
	c := &cobra.Command{
		Use:   "verify LOCKFILE (--log URL --vkey VKEY | --config FILE) [--strict] [--json]",
		Short: "Verify the hashes of a lockfile against one or more logs",
		Long: `verify checks every sha256 that LOCKFILE pins against the logs, from their
static files only: each artifact is found through the log's signed project
index, its entry proven by an inclusion proof against the verified
checkpoint, and classified:

  verified    the log proves the lockfile's hash (with several logs: at
              least the quorum of them do)
  MISMATCH    the log proves another hash: the same filename logged with
              another sha256; or, for lockfiles without filenames
              (Pipfile.lock, requirements), the hash logged under another
              version or another project of the lockfile, or a hash that is
              none of the logged files of the pinned release
  not in log  the log doesn't have the file (yet): a warning, a failure
              with --strict
  skipped     not a PyPI file (editable, path, git or URL sources, other
              indexes), or no sha256: the reason is printed

Publishers: each verified artifact's entry may record the PEP 740 publisher
(a GitHub or GitLab workflow, a Google account) that the log verified when
it logged the file; -v shows it. A pylock.toml package's
attestation-identities must name that publisher (PUBLISHER MISMATCH
otherwise, a failure), and --require-publisher fails verified artifacts
whose entry records none.

Each failure names the artifact, the lockfile's hash, the log's (or where it
was logged) and the leaf index; with -v, verified artifacts are listed too,
with their leaf; --json prints the whole report as JSON. The format comes from the file name
(uv.lock, pylock.toml, pylock.<name>.toml, poetry.lock, Pipfile.lock, any
other .txt is a requirements file) unless --format names it.

` + logFlagsHelp + `

Exit status: 0 everything verified or skipped (not-in-log artifacts are
warnings), 1 a verification failed (a mismatch, a publisher mismatch, too
few logs answered, or with --strict an artifact not in the log, logs that
disagree, or nothing verified), 2 usage error, unreadable lockfile or unusable cached checkpoint, 3 SECURITY ERROR: a log
misbehaves (bad signature, rollback, fork, an index or tile that contradicts
the checkpoint).`,
		Args: argsBetween(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			if format != "" && !knownFormat(format) {
				return usagef("--format %q: want one of pylock, uv, poetry, pipfile, requirements", format)
			}
			artifacts, err := lockfile.ParseFile(args[0], lockfile.Format(format))
			if err != nil {
				return usageError{err}
			}
			logger := g.logger()
			logs, err := lf.open(c, logger)
			if err != nil {
				return err
			}
			start := time.Now()
			rep, err := logs.verifier.Verify(c.Context(), artifacts)
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			rep.CheckPublishers(requirePublisher)
			if asJSON {
				err = writeVerifyJSON(g.stdout, args[0], rep, logs, elapsed)
			} else {
				writeVerifyText(g.stdout, g.verbose, args[0], rep, logs, elapsed)
			}
			if err != nil {
				return err
			}
			return verifyOutcome(g.stderr, rep.Failures(strict))
		},
	}
	lf.register(c)
	c.Flags().StringVar(&format, "format", "", "the lockfile format: pylock, uv, poetry, pipfile or requirements (default: from the file name)")
	c.Flags().BoolVar(&strict, "strict", false, "fail on artifacts not in the log, on logs that disagree, and when nothing is verified")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.Flags().BoolVar(&requirePublisher, "require-publisher", false, "fail on verified artifacts whose log entry records no verified PEP 740 publisher")
	return c
}

func knownFormat(f string) bool {
	switch lockfile.Format(f) {
	case lockfile.Pylock, lockfile.UV, lockfile.Poetry, lockfile.Pipfile, lockfile.Requirements:
		return true
	}
	return false
}

// statusLabels are how the text report names each status.
var statusLabels = map[verify.Status]string{
	verify.StatusVerified: "ok",
	verify.StatusMismatch: "MISMATCH",
	verify.StatusNotInLog: "NOT IN LOG",
	verify.StatusSkipped:  "SKIPPED",
	verify.StatusError:    "ERROR",
}

// disagreementLabel is the label of a result on which logs disagree.
func disagreementLabel(status verify.Status, label string) string {
	if status == verify.StatusVerified {
		return "DISAGREEMENT (verified)"
	}
	return label + " (logs disagree)"
}

// artifactName names an artifact: its filename, or project and version.
func artifactName(a lockfile.Artifact) string {
	switch {
	case a.Filename != "":
		return fmt.Sprintf("%s (%s %s)", a.Filename, a.Project, a.Version)
	case a.Project == "":
		return "requirement"
	case a.Version == "":
		return a.Project
	}
	return a.Project + " " + a.Version
}

func location(a lockfile.Artifact) string {
	if a.Line > 0 {
		return fmt.Sprintf("%s:%d", a.File, a.Line)
	}
	return a.File
}

// writeLogLines writes what each log says of a result.
func writeLogLines(w io.Writer, rep *verify.Report, res verify.Result) {
	for i, lr := range res.Logs {
		text := lr.Detail
		if lr.Err != nil && rep.Logs[i].Err == nil {
			text += ": " + lr.Err.Error()
		} else if lr.Err != nil {
			text = "unusable: " + lr.Err.Error()
		}
		fmt.Fprintf(w, "    %s: %s\n", rep.Logs[i].Origin, text)
	}
}

// onlyUnusableLogs reports whether the logs that couldn't answer for an
// artifact are logs that couldn't be used at all (said once, not per
// artifact).
func onlyUnusableLogs(rep *verify.Report, res verify.Result) bool {
	for i, lr := range res.Logs {
		if lr.Status == verify.StatusError && rep.Logs[i].Err == nil {
			return false
		}
	}
	return true
}

func writeVerifyText(w io.Writer, verbose bool, lockfileName string, rep *verify.Report, logs *openedLogs, elapsed time.Duration) {
	warnings := map[string]int{}
	var warningOrder []string
	unusable := 0
	for _, res := range rep.Results {
		a := res.Artifact
		if a.Warning != "" {
			if warnings[a.Warning] == 0 {
				warningOrder = append(warningOrder, a.Warning)
			}
			warnings[a.Warning]++
		}
		label := statusLabels[res.Status]
		switch {
		case res.Status == verify.StatusError && onlyUnusableLogs(rep, res):
			unusable++
			continue
		case res.Status == verify.StatusSkipped:
			fmt.Fprintf(w, "%s %s at %s: %s\n", label, artifactName(a), location(a), a.Skip)
			continue
		case res.Disagreement:
			label = disagreementLabel(res.Status, label)
		case res.PublisherProblem != "":
			fmt.Fprintf(w, "PUBLISHER MISMATCH %s at %s: %s\n", artifactName(a), location(a), res.PublisherProblem)
		case res.Status == verify.StatusVerified && !verbose:
			continue
		}
		fmt.Fprintf(w, "%s %s at %s: lockfile sha256:%s", label, artifactName(a), location(a), a.SHA256)
		if p := res.Publisher(); p != nil {
			fmt.Fprintf(w, " publisher %s %s", p.Kind, p.SAN)
		}
		fmt.Fprintln(w)
		writeLogLines(w, rep, res)
	}
	if unusable > 0 {
		fmt.Fprintf(w, "ERROR %d artifacts: too few usable logs to reach the quorum\n", unusable)
	}
	for _, warning := range warningOrder {
		fmt.Fprintf(w, "note: %d artifacts: %s\n", warnings[warning], warning)
	}
	for i, ls := range rep.Logs {
		st := logs.stats(i)
		state := fmt.Sprintf("checkpoint size %d", ls.Checkpoint.N)
		if ls.Err != nil {
			state = "UNUSABLE: " + ls.Err.Error()
		}
		fmt.Fprintf(w, "log %s (%s): %s; %d requests, %d bytes, %d tiles from cache\n",
			ls.Origin, logs.locations[i], state, st.Requests, st.Bytes, st.TilesFromCache)
	}
	fmt.Fprintf(w, "%s: %d verified, %d mismatch, %d not in log, %d skipped, %d errors (%d artifacts; quorum %d of %d logs; %s)\n",
		lockfileName, rep.Count(verify.StatusVerified), rep.Count(verify.StatusMismatch), rep.Count(verify.StatusNotInLog),
		rep.Count(verify.StatusSkipped), rep.Count(verify.StatusError), len(rep.Results), rep.Quorum, len(rep.Logs),
		elapsed.Round(time.Millisecond))
}

// The JSON report.
type (
	jsonVerifyReport struct {
		Lockfile  string         `json:"lockfile"`
		Quorum    int            `json:"quorum"`
		Logs      []jsonLog      `json:"logs"`
		Artifacts []jsonArtifact `json:"artifacts"`
		Counts    map[string]int `json:"counts"`
		Security  []string       `json:"security_errors"`
		Seconds   float64        `json:"seconds"`
	}
	jsonLog struct {
		Origin   string   `json:"origin"`
		URL      string   `json:"url"`
		Size     int64    `json:"size"`
		RootHash string   `json:"root_hash,omitempty"`
		Error    string   `json:"error,omitempty"`
		Stats    logStats `json:"stats"`
	}
	jsonArtifact struct {
		Project      string           `json:"project"`
		Version      string           `json:"version"`
		Filename     string           `json:"filename,omitempty"`
		SHA256       string           `json:"sha256"`
		File         string           `json:"file"`
		Line         int              `json:"line"`
		Status       verify.Status    `json:"status"`
		Skip         string           `json:"skip,omitempty"`
		Warning      string           `json:"warning,omitempty"`
		Disagreement bool             `json:"disagreement"`
		Publisher    *tiles.Publisher `json:"publisher,omitempty"`
		// PublisherProblem says why the publisher is not acceptable.
		PublisherProblem string          `json:"publisher_problem,omitempty"`
		Logs             []jsonLogResult `json:"logs,omitempty"`
	}
	jsonLogResult struct {
		Origin   string        `json:"origin"`
		Status   verify.Status `json:"status"`
		Leaf     *int64        `json:"leaf,omitempty"`
		Project  string        `json:"logged_project,omitempty"`
		Filename string        `json:"logged_filename,omitempty"`
		SHA256   string        `json:"logged_sha256,omitempty"`
		Size     *int64        `json:"logged_size,omitempty"`
		Detail   string        `json:"detail"`
		Error    string        `json:"error,omitempty"`
	}
)

func jsonLogs(rep *verify.Report, logs *openedLogs) []jsonLog {
	out := make([]jsonLog, len(rep.Logs))
	for i, ls := range rep.Logs {
		out[i] = jsonLog{Origin: ls.Origin, URL: logs.locations[i], Size: ls.Checkpoint.N, Stats: logs.stats(i)}
		if ls.Err != nil {
			out[i].Error = ls.Err.Error()
		} else {
			out[i].RootHash = base64.StdEncoding.EncodeToString(ls.Checkpoint.Hash[:])
		}
	}
	return out
}

func jsonArtifacts(rep *verify.Report) []jsonArtifact {
	out := make([]jsonArtifact, len(rep.Results))
	for j, res := range rep.Results {
		a := res.Artifact
		ja := jsonArtifact{
			Project: a.Project, Version: a.Version, Filename: a.Filename, SHA256: a.SHA256, File: a.File, Line: a.Line,
			Status: res.Status, Skip: a.Skip, Warning: a.Warning, Disagreement: res.Disagreement,
			Publisher: res.Publisher(), PublisherProblem: res.PublisherProblem,
		}
		for i, lr := range res.Logs {
			jr := jsonLogResult{Origin: rep.Logs[i].Origin, Status: lr.Status, Detail: lr.Detail}
			if lr.Leaf >= 0 {
				jr.Leaf, jr.Size = &lr.Leaf, &lr.Size
				jr.Project, jr.Filename, jr.SHA256 = lr.Project, lr.Filename, hex.EncodeToString(lr.SHA256[:])
			}
			if lr.Err != nil {
				jr.Error = lr.Err.Error()
			}
			ja.Logs = append(ja.Logs, jr)
		}
		out[j] = ja
	}
	return out
}

func jsonCounts(rep *verify.Report) map[string]int {
	counts := map[string]int{"disagreement": rep.Disagreements()}
	for _, s := range []verify.Status{verify.StatusVerified, verify.StatusMismatch, verify.StatusNotInLog, verify.StatusSkipped, verify.StatusError} {
		counts[string(s)] = rep.Count(s)
	}
	return counts
}

func jsonSecurityErrors(rep *verify.Report) []string {
	out := []string{}
	for _, err := range rep.SecurityErrors() {
		out = append(out, err.Error())
	}
	return out
}

func writeVerifyJSON(w io.Writer, lockfileName string, rep *verify.Report, logs *openedLogs, elapsed time.Duration) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonVerifyReport{
		Lockfile: lockfileName, Quorum: rep.Quorum,
		Logs: jsonLogs(rep, logs), Artifacts: jsonArtifacts(rep), Counts: jsonCounts(rep),
		Security: jsonSecurityErrors(rep), Seconds: elapsed.Seconds(),
	})
}

// verifyOutcome reports the failures of a verification or comparison:
// the security errors with their evidence, an alarm, warnings of unusable
// logs; and returns the error that gives the exit status.
func verifyOutcome(stderr io.Writer, f verify.Failures) error {
	err := f.Err()
	switch {
	case len(f.Security) > 0:
		writeSecurityErrors(stderr, f.Security)
		return fmt.Errorf("%w (see above)", err)
	case f.Alarms > 0:
		fmt.Fprintf(stderr, "pysumdb: %v\n", err)
		return errAlarm
	case f.CorruptCache != nil:
		// A local file the user must repair: an input error.
		return usageError{err}
	}
	for _, ls := range f.Unusable {
		fmt.Fprintf(stderr, "pysumdb: WARNING: log %s unusable: %v\n", ls.Origin, ls.Err)
	}
	return err
}

// writeSecurityErrors prints each misbehaviour of a log with its evidence,
// as Go's "server misbehavior detected" does.
func writeSecurityErrors(w io.Writer, errs []error) {
	for _, err := range errs {
		fmt.Fprintln(w, "SECURITY ERROR")
		var fork *client.ForkError
		if !errors.As(err, &fork) {
			fmt.Fprintf(w, "%v\n\n", err)
			continue
		}
		fmt.Fprintf(w, "log misbehaviour detected: %v\n\n", fork)
		fmt.Fprintf(w, "checkpoint verified before (size %d, kept in %s):\n%s", fork.OldTree.N, fork.OldPath, indent(fork.Old))
		fmt.Fprintf(w, "checkpoint served now (size %d):\n%s", fork.NewTree.N, indent(fork.New))
		if len(fork.Proof) > 0 {
			fmt.Fprintf(w, "proof of misbehaviour (consistency proof from size %d to size %d, from the log's tiles):\n",
				min(fork.OldTree.N, fork.NewTree.N), max(fork.OldTree.N, fork.NewTree.N))
			for _, h := range fork.Proof {
				fmt.Fprintf(w, "\t%s\n", h)
			}
		}
		fmt.Fprintln(w)
	}
}

// indent prefixes every line of text with a tab.
func indent(text []byte) string {
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	return "\t" + strings.Join(lines, "\n\t") + "\n"
}
