package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/atomicfile"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

const offlineHelp = `Offline proofs: --save-proofs DIR writes, after the verification, the C2SP
tlog-proof of every verified artifact to DIR/<log>/<filename>.tlog-proof:
its entry, its inclusion proof and the log's checkpoint verified by this run,
with its cosignatures (one checkpoint for all the proofs of a log).
--offline DIR verifies the lockfiles from such proofs with no network at
all: each proof's checkpoint signature (and the witness policy), its
inclusion proof, and its filename and sha256 against the lockfile's; and
its checkpoint against the one this machine verified last (the cache): the
same size with another root hash is a fork (SECURITY ERROR, exit 3), an
older or newer one must be proven consistent from the tiles in the cache,
else the artifact is not verified (run verify online once). With no
checkpoint in the cache, the saved checkpoint is trusted on first use. A
proof the log publishes at proof/<leaf> (see lookup) is accepted too.
Offline, artifacts are found by filename: lockfiles without filenames
(Pipfile.lock, requirements) can't be verified offline.`

// proofFileName returns the path of an artifact's proof in dir, for the
// log of origin: dir/<origin, as a file name>/<filename>.tlog-proof. The
// filename comes from a lockfile or a log: it must be a valid PyPI
// filename (no separator, not "." or ".."), or it is refused.
func proofFileName(dir, origin, filename string) (string, error) {
	if err := tiles.CheckFilename(filename); err != nil {
		return "", fmt.Errorf("not a PyPI filename, not used as a file name: %w", err)
	}
	name := filename + tiles.ProofExt
	if filepath.Base(name) != name || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("filename %q can't be a file name", filename)
	}
	return filepath.Join(dir, originDirName(origin), name), nil
}

// originDirName is the directory of a log's proofs: its origin with
// every character but letters, digits, '.' and '-' made '_', never
// starting with '.'.
func originDirName(origin string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, origin)
	if strings.HasPrefix(name, ".") {
		name = "_" + name
	}
	return name
}

// saveProofs writes the tlog-proof of every artifact each usable log
// verified into dir, against the checkpoint the log verified, and returns
// how many it wrote.
func saveProofs(ctx context.Context, logs *openedLogs, rep *verify.Report, dir string) (int, error) {
	written := 0
	for i, ls := range rep.Logs {
		if ls.Err != nil {
			continue
		}
		l := logs.logs[i]
		var leaves []int64
		var entries []tiles.Entry
		var paths []string
		seen := map[int64]bool{}
		for _, res := range rep.Results {
			if i >= len(res.Logs) || res.Logs[i].Status != verify.StatusVerified || seen[res.Logs[i].Leaf] {
				continue
			}
			lr := res.Logs[i]
			p, err := proofFileName(dir, l.Origin(), lr.Filename)
			if err != nil {
				return written, fmt.Errorf("couldn't save the proof of leaf %d of %s: %w", lr.Leaf, l.Origin(), err)
			}
			seen[lr.Leaf] = true
			leaves = append(leaves, lr.Leaf)
			entries = append(entries, tiles.Entry{Filename: lr.Filename, SHA256: lr.SHA256, Publisher: lr.Publisher})
			paths = append(paths, p)
		}
		if len(leaves) == 0 {
			continue
		}
		proofs, err := l.TlogProofs(ctx, ls.Checkpoint.Tree, leaves, entries)
		if err != nil {
			return written, err
		}
		if err := os.MkdirAll(filepath.Join(dir, originDirName(l.Origin())), 0o755); err != nil {
			return written, fmt.Errorf("couldn't save the proofs: %w", err)
		}
		for j, p := range paths {
			if err := atomicfile.Replace(p, proofs[j], false); err != nil {
				return written, fmt.Errorf("couldn't save the proof of %s: %w", entries[j].Filename, err)
			}
			written++
		}
	}
	return written, nil
}

// offlineStatus is what one log's saved proof says of an artifact.
type offlineStatus int

const (
	offlineVerified offlineStatus = iota
	// offlineNotVerified: no proof, or one that can't be anchored to the
	// checkpoint verified before without the network: the next step is
	// a verification online.
	offlineNotVerified
	// offlineFailed: the proof is not valid, or not of this artifact.
	offlineFailed
	// offlineMismatch: a valid proof of this filename with another sha256.
	offlineMismatch
)

// offlineCheckpoint is a checkpoint of a log met in saved proofs.
type offlineCheckpoint struct {
	signed []byte
	path   string
	anchor client.Anchor
	err    error
	// age is when it was last known current, and from what.
	when time.Time
	from string
}

// offlineLog is one log of an offline verification.
type offlineLog struct {
	log *client.Log
	// bySize holds the checkpoints met, by tree size: two of one size
	// with other roots are a fork.
	bySize map[int64]tiles.Checkpoint
	cps    map[tiles.Checkpoint]*offlineCheckpoint
	newest *tiles.Checkpoint
}

// runOffline verifies the artifacts of run from the proofs saved in dir,
// with the cached checkpoints, fetching nothing.
func runOffline(c *cobra.Command, g *globals, lf *logFlags, run *verifyRun, dir string) error {
	cfg, err := lf.resolve(c)
	if err != nil {
		return err
	}
	if err := cfg.refuseOff(c); err != nil {
		return err
	}
	if err := cfg.needLogs(c); err != nil {
		return err
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return usagef("--offline %s: not a directory of saved proofs (write one with verify --save-proofs %s)", dir, dir)
	}
	cache, err := client.OpenCache(cfg.cacheDir, g.logger())
	if err != nil {
		return err
	}
	var logs []*offlineLog
	for _, lc := range cfg.logs {
		l, err := client.NewOfflineLog(lc.VKey)
		if err != nil {
			return usageError{err}
		}
		l.UseCache(cache)
		if cfg.witnessPolicy != nil {
			l.RequireWitnesses(cfg.witnessPolicy)
		}
		logs = append(logs, &offlineLog{log: l, bySize: map[int64]tiles.Checkpoint{}, cps: map[tiles.Checkpoint]*offlineCheckpoint{}})
	}
	ctx := c.Context()
	out := g.stdout
	var security []error
	counts := map[string]int{}
	fmt.Fprintf(out, "offline: verifying from the proofs in %s and the checkpoints cached in %s, with no network\n", dir, cfg.cacheDir)
	for _, a := range run.artifacts {
		if a.Skip != "" {
			counts["skipped"]++
			if run.verbose {
				fmt.Fprintf(out, "SKIPPED       %s: %s\n", artifactName(a), a.Skip)
			}
			continue
		}
		if _, excluded := cfg.exclude.Match(a.Project); excluded {
			counts["skipped"]++
			continue
		}
		verified, mismatch, failed := 0, false, false
		var reasons []string
		for _, ol := range logs {
			st, why, err := ol.check(ctx, dir, a)
			if err != nil {
				if client.IsSecurityError(err) {
					security = append(security, err)
				} else if errors.Is(err, client.ErrCorruptCache) {
					return usageError{err}
				}
			}
			switch st {
			case offlineVerified:
				verified++
			case offlineMismatch:
				mismatch = true
			case offlineFailed:
				failed = true
			}
			if why != "" {
				reasons = append(reasons, fmt.Sprintf("%s: %s", ol.log.Origin(), why))
			}
		}
		switch {
		case mismatch:
			counts["mismatch"]++
			fmt.Fprintf(out, "MISMATCH      %s: %s\n", artifactName(a), strings.Join(reasons, "; "))
		case verified >= cfg.quorum:
			counts["verified"]++
			if run.verbose {
				fmt.Fprintf(out, "verified      %s\n", artifactName(a))
			}
		case failed:
			counts["failed"]++
			fmt.Fprintf(out, "FAILED        %s: %s\n", artifactName(a), strings.Join(reasons, "; "))
		default:
			counts["not verified"]++
			fmt.Fprintf(out, "NOT VERIFIED  %s: %s\n", artifactName(a), strings.Join(reasons, "; "))
		}
	}
	now := time.Now()
	for _, ol := range logs {
		ol.report(out, now, cfg.cacheDir)
	}
	fmt.Fprintf(out, "offline: %d verified, %d not verified, %d failed, %d mismatch, %d skipped\n",
		counts["verified"], counts["not verified"], counts["failed"], counts["mismatch"], counts["skipped"])
	if counts["not verified"] > 0 {
		fmt.Fprintf(out, "next step: run pysumdb verify --save-proofs %s online once, to save the proofs again against the log's current checkpoint\n", dir)
	}
	switch {
	case len(security) > 0:
		writeSecurityErrors(g.stderr, dedupeErrors(security))
		return fmt.Errorf("%w: a log misbehaves (see above)", tiles.ErrVerification)
	case counts["mismatch"] > 0:
		fmt.Fprintf(g.stderr, "pysumdb: SECURITY ERROR: %d artifacts have another sha256 in the log than in the lockfile (see above)\n", counts["mismatch"])
		return errAlarm
	case counts["failed"] > 0 || counts["not verified"] > 0:
		return fmt.Errorf("%d artifacts not verified offline, %d failed", counts["not verified"], counts["failed"])
	}
	return nil
}

// dedupeErrors returns errs without repeats (by message).
func dedupeErrors(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, err := range errs {
		if !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	return out
}

// check verifies artifact a from its proof in dir: what the log's proof
// says, why (for anything but verified), and the error behind it.
func (ol *offlineLog) check(ctx context.Context, dir string, a lockfile.Artifact) (offlineStatus, string, error) {
	if a.Filename == "" {
		return offlineNotVerified, "the lockfile names no filename, and offline proofs are found by filename (verify it online)", nil
	}
	path, err := proofFileName(dir, ol.log.Origin(), a.Filename)
	if err != nil {
		return offlineFailed, err.Error(), nil
	}
	data, info, err := bounded.ReadFile(path, tiles.MaxProofSize)
	if errors.Is(err, fs.ErrNotExist) {
		return offlineNotVerified, fmt.Sprintf("no saved proof (%s)", path), nil
	}
	if err != nil {
		return offlineFailed, fmt.Sprintf("couldn't read the proof: %v", err), nil
	}
	sp, err := ol.log.OpenTlogProof(data)
	var short *client.WitnessPolicyError
	switch {
	case errors.As(err, &short):
		return offlineNotVerified, fmt.Sprintf("the checkpoint of the proof %s is short of the witness policy: %v", path, err), nil
	case err != nil:
		return offlineFailed, fmt.Sprintf("the proof %s doesn't verify (damaged or altered): %v", path, err), nil
	}
	if sp.Entry.Filename != a.Filename {
		return offlineFailed, fmt.Sprintf("the proof %s is of %s, not of %s", path, sp.Entry.Filename, a.Filename), nil
	}
	if tiles.FormatSHA256(sp.Entry.SHA256) != "sha256:"+a.SHA256 {
		return offlineMismatch, fmt.Sprintf("the log proves %s (leaf %d, proof %s), the lockfile pins sha256:%s",
			tiles.FormatSHA256(sp.Entry.SHA256), sp.Index, path, a.SHA256), nil
	}
	_, err = ol.anchor(ctx, sp, path, info)
	switch {
	case client.IsSecurityError(err):
		return offlineFailed, "its checkpoint contradicts another (SECURITY ERROR below)", err
	case errors.Is(err, client.ErrCorruptCache):
		return offlineFailed, err.Error(), err
	case err != nil:
		return offlineNotVerified, err.Error(), nil
	}
	return offlineVerified, "", nil
}

// anchor checks a proof's checkpoint against the checkpoints of the
// log's other proofs (one size, one root) and the one cached, once per
// checkpoint.
func (ol *offlineLog) anchor(ctx context.Context, sp client.SavedProof, path string, info fs.FileInfo) (*offlineCheckpoint, error) {
	cp := sp.Checkpoint
	if oc, ok := ol.cps[cp]; ok {
		return oc, oc.err
	}
	oc := &offlineCheckpoint{signed: sp.TlogProof.Checkpoint, path: path}
	ol.cps[cp] = oc
	if other, ok := ol.bySize[cp.N]; ok && other.Hash != cp.Hash {
		first := ol.cps[other]
		oc.err = &client.ForkError{
			Origin: cp.Origin,
			Old:    first.signed, OldPath: first.path, OldTree: other.Tree,
			New: oc.signed, NewTree: cp.Tree,
			Err: fmt.Errorf("%w: two checkpoints of size %d with different root hashes %s and %s, both signed by the log", tiles.ErrVerification, cp.N, other.Hash, cp.Hash),
		}
		return oc, oc.err
	}
	ol.bySize[cp.N] = cp
	oc.anchor, oc.err = ol.log.AnchorCheckpoint(ctx, cp, oc.signed)
	if oc.err != nil {
		return oc, oc.err
	}
	// How old: the newest cosignature's time, else the file's.
	if times := client.CosignatureTimes(sp.Note); len(times) > 0 {
		oc.when = time.Unix(times[0].Unix, 0)
		oc.from = "the newest cosignature, by " + times[0].Name
		if !times[0].Verified {
			oc.from += " (not verified: no witness policy names it)"
		}
	} else if info != nil {
		oc.when = info.ModTime()
		oc.from = "the modification time of " + path + " (the checkpoint has no cosignature and holds no time)"
	}
	if ol.newest == nil || cp.N > ol.newest.N {
		c := cp
		ol.newest = &c
	}
	return oc, nil
}

// report prints how the newest checkpoint of the log used was anchored,
// and how old it is.
func (ol *offlineLog) report(w io.Writer, now time.Time, cacheDir string) {
	if ol.newest == nil {
		fmt.Fprintf(w, "log %s: no proof verified\n", ol.log.Origin())
		return
	}
	oc := ol.cps[*ol.newest]
	var how string
	switch oc.anchor {
	case client.AnchorSame:
		how = "the checkpoint verified last on this machine"
	case client.AnchorProven:
		how = "proven consistent with the checkpoint verified last on this machine, from the cached tiles"
	case client.AnchorFirstUse:
		how = fmt.Sprintf("TRUSTED ON FIRST USE: no checkpoint of this log was verified on this machine (cache %s); run pysumdb verify online once to anchor it", cacheDir)
	}
	age := "unknown"
	if !oc.when.IsZero() {
		age = fmt.Sprintf("%s old, from %s", now.Sub(oc.when).Round(time.Second), oc.from)
	}
	fmt.Fprintf(w, "log %s: newest checkpoint used: size %d, %s; %s\n", ol.log.Origin(), ol.newest.N, how, age)
}

// proofLocation says where the log at location (a URL or a directory)
// publishes the tlog-proof of leaf in its tree of size n, for lookup -v:
// the object of the proofs of its bundle, and which one of them it is.
func proofLocation(location string, leaf, n int64) string {
	bundle := tiles.BundleOf(leaf, n)
	key := tiles.ProofBundleKey(bundle)
	at := fmt.Sprintf(" (proof %d of %d)", leaf%tiles.TileWidth+1, bundle.W)
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		return strings.TrimSuffix(location, "/") + "/" + key + at
	}
	return filepath.Join(location, filepath.FromSlash(key)) + at
}
