package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/lockfile"
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
	// config is the configuration file the logs come from, "" for --log
	// and --vkey.
	config string
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
	o := &openedLogs{verifier: &verify.Verifier{Quorum: cfg.Quorum, Logger: logger}, config: f.config}
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

// wrongOrigin returns the usage error of the first log whose checkpoint
// names another origin than its key, nil if none does: a wrong --vkey (or
// --log), or a wrong entry of the configuration, not a misbehaving log.
func (o *openedLogs) wrongOrigin(statuses []verify.LogStatus) error {
	for i, ls := range statuses {
		var e *client.OriginError
		if !errors.As(ls.Err, &e) {
			continue
		}
		if o.config != "" {
			return usagef("%s: log %d (%s) serves the checkpoints of origin %s, but its vkey is the key of origin %s: fix its url or its vkey",
				o.config, i+1, o.locations[i], e.Served, e.Origin)
		}
		return originUsageError(o.locations[i], e)
	}
	return nil
}

// originUsageError is the usage error of a --vkey whose origin is not that
// of the log at --log.
func originUsageError(location string, e *client.OriginError) error {
	return usagef("the log at %s serves the checkpoints of origin %s, but --vkey is the key of origin %s: give the key of that log, or the --log of that key",
		location, e.Served, e.Origin)
}

func newVerifyCommand(g *globals) *cobra.Command {
	var lf logFlags
	var format string
	var strict, asJSON, requirePublisher bool
	c := &cobra.Command{
		Use:   "verify [LOCKFILE...] (--log URL --vkey VKEY | --config FILE) [--strict] [--json]",
		Short: "Verify the hashes of lockfiles against one or more logs",
		Long: `verify checks every sha256 that each LOCKFILE pins against the logs, from
their static files only: each artifact is found through the log's signed
project index, its entry proven by an inclusion proof against the verified
checkpoint, and classified:

  verified    the log proves the lockfile's hash (with several logs: at
              least the quorum of them do)
  MISMATCH    the log proves another hash: the same filename logged with
              another sha256; or, for lockfiles without filenames
              (Pipfile.lock, requirements), the hash logged under another
              version or another project of the lockfile, or a hash that is
              none of the logged files of the pinned release
  NOT IN LOG  the log doesn't have the file (yet): a warning, a failure
              with --strict; summarized in one line a project, with how
              recent the log is and what to do
  SKIPPED     not a PyPI file (editable, path, git or URL sources, other
              indexes), or no sha256: the reason is printed

Several lockfiles are verified in one run, against the same checkpoints,
with a summary line each and a total. Without LOCKFILE, verify takes the
lockfiles in the current directory:
  ` + lockfilePatterns + `
and says which it found; none is exit 2. A requirements file another found
one includes (-r) is verified through it, once.

The format comes from the file name (uv.lock, pylock.toml,
pylock.<name>.toml, poetry.lock, Pipfile.lock, any .txt is a requirements
file), or else from the content (poetry.lock-v1.1-2021 is read as a
poetry.lock), unless --format names it (for every LOCKFILE).

Publishers: each verified artifact's entry may record the PEP 740 publisher
(a GitHub or GitLab workflow, a Google account) that the log verified when
it logged the file; -v shows it. A pylock.toml package's
attestation-identities must name that publisher (PUBLISHER MISMATCH
otherwise, a failure), and --require-publisher fails verified artifacts
whose entry records none.

Each failure names the artifact, the lockfile's hash, the log's (or where it
was logged) and the leaf index; with -v, verified artifacts are listed too,
with their leaf, and each artifact not in the log; with -q, only the
failures and the summary. --json prints the whole report as JSON (its
fields are described in the README, "JSON output").

` + logFlagsHelp + `

Exit status: 0 everything verified or skipped (not-in-log artifacts are
warnings), 1 a verification failed (a mismatch, a publisher mismatch, too
few logs answered, or with --strict an artifact not in the log, logs that
disagree, or nothing verified), 2 usage error, unreadable lockfile, no
lockfile found, a --vkey for another log than --log's (the origins differ),
or an unusable cached checkpoint, 3 SECURITY ERROR: a log misbehaves (bad
signature, rollback, fork, an index or tile that contradicts the
checkpoint).`,
		RunE: func(c *cobra.Command, args []string) error {
			if format != "" && !knownFormat(format) {
				return usagef("--format %q: want one of pylock, uv, poetry, pipfile, requirements", format)
			}
			run := &verifyRun{strict: strict, verbose: g.verbose, quiet: g.quiet}
			if err := run.readLockfiles(args, lockfile.Format(format)); err != nil {
				return err
			}
			logger := g.logger()
			logs, err := lf.open(c, logger)
			if err != nil {
				return err
			}
			run.logs = logs
			start := time.Now()
			rep, err := logs.verifier.Verify(c.Context(), run.artifacts)
			if err != nil {
				return err
			}
			run.elapsed, run.now = time.Since(start), time.Now()
			rep.CheckPublishers(requirePublisher)
			run.rep = rep
			f := rep.Failures(strict)
			if len(f.Security) == 0 && f.WrongOrigin != nil {
				// The key or the location is wrong: no report on the
				// artifacts, which that log couldn't judge.
				return logs.wrongOrigin(rep.Logs)
			}
			if asJSON {
				err = run.writeJSON(g.stdout, f, failureStatus(f))
			} else {
				run.writeText(g.stdout)
			}
			if err != nil {
				return err
			}
			return verifyOutcome(g.stderr, f)
		},
	}
	lf.register(c)
	c.Flags().StringVar(&format, "format", "", "the lockfiles' format: pylock, uv, poetry, pipfile or requirements (default: from the file name, or else the content)")
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

// lockfilePatterns are the names verify looks for without an argument.
const lockfilePatterns = "pylock.toml, pylock.*.toml, uv.lock, poetry.lock, Pipfile.lock, requirements*.txt"

// findLockfiles returns the lockfiles in dir, by name (see
// lockfilePatterns), sorted: regular files, or symbolic links to one.
func findLockfiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, usagef("no lockfile given, and couldn't list the current directory: %v", err)
	}
	var found []string
	for _, e := range entries {
		name := e.Name()
		format, err := lockfile.DetectFormat(name)
		if err != nil || format == lockfile.Requirements && !strings.HasPrefix(strings.ToLower(name), "requirements") {
			continue
		}
		if info, err := os.Stat(filepath.Join(dir, name)); err != nil || !info.Mode().IsRegular() {
			continue
		}
		found = append(found, filepath.Join(dir, name))
	}
	return found, nil
}

// readLockfile is one lockfile of a run, read.
type readLockfile struct {
	path   string
	format lockfile.Format
	from   lockfile.FormatSource
	// start and end delimit its artifacts in verifyRun.artifacts.
	start, end int
}

// verifyRun is one run of verify: its lockfiles, their artifacts, and the
// report.
type verifyRun struct {
	strict, verbose, quiet bool

	lockfiles []readLockfile
	// found is set when the lockfiles were found in the current
	// directory (no argument); included names those found that another
	// includes, each with the one that does.
	found    bool
	included [][2]string

	artifacts []lockfile.Artifact
	logs      *openedLogs
	rep       *verify.Report
	elapsed   time.Duration
	now       time.Time
}

// readLockfiles reads the lockfiles named, or those found in the current
// directory if none is.
func (r *verifyRun) readLockfiles(paths []string, format lockfile.Format) error {
	if len(paths) == 0 {
		found, err := findLockfiles(".")
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return usagef("no lockfile given, and none in the current directory (looked for %s): name the lockfiles to verify", lockfilePatterns)
		}
		paths, r.found = found, true
	}
	seen := map[string]bool{}
	for _, path := range paths {
		if seen[filepath.Clean(path)] {
			continue
		}
		seen[filepath.Clean(path)] = true
		lf := readLockfile{path: path, format: format, from: lockfile.FromCaller}
		if format == "" {
			var err error
			if lf.format, lf.from, err = lockfile.DetectFileFormat(path); errors.Is(err, lockfile.ErrUnknownFormat) {
				return usagef("%v: name it with --format pylock, uv, poetry, pipfile or requirements", err)
			} else if err != nil {
				return usageError{err}
			}
		}
		artifacts, err := lockfile.ParseFile(path, lf.format)
		if err != nil {
			return usageError{err}
		}
		lf.start = len(r.artifacts)
		r.artifacts = append(r.artifacts, artifacts...)
		lf.end = len(r.artifacts)
		r.lockfiles = append(r.lockfiles, lf)
	}
	if r.found {
		r.dropIncluded()
	}
	return nil
}

// dropIncluded drops the found lockfiles that another found one includes:
// their artifacts are that one's already.
func (r *verifyRun) dropIncluded() {
	includer := map[string]string{}
	for _, lf := range r.lockfiles {
		for _, a := range r.artifacts[lf.start:lf.end] {
			if file := filepath.Clean(a.File); file != filepath.Clean(lf.path) && includer[file] == "" {
				includer[file] = lf.path
			}
		}
	}
	var kept []readLockfile
	var artifacts []lockfile.Artifact
	for _, lf := range r.lockfiles {
		if by := includer[filepath.Clean(lf.path)]; by != "" {
			r.included = append(r.included, [2]string{lf.path, by})
			continue
		}
		start := len(artifacts)
		artifacts = append(artifacts, r.artifacts[lf.start:lf.end]...)
		lf.start, lf.end = start, len(artifacts)
		kept = append(kept, lf)
	}
	r.lockfiles, r.artifacts = kept, artifacts
}

// failureError is the error that gives a verification's exit status (see
// verify.Failures.Err): a local file to repair is an input error.
func failureError(f verify.Failures) error {
	err := f.Err()
	switch {
	case len(f.Security) > 0, f.Alarms > 0:
		return err
	case f.WrongOrigin != nil, f.CorruptCache != nil:
		return usageError{err}
	}
	return err
}

// failureStatus is the exit status of a verification's failures, as
// verifyOutcome's error gives it.
func failureStatus(f verify.Failures) int {
	if len(f.Security) == 0 && f.Alarms > 0 {
		return exitAlarm
	}
	return exitStatus(failureError(f))
}

// verifyOutcome reports the failures of a verification or comparison:
// the security errors with their evidence, an alarm, warnings of unusable
// logs; and returns the error that gives the exit status.
func verifyOutcome(stderr io.Writer, f verify.Failures) error {
	err := failureError(f)
	switch {
	case len(f.Security) > 0:
		writeSecurityErrors(stderr, f.Security)
		return fmt.Errorf("%w (see above)", err)
	case f.Alarms > 0:
		fmt.Fprintf(stderr, "pysumdb: %v\n", err)
		return errAlarm
	case f.WrongOrigin != nil, f.CorruptCache != nil:
		return err
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
