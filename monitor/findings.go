package monitor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v5"
	bolt "go.etcd.io/bbolt"

	"github.com/pysumdb/pysumdb/internal/bounded"
)

// The kinds of findings.
const (
	// KindFork: the log's checkpoint is not consistent with the one
	// verified before (the same size with another root, or a tree of
	// which the older is not a prefix).
	KindFork = "fork"
	// KindTreeMismatch: the log's entry bundles or hash tiles don't give
	// the tree its signed checkpoint names.
	KindTreeMismatch = "tree-mismatch"
	// KindMalformedEntry: a logged entry is not a pypi-transparency/v1
	// entry.
	KindMalformedEntry = "malformed-entry"
	// KindDuplicateFilename: a filename is logged at two leaves.
	KindDuplicateFilename = "duplicate-filename"
	// KindIndexOmits: no project index lists a logged file, or a project
	// index no longer lists a file it listed.
	KindIndexOmits = "index-omits"
	// KindIndexAdds: a project index lists a file the log doesn't hold
	// at that leaf, or a leaf another index lists too.
	KindIndexAdds = "index-adds"
	// KindIndexMisstates: a project index gives a logged file another
	// sha256, or another leaf.
	KindIndexMisstates = "index-misstates"
	// KindPyPIChanged: PyPI serves a logged file with another sha256.
	KindPyPIChanged = "pypi-changed"
	// KindPeerDisagrees: another log holds the same filename with another
	// sha256 or publisher.
	KindPeerDisagrees = "peer-disagrees"
)

// Finding is a misbehaviour a run found, with its evidence. It is written
// as JSON to the state's findings directory and POSTed to the webhook.
type Finding struct {
	// ID is stable: a digest of the kind, the origin and the finding's
	// subject, so that the same finding is written and notified once.
	ID string `json:"id"`
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// Origin names the log.
	Origin string `json:"origin"`
	// Leaf is the leaf concerned, if any.
	Leaf *int64 `json:"leaf,omitempty"`
	// Filename and Project name the file concerned, if any.
	Filename string `json:"filename,omitempty"`
	Project  string `json:"project,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Evidence is what shows it.
	Evidence Evidence `json:"evidence"`
	// Time is when the finding was first made.
	Time time.Time `json:"time"`
}

// Evidence is what shows a finding: signed notes of the log (anyone with
// the log's key can check them) and entries with their inclusion proofs.
type Evidence struct {
	// Checkpoint is the log's signed checkpoint the finding is about (for
	// a fork, the one it serves now).
	Checkpoint string `json:"checkpoint,omitempty"`
	// OldCheckpoint is, for a fork, the signed checkpoint verified before.
	OldCheckpoint string `json:"old_checkpoint,omitempty"`
	// Proof is, for a fork, the consistency proof from the smaller tree
	// to the larger one, built from the log's tiles, that fails.
	Proof []string `json:"proof,omitempty"`
	// Notes are the signed project indexes and filename notes read.
	Notes []SignedNote `json:"notes,omitempty"`
	// Absent names the indexes and notes the log does not serve (which
	// list nothing).
	Absent []string `json:"absent,omitempty"`
	// Entries are the logged entries concerned, with inclusion proofs.
	Entries []ProvenEntry `json:"entries,omitempty"`
	// Peer is, for a peer disagreement, the other log's signed
	// checkpoint (its entry is in Entries).
	PeerCheckpoint string `json:"peer_checkpoint,omitempty"`
	// PyPI is, for a file PyPI changed, what PyPI serves.
	PyPI *PyPIFile `json:"pypi,omitempty"`
	// Detail adds what the objects above don't show (an error message).
	Detail string `json:"detail,omitempty"`
}

// SignedNote is a signed note of a log, as it was read.
type SignedNote struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

// ProvenEntry is a logged entry and its inclusion proof.
type ProvenEntry struct {
	// Origin names the log and TreeSize the tree the proof is for (that
	// of the checkpoint in the evidence).
	Origin   string `json:"origin"`
	TreeSize int64  `json:"tree_size"`
	Leaf     int64  `json:"leaf"`
	// Entry is the entry's text; EntryBase64 its bytes when they are not
	// UTF-8.
	Entry       string `json:"entry,omitempty"`
	EntryBase64 []byte `json:"entry_base64,omitempty"`
	// InclusionProof is the RFC 6962 audit path of the leaf.
	InclusionProof []string `json:"inclusion_proof,omitempty"`
}

// PyPIFile is what PyPI serves for a file.
type PyPIFile struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

// MaxFindingsPerRun bounds the findings one run records per log: a log
// that lies about millions of files must not fill the disk. The others are
// counted (Report.Suppressed).
const MaxFindingsPerRun = 1000

// maxFindingFile bounds a finding file read back for the webhook.
const maxFindingFile = 256 << 20

func findingID(kind, origin, subject string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + origin + "\x00" + subject))
	return hex.EncodeToString(h[:16])
}

// setEntry sets the entry's text.
func (e *ProvenEntry) setEntry(raw []byte) {
	if utf8.Valid(raw) {
		e.Entry = string(raw)
	} else {
		e.EntryBase64 = slices.Clone(raw)
	}
}

// record records a finding of the run: written to the findings
// directory unless it was before, logged, and added to the report.
func (r *run) record(f Finding, subject string) error {
	f.Origin = r.log.origin
	f.ID = findingID(f.Kind, f.Origin, subject)
	if r.rep.ids[f.ID] {
		return nil
	}
	if r.rep.ids == nil {
		r.rep.ids = map[string]bool{}
	}
	r.rep.ids[f.ID] = true
	f.Time = r.m.cfg.Now().UTC()
	path := filepath.Join(r.m.cfg.StateDir, findingsDir, f.ID+".json")
	_, err := os.Lstat(path)
	again := err == nil
	if !again {
		if err := writeFinding(path, f); err != nil {
			return err
		}
	}
	attrs := []any{"kind", f.Kind, "origin", f.Origin, "id", f.ID, "message", f.Message, "again", again}
	if f.Leaf != nil {
		attrs = append(attrs, "leaf", *f.Leaf)
	}
	if f.Filename != "" {
		attrs = append(attrs, "filename", f.Filename)
	}
	r.m.logger.Error("SECURITY ERROR", attrs...)
	r.rep.Findings = append(r.rep.Findings, f)
	r.lr.Findings++
	return nil
}

// skip reports whether the finding of kind and subject is not to be made:
// this run made it already, or as many findings of this log as it may
// (counting one more suppressed). Evidence is gathered after it.
func (r *run) skip(kind, subject string) bool {
	if r.rep.ids[findingID(kind, r.log.origin, subject)] {
		return true
	}
	if r.lr.Findings < MaxFindingsPerRun {
		return false
	}
	if r.rep.Suppressed == 0 {
		r.m.logger.Error("SECURITY ERROR: too many findings, the others are not recorded", "origin", r.log.origin, "max", MaxFindingsPerRun)
	}
	r.rep.Suppressed++
	return true
}

// writeFinding writes f as JSON at path, atomically.
func writeFinding(path string, f Finding) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".finding-*")
	if err != nil {
		return fmt.Errorf("couldn't write finding: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("couldn't write finding: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("couldn't write finding: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("couldn't write finding: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("couldn't write finding: %w", err)
	}
	return nil
}

// notifyTries bounds the POSTs of one finding in one run.
const notifyTries = 3

// notifyPending POSTs to the webhook every finding written to the state
// and not yet notified.
func (m *Monitor) notifyPending(ctx context.Context, rep *Report) {
	if m.cfg.Notify == "" {
		return
	}
	dir := filepath.Join(m.cfg.StateDir, findingsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		m.logger.Error("couldn't list the findings to notify", "dir", dir, "err", err)
		return
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(id, ".") || m.notified(id) {
			continue
		}
		data, _, err := bounded.ReadFile(filepath.Join(dir, e.Name()), maxFindingFile)
		if err == nil {
			err = m.post(ctx, data)
		}
		if err != nil {
			rep.NotifyFailed++
			m.logger.Warn("couldn't notify a finding; retrying at the next run", "id", id, "url", m.cfg.Notify, "err", err)
			continue
		}
		rep.Notified++
		if err := m.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketNotified).Put([]byte(id), []byte(m.cfg.Now().UTC().Format(time.RFC3339)))
		}); err != nil {
			m.logger.Error("couldn't mark a finding notified", "id", id, "err", err)
		}
	}
}

func (m *Monitor) notified(id string) bool {
	found := false
	m.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketNotified).Get([]byte(id)) != nil
		return nil
	})
	return found
}

// post POSTs one finding, with a few retries.
func (m *Monitor) post(ctx context.Context, body []byte) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(ctx, NotifyTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.cfg.Notify, bytes.NewReader(body))
		if err != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := m.cfg.HTTPClient.Do(req)
		if err != nil {
			return struct{}{}, err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return struct{}{}, fmt.Errorf("webhook answered %s", resp.Status)
		}
		return struct{}{}, nil
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxTries(notifyTries), backoff.WithMaxElapsedTime(time.Minute))
	if err != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("webhook: %w", err)
	}
	return err
}
