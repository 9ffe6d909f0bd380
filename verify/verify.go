// Package verify is pysumdb's verification policy over package client: it
// checks the sha256 of lockfile artifacts (package lockfile) against one or
// more logs with a quorum (Verifier, Report), compares the files a package
// index serves with the logs (ComparePublished), checks the PEP 740
// publishers the logs record against what a lockfile expects
// (CheckPublishers) and the claimants their indexes record (CheckClaims),
// reads the logs' TOML configuration (Config), and decides what fails a
// verification and why (Report.Failures).
//
// Everything is read from the logs' static files through client.Log, which
// verifies what it reads; a log that misbehaves is reported, never
// trusted.
package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
)

// Status is what the logs say about an artifact's hash.
type Status string

// The statuses of an artifact, overall (Result) or by one log (LogResult).
const (
	// StatusVerified: the log proves the artifact's hash (overall: at
	// least a quorum of logs do).
	StatusVerified Status = "verified"
	// StatusMismatch: the log proves another hash for the artifact: the
	// same filename with another sha256, or (for lockfiles without
	// filenames) the hash logged under another project or version, or a
	// hash that is none of the logged files of the pinned release.
	StatusMismatch Status = "mismatch"
	// StatusNotInLog: the log doesn't have the file, or not yet as of the
	// checkpoint verified (a file newer than the log).
	StatusNotInLog Status = "not-in-log"
	// StatusSkipped: the artifact can't be checked against a log of PyPI
	// (lockfile.Artifact.Skip says why). Overall only.
	StatusSkipped Status = "skipped"
	// StatusError: the log couldn't answer (unreachable, or misbehaving:
	// LogResult.Err); overall, too few logs answered to decide.
	StatusError Status = "error"
)

// DefaultConcurrency is how many project indexes a Verifier fetches at
// once per log, unless told otherwise: enough that a large lockfile's
// indexes all go out in one round trip (over HTTP/2, on one connection).
// The proofs' tiles and bundles are fetched as many at once
// (client.Log.ProveLines).
const DefaultConcurrency = 256

// Verifier checks the sha256 of lockfile artifacts against one or more
// logs, from the logs' static files only: for each artifact, the signed
// project index says where the log holds it, and an inclusion proof against
// the verified checkpoint proves the entry.
//
// Artifacts with a filename (uv.lock, pylock.toml, poetry.lock) are looked
// up by filename: the log holding that filename with another sha256 is a
// mismatch. Artifacts without one (Pipfile.lock, requirements files) are
// looked up by project, version and hash: the hash among the logged files
// of the pinned release (versions compared as PEP 440 says) is verified;
// the hash logged under another version of the project, or under another
// project of the same artifacts, is a mismatch naming where (the log has
// no index by hash, so other projects are searched only among the
// projects of the artifacts given); a hash that is none of the logged files
// of a release the log has is a mismatch; a release the log doesn't have
// is not in the log. Index lines at or beyond the verified checkpoint's
// size are not yet provable: not in the log, never an error of the log.
type Verifier struct {
	// Logs are the logs to ask, each of its own origin (see Config).
	Logs []*client.Log
	// Quorum is how many logs must prove an artifact's hash for it to be
	// verified, 1 to len(Logs).
	Quorum int
	// Concurrency bounds the index fetches in flight per log:
	// DefaultConcurrency when 0.
	Concurrency int
	// Logger receives progress and the failures of logs; nil discards.
	Logger *slog.Logger
	// Exclude are the private projects: no log is asked about them (their
	// artifacts are skipped, the exclusion as the reason), so that their
	// names never leave the machine. Applied here so that no caller can
	// forget it.
	Exclude *Exclusions
}

// Report is the outcome of Verifier.Verify.
type Report struct {
	// Quorum is the number of logs that must agree.
	Quorum int
	// Logs says, per Verifier.Logs, which checkpoint was verified or why
	// the log couldn't be used at all.
	Logs []LogStatus
	// Results has one Result per artifact, in the order given.
	Results []Result

	// runs are the verifications per log (nil for a log not used), for
	// ComparePublished.
	runs []*logRun
	// claims is what CheckClaims last required, for Failures.
	claims ClaimRequirement
}

// LogStatus is the state of one log during a verification.
type LogStatus struct {
	// Origin names the log.
	Origin string
	// Checkpoint is the checkpoint verified (zero if Err is set).
	Checkpoint tiles.Checkpoint
	// Err is why the log couldn't be used: unreachable, or misbehaving
	// (client.IsSecurityError; a *client.ForkError for a rollback or a fork).
	Err error
}

// Result is what the logs say about one artifact.
type Result struct {
	// Artifact is the artifact checked.
	Artifact lockfile.Artifact
	// Status is the overall verdict under the quorum rule: verified when
	// at least Quorum logs prove the hash; otherwise a mismatch if any log
	// proves another hash; otherwise an error if the logs that couldn't
	// answer might have made the quorum; otherwise not in the log.
	Status Status
	// Logs has what each log says, in Report.Logs order (nil if skipped).
	Logs []LogResult
	// Disagreement is set when logs prove different hashes for the
	// artifact (whatever the quorum decided).
	Disagreement bool
	// PublisherProblem, set by CheckPublishers, says why the publisher
	// the logs record is not acceptable for the artifact.
	PublisherProblem string
	// ClaimProblem, set by CheckClaims, says why the claimant the logs
	// record (or its absence) is not acceptable for the artifact.
	ClaimProblem string
}

// LogResult is what one log says about one artifact.
type LogResult struct {
	// Status is verified, mismatch, not in the log, or error.
	Status Status
	// Leaf is the proven entry the status rests on: the artifact's own
	// (verified), or the file the log holds under the artifact's filename
	// or with its hash elsewhere (mismatch); -1 when there is none.
	Leaf int64
	// Project, Filename, SHA256 and Size are what the log's index says of
	// Leaf, proven against the entry (all but Size, which only the index
	// holds).
	Project  string
	Filename string
	SHA256   [32]byte
	Size     int64
	// Detail explains the status in words, naming hashes, files and
	// leaves.
	Detail string
	// Publisher is the verified PEP 740 publisher the proven entry
	// records (status verified only; nil when it records none).
	Publisher *tiles.Publisher
	// Claimant is who claimed the file's bytes (package claim), as the
	// log's index line records it (status verified only; nil when it
	// records none). Like Size, only the signed index holds it.
	Claimant *tiles.Claimant
	// Err is why the log couldn't answer (status error).
	Err error
}

// SecurityErrors returns the distinct errors that show a log misbehaving.
func (r *Report) SecurityErrors() []error {
	var errs []error
	seen := map[string]bool{}
	add := func(err error) {
		if client.IsSecurityError(err) && !seen[err.Error()] {
			seen[err.Error()] = true
			errs = append(errs, err)
		}
	}
	for _, l := range r.Logs {
		add(l.Err)
	}
	for _, res := range r.Results {
		for _, lr := range res.Logs {
			add(lr.Err)
		}
	}
	for _, run := range r.runs {
		if run == nil {
			continue
		}
		for _, px := range run.indexes {
			add(px.err)
		}
	}
	return errs
}

// Count returns how many results have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// Disagreements returns how many results have logs that disagree.
func (r *Report) Disagreements() int {
	n := 0
	for _, res := range r.Results {
		if res.Disagreement {
			n++
		}
	}
	return n
}

// Verify checks artifacts against the logs, all logs at once. Failures of
// a log (unreachable, misbehaving) are in the report, not returned: the
// quorum may still decide with the other logs. The error is for invalid
// arguments or an ended context.
func (v *Verifier) Verify(ctx context.Context, artifacts []lockfile.Artifact) (*Report, error) {
	return v.verify(ctx, artifacts, nil)
}

// verify is Verify, reading the indexes of the projects in alsoRead too.
func (v *Verifier) verify(ctx context.Context, artifacts []lockfile.Artifact, alsoRead []string) (*Report, error) {
	if v.Quorum < 1 || v.Quorum > len(v.Logs) {
		return nil, fmt.Errorf("quorum %d with %d logs", v.Quorum, len(v.Logs))
	}
	artifacts = v.skipPrivate(artifacts)
	digests := make([][32]byte, len(artifacts))
	for i, a := range artifacts {
		if a.Skip != "" {
			continue
		}
		d, err := tiles.ParseHexDigest(a.SHA256)
		if err != nil {
			return nil, fmt.Errorf("artifact %s of %s: %w", a.Filename, a.Project, err)
		}
		digests[i] = d
	}
	rep := &Report{Quorum: v.Quorum, Logs: make([]LogStatus, len(v.Logs)), Results: make([]Result, len(artifacts)), runs: make([]*logRun, len(v.Logs))}
	perLog := make([][]LogResult, len(v.Logs))
	var wg sync.WaitGroup
	for i, l := range v.Logs {
		wg.Go(func() {
			rep.Logs[i], rep.runs[i], perLog[i] = v.checkLog(ctx, l, artifacts, digests, alsoRead)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for j, a := range artifacts {
		res := Result{Artifact: a, Status: StatusSkipped}
		if a.Skip == "" {
			for i := range v.Logs {
				res.Logs = append(res.Logs, perLog[i][j])
			}
			res.Status, res.Disagreement = decide(res.Logs, v.Quorum)
		}
		rep.Results[j] = res
	}
	return rep, nil
}

// skipPrivate returns artifacts with those of private projects (Exclude)
// skipped, in a copy: the caller's are left as they are.
func (v *Verifier) skipPrivate(artifacts []lockfile.Artifact) []lockfile.Artifact {
	var out []lockfile.Artifact
	for i, a := range artifacts {
		x, private := v.Exclude.Match(a.Project)
		if a.Skip != "" || !private {
			continue
		}
		if out == nil {
			out = slices.Clone(artifacts)
		}
		out[i].Skip = x.Reason()
	}
	if out == nil {
		return artifacts
	}
	return out
}

// decide applies the quorum rule to what each log says.
func decide(logs []LogResult, quorum int) (Status, bool) {
	verified, mismatch, failed := 0, 0, 0
	held := map[[32]byte]bool{}
	for _, r := range logs {
		switch r.Status {
		case StatusVerified:
			verified++
			held[r.SHA256] = true
		case StatusMismatch:
			mismatch++
			if r.Leaf >= 0 {
				held[r.SHA256] = true
			}
		case StatusError:
			failed++
		}
	}
	disagreement := verified > 0 && mismatch > 0 || len(held) > 1
	switch {
	case verified >= quorum:
		return StatusVerified, disagreement
	case mismatch > 0:
		return StatusMismatch, disagreement
	case verified+failed >= quorum && failed > 0:
		return StatusError, disagreement
	default:
		return StatusNotInLog, disagreement
	}
}

// logRun is the verification of a list of artifacts against one log.
type logRun struct {
	log         *client.Log
	tree        tlog.Tree
	concurrency int

	indexes map[string]*projectIndex
	// byHash locates every line of every index read, by digest.
	byHash map[[32]byte][]located
	proofs map[int64]proof
}

// projectIndex is a project's index as read, or why it isn't there.
type projectIndex struct {
	index  tiles.Index
	absent bool
	err    error
}

// located is a line of a project's index.
type located struct {
	project string
	line    tiles.IndexLine
}

// proof is the entry proven at a leaf, or the failure to prove it.
type proof struct {
	entry tiles.Entry
	err   error
}

// plan is how a log answers for one artifact: the result, provided that
// the index lines it rests on are proven against their entries.
type plan struct {
	result LogResult
	prove  []located
}

func (v *Verifier) checkLog(ctx context.Context, l *client.Log, artifacts []lockfile.Artifact, digests [][32]byte, alsoRead []string) (LogStatus, *logRun, []LogResult) {
	logger := logging.OrDiscard(v.Logger)
	results := make([]LogResult, len(artifacts))
	run := &logRun{
		log: l, concurrency: v.Concurrency,
		indexes: map[string]*projectIndex{}, byHash: map[[32]byte][]located{}, proofs: map[int64]proof{},
	}
	if run.concurrency <= 0 {
		run.concurrency = DefaultConcurrency
	}
	var projects []string
	for _, a := range artifacts {
		if a.Skip == "" && run.indexes[a.Project] == nil {
			run.indexes[a.Project] = &projectIndex{}
			projects = append(projects, a.Project)
		}
	}
	for _, p := range alsoRead {
		if run.indexes[p] == nil {
			run.indexes[p] = &projectIndex{}
			projects = append(projects, p)
		}
	}
	// The indexes are fetched while the checkpoint is: each is verified
	// by its own signature, and nothing is decided from them before the
	// checkpoint is verified too.
	indexesRead := make(chan struct{})
	go func() {
		defer close(indexesRead)
		run.readIndexes(ctx, projects)
	}()
	cp, err := l.VerifiedCheckpoint(ctx)
	<-indexesRead
	if err != nil {
		logger.Debug("log unusable", "origin", l.Origin(), "err", err)
		for j := range results {
			results[j] = LogResult{Status: StatusError, Leaf: -1, Detail: "the log is unusable", Err: err}
		}
		return LogStatus{Origin: l.Origin(), Err: err}, nil, results
	}
	run.tree = cp.Tree
	run.refreshOlderIndexes(ctx, artifacts, digests)
	logger.Debug("project indexes read", "origin", l.Origin(), "projects", len(projects))
	plans := make([]plan, len(artifacts))
	for j, a := range artifacts {
		if a.Skip == "" {
			plans[j] = run.plan(a, digests[j])
		}
	}
	run.proveAll(ctx, plans)
	logger.Debug("entries proven", "origin", l.Origin(), "entries", len(run.proofs))
	for j, a := range artifacts {
		if a.Skip == "" {
			results[j] = run.finish(plans[j])
		}
	}
	return LogStatus{Origin: l.Origin(), Checkpoint: cp}, run, results
}

// refreshOlderIndexes reads again, past any cache (client.Log.FreshIndex),
// the indexes older than the checkpoint on which a MISMATCH would rest:
// a hash-only artifact whose digest none of the indexes read lists. An
// index covers the files logged up to its tree size; the log writes a
// project's index anew, before the checkpoint, whenever it logs a file of
// the project, so the current index of an older size says no file of it
// was logged since. But a CDN may serve a copy of the index older than
// the checkpoint read (DESIGN.md, "What a project index proves").
func (r *logRun) refreshOlderIndexes(ctx context.Context, artifacts []lockfile.Artifact, digests [][32]byte) {
	var older []string
	seen := map[string]bool{}
	for j, a := range artifacts {
		px := r.indexes[a.Project]
		if a.Skip != "" || a.Filename != "" || px == nil || px.err != nil || px.absent || seen[a.Project] ||
			px.index.TreeSize >= r.tree.N || len(r.byHash[digests[j]]) > 0 {
			continue
		}
		seen[a.Project] = true
		older = append(older, a.Project)
	}
	if len(older) == 0 {
		return
	}
	var wg sync.WaitGroup
	fresh := make([]tiles.Index, len(older))
	errs := make([]error, len(older))
	for i, p := range older {
		wg.Go(func() { fresh[i], errs[i] = r.log.FreshIndex(ctx, p) })
	}
	wg.Wait()
	changed := false
	for i, p := range older {
		switch {
		case errs[i] != nil:
			r.indexes[p].err = errs[i]
		case fresh[i].TreeSize > r.indexes[p].index.TreeSize:
			r.indexes[p].index = fresh[i]
			changed = true
		}
	}
	if changed {
		r.byHash = map[[32]byte][]located{}
		r.indexLines()
	}
}

// readIndexes reads the projects' indexes in parallel.
func (r *logRun) readIndexes(ctx context.Context, projects []string) {
	sem := make(chan struct{}, r.concurrency)
	var wg sync.WaitGroup
	for _, p := range projects {
		px := r.indexes[p]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			x, err := r.log.Index(ctx, p)
			switch {
			case err == nil:
				px.index = x
			case errors.Is(err, client.ErrNotFound) && !client.IsSecurityError(err):
				px.absent = true
			default:
				px.err = err
			}
		})
	}
	wg.Wait()
	r.indexLines()
}

// indexLines locates every line of the indexes read by its digest.
func (r *logRun) indexLines() {
	projects := make([]string, 0, len(r.indexes))
	for p := range r.indexes {
		projects = append(projects, p)
	}
	slices.Sort(projects)
	for _, p := range projects {
		for _, line := range r.indexes[p].index.Lines {
			r.byHash[line.SHA256] = append(r.byHash[line.SHA256], located{p, line})
		}
	}
}

// proveAll proves the entries of every leaf the plans rest on, all at
// once (client.Log.ProveLines).
func (r *logRun) proveAll(ctx context.Context, plans []plan) {
	var lines []tiles.IndexLine
	seen := map[int64]bool{}
	for _, p := range plans {
		for _, loc := range p.prove {
			if !seen[loc.line.Leaf] {
				seen[loc.line.Leaf] = true
				lines = append(lines, loc.line)
			}
		}
	}
	for i, pr := range r.log.ProveLines(ctx, r.tree, lines) {
		r.proofs[lines[i].Leaf] = proof{pr.Entry, pr.Err}
	}
}

// finish turns a plan into the log's answer: an index line that its entry
// contradicts, or that couldn't be proven, makes the answer an error.
func (r *logRun) finish(p plan) LogResult {
	for _, loc := range p.prove {
		pr := r.proofs[loc.line.Leaf]
		err := pr.err
		if err == nil {
			err = client.CheckIndexLine(loc.line, pr.entry)
			if err != nil {
				err = fmt.Errorf("index of %s: %w", loc.project, err)
			}
		}
		if err != nil {
			return LogResult{Status: StatusError, Leaf: loc.line.Leaf, Detail: fmt.Sprintf("couldn't prove leaf %d", loc.line.Leaf), Err: err}
		}
	}
	res := p.result
	if res.Status == StatusVerified {
		res.Publisher = r.proofs[res.Leaf].entry.Publisher
	}
	return res
}

// plan decides what the log says of artifact a with digest d, from the
// indexes alone; finish then requires the proofs.
func (r *logRun) plan(a lockfile.Artifact, d [32]byte) plan {
	px := r.indexes[a.Project]
	switch {
	case px.err != nil:
		return plan{result: LogResult{Status: StatusError, Leaf: -1, Detail: "couldn't read the project index", Err: px.err}}
	case px.absent:
		return notInLog("project %s is not in the log", a.Project)
	case a.Filename != "":
		return r.planFile(a, d, px.index)
	default:
		return r.planHash(a, d, px.index)
	}
}

func notInLog(format string, args ...any) plan {
	return plan{result: LogResult{Status: StatusNotInLog, Leaf: -1, Detail: fmt.Sprintf(format, args...)}}
}

// found is the plan resting on one proven line.
func found(status Status, loc located, detail string) plan {
	p := plan{
		result: LogResult{
			Status: status, Leaf: loc.line.Leaf, Detail: detail,
			Project: loc.project, Filename: loc.line.Filename, SHA256: loc.line.SHA256, Size: loc.line.Size,
		},
		prove: []located{loc},
	}
	if status == StatusVerified {
		p.result.Claimant = loc.line.Claimant
	}
	return p
}

// notYetProvable explains an index line beyond the verified checkpoint.
func (r *logRun) notYetProvable(line tiles.IndexLine) plan {
	return notInLog("%s is listed at leaf %d, beyond the verified checkpoint (size %d): not yet provable",
		line.Filename, line.Leaf, r.tree.N)
}

// planFile looks an artifact up by filename.
func (r *logRun) planFile(a lockfile.Artifact, d [32]byte, x tiles.Index) plan {
	for _, line := range x.Lines {
		if line.Filename != a.Filename {
			continue
		}
		loc := located{a.Project, line}
		switch {
		case line.Leaf >= r.tree.N:
			return r.notYetProvable(line)
		case line.SHA256 == d:
			return found(StatusVerified, loc, fmt.Sprintf("%s %s at leaf %d", line.Filename, tiles.FormatSHA256(d), line.Leaf))
		default:
			return found(StatusMismatch, loc, fmt.Sprintf("the log holds %s with %s at leaf %d, not %s",
				line.Filename, tiles.FormatSHA256(line.SHA256), line.Leaf, tiles.FormatSHA256(d)))
		}
	}
	return notInLog("%s is not among the %d logged files of %s", a.Filename, len(x.Lines), a.Project)
}

// releaseOf reports whether a logged file of project is of version.
func releaseOf(project, filename, version string) bool {
	v, ok := lockfile.FilenameVersion(project, filename)
	if !ok {
		v, ok = lockfile.FilenameVersion("", filename)
	}
	return ok && lockfile.EqualVersions(v, version)
}

// describe names a logged file: filename, project and version.
func describe(loc located) string {
	v, ok := lockfile.FilenameVersion(loc.project, loc.line.Filename)
	if !ok {
		return fmt.Sprintf("%s of %s", loc.line.Filename, loc.project)
	}
	return fmt.Sprintf("%s of %s %s", loc.line.Filename, loc.project, v)
}

// maxListed bounds the files a mismatch lists.
const maxListed = 5

// planHash looks an artifact without a filename up by project, version
// and hash.
func (r *logRun) planHash(a lockfile.Artifact, d [32]byte, x tiles.Index) plan {
	var release []located
	for _, line := range x.Lines {
		if a.Version != "" && !releaseOf(a.Project, line.Filename, a.Version) {
			continue
		}
		loc := located{a.Project, line}
		switch {
		case line.Leaf >= r.tree.N:
			if line.SHA256 == d {
				return r.notYetProvable(line)
			}
		case line.SHA256 == d:
			return found(StatusVerified, loc, fmt.Sprintf("%s %s at leaf %d", line.Filename, tiles.FormatSHA256(d), line.Leaf))
		default:
			release = append(release, loc)
		}
	}
	elsewhere := r.byHash[d]
	for _, loc := range elsewhere {
		if loc.line.Leaf < r.tree.N {
			return found(StatusMismatch, loc, fmt.Sprintf("the log holds %s as %s at leaf %d", tiles.FormatSHA256(d), describe(loc), loc.line.Leaf))
		}
	}
	if len(elsewhere) > 0 {
		return r.notYetProvable(elsewhere[0].line)
	}
	switch {
	case a.Version == "":
		return notInLog("no logged file of %s has %s", a.Project, tiles.FormatSHA256(d))
	case len(release) == 0:
		return notInLog("the log has no file of %s %s", a.Project, a.Version)
	}
	var listed []string
	for _, loc := range release[:min(len(release), maxListed)] {
		listed = append(listed, fmt.Sprintf("%s %s at leaf %d", loc.line.Filename, tiles.FormatSHA256(loc.line.SHA256), loc.line.Leaf))
	}
	if len(release) > maxListed {
		listed = append(listed, fmt.Sprintf("and %d more", len(release)-maxListed))
	}
	// The index is the log's word on every file of the project up to its
	// size, and the current one (refreshOlderIndexes): a file logged
	// since would be in it.
	covers := ""
	if x.TreeSize < r.tree.N {
		covers = fmt.Sprintf(" (the index, current, covers size %d of the checkpoint's %d: the log has logged no file of %s since)", x.TreeSize, r.tree.N, a.Project)
	}
	return plan{
		result: LogResult{Status: StatusMismatch, Leaf: -1, Detail: fmt.Sprintf("%s is none of the %d logged files of %s %s: %s%s",
			tiles.FormatSHA256(d), len(release), a.Project, a.Version, strings.Join(listed, ", "), covers)},
		prove: release,
	}
}
