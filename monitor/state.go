package monitor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

// The state: one bbolt database, dbFile, with a bucket per log named by
// its origin, and the findings as JSON files in findingsDir.
//
// A log's bucket holds:
//
//	meta      vkey: the verifier key the state was verified with;
//	          checkpoint: the last signed checkpoint caught up to;
//	          target: the signed checkpoint being caught up to, proven
//	          consistent with checkpoint (absent when caught up);
//	          progress: the size up to which entries were checked and
//	          stored, and the compact range of that tree (see compactRange)
//	byfile    home || 0x00 || SHA-256(filename)[:16] → leaf (big-endian
//	          uint64), the first leaf of each filename (see fileKey)
//	byleaf    leaf → SHA-256(filename)[:16] || sha256 || publisher digest
//	          (16 bytes, zero for none), for every valid entry
//	projects  project || 0x00 || leaf → empty: the leaves each project's
//	          index was verified to list
//
// Everything below progress was verified against a signed checkpoint
// (target, or checkpoint when caught up) before it was stored.
const (
	dbFile      = "monitor.db"
	findingsDir = "findings"
)

var (
	bucketMeta     = []byte("meta")
	bucketByFile   = []byte("byfile")
	bucketByLeaf   = []byte("byleaf")
	bucketProjects = []byte("projects")

	keyVKey       = []byte("vkey")
	keyCheckpoint = []byte("checkpoint")
	keyTarget     = []byte("target")
	keyProgress   = []byte("progress")

	// bucketNotified marks the findings POSTed to the webhook: id → time.
	// Its name holds spaces, which no origin can.
	bucketNotified = []byte("pysumdb monitor: notified")
)

// fnHashSize is the size of the filename digests kept: 128 bits, so that
// no two of PyPI's filenames share one by chance; a finding built on one
// (a filename logged twice) is confirmed with the filenames themselves.
const fnHashSize = 16

// byleafSize is the size of a byleaf value.
const byleafSize = fnHashSize + 32 + fnHashSize

// initState creates every log's buckets, and refuses a state verified
// with another key of the same origin.
func (m *Monitor) initState() error {
	return m.db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketNotified); err != nil {
			return err
		}
		for _, l := range m.logs {
			b, err := tx.CreateBucketIfNotExists([]byte(l.origin))
			if err != nil {
				return fmt.Errorf("couldn't create the state of %s: %w", l.origin, err)
			}
			for _, name := range [][]byte{bucketMeta, bucketByFile, bucketByLeaf, bucketProjects} {
				if _, err := b.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("couldn't create the state of %s: %w", l.origin, err)
				}
			}
			meta := b.Bucket(bucketMeta)
			switch old := meta.Get(keyVKey); {
			case old == nil:
				if err := meta.Put(keyVKey, []byte(l.vkey)); err != nil {
					return err
				}
			case string(old) != l.vkey:
				return fmt.Errorf("the monitor state of %s in %s was verified with the key %s, not %s: a log's key can't change; monitor a log with a new key with another state directory",
					l.origin, m.cfg.StateDir, old, l.vkey)
			}
		}
		return nil
	})
}

// logState is a log's meta bucket, read at the start of a run.
type logState struct {
	// checkpoint and target are signed checkpoints (nil if none), and
	// checkpointTree and targetTree their trees.
	checkpoint, target         []byte
	checkpointTree, targetTree tlog.Tree
	// rng is the compact range of the tree of the entries checked.
	rng compactRange
}

// anchor returns the newest checkpoint verified: target, or else
// checkpoint; nil if none.
func (s *logState) anchor() ([]byte, tlog.Tree) {
	if s.target != nil {
		return s.target, s.targetTree
	}
	return s.checkpoint, s.checkpointTree
}

// loadState reads a log's meta bucket. The checkpoints were verified
// before they were stored: they are opened again to read their trees, and
// one that doesn't verify means a damaged state.
func (r *run) loadState() (*logState, error) {
	s := &logState{}
	err := r.m.db.View(func(tx *bolt.Tx) error {
		meta := r.bucket(tx).Bucket(bucketMeta)
		var err error
		if s.checkpoint, s.checkpointTree, err = r.storedCheckpoint(meta, keyCheckpoint); err != nil {
			return err
		}
		if s.target, s.targetTree, err = r.storedCheckpoint(meta, keyTarget); err != nil {
			return err
		}
		if p := meta.Get(keyProgress); p != nil {
			if s.rng, err = decodeCompactRange(p); err != nil {
				return fmt.Errorf("the monitor state of %s is damaged: progress: %w", r.log.origin, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	_, anchor := s.anchor()
	if s.rng.size > anchor.N {
		return nil, fmt.Errorf("the monitor state of %s is damaged: %d entries checked, beyond the checkpoint of size %d", r.log.origin, s.rng.size, anchor.N)
	}
	return s, nil
}

func (r *run) storedCheckpoint(meta *bolt.Bucket, key []byte) ([]byte, tlog.Tree, error) {
	data := meta.Get(key)
	if data == nil {
		return nil, tlog.Tree{}, nil
	}
	data = bytes.Clone(data)
	cp, _, err := tiles.OpenCheckpoint(data, r.log.verifier)
	if err != nil {
		return nil, tlog.Tree{}, fmt.Errorf("the monitor state of %s is damaged: its %s doesn't verify: %w", r.log.origin, key, err)
	}
	return data, cp.Tree, nil
}

// bucket returns the log's bucket.
func (r *run) bucket(tx *bolt.Tx) *bolt.Bucket {
	return tx.Bucket([]byte(r.log.origin))
}

func leafKey(leaf int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(leaf))
}

func projectKey(project string, leaf int64) []byte {
	k := make([]byte, 0, len(project)+9)
	k = append(append(k, project...), 0)
	return binary.BigEndian.AppendUint64(k, uint64(leaf))
}

// leafRecord is a byleaf value.
type leafRecord struct {
	fnHash    [fnHashSize]byte
	sha256    [32]byte
	publisher [fnHashSize]byte
}

func (v leafRecord) encode() []byte {
	b := make([]byte, 0, byleafSize)
	b = append(append(b, v.fnHash[:]...), v.sha256[:]...)
	return append(b, v.publisher[:]...)
}

func decodeLeafRecord(b []byte) (leafRecord, error) {
	var v leafRecord
	if len(b) != byleafSize {
		return v, errors.New("damaged byleaf record")
	}
	copy(v.fnHash[:], b)
	copy(v.sha256[:], b[fnHashSize:])
	copy(v.publisher[:], b[fnHashSize+32:])
	return v, nil
}

// lookupLeaf returns the byleaf record of leaf in bucket b.
func lookupLeaf(b *bolt.Bucket, leaf int64) (leafRecord, bool, error) {
	data := b.Bucket(bucketByLeaf).Get(leafKey(leaf))
	if data == nil {
		return leafRecord{}, false, nil
	}
	v, err := decodeLeafRecord(data)
	return v, err == nil, err
}

// fileKey returns the byfile key of filename, whose digest is fn: its
// home (tiles.FilenameHome), 0x00, fn. The home puts the files of a
// project together: a chunk's files then fall in few pages of the B+tree,
// where keys of digests alone would touch every page of it, every chunk,
// and make each commit cost (in memory and writes) the size of the state.
func fileKey(filename string, fn [fnHashSize]byte) []byte {
	home := tiles.FilenameHome(filename)
	k := make([]byte, 0, len(home)+1+fnHashSize)
	k = append(append(k, home...), 0)
	return append(k, fn[:]...)
}

// lookupFile returns the first leaf of filename, whose digest is fn.
func lookupFile(b *bolt.Bucket, filename string, fn [fnHashSize]byte) (int64, bool) {
	data := b.Bucket(bucketByFile).Get(fileKey(filename, fn))
	if len(data) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(data)), true
}
