//go:build !pysumdb_client

package main

import (
	"net/url"
	"time"

	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/internal/tomlconfig"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// The witnesses a sequencer asks to cosign its checkpoints (--witnesses
// of sequence and run).

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
