//go:build !pysumdb_client

package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
)

// serverCommands are the commands that run a log, a witness or a mirror of
// one: they need the sequencer, the stores (Google Cloud Storage among
// them) and the attestation checks (sigstore), which the client build
// (-tags pysumdb_client, commands_client.go) leaves out. The commands of
// both builds are registered in newRootCommand (main.go).
func serverCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		newKeygenCommand(g),
		newSequenceCommand(g),
		newServeCommand(g),
		newBenchCommand(g),
		newRunCommand(g),
		newAlarmsCommand(g),
		newDemoCommand(g),
		newMirrorCommand(g),
		newWitnessCommand(g),
		newPublishWebCommand(g),
		newIntakeCommand(g),
	}
}

// releaseTimeout bounds the release of a lease after the work is done,
// which runs under a context that a signal does not cancel.
const releaseTimeout = 30 * time.Second

// alarmErrors and busyErrors are the errors of the server's packages that
// exitStatus maps to exitAlarm and exitBusy.
var (
	alarmErrors = []error{sequencer.ErrAlarm, publish.ErrIntegrity}
	busyErrors  = []error{publish.ErrBusy}
)
