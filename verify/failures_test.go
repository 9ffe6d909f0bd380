package verify_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// results returns one result per status, of made-up artifacts.
func results(statuses ...verify.Status) []verify.Result {
	var out []verify.Result
	for i, s := range statuses {
		out = append(out, verify.Result{
			Artifact: lockfile.Artifact{Project: "foo", Filename: fmt.Sprintf("foo-%d.tar.gz", i)},
			Status:   s,
			Logs:     []verify.LogResult{{Status: s, Leaf: -1}},
		})
	}
	return out
}

func TestFailures(t *testing.T) {
	forged := fmt.Errorf("index of foo: %w: index says leaf 5 is foo-1.0.tar.gz", tiles.ErrVerification)
	unreachable := errors.New("couldn't fetch checkpoint: 503 Service Unavailable")
	corrupt := fmt.Errorf("%w: cached checkpoint: bad signature", client.ErrCorruptCache)
	ok := verify.LogStatus{Origin: "a.test/log"}
	down := verify.LogStatus{Origin: "b.test/log", Err: unreachable}
	publisherProblem := results(verify.StatusVerified, verify.StatusVerified)
	publisherProblem[1].PublisherProblem = "no verified publisher in the log (--require-publisher)"
	disagreement := results(verify.StatusVerified)
	disagreement[0].Disagreement = true
	security := results(verify.StatusError, verify.StatusMismatch)
	security[0].Logs[0].Err = forged

	for name, tc := range map[string]struct {
		logs    []verify.LogStatus
		results []verify.Result
		strict  bool
		// want is the error, "" for none; wantIs what it wraps.
		want   string
		wantIs error
		// unusable are the origins of the logs warned about.
		unusable []string
	}{
		"all verified": {
			logs: []verify.LogStatus{ok}, results: results(verify.StatusVerified, verify.StatusSkipped), strict: true,
		},
		"security error": {
			logs: []verify.LogStatus{ok}, results: security, strict: true,
			want: "verification failed: 1 misbehaviours of logs detected", wantIs: tiles.ErrVerification,
		},
		"security error of a log": {
			logs: []verify.LogStatus{{Origin: "a.test/log", Err: forged}}, results: results(verify.StatusError),
			want: "verification failed: 1 misbehaviours of logs detected", wantIs: tiles.ErrVerification,
			unusable: []string{"a.test/log"},
		},
		"mismatch": {
			logs: []verify.LogStatus{ok}, results: results(verify.StatusVerified, verify.StatusMismatch, verify.StatusMismatch),
			want: "verification failed: 2 mismatches",
		},
		"not in log": {
			logs: []verify.LogStatus{ok}, results: results(verify.StatusVerified, verify.StatusNotInLog),
		},
		"not in log, strict": {
			logs: []verify.LogStatus{ok}, results: results(verify.StatusVerified, verify.StatusNotInLog), strict: true,
			want: "verification failed: 1 not in the log (--strict)",
		},
		"nothing verified": {
			logs: []verify.LogStatus{ok}, results: results(verify.StatusSkipped),
		},
		"nothing verified, strict": {
			logs: []verify.LogStatus{ok}, results: results(verify.StatusSkipped), strict: true,
			want: "verification failed: nothing verified (--strict)",
		},
		"disagreement": {
			logs: []verify.LogStatus{ok, ok}, results: disagreement,
		},
		"disagreement, strict": {
			logs: []verify.LogStatus{ok, ok}, results: disagreement, strict: true,
			want: "verification failed: 1 on which logs disagree (--strict)",
		},
		"publisher problem": {
			logs: []verify.LogStatus{ok}, results: publisherProblem,
			want: "verification failed: 1 publisher mismatches",
		},
		"unusable log, the others decide": {
			logs: []verify.LogStatus{ok, down}, results: results(verify.StatusVerified), strict: true,
			unusable: []string{"b.test/log"},
		},
		"too few logs answered": {
			logs: []verify.LogStatus{down}, results: results(verify.StatusError, verify.StatusError),
			want: "verification failed: 2 artifacts not verifiable: too few logs answered", unusable: []string{"b.test/log"},
		},
		"corrupt cache": {
			logs: []verify.LogStatus{down, {Origin: "c.test/log", Err: corrupt}}, results: results(verify.StatusError, verify.StatusMismatch),
			want: corrupt.Error(), wantIs: client.ErrCorruptCache, unusable: []string{"b.test/log", "c.test/log"},
		},
		"several failures": {
			logs: []verify.LogStatus{ok}, results: results(verify.StatusMismatch, verify.StatusNotInLog), strict: true,
			want: "verification failed: 1 mismatches, 1 not in the log (--strict), nothing verified (--strict)",
		},
	} {
		t.Run(name, func(t *testing.T) {
			rep := &verify.Report{Quorum: 1, Logs: tc.logs, Results: tc.results}
			f := rep.Failures(tc.strict)
			err := f.Err()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("error %v, want %q", err, tc.want)
			case tc.wantIs != nil && !errors.Is(err, tc.wantIs):
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			case tc.wantIs == nil && client.IsSecurityError(err):
				t.Errorf("error %v is a security error", err)
			}
			var unusable []string
			for _, ls := range f.Unusable {
				unusable = append(unusable, ls.Origin)
			}
			if !slices.Equal(unusable, tc.unusable) {
				t.Errorf("unusable logs %q, want %q", unusable, tc.unusable)
			}
			if client.IsSecurityError(err) && (len(f.Security) != 1 || f.Security[0] != forged) {
				t.Errorf("security errors %v, want the forged index", f.Security)
			}
		})
	}
}

func TestComparisonFailures(t *testing.T) {
	forged := fmt.Errorf("index of foo: %w: index says leaf 5 is foo-1.0.tar.gz", tiles.ErrVerification)
	unreachable := errors.New("couldn't fetch tile/entries/000: 503 Service Unavailable")
	ok := []verify.LogStatus{{Origin: "a.test/log"}}
	comparison := func(statuses ...verify.Status) *verify.Comparison {
		return &verify.Comparison{Report: &verify.Report{Quorum: 1, Logs: ok, Results: results(statuses...)}}
	}
	unpublished := func(err error) []verify.UnpublishedFile {
		return []verify.UnpublishedFile{{Origin: "a.test/log", Line: tiles.IndexLine{Filename: "foo-1.0.tar.gz", Leaf: 5}, Err: err}}
	}
	sizeDiffers := []verify.SizeDifference{{Origin: "a.test/log", Filename: "foo-1.0.tar.gz", Leaf: 5, Logged: 10, Published: 1}}

	for name, tc := range map[string]struct {
		cmp    *verify.Comparison
		strict bool
		want   string
		wantIs error
	}{
		"all served as logged": {cmp: comparison(verify.StatusVerified)},
		"a logged file deleted from the index": {
			cmp: &verify.Comparison{Report: comparison(verify.StatusVerified).Report, Unpublished: unpublished(nil)},
		},
		"a deleted file the index misstates": {
			cmp:  &verify.Comparison{Report: comparison(verify.StatusVerified).Report, Unpublished: unpublished(forged)},
			want: "verification failed: 1 misbehaviours of logs detected", wantIs: tiles.ErrVerification,
		},
		"served with other bytes": {
			cmp:  comparison(verify.StatusMismatch, verify.StatusMismatch),
			want: "ALARM: PyPI serves 2 logged files with other bytes or another size than logged", wantIs: verify.ErrAlarm,
		},
		"served with another size": {
			cmp:  &verify.Comparison{Report: comparison(verify.StatusVerified).Report, SizeDiffers: sizeDiffers},
			want: "ALARM: PyPI serves 1 logged files with other bytes or another size than logged", wantIs: verify.ErrAlarm,
		},
		"not in log": {cmp: comparison(verify.StatusNotInLog)},
		"not in log, strict": {
			cmp: comparison(verify.StatusNotInLog), strict: true,
			want: "verification failed: 1 not in the log (--strict), nothing verified (--strict)",
		},
		"a deleted file not proven": {
			cmp:  &verify.Comparison{Report: comparison(verify.StatusVerified).Report, Unpublished: unpublished(unreachable)},
			want: "couldn't list or prove the logged files that PyPI doesn't serve (1 failures)",
		},
		"an index not read": {
			cmp:  &verify.Comparison{Report: comparison().Report, IndexErrors: []error{unreachable}},
			want: "couldn't list or prove the logged files that PyPI doesn't serve (1 failures)",
		},
		"an index not read, and not in log, strict": {
			cmp: &verify.Comparison{Report: comparison(verify.StatusNotInLog).Report, IndexErrors: []error{unreachable}}, strict: true,
			want: "verification failed: 1 not in the log (--strict), nothing verified (--strict)",
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.cmp.Failures(tc.strict).Err()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("error %v, want %q", err, tc.want)
			case tc.wantIs != nil && !errors.Is(err, tc.wantIs):
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			}
		})
	}
}
