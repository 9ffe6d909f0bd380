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
