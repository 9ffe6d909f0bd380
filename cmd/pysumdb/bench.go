//go:build !pysumdb_client

package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
)

// pypiFiles is about how many files PyPI holds today, for the estimate.
const pypiFiles = 17_000_000

func newBenchCommand(g *globals) *cobra.Command {
	var storeDir string
	var batch, entries int
	var floor bool
	c := &cobra.Command{
		Use:   "bench [--store DIR] [--batch N] [--entries N] [--floor=false]",
		Short: "Measure how fast the sequencer appends to a local store",
		Long: `bench appends synthetic PyPI-like records (about 30 files a project) in
batches of --batch to a fresh log in --store (a temporary directory, removed
afterwards, by default) until it holds --entries, and reports entries per
second, bytes and objects written, and the time a log the size of today's
PyPI would take at that rate.

Then, unless --floor=false, it measures the run's floor on this machine: the
cheapest crash-safe way to publish as many objects of as many bytes in the
same number of durable groups (two a batch), each written in parallel
without names, synced, named and synced again, on the store's file system; plus
the hashing no log can avoid, the Merkle tree hashes of every entry and the
Ed25519 signatures of every signed note written. It prints the floor and
how many times the floor the run took.`,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if batch <= 0 || entries <= 0 {
				return usagef("--batch and --entries must be positive")
			}
			if storeDir == "" {
				dir, err := os.MkdirTemp("", "pysumdb-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				storeDir = dir
			}
			store, err := publish.OpenDir(storeDir)
			if err != nil {
				return err
			}
			skey, _, err := note.GenerateKey(rand.Reader, "bench.pysumdb.invalid/log")
			if err != nil {
				return err
			}
			res, err := synthetic.Bench(c.Context(), store, skey, batch, entries, g.logger())
			if err != nil {
				return err
			}
			rate := res.EntriesPerSecond()
			fmt.Fprintf(g.stdout, "machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
			fmt.Fprintf(g.stdout, "appended %d entries in %d batches of %d in %s\n", res.Entries, res.Batches, batch, res.Elapsed.Round(time.Millisecond))
			fmt.Fprintf(g.stdout, "rate: %.0f entries/s\n", rate)
			fmt.Fprintf(g.stdout, "written: %.1f bytes/entry, %.1f objects/batch; read: %.1f objects/batch\n",
				float64(res.Bytes)/float64(res.Entries), float64(res.Objects)/float64(res.Batches), float64(res.Reads)/float64(res.Batches))
			fmt.Fprintf(g.stdout, "a log of %d files at this rate: %s\n", pypiFiles,
				(time.Duration(float64(pypiFiles)/rate) * time.Second).Round(time.Second))
			if !floor {
				return nil
			}
			f, err := synthetic.Floor(c.Context(), storeDir, res, synthetic.FloorConfig{})
			if err != nil {
				return fmt.Errorf("couldn't measure the floor: %w", err)
			}
			fmt.Fprintf(g.stdout, "floor: %d objects in %d durable groups %s + hashing %s (tree %s, %d signatures %s) = %s\n",
				f.Objects, f.Groups, seconds(f.Disk), seconds(f.Hashing()), seconds(f.Tree), f.Signatures, seconds(f.Signing), seconds(f.Total()))
			fmt.Fprintf(g.stdout, "this run: %s = %.2f× the floor\n", seconds(res.Elapsed), f.Ratio(res.Elapsed))
			return nil
		},
	}
	c.Flags().StringVar(&storeDir, "store", "", "directory for the log (default: a temporary one)")
	c.Flags().IntVar(&batch, "batch", 100_000, "entries per batch")
	c.Flags().IntVar(&entries, "entries", 1_000_000, "entries to append in all")
	c.Flags().BoolVar(&floor, "floor", true, "measure the floor of the run and compare")
	return c
}

// seconds formats d as seconds with two decimals, the floor's precision.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.2fs", d.Seconds())
}
