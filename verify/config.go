package verify

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/tomlconfig"
	"github.com/pysumdb/pysumdb/tiles"
)

// ErrBadConfig is wrapped by every error of ParseConfig.
var ErrBadConfig = errors.New("bad log configuration")

// Config lists the logs a client verifies against, as a TOML file gives
// it:
//
//	quorum = 2
//	witness_quorum = 2
//
//	[[log]]
//	url = "https://pysumdb.example.org/log/"
//	vkey = "pysumdb.example.org/log+1a2b3c4d+AbC..."
//
//	[[log]]
//	url = "https://mirror.example.net/pysumdb/"
//	vkey = "mirror.example.net/pysumdb+5e6f7a8b+DeF..."
//
//	[[witness]]
//	vkey = "witness.example.com+9a8b7c6d+BGh..."
//
//	[[witness]]
//	vkey = "witness.example.net+1f2e3d4c+BAb..."
//
//	exclude = ["corp-*", "internal-tool"]
type Config struct {
	// Quorum is how many logs must prove an artifact's hash for it to be
	// verified: 1 to the number of logs. It may be left out only when
	// there is one log.
	Quorum int `toml:"quorum"`
	// Logs are the logs, each with its own origin.
	Logs []LogConfig `toml:"log"`
	// WitnessQuorum is how many of Witnesses must have cosigned every
	// log's checkpoint: 1 to the number of witnesses; left out, all of
	// them.
	WitnessQuorum int `toml:"witness_quorum"`
	// Witnesses are the witnesses (C2SP tlog-witness) whose cosignatures
	// the logs' checkpoints need; none, no cosignature is needed.
	Witnesses []WitnessConfig `toml:"witness"`
	// Exclude are globs of private projects' normalized names, which no
	// log is asked about (see Exclusions).
	Exclude []string `toml:"exclude"`
}

// WitnessConfig is one witness of a Config.
type WitnessConfig struct {
	// VKey is the witness's cosignature/v1 verifier key.
	VKey string `toml:"vkey"`
	// URL is where the witness takes add-checkpoint requests: what a log's
	// sequencer needs, so that one file can list the witnesses for both;
	// clients don't use it.
	URL string `toml:"url"`
}

// LogConfig is one log of a Config.
type LogConfig struct {
	// URL is where the log's static files are: an http(s) URL, a file://
	// URL or a directory.
	URL string `toml:"url"`
	// VKey is the log's note verifier key, which names its origin.
	VKey string `toml:"vkey"`
}

// ParseConfig parses and checks a TOML log configuration: unknown keys, a
// log without url or vkey, an invalid key, two logs of one origin (which
// would count twice toward the quorum) and a quorum out of range are all
// errors wrapping ErrBadConfig.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := tomlconfig.Decode(data, &c); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	if err := c.Check(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ParsePartialConfig parses and checks a TOML log configuration that need
// not list logs: one source among others of a client's configuration (its
// logs may come from elsewhere). What it holds is checked as ParseConfig
// does, and a quorum without logs is an error (it would be about logs it
// doesn't list).
func ParsePartialConfig(data []byte) (Config, error) {
	var c Config
	if err := tomlconfig.Decode(data, &c); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	switch {
	case len(c.Logs) == 0 && c.Quorum != 0:
		return Config{}, fmt.Errorf("%w: quorum = %d, but no [[log]] is listed", ErrBadConfig, c.Quorum)
	case len(c.Logs) > 0:
		if err := c.checkLogs(); err != nil {
			return Config{}, err
		}
	}
	if c.Quorum < 0 || c.Quorum > len(c.Logs) {
		return Config{}, fmt.Errorf("%w: quorum = %d, want 1 to %d (the number of logs)", ErrBadConfig, c.Quorum, len(c.Logs))
	}
	if err := c.checkOthers(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Check reports whether c is usable: at least one log, each with a URL and
// a valid verifier key of its own origin, and a quorum in range (an unset
// quorum with one log means 1). It sets that default.
func (c *Config) Check() error {
	if len(c.Logs) == 0 {
		return fmt.Errorf("%w: no [[log]]", ErrBadConfig)
	}
	if err := c.checkLogs(); err != nil {
		return err
	}
	if c.Quorum == 0 && len(c.Logs) == 1 {
		c.Quorum = 1
	}
	if c.Quorum < 1 || c.Quorum > len(c.Logs) {
		return fmt.Errorf("%w: quorum = %d, want 1 to %d (the number of logs)", ErrBadConfig, c.Quorum, len(c.Logs))
	}
	return c.checkOthers()
}

// checkLogs checks each log: a URL, and a valid verifier key of an origin
// of its own.
func (c *Config) checkLogs() error {
	origins := map[string]int{}
	for i, l := range c.Logs {
		if l.URL == "" {
			return fmt.Errorf("%w: log %d has no url", ErrBadConfig, i+1)
		}
		v, err := note.NewVerifier(l.VKey)
		if err != nil {
			return fmt.Errorf("%w: log %d (%s): vkey: %v", ErrBadConfig, i+1, l.URL, err)
		}
		if err := tiles.CheckOrigin(v.Name()); err != nil {
			return fmt.Errorf("%w: log %d (%s): vkey: %v", ErrBadConfig, i+1, l.URL, err)
		}
		if j, dup := origins[v.Name()]; dup {
			return fmt.Errorf("%w: logs %d and %d have the same origin %s: one log can't count twice toward the quorum", ErrBadConfig, j, i+1, v.Name())
		}
		origins[v.Name()] = i + 1
	}
	return nil
}

// checkOthers checks what is not about the logs: the witnesses and the
// exclusions. It sets the default witness quorum.
func (c *Config) checkOthers() error {
	var x Exclusions
	for _, p := range c.Exclude {
		if err := x.Add("", p); err != nil {
			return fmt.Errorf("%w: exclude: %v", ErrBadConfig, err)
		}
	}
	if len(c.Witnesses) == 0 {
		if c.WitnessQuorum != 0 {
			return fmt.Errorf("%w: witness_quorum = %d, but no [[witness]] is listed", ErrBadConfig, c.WitnessQuorum)
		}
		return nil
	}
	if _, err := c.WitnessPolicy(); err != nil {
		return err
	}
	if c.WitnessQuorum == 0 {
		c.WitnessQuorum = len(c.Witnesses)
	}
	return nil
}

// WitnessPolicy returns the policy of c's witnesses, nil if it lists none.
func (c *Config) WitnessPolicy() (*client.WitnessPolicy, error) {
	if len(c.Witnesses) == 0 {
		return nil, nil
	}
	vkeys := make([]string, len(c.Witnesses))
	for i, w := range c.Witnesses {
		if w.VKey == "" {
			return nil, fmt.Errorf("%w: witness %d has no vkey", ErrBadConfig, i+1)
		}
		vkeys[i] = w.VKey
	}
	p, err := client.NewWitnessPolicy(vkeys, c.WitnessQuorum)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	return p, nil
}
