package verify

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/pelletier/go-toml/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/tiles"
)

// ErrBadConfig is wrapped by every error of ParseConfig.
var ErrBadConfig = errors.New("bad log configuration")

// Config lists the logs a client verifies against, as a TOML file gives
// it:
//
//	quorum = 2
//
//	[[log]]
//	url = "https://pysumdb.example.org/log/"
//	vkey = "pysumdb.example.org/log+1a2b3c4d+AbC..."
//
//	[[log]]
//	url = "https://mirror.example.net/pysumdb/"
//	vkey = "mirror.example.net/pysumdb+5e6f7a8b+DeF..."
type Config struct {
	// Quorum is how many logs must prove an artifact's hash for it to be
	// verified: 1 to the number of logs. It may be left out only when
	// there is one log.
	Quorum int `toml:"quorum"`
	// Logs are the logs, each with its own origin.
	Logs []LogConfig `toml:"log"`
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
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var derr *toml.DecodeError
		if errors.As(err, &derr) {
			line, _ := derr.Position()
			return Config{}, fmt.Errorf("%w: line %d: %v", ErrBadConfig, line, err)
		}
		return Config{}, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	if err := c.Check(); err != nil {
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
	if c.Quorum == 0 && len(c.Logs) == 1 {
		c.Quorum = 1
	}
	if c.Quorum < 1 || c.Quorum > len(c.Logs) {
		return fmt.Errorf("%w: quorum = %d, want 1 to %d (the number of logs)", ErrBadConfig, c.Quorum, len(c.Logs))
	}
	return nil
}
