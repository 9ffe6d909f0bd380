package sequencer

import (
	"fmt"
	"runtime"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// buildProofs returns the tlog-proof of every entry of a batch (entries,
// from leaf start) against tree, the tree after the batch, as create-only
// writes at tiles.ProofKey: each carries the entry as its extra data and
// the batch's checkpoint signed by the log alone. Ed25519 signatures are
// deterministic and the proofs a function of the tree, so a replayed batch
// builds the same bytes; the cosignatures, which hold the witnesses'
// clocks, are left out for that reason (a client that wants them builds
// its own proof against the cosigned checkpoint). hashes serves the
// tree's stored hashes; it is read from this goroutine only.
func (s *Sequencer) buildProofs(tree tlog.Tree, start int64, entries [][]byte, hashes tlog.HashReader) ([]publish.Write, error) {
	signed, err := tiles.SignCheckpoint(tiles.Checkpoint{Origin: s.signer.Name(), Tree: tree}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign checkpoint: %w", err)
	}
	proofs := make([]tlog.RecordProof, len(entries))
	for i := range entries {
		if proofs[i], err = tlog.ProveRecord(tree.N, start+int64(i), hashes); err != nil {
			return nil, fmt.Errorf("couldn't prove entry %d: %w", start+int64(i), damagedUnlessRead(err))
		}
	}
	writes := make([]publish.Write, len(entries))
	var g errgroup.Group
	chunk := max(1, (len(entries)+runtime.NumCPU()-1)/runtime.NumCPU())
	for lo := 0; lo < len(entries); lo += chunk {
		g.Go(func() error {
			for i := lo; i < min(lo+chunk, len(entries)); i++ {
				leaf := start + int64(i)
				data, err := tiles.FormatTlogProof(tiles.TlogProof{Extra: entries[i], Index: leaf, Hashes: proofs[i], Checkpoint: signed})
				if err != nil {
					return fmt.Errorf("couldn't format the proof of entry %d: %w", leaf, err)
				}
				writes[i] = publish.Write{Key: tiles.ProofKey(leaf), Data: data}
			}
			return nil
		})
	}
	return writes, g.Wait()
}
