package verify_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/sequencer"
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
	hashOnly := results(verify.StatusVerified, verify.StatusMismatch, verify.StatusMismatch)
	for i := range hashOnly {
		hashOnly[i].Artifact.Filename, hashOnly[i].Artifact.Version = "", "1.0"
	}
	disagreeing := results(verify.StatusMismatch)
	disagreeing[0].Disagreement = true
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
		"mismatch of a filename": {
			logs: []verify.LogStatus{ok}, results: results(verify.StatusVerified, verify.StatusMismatch, verify.StatusMismatch),
			want: "ALARM: the lockfiles pin 2 files with other bytes than the logs recorded for the same filename", wantIs: verify.ErrAlarm,
		},
		"mismatch of a hash": {
			logs: []verify.LogStatus{ok}, results: hashOnly,
			want: "verification failed: 2 mismatches",
		},
		"mismatch on which logs disagree": {
			logs: []verify.LogStatus{ok, ok}, results: disagreeing,
			want: "verification failed: 1 mismatches",
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
		"wrong origin": {
			logs:     []verify.LogStatus{ok, {Origin: "c.test/log", Err: &client.OriginError{Origin: "c.test/log", Served: "d.test/log"}}},
			results:  results(verify.StatusVerified, verify.StatusMismatch),
			want:     "log c.test/log: the log serves a checkpoint of origin d.test/log, but the verifier key is for origin c.test/log",
			unusable: []string{"c.test/log"},
		},
		"several failures": {
			logs: []verify.LogStatus{ok}, results: slices.Concat(hashOnly[1:2], results(verify.StatusNotInLog)), strict: true,
			want: "verification failed: 1 mismatches, 1 not in the log (--strict), nothing verified (--strict)",
		},
		"a tampered file first": {
			logs: []verify.LogStatus{ok}, results: slices.Concat(results(verify.StatusMismatch), hashOnly[1:2]), strict: true,
			want: "ALARM: the lockfiles pin 1 file with other bytes than the logs recorded for the same filename", wantIs: verify.ErrAlarm,
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
			var wrongOrigin *client.OriginError
			if errors.As(err, &wrongOrigin) != (name == "wrong origin") {
				t.Errorf("error %v: errors.As(*client.OriginError) = %v", err, !(name == "wrong origin"))
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

// TestNotInLog: the artifacts not in the log are summarized by project,
// with why; and the upload times of the index lines read say how recent
// the log is, or that it is unknown.
func TestNotInLog(t *testing.T) {
	uploaded := func(r sequencer.Record, at string) sequencer.Record {
		r.UploadTime = at
		return r
	}
	tl := clienttest.NewLog(t, "pysumdb.test/log", []sequencer.Record{
		uploaded(clienttest.Record("foo", "foo-0.9.tar.gz"), "2024-03-04T05:06:07Z"),
		uploaded(clienttest.Record("foo", "foo-1.0.tar.gz"), "2025-01-02T03:04:05.5Z"),
		clienttest.Record("bar", "bar-2.0.tar.gz"),
	})
	oldCheckpoint := tl.Read(t, tiles.CheckpointKey)
	oldSize := tl.Size(t)
	tl.Append(t, []sequencer.Record{uploaded(clienttest.Record("foo", "foo-1.2.tar.gz"), "2026-01-01T00:00:00Z")})
	srv := clienttest.Serve(t, tl)
	// The indexes are fresher than the checkpoint the client gets.
	srv.SetRewrite(func(key string, status int, body []byte) (int, []byte) {
		if key == tiles.CheckpointKey {
			return status, oldCheckpoint
		}
		return status, body
	})
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	rep := verifyAll(t, 1, []lockfile.Artifact{
		fileArtifact("foo", "1.1", "foo-1.1.tar.gz", "foo-1.1.tar.gz"),
		fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz"),
		fileArtifact("baz", "3.0", "baz-3.0.tar.gz", "baz-3.0.tar.gz"),
		fileArtifact("foo", "1.2", "foo-1.2.tar.gz", "foo-1.2.tar.gz"),
		hashArtifact("baz", "3.1", "baz-3.1"),
		fileArtifact("bar", "2.0", "bar-2.0.tar.gz", "bar-2.0.tar.gz"),
	}, l)
	got := rep.NotInLog()
	want := []verify.MissingProject{
		{Project: "foo", Versions: []string{"1.1", "1.2"}, Results: []int{0, 3},
			Reason: fmt.Sprintf("the log has 2 other files of foo; it lists 1 of these beyond the verified checkpoint (size %d): not yet provable", oldSize)},
		{Project: "baz", Versions: []string{"3.0", "3.1"}, Results: []int{2, 4}, Reason: "the log has no file of baz"},
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("NotInLog() =\n%+v\nwant\n%+v", got, want)
	}
	fresh := rep.Freshness()
	if len(fresh) != 1 || fresh[0].Origin != "pysumdb.test/log" || fresh[0].Indexes != 2 ||
		!fresh[0].Newest.Equal(time.Date(2025, 1, 2, 3, 4, 5, 5e8, time.UTC)) {
		t.Errorf("Freshness() = %+v, want pysumdb.test/log, 2 indexes, newest 2025-01-02T03:04:05.5Z (not the line beyond the checkpoint)", fresh)
	}

	// Without upload times, how recent the log is is unknown; and with
	// two logs, each says why.
	other := clienttest.NewLog(t, "other.test/log", []sequencer.Record{clienttest.Record("foo", "foo-1.0.tar.gz")})
	ol, _ := clienttest.OpenLog(t, clienttest.Serve(t, other).URL, other.VKey, nil)
	rep = verifyAll(t, 1, []lockfile.Artifact{fileArtifact("baz", "3.0", "baz-3.0.tar.gz", "baz-3.0.tar.gz"), fileArtifact("foo", "1.0", "foo-1.0.tar.gz", "foo-1.0.tar.gz")}, ol, l)
	got = rep.NotInLog()
	if len(got) != 1 || got[0].Reason != "other.test/log: the log has no file of baz; pysumdb.test/log: the log has no file of baz" {
		t.Errorf("NotInLog() with two logs = %+v", got)
	}
	fresh = rep.Freshness()
	if len(fresh) != 2 || fresh[0].Origin != "other.test/log" || !fresh[0].Newest.IsZero() || fresh[0].Indexes != 1 {
		t.Errorf("Freshness() = %+v, want other.test/log first, with no upload time", fresh)
	}

	// An unusable log says nothing of how recent it is.
	srv.Down()
	down, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	rep = verifyAll(t, 1, []lockfile.Artifact{fileArtifact("baz", "3.0", "baz-3.0.tar.gz", "baz-3.0.tar.gz")}, ol, down)
	if fresh := rep.Freshness(); len(fresh) != 1 || fresh[0].Origin != "other.test/log" {
		t.Errorf("Freshness() with a log down = %+v", fresh)
	}
}
