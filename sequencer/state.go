package sequencer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pysumdb/pysumdb/publish"
)

// StateKey is the object holding the sequencer's state, beside the log.
const StateKey = "sequencer/state.json"

// state is what the sequencer keeps beside the log. The staged batch lives
// inside it, so that staging a batch and winning the race to append it are
// one compare-and-swap: a sequencer that loses writes nothing at all.
type state struct {
	// TreeSize is the size of the log after the last completed batch:
	// its tiles, checkpoint and project indexes are all written.
	TreeSize int64 `json:"tree_size"`
	// Cursor is the source's position after the last completed batch.
	Cursor json.RawMessage `json:"cursor,omitempty"`
	// Staged is the batch being appended, if a run has not finished it.
	Staged *stagedBatch `json:"staged,omitempty"`
}

// stagedBatch fixes a batch before any of its objects is written. The
// tiles, bundles, checkpoint and indexes are a pure function of the tree
// at Start and of Records, so replaying it writes byte-identical objects.
type stagedBatch struct {
	// Start is the tree size the batch appends to.
	Start int64 `json:"start"`
	// Records are the new entries, in leaf order from Start.
	Records []Record `json:"records"`
	// Cursor is the source's position once the batch is published.
	Cursor json.RawMessage `json:"cursor,omitempty"`
}

func (b *stagedBatch) end() int64 { return b.Start + int64(len(b.Records)) }

func readState(ctx context.Context, store publish.Store) (*state, publish.Version, error) {
	data, v, err := store.Read(ctx, StateKey)
	if errors.Is(err, publish.ErrNotExist) {
		return &state{}, publish.NoVersion, nil
	}
	if err != nil {
		return nil, v, fmt.Errorf("couldn't read sequencer state: %w", err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, v, fmt.Errorf("couldn't parse sequencer state %s: %w", StateKey, err)
	}
	if st.Staged != nil {
		for i := range st.Staged.Records {
			if err := st.Staged.Records[i].Check(); err != nil {
				return nil, v, fmt.Errorf("staged batch in %s: record %d: %w", StateKey, i, err)
			}
		}
	}
	return &st, v, nil
}

// swapState writes st if the state is still at version old. Losing the
// race is reported as publish.ErrBusy: another sequencer got there first.
func swapState(ctx context.Context, store publish.Store, old publish.Version, st *state) (publish.Version, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return old, err
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
