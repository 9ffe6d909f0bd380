// Command tesserabench appends the same PyPI-like entries to a Tessera
// POSIX log and to a pysumdb log on a local directory, in one run on one
// disk, and prints entries/s, objects and bytes of each, and the ratio.
// See README.md.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

func main() {
	total := flag.Int("entries", 200_000, "entries appended to each log in each run")
	batchList := flag.String("batch", "10000,100000", "batch sizes, comma-separated: each divides -entries")
	rounds := flag.Int("rounds", 1, "runs of each log at each batch size, the order alternating")
	dir := flag.String("dir", os.TempDir(), "directory the logs are made in (one disk for both)")
	keep := flag.Bool("keep", false, "keep the logs")
	flag.Parse()
	log.SetFlags(0)

	var batches []int
	for s := range strings.SplitSeq(*batchList, ",") {
		b, err := strconv.Atoi(s)
		if err != nil || b <= 0 || *total%b != 0 {
			log.Fatalf("batch %q: want a positive divisor of -entries %d", s, *total)
		}
		batches = append(batches, b)
	}
	// Tessera logs "Initializing directory ..." for every new log.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)

	if err := run(context.Background(), os.Stdout, *dir, *total, batches, *rounds, *keep); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer, dir string, total int, batches []int, rounds int, keep bool) error {
	skey, _, err := note.GenerateKey(rand.Reader, "bench.pysumdb.invalid/log")
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp(dir, "tesserabench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(root)
	}
	entries, err := Entries(total)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s, GOMAXPROCS %d, %d CPUs, logs in %s\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), root)
	fmt.Fprintf(w, "%d entries, %.0f bytes each on average\n\n", total, avg(entries))
	fmt.Fprintf(w, "%-8s %7s %5s %11s %8s %8s %9s %6s\n", "log", "batch", "round", "entries/s", "elapsed", "objects", "MB", "B/entry")

	var all []Result
	n := 0
	for _, batch := range batches {
		for round := range rounds {
			order := []string{"tessera", "pysumdb"}
			if n%2 == 1 {
				slices.Reverse(order)
			}
			n++
			for _, name := range order {
				d, err := os.MkdirTemp(root, fmt.Sprintf("%s-%d-", name, batch))
				if err != nil {
					return err
				}
				var r Result
				if name == "tessera" {
					r, err = RunTessera(ctx, d, skey, entries, batch)
				} else {
					r, err = RunPysumdb(ctx, d, skey, total, batch)
				}
				if err != nil {
					return fmt.Errorf("%s, batch %d: %w", name, batch, err)
				}
				if r.Size != uint64(total) {
					return fmt.Errorf("%s, batch %d: checkpoint of size %d, want %d", name, batch, r.Size, total)
				}
				fmt.Fprintf(w, "%-8s %7d %5d %11.0f %8s %8d %9.1f %6.0f\n", r.Log, batch, round+1, r.EntriesPerSecond(),
					r.Elapsed.Round(time.Millisecond), r.Disk.Objects, float64(r.Disk.Bytes)/1e6, float64(r.Disk.Bytes)/float64(total))
				all = append(all, r)
				if !keep {
					if err := os.RemoveAll(d); err != nil {
						return err
					}
				}
			}
		}
	}

	fmt.Fprintf(w, "\nratio pysumdb/tessera of entries/s (rounds paired in order):\n")
	for _, batch := range batches {
		var t, p []Result
		for _, r := range all {
			if r.Batch == batch && r.Log == "tessera" {
				t = append(t, r)
			} else if r.Batch == batch {
				p = append(p, r)
			}
		}
		var ratios []string
		for i := range t {
			if t[i].RootHash != p[i].RootHash {
				return fmt.Errorf("batch %d: the logs' root hashes differ: tessera %s, pysumdb %s", batch, t[i].RootHash, p[i].RootHash)
			}
			ratios = append(ratios, fmt.Sprintf("%.2f", p[i].EntriesPerSecond()/t[i].EntriesPerSecond()))
		}
		fmt.Fprintf(w, "batch %7d: %s (same tree: root %s)\n", batch, strings.Join(ratios, ", "), t[0].RootHash)
	}

	fmt.Fprintf(w, "\nobjects / MB on disk by prefix, last run of each:\n")
	for _, batch := range batches {
		for _, name := range []string{"tessera", "pysumdb"} {
			var last Result
			for _, r := range all {
				if r.Batch == batch && r.Log == name {
					last = r
				}
			}
			var parts []string
			for _, p := range slices.Sorted(maps.Keys(last.Disk.ByPrefix)) {
				c := last.Disk.ByPrefix[p]
				parts = append(parts, fmt.Sprintf("%s %d / %.1f", p, c.Objects, float64(c.Bytes)/1e6))
			}
			fmt.Fprintf(w, "%-8s %7d: %s\n", name, batch, strings.Join(parts, "; "))
		}
	}
	return nil
}

func avg(entries [][]byte) float64 {
	n := 0
	for _, e := range entries {
		n += len(e)
	}
	return float64(n) / float64(len(entries))
}
