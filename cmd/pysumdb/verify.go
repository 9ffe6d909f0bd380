package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/verify"
)

// logFlags name the logs a client command verifies against, its private
// projects and its cache, as the command line gives them: resolve adds the
// environment and the configuration file (config.go).
type logFlags struct {
	location, vkey, config, cacheDir string
	witnesses                        witnessFlags
	exclude                          []string
	// noCache opens the logs without the cache (and registers no
	// --cache-dir): for a monitor, which keeps its own state and must not
	// copy a whole log's tiles into the user's cache. A monitor asks about
	// every project of the logs, none of the user's: it registers no
	// --exclude either.
	noCache bool
}

func (f *logFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.location, "log", "", "the log: an http(s) URL or a directory (with --vkey; instead of "+envLogs+" and the configuration file)")
	c.Flags().StringVar(&f.vkey, "vkey", "", "the log's verifier key, or a file holding it")
	c.Flags().StringVar(&f.config, "config", "", "a TOML file listing the logs, the quorum, the witnesses and private projects (instead of --log, --vkey and --witness, and of $"+envConfig+" or the default file)")
	f.witnesses.register(c)
	if !f.noCache {
		c.Flags().StringVar(&f.cacheDir, "cache-dir", "", "where verified checkpoints and tiles are kept (default $"+client.CacheDirEnv+", or pysumdb in the user cache directory)")
		c.Flags().StringSliceVar(&f.exclude, "exclude", nil, "glob of private projects' normalized names, never sent to a log or index (repeatable; adds to "+envExclude+" and the configuration's)")
	}
}

const logFlagsHelp = `The logs: --log and --vkey for one log, or a TOML file (--config FILE, or the
configuration file below) such as

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

  exclude = ["corp-*"]   # private projects (see below)

A log that can't be reached leaves the decision to the others: it is an
error only when too few logs answer to reach the quorum. The last
checkpoint verified of each log is kept in the cache directory (shared with
lookup and publishers): every later checkpoint must be proven consistent
with it, and one that is smaller or inconsistent (a rollback or a fork of
the log) is a SECURITY ERROR, exit 3, printed with both checkpoints and the
proof. Runs sharing the cache only ever move it forward. A cached checkpoint
that doesn't verify is an error (exit 2) naming the file: deleting it makes
the next run trust the log's checkpoint on first use. Tiles, once verified,
are kept there too, so a second run fetches only the checkpoint and the
project indexes.

` + witnessFlagsHelp + `

` + configHelp

// openedLogs are the logs of a command, with what fetching them cost.
type openedLogs struct {
	verifier  *verify.Verifier
	locations []string
	fetchers  []*client.CountingFetcher
	logs      []*client.Log
	// from is where the logs come from, for the errors about them.
	from source
	// cacheDir is the cache directory ("" without a cache).
	cacheDir string
}

// maxConfigSize bounds the logs configuration: a few lines a log.
const maxConfigSize = 1 << 20

// open resolves the configuration (config.go) and opens the logs with the
// cache. PYSUMDB=off is a usage error here: verify and check-pypi stop
// before (verificationOff).
func (f *logFlags) open(c *cobra.Command, logger *slog.Logger) (*openedLogs, error) {
	cfg, err := f.resolve(c)
	if err != nil {
		return nil, err
	}
	if err := cfg.refuseOff(c); err != nil {
		return nil, err
	}
	if err := cfg.needLogs(c); err != nil {
		return nil, err
	}
	var cache *client.Cache
	if !f.noCache {
		if cache, err = client.OpenCache(cfg.cacheDir, logger); err != nil {
			return nil, err
		}
	}
	o := &openedLogs{verifier: &verify.Verifier{Quorum: cfg.quorum, Logger: logger, Exclude: cfg.exclude}, from: cfg.logsFrom, cacheDir: cfg.cacheDir}
	for _, lc := range cfg.logs {
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
		if cfg.witnessPolicy != nil {
			l.RequireWitnesses(cfg.witnessPolicy)
		}
		o.verifier.Logs = append(o.verifier.Logs, l)
		o.locations = append(o.locations, lc.URL)
		o.fetchers = append(o.fetchers, counting)
		o.logs = append(o.logs, l)
	}
	return o, nil
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
		if errors.As(ls.Err, &e) {
			return o.originError(i, e)
		}
	}
	return nil
}

// originError is the usage error of log i, whose checkpoint names another
// origin than its key: worded for where the log was configured.
func (o *openedLogs) originError(i int, e *client.OriginError) error {
	if o.from.name == flagLogs {
		return originUsageError(o.locations[i], e)
	}
	return usagef("%s: log %d (%s) serves the checkpoints of origin %s, but its vkey is the key of origin %s: fix its url or its vkey",
		o.from.name, i+1, o.locations[i], e.Served, e.Origin)
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
	var strict, asJSON, requirePublisher, requireClaim, requireClaimOrPublisher bool
	var saveProofsDir, offlineDir string
	c := &cobra.Command{
		Use:   "verify [LOCKFILE...] [--log URL --vkey VKEY | --config FILE] [--exclude GLOB] [--strict] [--json]",
		Short: "Verify the hashes of lockfiles against one or more logs",
		Long: `verify checks every sha256 that each LOCKFILE pins against the logs, from
their static files only: each artifact is found through the log's signed
project index, its entry proven by an inclusion proof against the verified
checkpoint, and classified:

  verified    the log proves the lockfile's hash (with several logs: at
              least the quorum of them do)
  MISMATCH    the log proves another hash: the same filename logged with
              another sha256 (a filename is published once: PyPI served
              other bytes when the lock was made, or the lockfile was
              edited; a SECURITY ERROR, exit 3); or, for lockfiles without
              filenames (Pipfile.lock, requirements), the hash logged under
              another version or another project of the lockfile, or a hash
              that is none of the logged files of the pinned release
  NOT IN LOG  the log doesn't have the file (yet): a warning, a failure
              with --strict; summarized in one line a project, with how
              recent the log is and what to do
  SKIPPED     not a PyPI file (editable, path, git or URL sources, other
              indexes), a private project (--exclude, PYSUMDB_EXCLUDE), or
              no sha256: the reason is printed

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

Claims: each verified artifact's index line may record its claimant, the
identity (a note key, or a GitHub or GitLab workflow) of the maintainers
who claimed these bytes at the log's intake (pysumdb claim) before the log
found the file on PyPI with the same sha256 and size; -v shows it
("claimed by key ..."). Each log records the claims its own intake
received, so logs may differ (a claim made at one intake only): an
artifact is claimed when a log that verified it records a claimant.
--require-claim fails verified artifacts whose logs record no claimant
(UNCLAIMED); --require-claim-or-publisher fails those
with neither a claimant nor a verified publisher. The requirements add up:
--require-publisher with --require-claim requires both;
--require-claim-or-publisher adds nothing to either of them (a publisher
or a claimant, already required, satisfies it). Claims are not in the
offline proofs: --offline takes neither flag.

Each failure names the artifact, the lockfile's hash, the log's (or where it
was logged) and the leaf index; with -v, verified artifacts are listed too,
with their leaf, and each artifact not in the log; with -q, only the
failures and the summary. --json prints the whole report as JSON (its
fields are described in the README, "JSON output").

` + logFlagsHelp + `

Exit status: 0 everything verified or skipped (not-in-log artifacts are
warnings), 1 a verification failed (a mismatch of a hash, a publisher or
claim mismatch, a publisher or claimant required and missing, too few
logs answered, or with --strict an artifact not in the log, logs that
disagree, or nothing verified), 2 usage error, unreadable lockfile, no
lockfile found, a --vkey for another log than --log's (the origins differ),
or an unusable cached checkpoint, 3 SECURITY ERROR: a file pinned by
filename with other bytes than the logs hold for it, or a log misbehaves
(bad signature, rollback, fork, an index or tile that contradicts the
checkpoint). Each failure is printed with its next step; files of a pinned
release uploaded more than a day after those the lockfile pins are noted
as harmless (added to PyPI after the lock).`,
		RunE: func(c *cobra.Command, args []string) error {
			if off, err := verificationOff(g); off || err != nil {
				return err
			}
			if format != "" && !knownFormat(format) {
				return usagef("--format %q: want one of pylock, uv, poetry, pipfile, requirements", format)
			}
			run := &verifyRun{strict: strict, verbose: g.verbose, quiet: g.quiet}
			if offlineDir != "" && (saveProofsDir != "" || asJSON) {
				return usagef("--offline takes no --save-proofs or --json")
			}
			claims := verify.ClaimOptional
			switch {
			case requireClaim:
				claims = verify.RequireClaim
			case requireClaimOrPublisher:
				claims = verify.RequireClaimOrPublisher
			}
			if offlineDir != "" && claims != verify.ClaimOptional {
				return usagef("--offline takes no %s: the saved proofs hold the log's entries, not the project indexes that record claimants (verify online to check claims)", claims.Flag())
			}
			if err := run.readLockfiles(args, lockfile.Format(format)); err != nil {
				return err
			}
			if offlineDir != "" {
				return runOffline(c, g, &lf, run, offlineDir)
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
			rep.CheckClaims(claims)
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
			if saveProofsDir != "" && len(f.Security) == 0 {
				n, err := saveProofs(c.Context(), logs, rep, saveProofsDir)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "pysumdb: saved %d proofs in %s\n", n, saveProofsDir)
			}
			return verifyOutcome(g.stderr, f)
		},
	}
	c.Long += "\n\n" + offlineHelp
	c.Flags().StringVar(&saveProofsDir, "save-proofs", "", "after verifying, write the tlog-proof of every verified artifact into `DIR` (see --offline)")
	c.Flags().StringVar(&offlineDir, "offline", "", "verify from the proofs saved in `DIR` and the cached checkpoints, with no network")
	lf.register(c)
	c.Flags().StringVar(&format, "format", "", "the lockfiles' format: pylock, uv, poetry, pipfile or requirements (default: from the file name, or else the content)")
	c.Flags().BoolVar(&strict, "strict", false, "fail on artifacts not in the log, on logs that disagree, and when nothing is verified")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.Flags().BoolVar(&requirePublisher, "require-publisher", false, "fail on verified artifacts whose log entry records no verified PEP 740 publisher")
	c.Flags().BoolVar(&requireClaim, "require-claim", false, "fail on verified artifacts whose logs record no claimant (no maintainer claimed them with pysumdb claim)")
	c.Flags().BoolVar(&requireClaimOrPublisher, "require-claim-or-publisher", false, "fail on verified artifacts whose logs record neither a claimant nor a verified PEP 740 publisher")
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
	err := failureError(f)
	if errors.Is(err, verify.ErrAlarm) {
		return exitAlarm
	}
	return exitStatus(err)
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
	if f.Tampered > 0 {
		fmt.Fprintf(stderr, "pysumdb: SECURITY ERROR: %v\n", err)
		err = errAlarm
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
