package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionString(t *testing.T) {
	for _, tc := range []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{nil, false, "pysumdb (no build information)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, true, "pysumdb v1.2.3 (go1.26.8)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1b5c2a99ac43d3b1f0e2a9c8b7d6e5f4a3b2c1d0"},
			{Key: "vcs.time", Value: "2026-11-28T01:44:32Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, true, "pysumdb (devel) (commit 1b5c2a99ac43 with local changes, committed 2026-11-28T01:44:32Z, go1.26.8)"},
	} {
		if got := versionString(tc.info, tc.ok); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestVersionStringRelease: a release build's -X variables stand in for
// what its build info lacks, and only for that.
func TestVersionStringRelease(t *testing.T) {
	t.Cleanup(func() { releaseVersion, releaseCommit = "", "" })
	releaseVersion, releaseCommit = "0.2.0", "1b5c2a99ac43d3b1f0e2a9c8b7d6e5f4a3b2c1d0"
	for _, tc := range []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{nil, false, "pysumdb 0.2.0 (no build information)"},
		// Built with -buildvcs=false: no module version, no VCS.
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true, "pysumdb 0.2.0 (commit 1b5c2a99ac43, go1.26.8)"},
		// The build info's, when it has them.
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.2.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-28T01:44:32Z"},
		}}, true, "pysumdb v0.2.0 (commit 0123456789ab, committed 2026-11-28T01:44:32Z, go1.26.8)"},
	} {
		if got := versionString(tc.info, tc.ok); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	// goreleaser's commit outside a git repository.
	releaseCommit = "none"
	if got, want := versionString(&debug.BuildInfo{GoVersion: "go1.26.8"}, true), "pysumdb 0.2.0 (go1.26.8)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
