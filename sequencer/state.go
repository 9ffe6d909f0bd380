package sequencer

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// StateKey is the object holding the sequencer's state, beside the log.
const StateKey = tiles.StatePrefix + "state"

// state is what the sequencer keeps beside the log. The staged batch lives
// inside it, so that staging a batch and winning the race to append it are
// one compare-and-swap: a sequencer that loses writes nothing at all.
type state struct {
	// TreeSize is the size of the log after the last completed batch:
	// its tiles, checkpoint and project indexes are all written.
	TreeSize int64
	// Cursor is the source's position after the last completed batch.
	Cursor json.RawMessage
	// Staged is the batch being appended, if a run has not finished it.
	Staged *stagedBatch
}

// stagedBatch fixes a batch before any of its objects is written. The
// tiles, bundles, checkpoint and indexes are a pure function of the tree
// at Start and of Records, so replaying it writes byte-identical objects.
type stagedBatch struct {
	// Start is the tree size the batch appends to.
	Start int64
	// Records are the new entries, in leaf order from Start.
	Records []Record
	// Cursor is the source's position once the batch is published.
	Cursor json.RawMessage
}

func (b *stagedBatch) end() int64 { return b.Start + int64(len(b.Records)) }

// stateHeader is the first line of the state object, in JSON. When a
// batch is staged, its records follow, one line each:
//
//	project filename sha256 size upload_time [publisher-kind publisher-SAN] [claimed claimant-kind claimant-value]
//
// (no field can hold a space). A batch often holds 100,000 records: as lines
// they cost a fraction of what a JSON array of objects costs to write.
type stateHeader struct {
	TreeSize int64           `json:"tree_size"`
	Cursor   json.RawMessage `json:"cursor,omitempty"`
	Staged   *stagedHeader   `json:"staged,omitempty"`
}

type stagedHeader struct {
	Start   int64           `json:"start"`
	Records int             `json:"records"`
	Cursor  json.RawMessage `json:"cursor,omitempty"`
}

// marshal encodes st as the state object.
func (st *state) marshal() ([]byte, error) {
	h := stateHeader{TreeSize: st.TreeSize, Cursor: st.Cursor}
	if b := st.Staged; b != nil {
		h.Staged = &stagedHeader{Start: b.Start, Records: len(b.Records), Cursor: b.Cursor}
	}
	data, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	if st.Staged == nil {
		return data, nil
	}
	n := len(data)
	for _, r := range st.Staged.Records {
		n += len(r.Project) + len(r.Filename) + 2*len(r.SHA256) + len(r.UploadTime) + 30
	}
	data = slices.Grow(data, n-len(data))
	for _, r := range st.Staged.Records {
		data = append(data, r.Project...)
		data = append(append(data, ' '), r.Filename...)
		data = hex.AppendEncode(append(data, ' '), r.SHA256[:])
		data = strconv.AppendInt(append(data, ' '), r.Size, 10)
		data = append(append(data, ' '), r.UploadTime...)
		if r.Publisher != nil {
			data = append(append(data, ' '), r.Publisher.Kind...)
			data = append(append(data, ' '), r.Publisher.SAN...)
		}
		if r.Claimant != nil {
			data = append(append(data, " claimed "...), r.Claimant.Kind...)
			data = append(append(data, ' '), r.Claimant.Value...)
		}
		data = append(data, '\n')
	}
	return data, nil
}

// parseState decodes the state object, checking every staged record.
func parseState(data []byte) (*state, error) {
	header, rest, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("no header line")
	}
	var h stateHeader
	if err := json.Unmarshal(header, &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	st := &state{TreeSize: h.TreeSize, Cursor: h.Cursor}
	if h.Staged == nil {
		if len(rest) != 0 {
			return nil, fmt.Errorf("records after the header, but no staged batch")
		}
		return st, nil
	}
	b := &stagedBatch{Start: h.Staged.Start, Cursor: h.Staged.Cursor, Records: make([]Record, 0, max(h.Staged.Records, 0))}
	for line := range strings.Lines(string(rest)) {
		i := len(b.Records)
		line, ok := strings.CutSuffix(line, "\n")
		if !ok {
			return nil, fmt.Errorf("staged record %d doesn't end in a newline", i)
		}
		f := strings.Split(line, " ")
		var claimant *tiles.Claimant
		if n := len(f); n >= 8 && f[n-3] == "claimed" {
			claimant = &tiles.Claimant{Kind: f[n-2], Value: f[n-1]}
			f = f[:n-3]
		}
		if len(f) != 5 && len(f) != 7 {
			return nil, fmt.Errorf("staged record %d: %d fields, want 5 or 7, then maybe a claimant", i, len(f))
		}
		r := Record{Project: f[0], Filename: f[1], UploadTime: f[4], Claimant: claimant}
		var err error
		if r.SHA256, err = tiles.ParseHexDigest(f[2]); err != nil {
			return nil, fmt.Errorf("staged record %d: %w", i, err)
		}
		if r.Size, err = strconv.ParseInt(f[3], 10, 64); err != nil {
			return nil, fmt.Errorf("staged record %d: size: %w", i, err)
		}
		if len(f) == 7 {
			r.Publisher = &tiles.Publisher{Kind: f[5], SAN: f[6]}
		}
		if err := r.Check(); err != nil {
			return nil, fmt.Errorf("staged record %d: %w", i, err)
		}
		b.Records = append(b.Records, r)
	}
	if len(b.Records) != h.Staged.Records {
		return nil, fmt.Errorf("%d staged records, the header says %d", len(b.Records), h.Staged.Records)
	}
	st.Staged = b
	return st, nil
}

func readState(ctx context.Context, store publish.Store) (*state, publish.Version, error) {
	data, v, err := store.Read(ctx, StateKey)
	if errors.Is(err, publish.ErrNotExist) {
		return &state{}, publish.NoVersion, nil
	}
	if err != nil {
		return nil, v, fmt.Errorf("couldn't read sequencer state: %w", err)
	}
	st, err := parseState(data)
	if err != nil {
		return nil, v, fmt.Errorf("%w: %s doesn't parse (delete it to rebuild it from the log): %v", ErrStoreDamaged, StateKey, err)
	}
	return st, v, nil
}

// swapState writes st if the state is still at version old. Losing the
// race is reported as publish.ErrBusy: another sequencer got there first.
func swapState(ctx context.Context, store publish.Store, old publish.Version, st *state) (publish.Version, error) {
	data, err := st.marshal()
	if err != nil {
		return old, err
	}
	// A state no store would read back would stop every later run.
	if limit := tiles.MaxObjectSize(StateKey); int64(len(data)) > limit {
		return old, fmt.Errorf("couldn't stage the batch: its state is %d bytes, more than the %d a store reads back (use a smaller batch)", len(data), limit)
	}
	v, err := store.Swap(ctx, StateKey, old, data)
	if errors.Is(err, publish.ErrConflict) {
		return old, fmt.Errorf("%w: the sequencer state changed under us (another sequencer ran): %v", publish.ErrBusy, err)
	}
	if err != nil {
		return old, fmt.Errorf("couldn't write sequencer state: %w", err)
	}
	return v, nil
}
