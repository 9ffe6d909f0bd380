package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/internal/latency"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
)

// latencyLockfiles are the real lockfiles the latency benchmark verifies,
// all ten of ../shared/testdata/lockfiles: filename formats first, then
// hash-only ones.
var latencyLockfiles = []string{
	"testdata/lockfiles/sigstore-python/uv.lock",
	"testdata/lockfiles/spectree/uv.lock",
	"testdata/lockfiles/spectree/pylock.toml",
	"testdata/lockfiles/poetry/poetry.lock",
	"testdata/lockfiles/rich/poetry.lock",
	"testdata/lockfiles/rich-2021/poetry.lock",
	"testdata/lockfiles/h11/pylock.toml",
	"testdata/lockfiles/pipenv/pylock.toml",
	"testdata/lockfiles/pipenv/Pipfile.lock",
	"testdata/lockfiles/warehouse/main.txt",
}

// benchRTT is the round trip the latency benchmark adds to every request.
const benchRTT = 40 * time.Millisecond

// buildLatencyLog returns a log of a million synthetic files with the
// files of every latency lockfile among them, each project's files
// together, the projects spread over the log (kept in $PYSUMDB_BENCH_LOG
// between runs, if set). It returns the store and the key file.
func buildLatencyLog(b *testing.B) (*publish.Dir, string, string) {
	dir := os.Getenv(benchLogEnv)
	if dir == "" {
		dir = b.TempDir()
	}
	// Named after what it holds: a new lockfile makes a new log.
	dir = filepath.Join(dir, fmt.Sprintf("latency-%d", len(latencyLockfiles)))
	keyFile, vkeyFile := filepath.Join(dir, "log.key"), filepath.Join(dir, "log.vkey")
	store, err := publish.OpenDir(filepath.Join(dir, "log"))
	if err != nil {
		b.Fatal(err)
	}
	if data, err := os.ReadFile(vkeyFile); err == nil {
		b.Logf("reusing the log in %s", dir)
		return store, keyFile, strings.TrimSpace(string(data))
	} else if !errors.Is(err, fs.ErrNotExist) {
		b.Fatal(err)
	}
	// Files of the filename formats first: a hash-only format's files
	// are named by the benchmark, and a real name wins.
	byProject := map[string][]sequencer.Record{}
	seenFile, seenHash := map[string]bool{}, map[[32]byte]bool{}
	for _, path := range latencyLockfiles {
		records, err := lockfileRecords(path, "")
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range records {
			if seenFile[r.Filename] || seenHash[r.SHA256] {
				continue
			}
			seenFile[r.Filename], seenHash[r.SHA256] = true, true
			byProject[r.Project] = append(byProject[r.Project], r)
		}
	}
	projects := make([]string, 0, len(byProject))
	for p := range byProject {
		projects = append(projects, p)
	}
	sort.Strings(projects)
	skey, vkey, err := note.GenerateKey(rand.Reader, "latency.pysumdb.invalid/log")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	seq, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey, Holder: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer seq.Close(ctx)
	stretch := benchLogSize / len(projects)
	var batch []sequencer.Record
	for i, p := range projects {
		batch = append(batch, synthetic.Records(i*stretch, stretch)...)
		batch = append(batch, byProject[p]...)
		if len(batch) >= 100_000 || i == len(projects)-1 {
			if _, err := seq.Append(ctx, batch, nil); err != nil {
				b.Fatal(err)
			}
			batch = nil
		}
	}
	b.Logf("built a log of %d entries in %s", seq.TreeSize(), dir)
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(vkeyFile, []byte(vkey+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	return store, keyFile, vkey
}

// BenchmarkVerifyLatency verifies each latency lockfile against a
// million-entry log served through a proxy that adds a 40 ms round trip
// to every request, cold (empty cache), warm (same checkpoint) and after
// the log grew by 1,000 files, and reports for each the round-trip depth
// (the longest chain of requests each waiting for the one before),
// requests and bytes, and the verdicts.
//
//	go test -run '^$' -bench BenchmarkVerifyLatency -benchtime 1x ./cmd/pysumdb
func BenchmarkVerifyLatency(b *testing.B) {
	store, keyFile, vkey := buildLatencyLog(b)
	skey, err := os.ReadFile(keyFile)
	if err != nil {
		b.Fatal(err)
	}
	proxy := latency.New(publish.Handler(store, nil), benchRTT)
	defer proxy.Close()
	verifyOnce := func(b *testing.B, lockfile, cacheDir string) string {
		var out, errOut strings.Builder
		status := runContext(context.Background(), []string{"verify", "--json", lockfile, "--log", proxy.URL, "--vkey", vkey, "--cache-dir", cacheDir}, &out, &errOut)
		if status != exitOK && status != exitFailure && status != exitAlarm {
			b.Fatalf("verify %s exited %d:\n%s", lockfile, status, errOut.String())
		}
		var rep struct {
			Counts map[string]int `json:"counts"`
		}
		if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
			b.Fatalf("verify --json %s: %v\n%s", lockfile, err, out.String())
		}
		return fmt.Sprint(rep.Counts)
	}
	for _, lockfile := range latencyLockfiles {
		name := strings.TrimPrefix(filepath.Dir(lockfile), "testdata/lockfiles/") + "/" + filepath.Base(lockfile)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				cacheDir := b.TempDir()
				for _, phase := range []string{"cold", "warm", "grown"} {
					if phase == "grown" {
						// 1,000 more files: a batch of the sequencer.
						if res, err := appendSynthetic(store, strings.TrimSpace(string(skey)), 1000); err != nil || res.Appended != 1000 {
							b.Fatalf("growing the log: %+v, %v", res, err)
						}
					}
					proxy.Reset()
					start := time.Now()
					verdicts := verifyOnce(b, lockfile, cacheDir)
					elapsed := time.Since(start)
					s := latency.Summarize(proxy.Requests())
					b.ReportMetric(float64(s.Depth), phase+"-round-trips")
					b.ReportMetric(float64(s.Requests), phase+"-requests")
					b.ReportMetric(float64(s.Bytes), phase+"-bytes")
					b.Logf("%s %s: %d round trips deep, %d requests, %d bytes, %s; %s",
						name, phase, s.Depth, s.Requests, s.Bytes, elapsed.Round(time.Millisecond), verdicts)
				}
			}
		})
	}
}

// appendSynthetic appends n new synthetic files, numbered after the
// log's size (the log's first million are numbered from 0).
func appendSynthetic(store publish.Store, skey string, n int) (sequencer.Result, error) {
	ctx := context.Background()
	seq, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey, Holder: "bench"})
	if err != nil {
		return sequencer.Result{}, err
	}
	defer seq.Close(ctx)
	return seq.Append(ctx, synthetic.Records(benchLogSize+int(seq.TreeSize()), n), nil)
}
