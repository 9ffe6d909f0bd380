package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// versionString says which pysumdb this is, from the build info the Go
// command records: the module version (a release tag with go install
// …@vX.Y.Z, "(devel)" for a build from a checkout), and, for a build from
// a git checkout, the commit, its time and whether the tree had changes.
func versionString(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "pysumdb (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	var details []string
	if rev := settings["vcs.revision"]; rev != "" {
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
