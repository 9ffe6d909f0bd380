package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// The environment of the client commands (see configHelp).
const (
	envSwitch        = "PYSUMDB"
	envLogs          = "PYSUMDB_LOGS"
	envQuorum        = "PYSUMDB_QUORUM"
	envWitnesses     = "PYSUMDB_WITNESSES"
	envWitnessQuorum = "PYSUMDB_WITNESS_QUORUM"
	envExclude       = "PYSUMDB_EXCLUDE"
	envConfig        = "PYSUMDB_CONFIG"
)

// logsSyntax is how PYSUMDB_LOGS is written, for its errors.
const logsSyntax = `PYSUMDB_LOGS="<vkey> <url>, <vkey> <url>": each log's verifier key, a space, its URL or directory; logs separated by commas`

// configHelp is the part of the client commands' help on where their
// configuration comes from.
const configHelp = `Configuration, for verify, check-pypi, lookup, publishers, proxy and monitor
alike ('pysumdb config' prints what is in effect and where each value comes
from). Each setting comes from the highest of these sources that sets it:

  1. the command line: --log and --vkey (one log), or --config FILE (a
     TOML file as above, which then stands for the configuration file of
     3); --witness, --witness-quorum, --exclude, --cache-dir
  2. the environment:
       PYSUMDB_LOGS="<vkey> <url>, <vkey> <url>"   the logs
       PYSUMDB_QUORUM=2                            how many logs must agree
       PYSUMDB_WITNESSES="<vkey>, <vkey>"          witnesses' cosignature keys
       PYSUMDB_WITNESS_QUORUM=1                    how many must cosign
       PYSUMDB_EXCLUDE="corp-*,internal-tool"      private projects
       PYSUMDB_CACHE=DIR                           the cache directory
  3. a configuration file: the one $PYSUMDB_CONFIG names (it must exist),
     else <user config dir>/pysumdb/config.toml if it exists
     (~/.config/pysumdb/config.toml on Linux); its relative log paths are
     relative to the file

The logs come whole from one source, never merged. The quorum comes from
the logs' source or a higher one (a quorum set lower down was about other
logs and is not used), and must be 1 to the number of logs; unset, it is 1
for one log, and an error for several. The witnesses likewise come whole
from one source, and the witness quorum from theirs or a higher one (all
of them by default). Exclusions add up from every source: a project one of
them marks private stays private. Empty items of a comma-separated list
are ignored.

Private projects (--exclude GLOB, repeatable or comma-separated,
PYSUMDB_EXCLUDE, exclude = ["glob", ...] in the file): globs, as Go's
path.Match, of normalized project names (lowercase, "-" for runs of "-",
"_" and "."). No log and no package index is ever asked about a project
they match, so its name never leaves the machine: verify reports its
artifacts SKIPPED, "private (matches ... pattern ...)"; check-pypi, lookup
and publishers refuse to look it up (exit 2); the proxy passes it through.

PYSUMDB=off turns pysumdb off, on purpose and visibly: verify and
check-pypi check nothing, say so on standard error and exit 0; lookup,
publishers, proxy and monitor refuse (exit 2). Any other value than "off"
or empty is an error (exit 2). There is no other fallback: with no log
configured, a command says every way to configure one (exit 2).`

// rank orders the sources of a setting, highest last.
type rank int

const (
	fromDefault rank = iota
	fromFile
	fromEnv
	fromFlags
)

// source is where a setting comes from: its name, as printed ("--exclude",
// "PYSUMDB_LOGS", a file's path, "default"), and its rank.
type source struct {
	name string
	rank rank
}

// commandLine names the layer of the flags other than --config's file,
// and flagLogs the source of the log of --log and --vkey.
const (
	commandLine = "the command line"
	flagLogs    = "--log and --vkey"
)

// layer is what one source sets; a zero value is unset.
type layer struct {
	src           source
	logs          []verify.LogConfig
	quorum        int
	witnesses     []string
	witnessQuorum int
	exclude       []string
}

// from names the source of a setting of l: the variable of the
// environment's, the flag of the command line's, the file of a file's.
func (l layer) from(variable, flag string) source {
	switch {
	case l.src.rank == fromEnv:
		return source{variable, fromEnv}
	case l.src.name == commandLine:
		return source{flag, fromFlags}
	}
	return l.src
}

// configFile is the configuration file a command looked at.
type configFile struct {
	// path is the file; "" when there was none to look at (then why
	// says why).
	path string
	// chosen says how: "--config", "$PYSUMDB_CONFIG" or "default".
	chosen string
	found  bool
	why    string
}

// describe names the file and whether it was used.
func (f configFile) describe() string {
	switch {
	case f.path == "":
		return "none (" + f.why + ")"
	case f.found:
		return fmt.Sprintf("%s (%s; read)", f.path, f.chosen)
	default:
		return fmt.Sprintf("%s (%s; not found, not used)", f.path, f.chosen)
	}
}

// clientConfig is the configuration of a client command, resolved from
// its sources.
type clientConfig struct {
	// off is PYSUMDB=off.
	off  bool
	file configFile

	logs              []verify.LogConfig
	logsFrom          source
	quorum            int
	quorumFrom        source
	witnesses         []string
	witnessesFrom     source
	witnessQuorum     int
	witnessQuorumFrom source
	witnessPolicy     *client.WitnessPolicy
	exclude           *verify.Exclusions

	// cacheDir is "" for a command without a cache (monitor).
	cacheDir     string
	cacheDirFrom source
}

// switchedOff reports whether PYSUMDB=off is set; another value than "off"
// or "" is a usage error, so that no value has a silent meaning.
func switchedOff() (bool, error) {
	switch v := os.Getenv(envSwitch); v {
	case "":
		return false, nil
	case "off":
		return true, nil
	default:
		return false, usagef("%s=%q: the only value is \"off\" (to turn verification off); unset it to verify", envSwitch, v)
	}
}

// verificationOff is PYSUMDB=off for verify and check-pypi: it says so on
// stderr, and the command then checks nothing and exits 0.
func verificationOff(g *globals) (bool, error) {
	off, err := switchedOff()
	if off {
		fmt.Fprintf(g.stderr, "pysumdb: verification is off (%s=off): nothing was checked\n", envSwitch)
	}
	return off, err
}

// splitList splits a comma-separated list, trimming spaces and dropping
// empty items (a trailing comma, as appending to a variable leaves).
func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// parseLogsEnv parses PYSUMDB_LOGS: "<vkey> <url>" pairs separated by
// commas. Each key must be a log's verifier key.
func parseLogsEnv(s string) ([]verify.LogConfig, error) {
	var logs []verify.LogConfig
	for i, item := range splitList(s) {
		fields := strings.Fields(item)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s: log %d is %q, not a key and a URL; want %s", envLogs, i+1, item, logsSyntax)
		}
		if _, err := note.NewVerifier(fields[0]); err != nil {
			hint := ""
			if _, urlErr := note.NewVerifier(fields[1]); urlErr == nil {
				hint = " (the key comes first, then the URL)"
			}
			return nil, fmt.Errorf("%s: log %d: %q is not a verifier key%s: %v; want %s", envLogs, i+1, fields[0], hint, err, logsSyntax)
		}
		logs = append(logs, verify.LogConfig{VKey: fields[0], URL: fields[1]})
	}
	if len(logs) == 0 {
		return nil, fmt.Errorf("%s lists no log; want %s", envLogs, logsSyntax)
	}
	return logs, nil
}

// parseCount parses the number of variable name: 1 or more.
func parseCount(name, s, what string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want how many %s, 1 or more", name, s, what)
	}
	return n, nil
}

// parseWitnessesEnv parses PYSUMDB_WITNESSES: witness cosignature keys
// separated by commas.
func parseWitnessesEnv(s string) ([]string, error) {
	keys := splitList(s)
	for i, k := range keys {
		if _, err := tiles.NewCosignatureVerifier(k); err != nil {
			return nil, fmt.Errorf("%s: witness %d: %q is not a witness's cosignature key: %v", envWitnesses, i+1, k, err)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s lists no witness key; want cosignature keys separated by commas", envWitnesses)
	}
	return keys, nil
}

// envLayer reads the environment's settings. A variable set to "" is
// unset.
func envLayer() (layer, error) {
	l := layer{src: source{"the environment", fromEnv}}
	var err error
	if v := os.Getenv(envLogs); strings.TrimSpace(v) != "" {
		if l.logs, err = parseLogsEnv(v); err != nil {
			return l, usageError{err}
		}
	}
	if v := os.Getenv(envQuorum); v != "" {
		if l.quorum, err = parseCount(envQuorum, v, "logs must prove each hash"); err != nil {
			return l, usageError{err}
		}
	}
	if v := os.Getenv(envWitnesses); strings.TrimSpace(v) != "" {
		if l.witnesses, err = parseWitnessesEnv(v); err != nil {
			return l, usageError{err}
		}
	}
	if v := os.Getenv(envWitnessQuorum); v != "" {
		if l.witnessQuorum, err = parseCount(envWitnessQuorum, v, "witnesses must cosign each checkpoint"); err != nil {
			return l, usageError{err}
		}
	}
	l.exclude = splitList(os.Getenv(envExclude))
	return l, nil
}

// readConfigFile reads a configuration file as the layer of src: its
// relative log paths are relative to the file.
func readConfigFile(path string, src source) (layer, error) {
	data, _, err := bounded.ReadFile(path, maxConfigSize)
	if err != nil {
		return layer{}, usagef("couldn't read the configuration: %v", err)
	}
	cfg, err := verify.ParsePartialConfig(data)
	if err != nil {
		return layer{}, usagef("%s: %v", path, err)
	}
	for i, l := range cfg.Logs {
		if u, err := url.Parse(l.URL); (err != nil || u.Scheme == "") && !filepath.IsAbs(l.URL) {
			cfg.Logs[i].URL = filepath.Join(filepath.Dir(path), l.URL)
		}
	}
	l := layer{src: src, logs: cfg.Logs, quorum: cfg.Quorum, witnessQuorum: cfg.WitnessQuorum, exclude: cfg.Exclude}
	for _, w := range cfg.Witnesses {
		l.witnesses = append(l.witnesses, w.VKey)
	}
	return l, nil
}

// userConfigFile finds the configuration file of the lowest source:
// $PYSUMDB_CONFIG, which must exist, or else the default one if it does.
func userConfigFile() (configFile, error) {
	if path := os.Getenv(envConfig); path != "" {
		f := configFile{path: path, chosen: "$" + envConfig, found: true}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return f, usagef("%s=%s, which doesn't exist: create it, or unset %s to use the default %s", envConfig, path, envConfig, defaultConfigName())
		}
		return f, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return configFile{why: fmt.Sprintf("no user configuration directory: %v", err)}, nil
	}
	f := configFile{path: filepath.Join(dir, "pysumdb", "config.toml"), chosen: "default"}
	_, err = os.Stat(f.path)
	switch {
	case err == nil:
		f.found = true
	case !errors.Is(err, fs.ErrNotExist):
		return f, usagef("couldn't read the configuration: %v", err)
	}
	return f, nil
}

// defaultConfigName names the default configuration file, for messages.
func defaultConfigName() string {
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "pysumdb", "config.toml")
	}
	return "<user config dir>/pysumdb/config.toml"
}

// flagLayer reads the command line's settings, --config's file among
// them.
func (f *logFlags) flagLayer(c *cobra.Command) (layer, error) {
	l := layer{src: source{commandLine, fromFlags}}
	logFlags := c.Flags().Changed("log") || c.Flags().Changed("vkey")
	if f.config != "" {
		if logFlags || f.witnesses.changed(c) {
			return l, usagef("%s takes --config or --log, --vkey and --witness, not both (list witnesses in the configuration as [[witness]] vkey = ...)", c.Name())
		}
		return readConfigFile(f.config, source{f.config, fromFlags})
	}
	if logFlags {
		if !c.Flags().Changed("log") || !c.Flags().Changed("vkey") {
			return l, usagef("%s needs --log and --vkey together: the log, and its verifier key (see '%s --help')", c.Name(), c.CommandPath())
		}
		vkey, err := readVerifierKey(f.vkey)
		if err != nil {
			return l, err
		}
		l.logs = []verify.LogConfig{{URL: f.location, VKey: vkey}}
	}
	for _, arg := range f.witnesses.vkeys {
		vkey, err := readWitnessKey(arg)
		if err != nil {
			return l, err
		}
		l.witnesses = append(l.witnesses, vkey)
	}
	if c.Flags().Changed("witness-quorum") {
		if f.witnesses.quorum < 1 {
			return l, usagef("--witness-quorum %d: want 1 or more (at most the number of witnesses)", f.witnesses.quorum)
		}
		l.witnessQuorum = f.witnesses.quorum
	}
	return l, nil
}

// resolve resolves the configuration of command c from its sources (see
// configHelp). No log at all is not an error here (see needLogs): config
// prints what there is.
func (f *logFlags) resolve(c *cobra.Command) (*clientConfig, error) {
	cfg := &clientConfig{exclude: &verify.Exclusions{}}
	var err error
	if cfg.off, err = switchedOff(); err != nil {
		return nil, err
	}
	for _, p := range f.exclude {
		if err := cfg.exclude.Add("--exclude", p); err != nil {
			return nil, usagef("--exclude: %v", err)
		}
	}
	flags, err := f.flagLayer(c)
	if err != nil {
		return nil, err
	}
	env, err := envLayer()
	if err != nil {
		return nil, err
	}
	layers := []layer{flags, env}
	if f.config != "" {
		cfg.file = configFile{path: f.config, chosen: "--config", found: true}
	} else {
		if cfg.file, err = userConfigFile(); err != nil {
			return nil, err
		}
		if cfg.file.found {
			fl, err := readConfigFile(cfg.file.path, source{cfg.file.path, fromFile})
			if err != nil {
				return nil, err
			}
			layers = append(layers, fl)
		}
	}
	if err := cfg.merge(layers); err != nil {
		return nil, err
	}
	if !f.noCache {
		cfg.cacheDir, cfg.cacheDirFrom = f.cacheDir, source{"--cache-dir", fromFlags}
		switch {
		case f.cacheDir != "":
		case os.Getenv(client.CacheDirEnv) != "":
			cfg.cacheDir, cfg.cacheDirFrom = os.Getenv(client.CacheDirEnv), source{client.CacheDirEnv, fromEnv}
		default:
			if cfg.cacheDir, err = client.DefaultCacheDir(); err != nil {
				return nil, usageError{err}
			}
			cfg.cacheDirFrom = source{"default", fromDefault}
		}
	}
	return cfg, nil
}

// merge takes each setting from the layers, highest first (configHelp
// says the rule), and checks the result.
func (cfg *clientConfig) merge(layers []layer) error {
	for _, l := range layers {
		if l.logs != nil {
			cfg.logs, cfg.logsFrom = l.logs, l.from(envLogs, flagLogs)
			break
		}
	}
	for _, l := range layers {
		if l.src.rank < cfg.logsFrom.rank {
			break
		}
		if l.quorum != 0 {
			cfg.quorum, cfg.quorumFrom = l.quorum, l.from(envQuorum, "")
			break
		}
	}
	for _, l := range layers {
		if l.witnesses != nil {
			cfg.witnesses, cfg.witnessesFrom = l.witnesses, l.from(envWitnesses, "--witness")
			break
		}
	}
	for _, l := range layers {
		if l.src.rank < cfg.witnessesFrom.rank {
			break
		}
		if l.witnessQuorum != 0 {
			cfg.witnessQuorum, cfg.witnessQuorumFrom = l.witnessQuorum, l.from(envWitnessQuorum, "--witness-quorum")
			break
		}
	}
	for _, l := range layers {
		src := l.from(envExclude, "--exclude")
		for _, p := range l.exclude {
			if err := cfg.exclude.Add(src.name, p); err != nil {
				return usagef("%s: %v", src.name, err)
			}
		}
	}
	if err := cfg.checkQuorum(); err != nil {
		return err
	}
	return cfg.checkWitnesses()
}

// checkQuorum sets the default quorum and checks it against the logs, and
// the logs against each other.
func (cfg *clientConfig) checkQuorum() error {
	n := len(cfg.logs)
	switch {
	case n == 0:
		return nil
	case cfg.quorum == 0 && n == 1:
		cfg.quorum, cfg.quorumFrom = 1, source{"default, one log", fromDefault}
	case cfg.quorum == 0:
		return usagef("%d logs (from %s) and no quorum: set how many must prove each hash, 1 to %d (quorum in the configuration file, or %s)", n, cfg.logsFrom.name, n, envQuorum)
	case cfg.quorum > n:
		return usagef("quorum %d (from %s) is more than the %d logs (from %s): want 1 to %d", cfg.quorum, cfg.quorumFrom.name, n, cfg.logsFrom.name, n)
	}
	// Two logs of one origin would count twice toward the quorum: the
	// check of a configuration file, for the logs of any source.
	check := verify.Config{Logs: cfg.logs, Quorum: cfg.quorum}
	if err := check.Check(); err != nil {
		return usagef("%s: %v", cfg.logsFrom.name, err)
	}
	return nil
}

// checkWitnesses checks the witness quorum and makes the witness policy.
func (cfg *clientConfig) checkWitnesses() error {
	if len(cfg.witnesses) == 0 {
		if cfg.witnessQuorum != 0 {
			return usagef("%s needs --witness keys (or %s, or [[witness]] in the configuration file)", cfg.witnessQuorumFrom.name, envWitnesses)
		}
		return nil
	}
	if cfg.witnessQuorum == 0 {
		cfg.witnessQuorum, cfg.witnessQuorumFrom = len(cfg.witnesses), source{"default, all the witnesses", fromDefault}
	}
	p, err := client.NewWitnessPolicy(cfg.witnesses, cfg.witnessQuorum)
	if err != nil {
		return usagef("the witnesses (from %s, quorum from %s): %v", cfg.witnessesFrom.name, cfg.witnessQuorumFrom.name, err)
	}
	cfg.witnessPolicy = p
	return nil
}

// needLogs is the error of a command with no log configured: it names
// every way to configure one.
func (cfg *clientConfig) needLogs(c *cobra.Command) error {
	if len(cfg.logs) > 0 {
		return nil
	}
	var file string
	switch {
	case cfg.file.path == "":
		file = fmt.Sprintf("in the file %s names (%s)", envConfig, cfg.file.why)
	case cfg.file.found:
		file = fmt.Sprintf("in %s (%s), which lists none", cfg.file.path, cfg.file.chosen)
	default:
		file = fmt.Sprintf("in %s (not found), or in the file %s names", cfg.file.path, envConfig)
	}
	return usagef("%s needs --log and --vkey, or --config FILE; or the logs in %s; or [[log]] tables %s (see '%s --help', and 'pysumdb config')",
		c.Name(), logsSyntax, file, c.CommandPath())
}

// refuseOff is the error of a command that can't do anything useful with
// PYSUMDB=off.
func (cfg *clientConfig) refuseOff(c *cobra.Command) error {
	if !cfg.off {
		return nil
	}
	return usagef("%s=off is set: %s reads no log while it is (unset it to use the logs)", envSwitch, c.Name())
}

func newConfigCommand(g *globals) *cobra.Command {
	var lf logFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "config [--log URL --vkey VKEY | --config FILE] [--exclude GLOB] [--json]",
		Short: "Print the client configuration in effect, and where each value comes from",
		Long: `config prints the configuration the client commands (verify, check-pypi,
lookup, publishers, proxy, monitor) would use, with the same flags and
environment: the configuration file looked at (and whether it was found),
PYSUMDB=off if set, the logs, the quorum, the witnesses and their quorum,
the private projects, and the cache directory, each with where it comes
from. It reads no log. --json prints it as JSON.

` + configHelp + `

Exit status: 0 the configuration is usable, 2 it is not (no log configured,
a bad value: the error says which and where).`,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := lf.resolve(c)
			if err != nil {
				return err
			}
			if asJSON {
				err = writeConfigJSON(g.stdout, cfg)
			} else {
				writeConfigText(g.stdout, cfg)
			}
			if err != nil || cfg.off {
				return err
			}
			return cfg.needLogs(c)
		},
	}
	lf.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print the configuration as JSON")
	return c
}

func writeConfigText(w io.Writer, cfg *clientConfig) {
	fmt.Fprintf(w, "config file = %s\n", cfg.file.describe())
	if cfg.off {
		fmt.Fprintf(w, "%s = off (verify and check-pypi check nothing; lookup, publishers, proxy and monitor refuse)\n", envSwitch)
	}
	if len(cfg.logs) == 0 {
		fmt.Fprintln(w, "log = none")
	}
	for _, l := range cfg.logs {
		fmt.Fprintf(w, "log = %s %s (from %s)\n", l.VKey, l.URL, cfg.logsFrom.name)
	}
	if cfg.quorum != 0 {
		fmt.Fprintf(w, "quorum = %d (from %s)\n", cfg.quorum, cfg.quorumFrom.name)
	}
	if len(cfg.witnesses) == 0 {
		fmt.Fprintln(w, "witness = none")
	}
	for _, k := range cfg.witnesses {
		fmt.Fprintf(w, "witness = %s (from %s)\n", k, cfg.witnessesFrom.name)
	}
	if cfg.witnessQuorum != 0 {
		fmt.Fprintf(w, "witness_quorum = %d (from %s)\n", cfg.witnessQuorum, cfg.witnessQuorumFrom.name)
	}
	excluded := cfg.exclude.List()
	if len(excluded) == 0 {
		fmt.Fprintln(w, "exclude = none")
	}
	for _, x := range excluded {
		fmt.Fprintf(w, "exclude = %q (from %s)\n", x.Pattern, x.Source)
	}
	if cfg.cacheDir != "" {
		fmt.Fprintf(w, "cache_dir = %s (from %s)\n", cfg.cacheDir, cfg.cacheDirFrom.name)
	}
}

type (
	jsonConfig struct {
		SchemaVersion     int                 `json:"schema_version"`
		ConfigFile        jsonConfigFile      `json:"config_file"`
		Off               bool                `json:"off"`
		Logs              []jsonConfigLog     `json:"logs"`
		LogsFrom          string              `json:"logs_from,omitempty"`
		Quorum            int                 `json:"quorum,omitempty"`
		QuorumFrom        string              `json:"quorum_from,omitempty"`
		Witnesses         []string            `json:"witnesses"`
		WitnessesFrom     string              `json:"witnesses_from,omitempty"`
		WitnessQuorum     int                 `json:"witness_quorum,omitempty"`
		WitnessQuorumFrom string              `json:"witness_quorum_from,omitempty"`
		Exclude           []jsonConfigExclude `json:"exclude"`
		CacheDir          string              `json:"cache_dir,omitempty"`
		CacheDirFrom      string              `json:"cache_dir_from,omitempty"`
	}
	jsonConfigFile struct {
		Path   string `json:"path"`
		Chosen string `json:"chosen,omitempty"`
		Found  bool   `json:"found"`
	}
	jsonConfigLog struct {
		URL  string `json:"url"`
		VKey string `json:"vkey"`
	}
	jsonConfigExclude struct {
		Pattern string `json:"pattern"`
		From    string `json:"from"`
	}
)

func writeConfigJSON(w io.Writer, cfg *clientConfig) error {
	out := jsonConfig{
		SchemaVersion: jsonSchemaVersion, Off: cfg.off,
		ConfigFile: jsonConfigFile{Path: cfg.file.path, Chosen: cfg.file.chosen, Found: cfg.file.found},
		Logs:       []jsonConfigLog{}, LogsFrom: cfg.logsFrom.name, Quorum: cfg.quorum, QuorumFrom: cfg.quorumFrom.name,
		Witnesses: append([]string{}, cfg.witnesses...), WitnessesFrom: cfg.witnessesFrom.name,
		WitnessQuorum: cfg.witnessQuorum, WitnessQuorumFrom: cfg.witnessQuorumFrom.name,
		Exclude: []jsonConfigExclude{}, CacheDir: cfg.cacheDir, CacheDirFrom: cfg.cacheDirFrom.name,
	}
	for _, l := range cfg.logs {
		out.Logs = append(out.Logs, jsonConfigLog{URL: l.URL, VKey: l.VKey})
	}
	for _, x := range cfg.exclude.List() {
		out.Exclude = append(out.Exclude, jsonConfigExclude{Pattern: x.Pattern, From: x.Source})
	}
	return writeJSON(w, out)
}
