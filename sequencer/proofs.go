package sequencer

import (
	"fmt"
	"runtime"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// buildProofs returns, for each entry bundle a batch writes, the
// tlog-proofs of its entries (leaf returns the entry at a leaf) against
// tree, the tree after the batch, as one create-only write at
// tiles.ProofBundleKey: each proof carries its entry as extra data and the
// batch's checkpoint signed by the log alone. The entries a bundle carries
// from earlier batches are proven again against this tree. Ed25519
// signatures are deterministic and the proofs a function of the tree, so a
// replayed batch builds the same bytes; the cosignatures, which hold the
// witnesses' clocks, are left out for that reason (a client that wants
// them builds its own proof against the cosigned checkpoint). hashes
// serves the tree's stored hashes; it is read from this goroutine only.
func (s *Sequencer) buildProofs(tree tlog.Tree, bundles []tlog.Tile, leaf func(int64) []byte, hashes tlog.HashReader) ([]publish.Write, error) {
	signed, err := tiles.SignCheckpoint(tiles.Checkpoint{Origin: s.signer.Name(), Tree: tree}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign checkpoint: %w", err)
	}
	// One read of the hashes for all the proofs: those of the old tree
	// come from its tiles, which a read per proof would read again and
	// again. The entries of a full bundle share most of their proofs,
	// which tiles.ProveBundles proves and formats once per bundle.
	proofs, err := tiles.ProveBundles(tree.N, bundles, hashes)
	if err != nil {
		return nil, fmt.Errorf("couldn't prove the entries: %w", damagedUnlessRead(err))
	}
	writes := make([]publish.Write, len(bundles))
	g := new(errgroup.Group)
	g.SetLimit(runtime.NumCPU())
	for b, t := range bundles {
		g.Go(func() error {
			entries := make([][]byte, t.W)
			for k := range entries {
				entries[k] = leaf(t.N*tiles.TileWidth + int64(k))
			}
			data, err := proofs[b].AppendTlogProofs(nil, entries, signed)
			if err != nil {
				return fmt.Errorf("couldn't format the proofs of bundle %d: %w", t.N, err)
			}
			writes[b] = publish.Write{Key: tiles.ProofBundleKey(t), Data: data}
			return nil
		})
	}
	return writes, g.Wait()
}
