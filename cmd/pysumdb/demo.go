//go:build !pysumdb_client

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/ingest"
	"github.com/pysumdb/pysumdb/sequencer/jsonl"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/tiles"
)

// demoMarker is the hidden folder that marks a directory as the demo's,
// and holds its keys: only such a directory is ever wiped by the demo.
const demoMarker = ".demo"

// demoNewFiles is how many of the newest files the demo's PyPI publishes
// only after the backfill, to show incremental following.
const demoNewFiles = 8

func newDemoCommand(g *globals) *cobra.Command {
	var dir, serve string
	var tamper bool
	c := &cobra.Command{
		Use:   "demo [--dir demo-log] [--serve 127.0.0.1:8080] [--tamper]",
		Short: "Run the whole job offline on a local PyPI with real file data",
		Long: `demo shows the main job end to end without network access. It starts a
PyPI-protocol server on 127.0.0.1 seeded with real PyPI file data (1,421
files: filenames, sha256, sizes and upload times from the uv lockfiles of
sigstore-python and spectree), creates a log key, backfills that PyPI into a
new log in --dir, publishes the newest files and follows them incrementally
(XML-RPC changelog), audits the log and prints a lookup proven by inclusion
proofs.

--dir is wiped and rebuilt on every run (only if it is a demo directory).
--tamper then makes the server serve other bytes for a logged file and runs
once more: the ALARM pysumdb exists for, exit status 3.
--serve keeps serving the log (and the demo PyPI) until interrupted.`,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			return runDemo(c.Context(), g, dir, serve, tamper)
		},
	}
	c.Flags().StringVar(&dir, "dir", "demo-log", "directory for the demo's log (wiped on each run)")
	c.Flags().StringVar(&serve, "serve", "", "after the demo, serve the log at this address until interrupted")
	c.Flags().BoolVar(&tamper, "tamper", false, "then tamper with a logged file on the demo PyPI and show the alarm")
	return c
}

func runDemo(ctx context.Context, g *globals, dir, serveAddr string, tamper bool) error {
	logger := g.logger()
	if !g.verbose {
		logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if err := resetDemoDir(dir); err != nil {
		return err
	}
	records, err := jsonl.Read(bytes.NewReader(demoFiles), "demo data")
	if err != nil {
		return err
	}
	// The newest files come later, as new uploads.
	slices.SortStableFunc(records, func(a, b sequencer.Record) int { return strings.Compare(a.UploadTime, b.UploadTime) })
	early, late := records[:len(records)-demoNewFiles], records[len(records)-demoNewFiles:]

	srv := fakepypi.NewServer()
	defer srv.Close()
	if err := publishOnDemoPyPI(srv, early); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "demo PyPI at %s/simple/ with %d real files\n", srv.URL, len(early))

	skey, vkey, err := note.GenerateKey(rand.Reader, "demo.pysumdb.invalid/log")
	if err != nil {
		return err
	}
	keyDir := filepath.Join(dir, demoMarker)
	if err := os.WriteFile(filepath.Join(keyDir, "log.key"), []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(keyDir, "log.vkey"), []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	store, err := publish.OpenDir(dir)
	if err != nil {
		return err
	}
	flags := ingestFlags{pypiURL: srv.URL, rate: -1, concurrency: 8, batchSize: 500, attestations: true, pinnedRoot: true}
	cfg, err := flags.config(store, logKey{skey: skey, vkey: vkey}, logger)
	if err != nil {
		return err
	}
	step := func(what string) (ingest.Summary, error) {
		start := time.Now()
		sum, err := ingest.Run(ctx, cfg)
		fmt.Fprintf(g.stdout, "%s: %d batches, appended %d, already logged %d, alarms %d; log size %d (%s)\n",
			what, sum.Batches, sum.Appended, sum.Duplicates, len(sum.Alarms), sum.TreeSize, time.Since(start).Round(time.Millisecond))
		printAlarms(g, sum.Alarms)
		return sum, err
	}
	if _, err := step("backfill"); err != nil {
		return err
	}
	if err := publishOnDemoPyPI(srv, late); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "demo PyPI published %d new files\n", len(late))
	if _, err := step("follow"); err != nil {
		return err
	}
	if _, err := publishPage(ctx, store, vkey); err != nil {
		return fmt.Errorf("couldn't publish the web page: %w", err)
	}

	l, err := client.NewLog(client.DirFetcher(dir), vkey)
	if err != nil {
		return err
	}
	rep, err := l.Audit(ctx, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "audit: %d entries, %d hash tiles, %d project indexes: OK\n", rep.Entries, rep.HashTiles, rep.Indexes)
	project := late[len(late)-1].Project
	if err := printLookup(ctx, g, l, project); err != nil {
		return err
	}
	abs, _ := filepath.Abs(dir)
	fmt.Fprintf(g.stdout, "\nthe log is in %s (key in %s)\ntry:\n", abs, filepath.Join(abs, demoMarker))
	fmt.Fprintf(g.stdout, "  pysumdb audit --log %s --vkey %s\n", dir, filepath.Join(keyDir, "log.vkey"))
	fmt.Fprintf(g.stdout, "  pysumdb lookup --log %s --vkey %s %s\n", dir, filepath.Join(keyDir, "log.vkey"), project)
	fmt.Fprintf(g.stdout, "  pysumdb serve --store %s    # and open http://127.0.0.1:8080/ for the web page\n", dir)

	if tamper {
		victim := early[0]
		forged := fmt.Sprintf("%064x", 0xbad)
		if err := srv.TamperFile(victim.Project, victim.Filename, forged, victim.Size); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "\ndemo PyPI now serves other bytes for %s\n", victim.Filename)
		cfg.Recheck = true
		sum, err := step("re-check")
		if err != nil {
			return err
		}
		if len(sum.Alarms) > 0 {
			return errAlarm
		}
	}
	if serveAddr != "" {
		return serveDemo(ctx, g, store, serveAddr, logger)
	}
	return nil
}

// resetDemoDir empties dir if it is a demo directory (or does not exist)
// and marks it as one; any other directory is refused.
func resetDemoDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return usagef("%s exists and is not a demo directory; choose another --dir", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.MkdirAll(filepath.Join(dir, demoMarker), 0o700)
}

func publishOnDemoPyPI(srv *fakepypi.Server, records []sequencer.Record) error {
	for _, r := range records {
		version, _ := lockfile.FilenameVersion(r.Project, r.Filename)
		upload := r.UploadTime
		if upload == tiles.NoUploadTime {
			upload = ""
		}
		if _, err := srv.AddFile(r.Project, fakepypi.File{Filename: r.Filename, Version: version, SHA256: hex.EncodeToString(r.SHA256[:]), Size: r.Size, UploadTime: upload}); err != nil {
			return fmt.Errorf("couldn't publish %s on the demo PyPI: %w", r.Filename, err)
		}
	}
	return nil
}

func printLookup(ctx context.Context, g *globals, l *client.Log, project string) error {
	cp, _, err := l.Checkpoint(ctx)
	if err != nil {
		return err
	}
	files, err := l.Lookup(ctx, cp.Tree, project, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\nlookup %s (checkpoint size %d), each proven by an inclusion proof:\n", project, cp.N)
	for _, f := range files {
		status := "verified"
		if !f.Proven {
			status = "not yet provable"
		}
		fmt.Fprintf(g.stdout, "  %d %s %s %d %s %s\n", f.Leaf, f.Filename, tiles.FormatSHA256(f.SHA256), f.Size, f.UploadTime, status)
	}
	return nil
}

func serveDemo(ctx context.Context, g *globals, store *publish.Dir, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("couldn't listen: %w", err)
	}
	srv := &http.Server{Handler: publish.Handler(store, logger), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(g.stdout, "\nserving the log at http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
