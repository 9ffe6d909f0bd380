package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// releaseVersion and releaseCommit are set by release builds
// (.goreleaser.yaml: -X main.releaseVersion=… -X main.releaseCommit=…)
// for when the build info lacks them: a build with -buildvcs=false, or of
// a tree that is no git checkout, records neither the tag nor the commit.
var releaseVersion, releaseCommit string

// versionString says which pysumdb this is, from the build info the Go
// command records: the module version (a release tag with go install
// …@vX.Y.Z, "(devel)" for a build from a checkout), and, for a build from
// a git checkout, the commit, its time and whether the tree had changes.
// A release build's releaseVersion and releaseCommit stand in for the
// module version and the commit the build info lacks.
func versionString(info *debug.BuildInfo, ok bool) string {
	if !ok {
		if releaseVersion != "" {
			return "pysumdb " + releaseVersion + " (no build information)"
		}
		return "pysumdb (no build information)"
	}
	version := info.Main.Version
	if (version == "" || version == "(devel)") && releaseVersion != "" {
		version = releaseVersion
	}
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	var details []string
	rev := settings["vcs.revision"]
	if rev == "" && releaseCommit != "none" {
		rev = releaseCommit
	}
	if rev != "" {
		commit := "commit " + rev[:min(len(rev), 12)]
		if settings["vcs.modified"] == "true" {
			commit += " with local changes"
		}
		details = append(details, commit)
	}
	if t := settings["vcs.time"]; t != "" {
		details = append(details, "committed "+t)
	}
	details = append(details, info.GoVersion)
	return fmt.Sprintf("pysumdb %s (%s)", version, strings.Join(details, ", "))
}
