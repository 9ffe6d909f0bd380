package verify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
)

// ErrAlarm is wrapped by the error of Failures.Err for a Comparison in
// which the package index serves logged files with other bytes or another
// size than logged.
var ErrAlarm = errors.New("ALARM")

// Failures is what fails a verification, and why, by kind. The kinds rank
// in the order of the fields: the first present decides the outcome (Err),
// so that a misbehaving log is never reported as a mere failure.
type Failures struct {
	// Security are the distinct misbehaviours of logs, each with its
	// evidence (a *client.ForkError for a rollback or a fork).
	Security []error
	// Alarms counts, for a Comparison, the files the package index serves
	// with other bytes or another size than the logs hold.
	Alarms int
	// Tampered counts, for a Report, the artifacts pinned by filename
	// with another sha256 than every log that answered holds for that
	// filename: the index served other bytes when the lockfile was made
	// (a filename is published once, with one content), or the lockfile
	// was edited since. Logs that disagree are a failure, not this.
	Tampered int
	// WrongOrigin is the error (a *client.OriginError) of a log whose
	// checkpoint names another origin than its verifier key: the key or
	// the location given for the log is wrong, the user's to fix; no
	// verdict on the artifacts.
	WrongOrigin error
	// CorruptCache is the error of a log that couldn't be used because a
	// file of the local cache doesn't verify (it wraps
	// client.ErrCorruptCache): the user's to repair, no verdict on the
	// artifacts.
	CorruptCache error
	// Unusable are the logs that couldn't be used at all: warnings, since
	// the quorum may decide without them (too few answers is in Failed).
	Unusable []LogStatus
	// Failed names each failure of the verification itself, such as
	// "2 mismatches" or "nothing verified (--strict)".
	Failed []string
	// Unprovable counts, for a Comparison, the logged files the package
	// index doesn't serve that couldn't be listed or proven.
	Unprovable int
}

// Failures decides whether the verification fails: on a misbehaving log,
// an unusable cache file, a mismatch, an artifact too few logs answered
// for, a publisher problem (see CheckPublishers) or a claim problem (see
// CheckClaims); with strict, also on an artifact not in the log, on logs
// that disagree, and when nothing is verified.
func (r *Report) Failures(strict bool) Failures {
	return r.failures(strict, r.Tampered())
}

// failures is Failures with tampered of the mismatches counted as
// Failures.Tampered rather than among Failed.
func (r *Report) failures(strict bool, tampered int) Failures {
	f := Failures{Security: r.SecurityErrors(), Tampered: tampered}
	for _, ls := range r.Logs {
		var wrongOrigin *client.OriginError
		if errors.As(ls.Err, &wrongOrigin) && f.WrongOrigin == nil {
			f.WrongOrigin = fmt.Errorf("log %s: %w", ls.Origin, ls.Err)
		}
		if errors.Is(ls.Err, client.ErrCorruptCache) && f.CorruptCache == nil {
			f.CorruptCache = ls.Err
		}
		if ls.Err != nil {
			f.Unusable = append(f.Unusable, ls)
		}
	}
	if n := r.Count(StatusMismatch) - tampered; n > 0 {
		f.Failed = append(f.Failed, fmt.Sprintf("%d mismatches", n))
	}
	if n := r.Count(StatusError); n > 0 {
		f.Failed = append(f.Failed, fmt.Sprintf("%d artifacts not verifiable: too few logs answered", n))
	}
	if n := r.publisherProblems(); n > 0 {
		f.Failed = append(f.Failed, fmt.Sprintf("%d publisher mismatches", n))
	}
	if missing := r.claimProblems(); missing > 0 {
		what := "unclaimed"
		if r.claims == RequireClaimOrPublisher {
			what = "with neither a claimant nor a publisher"
		}
		f.Failed = append(f.Failed, fmt.Sprintf("%d %s (%s)", missing, what, r.claims.Flag()))
	}
	if strict {
		if n := r.Count(StatusNotInLog); n > 0 {
			f.Failed = append(f.Failed, fmt.Sprintf("%d not in the log (--strict)", n))
		}
		if n := r.Disagreements(); n > 0 {
			f.Failed = append(f.Failed, fmt.Sprintf("%d on which logs disagree (--strict)", n))
		}
		if r.Count(StatusVerified) == 0 {
			f.Failed = append(f.Failed, "nothing verified (--strict)")
		}
	}
	return f
}

// IsTampered reports whether a result is an artifact pinned by filename
// with another sha256 than the logs agree on for that filename (see
// Failures.Tampered).
func (res Result) IsTampered() bool {
	return res.Status == StatusMismatch && !res.Disagreement && res.Artifact.Filename != ""
}

// Tampered returns how many results are tampered (Result.IsTampered).
func (r *Report) Tampered() int {
	n := 0
	for _, res := range r.Results {
		if res.IsTampered() {
			n++
		}
	}
	return n
}

// publisherProblems returns how many results have a publisher problem.
func (r *Report) publisherProblems() int {
	n := 0
	for _, res := range r.Results {
		if res.PublisherProblem != "" {
			n++
		}
	}
	return n
}

// Failures is Report.Failures for the comparison: besides, a logged file
// whose entry contradicts the index is a misbehaviour of the log, a file
// served with another sha256 (a mismatch) or another size is an alarm,
// and a logged file not served that couldn't be listed or proven fails it.
func (c *Comparison) Failures(strict bool) Failures {
	// A file served now with other bytes is an alarm of its own (Alarms),
	// not a lockfile's.
	f := c.Report.failures(strict, 0)
	for _, u := range c.Unpublished {
		switch {
		case client.IsSecurityError(u.Err):
			f.Security = append(f.Security, u.Err)
		case u.Err != nil:
			f.Unprovable++
		}
	}
	for _, err := range c.IndexErrors {
		if !client.IsSecurityError(err) {
			f.Unprovable++
		}
	}
	f.Alarms = c.Count(StatusMismatch) + len(c.SizeDiffers)
	return f
}

// Err returns the error of the first kind of failure present, nil if
// none: for Security, an error wrapping tiles.ErrVerification; for Alarms,
// one wrapping ErrAlarm; WrongOrigin and CorruptCache themselves (the
// user's to fix before any verdict); for Tampered, one wrapping ErrAlarm;
// then one naming every Failed; then one counting Unprovable. Unusable logs alone
// are no error.
func (f Failures) Err() error {
	switch {
	case len(f.Security) > 0:
		return fmt.Errorf("%w: %d misbehaviours of logs detected", tiles.ErrVerification, len(f.Security))
	case f.Alarms > 0:
		return fmt.Errorf("%w: PyPI serves %d logged files with other bytes or another size than logged", ErrAlarm, f.Alarms)
	case f.WrongOrigin != nil:
		return f.WrongOrigin
	case f.CorruptCache != nil:
		return f.CorruptCache
	case f.Tampered > 0:
		return fmt.Errorf("%w: the lockfiles pin %d %s with other bytes than the logs recorded for the same filename", ErrAlarm, f.Tampered, plural(f.Tampered, "file", "files"))
	case len(f.Failed) > 0:
		return fmt.Errorf("verification failed: %s", strings.Join(f.Failed, ", "))
	case f.Unprovable > 0:
		return fmt.Errorf("couldn't list or prove the logged files that PyPI doesn't serve (%d failures)", f.Unprovable)
	}
	return nil
}

// MissingProject is a project of which artifacts are not in the log
// (StatusNotInLog): what a summary says of them, one line a project.
type MissingProject struct {
	// Project is the normalized project name.
	Project string
	// Versions are the distinct versions pinned, in order ("" left out).
	Versions []string
	// Results are the indexes in Report.Results of its artifacts not in
	// the log.
	Results []int
	// Reason says why, in words: per log that answered, that it has no
	// file of the project at all, or how many files of it it has (none of
	// them these), and how many of these it lists beyond the verified
	// checkpoint (not yet provable).
	Reason string
}

// NotInLog returns the projects of the artifacts not in the log, in the
// order of their first artifact.
func (r *Report) NotInLog() []MissingProject {
	var out []MissingProject
	byProject := map[string]int{}
	for j, res := range r.Results {
		if res.Status != StatusNotInLog {
			continue
		}
		a := res.Artifact
		i, ok := byProject[a.Project]
		if !ok {
			i = len(out)
			byProject[a.Project] = i
			out = append(out, MissingProject{Project: a.Project})
		}
		m := &out[i]
		m.Results = append(m.Results, j)
		if a.Version != "" && !slices.Contains(m.Versions, a.Version) {
			m.Versions = append(m.Versions, a.Version)
		}
	}
	for i := range out {
		out[i].Reason = r.missingReason(out[i])
	}
	return out
}

// missingReason says why the logs don't have a project's artifacts.
func (r *Report) missingReason(m MissingProject) string {
	var reasons []string
	for i, run := range r.runs {
		if run == nil || r.Logs[i].Err != nil {
			continue
		}
		px := run.indexes[m.Project]
		var reason string
		switch {
		case px == nil || px.err != nil:
			continue
		case px.absent:
			reason = "the log has no file of " + m.Project
		default:
			logged, pending := 0, 0
			for _, line := range px.index.Lines {
				if line.Leaf < run.tree.N {
					logged++
				}
			}
			for _, j := range m.Results {
				if run.listsBeyond(r.Results[j].Artifact, px.index) {
					pending++
				}
			}
			reason = fmt.Sprintf("the log has %d other %s of %s", logged, plural(logged, "file", "files"), m.Project)
			if pending > 0 {
				reason += fmt.Sprintf("; it lists %d of these beyond the verified checkpoint (size %d): not yet provable", pending, run.tree.N)
			}
		}
		if len(r.runs) > 1 {
			reason = r.Logs[i].Origin + ": " + reason
		}
		reasons = append(reasons, reason)
	}
	return strings.Join(reasons, "; ")
}

// listsBeyond reports whether the index lists artifact a (its filename,
// or without one its hash) at or beyond the verified tree size.
func (r *logRun) listsBeyond(a lockfile.Artifact, x tiles.Index) bool {
	d, err := tiles.ParseHexDigest(a.SHA256)
	for _, line := range x.Lines {
		if line.Leaf >= r.tree.N && (a.Filename != "" && line.Filename == a.Filename || a.Filename == "" && err == nil && line.SHA256 == d) {
			return true
		}
	}
	return false
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Freshness is how recent a log is, as far as a verification can tell:
// the log's checkpoint carries no time, but each index line the upload
// time PyPI gave, so the newest upload among the lines read (within the
// verified checkpoint) is a time the log had reached. Files uploaded to
// PyPI after it may not be logged yet.
type Freshness struct {
	// Origin names the log.
	Origin string
	// Indexes counts the project indexes read.
	Indexes int
	// Newest is the newest upload time among their lines within the
	// verified checkpoint; zero if none records one (then how far the log
	// is behind PyPI is unknown).
	Newest time.Time
}

// Freshness returns, per log that could be used, how recent it is (see
// Freshness), in Report.Logs order.
func (r *Report) Freshness() []Freshness {
	var out []Freshness
	for i, run := range r.runs {
		if run == nil || r.Logs[i].Err != nil {
			continue
		}
		f := Freshness{Origin: r.Logs[i].Origin}
		for _, px := range run.indexes {
			if px.err != nil || px.absent {
				continue
			}
			f.Indexes++
			for _, line := range px.index.Lines {
				if line.Leaf >= run.tree.N || line.UploadTime == tiles.NoUploadTime {
					continue
				}
				if t, err := time.Parse(time.RFC3339Nano, line.UploadTime); err == nil && t.After(f.Newest) {
					f.Newest = t
				}
			}
		}
		out = append(out, f)
	}
	return out
}
