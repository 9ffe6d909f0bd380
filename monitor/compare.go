package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/tiles"
)

// pypiMismatch is a logged file PyPI serves with another sha256.
type pypiMismatch struct {
	project, filename string
	leaf              int64
	served, logged    [32]byte
}

// comparePyPI asks PyPI for the files of the chunk's projects and reports
// every file of the chunk PyPI serves with another sha256. (Files of
// older chunks were compared with theirs.)
func (r *run) comparePyPI(ctx context.Context, c *chunk) error {
	pc := r.m.cfg.PyPI
	if pc == nil {
		return nil
	}
	projects := map[string]bool{}
	for i := range c.entries {
		if p := c.entries[i].claimedBy; p != "" {
			projects[p] = true
		}
	}
	var mu sync.Mutex
	var found []pypiMismatch
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(notesAhead)
	for _, p := range sortedKeys(projects) {
		g.Go(func() error {
			page, err := pc.Project(gctx, p)
			if errors.Is(err, pypi.ErrNotFound) {
				return nil // deleted from PyPI, which PyPI allows
			}
			if err != nil {
				return fmt.Errorf("couldn't read %s from PyPI: %w", p, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, f := range page.Files {
				i, ok := c.byName[fnHash(f.Filename)]
				if !ok || c.entries[i].filename != f.Filename || c.entries[i].sha256 == f.SHA256 {
					continue
				}
				found = append(found, pypiMismatch{p, f.Filename, c.entries[i].leaf, f.SHA256, c.entries[i].sha256})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, d := range found {
		subject := fmt.Sprintf("%s %x", d.filename, d.served)
		if r.skip(KindPyPIChanged, subject) {
			continue
		}
		ev := Evidence{Checkpoint: string(r.target), PyPI: &PyPIFile{
			URL:    pc.BaseURL() + "/simple/" + url.PathEscape(d.project) + "/",
			SHA256: tiles.FormatSHA256(d.served),
		}}
		r.addEntryEvidence(ctx, &ev, d.leaf)
		leaf := d.leaf
		if err := r.record(Finding{
			Kind: KindPyPIChanged, Leaf: &leaf, Filename: d.filename, Project: d.project,
			Message: fmt.Sprintf("PyPI serves %s with %s, the log holds %s (leaf %d)",
				d.filename, tiles.FormatSHA256(d.served), tiles.FormatSHA256(d.logged), d.leaf),
			Evidence: ev,
		}, subject); err != nil {
			return err
		}
	}
	return nil
}

// peerMismatch is a file another log holds with another sha256 or
// publisher.
type peerMismatch struct {
	peer     *monitoredLog
	filename string
	leaf     int64
	peerLeaf int64
	what     string
	// peerCheckpoint is the peer's signed checkpoint its state verified
	// the leaf against.
	peerCheckpoint []byte
}

// comparePeers compares the chunk's entries with what the other logs'
// states hold, verified: a filename both hold must have the same sha256
// and publisher. Each pair of entries is compared once, when the later of
// the two is checked.
func (r *run) comparePeers(ctx context.Context, c *chunk) error {
	var found []peerMismatch
	err := r.m.db.View(func(tx *bolt.Tx) error {
		for _, peer := range r.m.logs {
			if peer == r.log {
				continue
			}
			pb := tx.Bucket([]byte(peer.origin))
			var peerCheckpoint []byte
			for i := range c.entries {
				e := &c.entries[i]
				if e.filename == "" {
					continue
				}
				leaf, ok := lookupFile(pb, e.filename, e.fnHash)
				if !ok {
					continue
				}
				rec, ok, err := lookupLeaf(pb, leaf)
				if err != nil || !ok {
					return fmt.Errorf("the monitor state of %s is damaged: leaf %d", peer.origin, leaf)
				}
				var what string
				switch {
				case rec.sha256 != e.sha256:
					what = fmt.Sprintf("%s in %s, %s in %s", tiles.FormatSHA256(e.sha256), r.log.origin, tiles.FormatSHA256(rec.sha256), peer.origin)
				case rec.publisher != e.publisher:
					what = "another publisher"
				default:
					continue
				}
				if peerCheckpoint == nil {
					meta := pb.Bucket(bucketMeta)
					if peerCheckpoint = meta.Get(keyTarget); peerCheckpoint == nil {
						peerCheckpoint = meta.Get(keyCheckpoint)
					}
					peerCheckpoint = append([]byte(nil), peerCheckpoint...)
				}
				found = append(found, peerMismatch{peer, e.filename, e.leaf, leaf, what, peerCheckpoint})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range found {
		subject := d.peer.origin + " " + d.filename
		if r.skip(KindPeerDisagrees, subject) {
			continue
		}
		ev := Evidence{Checkpoint: string(r.target), PeerCheckpoint: string(d.peerCheckpoint)}
		r.addEntryEvidence(ctx, &ev, d.leaf)
		if cp, _, err := tiles.OpenCheckpoint(d.peerCheckpoint, d.peer.verifier); err == nil {
			pe, raw, err := proveEntry(ctx, d.peer.origin, d.peer.fetch, newTileReader(ctx, d.peer.fetch), cp.Tree, d.peerLeaf)
			if e, perr := tiles.ParseEntry(raw); err == nil && (perr != nil || e.Filename != d.filename) {
				// Two filenames with the same 128-bit digest.
				r.m.logger.Warn("two filenames share a digest", "origins", []string{r.log.origin, d.peer.origin}, "leaves", []int64{d.leaf, d.peerLeaf})
				continue
			}
			if err == nil {
				ev.Entries = append(ev.Entries, pe)
			} else {
				ev.Detail = fmt.Sprintf("couldn't fetch leaf %d of %s again: %v", d.peerLeaf, d.peer.origin, err)
			}
		}
		leaf := d.leaf
		if err := r.record(Finding{
			Kind: KindPeerDisagrees, Leaf: &leaf, Filename: d.filename,
			Message:  fmt.Sprintf("%s (leaf %d) differs from %s's (leaf %d): %s", d.filename, d.leaf, d.peer.origin, d.peerLeaf, d.what),
			Evidence: ev,
		}, subject); err != nil {
			return err
		}
	}
	return nil
}
