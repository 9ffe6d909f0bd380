package verify

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pysumdb/pysumdb/client"
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
// for, or a publisher problem (see CheckPublishers); with strict, also on
// an artifact not in the log, on logs that disagree, and when nothing is
// verified.
func (r *Report) Failures(strict bool) Failures {
	f := Failures{Security: r.SecurityErrors()}
	for _, ls := range r.Logs {
		if errors.Is(ls.Err, client.ErrCorruptCache) && f.CorruptCache == nil {
			f.CorruptCache = ls.Err
		}
		if ls.Err != nil {
			f.Unusable = append(f.Unusable, ls)
		}
	}
	if n := r.Count(StatusMismatch); n > 0 {
		f.Failed = append(f.Failed, fmt.Sprintf("%d mismatches", n))
	}
	if n := r.Count(StatusError); n > 0 {
		f.Failed = append(f.Failed, fmt.Sprintf("%d artifacts not verifiable: too few logs answered", n))
	}
	if n := r.publisherProblems(); n > 0 {
		f.Failed = append(f.Failed, fmt.Sprintf("%d publisher mismatches", n))
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
	f := c.Report.Failures(strict)
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
// one wrapping ErrAlarm; CorruptCache itself; then one naming every
// Failed; then one counting Unprovable. Unusable logs alone are no error.
func (f Failures) Err() error {
	switch {
	case len(f.Security) > 0:
		return fmt.Errorf("%w: %d misbehaviours of logs detected", tiles.ErrVerification, len(f.Security))
	case f.Alarms > 0:
		return fmt.Errorf("%w: PyPI serves %d logged files with other bytes or another size than logged", ErrAlarm, f.Alarms)
	case f.CorruptCache != nil:
		return f.CorruptCache
	case len(f.Failed) > 0:
		return fmt.Errorf("verification failed: %s", strings.Join(f.Failed, ", "))
	case f.Unprovable > 0:
		return fmt.Errorf("couldn't list or prove the logged files that PyPI doesn't serve (%d failures)", f.Unprovable)
	}
	return nil
}
