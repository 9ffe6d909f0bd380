package main

import (
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/internal/tomlconfig"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
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

// witnessesConfig is the file of --witnesses: the witnesses a sequencer
// asks to cosign its checkpoints. Its [[witness]] tables are those of a
// client's log configuration, so one list can serve both.
type witnessesConfig struct {
	// TimeoutSeconds bounds the exchange with each witness for one
	// checkpoint; 0 means sequencer.DefaultWitnessTimeout.
	TimeoutSeconds int `toml:"timeout_seconds"`
	// Witnesses are the witnesses, each with its URL and key.
	Witnesses []verify.WitnessConfig `toml:"witness"`
}

const witnessesFlagHelp = "a TOML file of the witnesses that cosign each checkpoint: [[witness]] tables with url and vkey, and timeout_seconds"

const witnessesHelp = `With --witnesses FILE, every new checkpoint is sent to the witnesses FILE
lists (C2SP tlog-witness add-checkpoint, with the consistency proof from the
size each witness holds) and published with the cosignatures that verify:

  timeout_seconds = 10     # per witness and checkpoint (default 10)

  [[witness]]
  url = "https://witness.example.com/"
  vkey = "witness.example.com+9a8b7c6d+BGh..."

A witness that is down, slow or refuses never stops a batch: the checkpoint
is published without its cosignature and the failure is logged at ERROR.
The next run asks it again, from the size it answers it holds: with the
next batch's checkpoint, or, when there is nothing new, with the published
checkpoint, published again with its cosignature.`

// readWitnesses reads a --witnesses file.
func readWitnesses(path string) ([]sequencer.Witness, time.Duration, error) {
	if path == "" {
		return nil, 0, nil
	}
	data, _, err := bounded.ReadFile(path, maxConfigSize)
	if err != nil {
		return nil, 0, usagef("couldn't read --witnesses: %v", err)
	}
	var cfg witnessesConfig
	if err := tomlconfig.Decode(data, &cfg); err != nil {
		return nil, 0, usagef("%s: %v (the keys are timeout_seconds and [[witness]] url and vkey)", path, err)
	}
	if len(cfg.Witnesses) == 0 {
		return nil, 0, usagef("%s lists no [[witness]]", path)
	}
	if cfg.TimeoutSeconds < 0 {
		return nil, 0, usagef("%s: timeout_seconds = %d, want 1 or more (or leave it out for %s)", path, cfg.TimeoutSeconds, sequencer.DefaultWitnessTimeout)
	}
	var witnesses []sequencer.Witness
	for i, w := range cfg.Witnesses {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, 0, usagef("%s: witness %d: url %q is not an http(s) URL", path, i+1, w.URL)
		}
		if _, err := tiles.NewCosignatureVerifier(w.VKey); err != nil {
			return nil, 0, usagef("%s: witness %d (%s): vkey: %v", path, i+1, w.URL, err)
		}
		witnesses = append(witnesses, sequencer.Witness{URL: w.URL, VKey: w.VKey})
	}
	return witnesses, time.Duration(cfg.TimeoutSeconds) * time.Second, nil
}
