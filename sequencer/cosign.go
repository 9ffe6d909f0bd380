package sequencer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/witness"
)

// Witness is a witness the sequencer asks to cosign every checkpoint it
// publishes (C2SP tlog-witness).
type Witness struct {
	// URL is where the witness takes add-checkpoint requests.
	URL string
	// VKey is the witness's cosignature/v1 verifier key. A cosignature
	// that doesn't verify with it is dropped, never published: clients
	// would take it for the witness's evidence of a fork.
	VKey string
}

// DefaultWitnessTimeout bounds the exchange with one witness for one
// checkpoint, its retry after a 409 included.
const DefaultWitnessTimeout = 10 * time.Second

// witnessRetries bounds the add-checkpoint requests to one witness for
// one checkpoint: the first, from the size the sequencer guesses the
// witness is at, then from the size it answered with in a 409 (twice, in
// case another log instance moved it meanwhile).
const witnessRetries = 3

// cosigner asks the configured witnesses to cosign checkpoints.
type cosigner struct {
	witnesses []Witness
	verifiers []note.Verifier
	timeout   time.Duration
	client    *http.Client
}

func newCosigner(cfg Config) (*cosigner, error) {
	c := &cosigner{witnesses: cfg.Witnesses, timeout: cfg.WitnessTimeout, client: cfg.WitnessClient}
	if c.timeout <= 0 {
		c.timeout = DefaultWitnessTimeout
	}
	if c.client == nil {
		c.client = &http.Client{}
	}
	vkeys := make([]string, len(cfg.Witnesses))
	for i, w := range cfg.Witnesses {
		vkeys[i] = w.VKey
	}
	var err error
	if c.verifiers, err = tiles.NewCosignatureVerifiers(vkeys); err != nil {
		return nil, fmt.Errorf("witnesses: %w", err)
	}
	return c, nil
}

// cosign asks the witnesses that have not cosigned signed (a checkpoint of
// tree, with the cosignatures in have, by witness index) to cosign it, in
// parallel, each within the timeout, from oldSize (the size the sequencer
// believes the witness holds; a 409 corrects it). It returns the
// checkpoint with every cosignature that verifies, in the order of the
// witnesses, and how many it has. A witness that fails is logged and left
// out: it never stops a batch, and it is asked again with the next
// checkpoint (or, when nothing is new, by recosign).
func (c *cosigner) cosign(ctx context.Context, log *slog.Logger, s *Sequencer, signed []byte, have map[int][]byte, tree tlog.Tree, oldSize int64) ([]byte, int) {
	got := make([][]byte, len(c.witnesses))
	var wg sync.WaitGroup
	for i := range c.witnesses {
		if have[i] != nil {
			got[i] = have[i]
			continue
		}
		wg.Go(func() {
			wctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			start := time.Now()
			line, err := c.ask(wctx, s, i, signed, tree, oldSize)
			wlog := log.With("witness", c.verifiers[i].Name(), "url", c.witnesses[i].URL, "size", tree.N)
			if err != nil {
				wlog.Error("witness did not cosign the checkpoint: it is published without this cosignature, and the witness is asked again at the next run",
					"err", err, "elapsed", time.Since(start).Round(time.Millisecond))
				return
			}
			wlog.Info("witness cosigned the checkpoint", "elapsed", time.Since(start).Round(time.Millisecond))
			got[i] = line
		})
	}
	wg.Wait()
	// The log's signature first, then the cosignatures.
	out := bytes.Clone(logSigned(signed))
	n := 0
	for _, line := range got {
		if line != nil {
			out = append(out, line...)
			n++
		}
	}
	return out, n
}

// ask sends the checkpoint to witness i and returns its cosignature line,
// verified.
func (c *cosigner) ask(ctx context.Context, s *Sequencer, i int, signed []byte, tree tlog.Tree, oldSize int64) ([]byte, error) {
	w, v := c.witnesses[i], c.verifiers[i]
	req := logSigned(signed)
	for range witnessRetries {
		var proof tlog.TreeProof
		if oldSize > 0 && oldSize < tree.N {
			var err error
			proof, err = tlog.ProveTree(tree.N, oldSize, tlog.TileHashReader(tree, storeTileReader{ctx, s.cfg.Store}))
			if err != nil {
				return nil, fmt.Errorf("couldn't prove the checkpoint of size %d consistent with size %d: %w", tree.N, oldSize, damagedUnlessRead(err))
			}
		}
		lines, err := witness.AddCheckpoint(ctx, c.client, w.URL, oldSize, proof, req)
		var conflict *witness.ConflictError
		switch {
		case errors.As(err, &conflict) && conflict.Size == oldSize:
			return nil, fmt.Errorf("the witness holds another checkpoint of size %d than the one it was sent: it has seen a fork of this log", oldSize)
		case errors.As(err, &conflict) && conflict.Size > tree.N:
			return nil, fmt.Errorf("the witness holds a checkpoint of size %d, larger than this log's %d: it has seen another log under this key, or this log lost entries", conflict.Size, tree.N)
		case errors.As(err, &conflict):
			oldSize = conflict.Size
			continue
		case err != nil:
			return nil, err
		}
		return verifiedCosignature(signed, lines, s.verifier, v)
	}
	return nil, fmt.Errorf("the witness answered %d times that it is at another size (last %d)", witnessRetries, oldSize)
}

// verifiedCosignature returns the signature line of witness v among the
// lines a witness answered, once it verifies on signed.
func verifiedCosignature(signed, lines []byte, log, v note.Verifier) ([]byte, error) {
	prefix := "— " + v.Name() + " "
	for line := range strings.Lines(string(lines)) {
		if !strings.HasPrefix(line, prefix) {
			continue // another key of the witness's, or another algorithm
		}
		msg := append(bytes.Clone(logSigned(signed)), line...)
		_, n, err := tiles.OpenCheckpoint(msg, log, v)
		if err != nil {
			return nil, fmt.Errorf("the witness's cosignature doesn't verify with its key %s: %w", v.Name(), err)
		}
		if len(n.Sigs) == 2 {
			return []byte(line), nil
		}
	}
	return nil, fmt.Errorf("the witness answered no cosignature by its key %s+%08x: %q", v.Name(), v.KeyHash(), lines)
}

// logSigned returns the checkpoint note signed only by the log: its text
// and first signature line, what the sequencer signs and witnesses verify.
func logSigned(signed []byte) []byte {
	i := bytes.Index(signed, []byte("\n\n"))
	if i < 0 {
		return signed
	}
	j := bytes.IndexByte(signed[i+2:], '\n')
	if j < 0 {
		return signed
	}
	return signed[:i+2+j+1]
}

// cosignatures returns, by witness index, the verified cosignature lines
// of a published checkpoint.
func (c *cosigner) cosignatures(signed []byte, log note.Verifier) map[int][]byte {
	have := map[int][]byte{}
	for line := range strings.Lines(string(signed[len(logSigned(signed)):])) {
		for i, v := range c.verifiers {
			if _, ok := have[i]; ok || !strings.HasPrefix(line, "— "+v.Name()+" ") {
				continue
			}
			if _, err := verifiedCosignature(signed, []byte(line), log, v); err == nil {
				have[i] = []byte(line)
			}
		}
	}
	return have
}

// recosign asks the witnesses whose cosignature the published checkpoint
// lacks (they were down or slow when it was published) to cosign it now,
// and publishes it again with what they return. It is for runs that
// append nothing: a new checkpoint asks every witness anyway.
func (s *Sequencer) recosign(ctx context.Context) error {
	if s.cosigner == nil {
		return nil
	}
	data, v, err := s.cfg.Store.Read(ctx, tiles.CheckpointKey)
	if errors.Is(err, publish.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("couldn't read checkpoint: %w", err)
	}
	cp, _, err := tiles.OpenCheckpoint(data, s.verifier)
	if err != nil {
		return fmt.Errorf("%w: %s does not verify: %v", ErrStoreDamaged, tiles.CheckpointKey, err)
	}
	have := s.cosigner.cosignatures(data, s.verifier)
	if len(have) == len(s.cosigner.witnesses) {
		return nil
	}
	// A witness that missed this checkpoint most likely holds the one
	// before; it says so in a 409 otherwise.
	cosigned, n := s.cosigner.cosign(ctx, s.log, s, data, have, cp.Tree, cp.N)
	if n == len(have) {
		return nil
	}
	if _, err := s.cfg.Store.Swap(ctx, tiles.CheckpointKey, v, cosigned); err != nil {
		if errors.Is(err, publish.ErrConflict) {
			return fmt.Errorf("%w: the checkpoint changed under us (another sequencer ran): %v", publish.ErrBusy, err)
		}
		return fmt.Errorf("couldn't publish the checkpoint with its new cosignatures: %w", err)
	}
	s.log.Info("checkpoint published again with new cosignatures", "size", cp.N, "cosignatures", n, "witnesses", len(s.cosigner.witnesses))
	return nil
}
