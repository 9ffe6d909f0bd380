package main

import (
	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
)

// witnessFlags are the witness policy of a client command given on the
// command line: which witnesses must have cosigned a log's checkpoint.
type witnessFlags struct {
	vkeys  []string
	quorum int
}

func (f *witnessFlags) register(c *cobra.Command) {
	c.Flags().StringArrayVar(&f.vkeys, "witness", nil, "a witness's cosignature verifier key, or a file holding it: the log's checkpoint must be cosigned by it (repeat for several)")
	c.Flags().IntVar(&f.quorum, "witness-quorum", 0, "how many of the --witness keys must have cosigned the checkpoint (default all)")
}

const witnessFlagsHelp = `Witnesses: with --witness VKEY (repeated) the log's checkpoint must carry
valid cosignatures (C2SP tlog-cosignature) of --witness-quorum of them (all by
default), so that the log can't show you a view of itself that those
witnesses did not see. A checkpoint short of that is refused, naming which
witnesses cosigned and which did not (exit 1); a cosignature that doesn't
verify is a SECURITY ERROR (exit 3).`

// policy returns the policy the flags give, nil for none.
func (f *witnessFlags) policy(c *cobra.Command) (*client.WitnessPolicy, error) {
	if len(f.vkeys) == 0 {
		if c.Flags().Changed("witness-quorum") {
			return nil, usagef("--witness-quorum needs --witness keys")
		}
		return nil, nil
	}
	vkeys := make([]string, len(f.vkeys))
	for i, arg := range f.vkeys {
		vkey, err := readWitnessKey(arg)
		if err != nil {
			return nil, err
		}
		vkeys[i] = vkey
	}
	if c.Flags().Changed("witness-quorum") && f.quorum == 0 {
		return nil, usagef("--witness-quorum 0: want 1 to %d (the number of witnesses)", len(vkeys))
	}
	p, err := client.NewWitnessPolicy(vkeys, f.quorum)
	if err != nil {
		return nil, usageError{err}
	}
	return p, nil
}

// changed reports whether any witness flag was given.
func (f *witnessFlags) changed(c *cobra.Command) bool {
	return c.Flags().Changed("witness") || c.Flags().Changed("witness-quorum")
}
