// Command pysumdb runs and reads pysumdb logs: an append-only Merkle log of
// the sha256 of every file published on PyPI.
//
// Exit statuses, for every subcommand:
//
//	0  success: done, everything verified
//	1  failure of the job: an operation or a verification failed
//	2  usage or input error: bad flag, unreadable or malformed file
//	3  alarm: PyPI serves other bytes for a logged file, or a log
//	   misbehaves (SECURITY ERROR)
//	4  busy: another sequencer holds the lease or won the race
//	130  aborted by a second SIGINT or SIGTERM
//
// Signals: the first SIGINT or SIGTERM asks the command to stop (sequence
// and run finish and publish the batch in progress first); a second one
// ends the process at once, whatever it is doing, with status 130.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/tiles"
)

// Exit statuses (DESIGN.md).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitAlarm   = 3
	exitBusy    = 4
	// exitAborted: a second signal ended the process (128 + SIGINT, as
	// shells report a process an interrupt killed).
	exitAborted = 130
)

const exitStatusHelp = `Exit status: 0 success, 1 failure, 2 usage or input error,
3 alarm or SECURITY ERROR (a logged file changed, a log misbehaves),
4 busy (another sequencer is running), 130 aborted by a second SIGINT or
SIGTERM (the first asks the command to stop).`

// usageError marks errors of the command line or of input files.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// errAlarm marks a run that raised alarms; the alarms were already
// reported.
var errAlarm = errors.New("alarms raised")

func exitStatus(err error) int {
	var u usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errAlarm), errors.Is(err, tiles.ErrVerification), isAny(err, alarmErrors):
		return exitAlarm
	case isAny(err, busyErrors):
		return exitBusy
	case errors.As(err, &u):
		return exitUsage
	default:
		return exitFailure
	}
}

// isAny reports whether err is any of targets (errors.Is).
func isAny(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status. The first
// SIGINT or SIGTERM ends the command's context; the second ends the
// process (see onSignals).
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	go onSignals(signals, stop, stderr, os.Exit)
	return runContext(ctx, args, stdout, stderr)
}

// onSignals handles the signals of one process: the first asks the
// command to stop, by stop (ending its context: most commands return at
// once, sequence and run after publishing the batch in progress); the
// second calls exit(exitAborted) whatever the command is doing, even
// blocked on something that ignores its context (a FIFO, a stalled
// stdin), since only SIGKILL would end it otherwise.
func onSignals(signals <-chan os.Signal, stop func(), stderr io.Writer, exit func(int)) {
	sig, ok := <-signals
	if !ok {
		return
	}
	fmt.Fprintf(stderr, "pysumdb: %v: stopping (signal again to abort)\n", sig)
	stop()
	if sig, ok = <-signals; !ok {
		return
	}
	fmt.Fprintf(stderr, "pysumdb: %v: aborted\n", sig)
	exit(exitAborted)
}

// workContext returns the context for work that the first signal must not
// interrupt (a batch in progress), which ctx's end only asks to stop: it
// is never cancelled, and a second signal ends the process.
func workContext(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

// runContext is run with a context that ends the command (as a signal
// does).
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	status := exitStatus(err)
	if err != nil && !errors.Is(err, errAlarm) {
		prefix := "pysumdb: "
		if status == exitAlarm {
			prefix = "pysumdb: SECURITY ERROR: "
		}
		fmt.Fprintln(stderr, prefix+err.Error())
	}
	return status
}

// globals are the flags every subcommand has.
type globals struct {
	verbose bool
	quiet   bool
	// logFormat is how log lines are written: logFormatText or
	// logFormatJSON.
	logFormat string
	stdout    io.Writer
	stderr    io.Writer
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelInfo
	switch {
	case g.verbose:
		level = slog.LevelDebug
	case g.quiet:
		level = slog.LevelWarn
	}
	if g.logFormat == logFormatJSON {
		return slog.New(logging.NewCloudJSONHandler(g.stderr, level))
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
}

// The values of --log-format.
const (
	// logFormatText: key=value lines, for people.
	logFormatText = "text"
	// logFormatJSON: a JSON object a line, with the severity names Google
	// Cloud Logging reads (a Cloud Run job's output).
	logFormatJSON = "json"
)

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "pysumdb",
		Short: "A tamper-evident log of every file published on PyPI",
		Long: `pysumdb records the sha256 of every file published on PyPI in an append-only
Merkle log (C2SP tlog-tiles and signed checkpoints, like Go's checksum
database), written as static files to a directory or a bucket. Anyone can
verify the log and their lockfiles against it from those files alone.

` + exitStatusHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = versionString(debug.ReadBuildInfo())
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "log only warnings and errors")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", logFormatText, "how log lines are written: text, or json (one object a line, with the severity names Google Cloud Logging reads)")
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if g.logFormat != logFormatText && g.logFormat != logFormatJSON {
			return usagef("--log-format %q: want text or json", g.logFormat)
		}
		return nil
	}
	// The client commands, which read logs: both builds have them. Those
	// of the server (commands_server.go) are left out of the client build
	// (go build -tags pysumdb_client, commands_client.go), which must not
	// need the stores (GCS), gRPC or sigstore: see clientbuild_test.go.
	root.AddCommand(
		newAuditCommand(g),
		newLookupCommand(g),
		newPublishersCommand(g),
		newVerifyCommand(g),
		newConfigCommand(g),
		newCheckPyPICommand(g),
		newMonitorCommand(g),
		newProxyCommand(g),
		newClaimCommand(g),
	)
	root.AddCommand(serverCommands(g)...)
	return root
}

// argsBetween accepts lo to hi positional arguments; others are a usage
// error.
func argsBetween(lo, hi int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usagef("%s takes %s, got %d (see '%s --help')", c.Name(), argCount(lo, hi), len(args), c.CommandPath())
		}
		return nil
	}
}

func argCount(lo, hi int) string {
	switch {
	case lo == hi:
		return fmt.Sprintf("%d arguments", lo)
	default:
		return fmt.Sprintf("%d to %d arguments", lo, hi)
	}
}

// requireFlags reports missing required flags as a usage error.
func requireFlags(c *cobra.Command, names ...string) error {
	for _, n := range names {
		if !c.Flags().Changed(n) {
			return usagef("%s needs --%s (see '%s --help')", c.Name(), n, c.CommandPath())
		}
	}
	return nil
}
