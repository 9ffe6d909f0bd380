//go:build pysumdb_client

package main

import (
	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/publish"
)

// The client build (go build -tags pysumdb_client) has only the commands
// that read logs, those newRootCommand registers (main.go): it leaves out
// the server's (commands_server.go) and their dependencies, the stores
// (Google Cloud Storage, gRPC, OpenTelemetry) and the attestation checks
// (sigstore). clientbuild_test.go holds it to that.

// serverCommands are none in the client build.
func serverCommands(*globals) []*cobra.Command { return nil }

// alarmErrors and busyErrors are the errors of the server's packages that
// exitStatus maps to exitAlarm and exitBusy. Of the client's commands, only
// monitor has one: its state is in use by another monitor.
var (
	alarmErrors []error
	busyErrors  = []error{publish.ErrBusy}
)
