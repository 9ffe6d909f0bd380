// Package sequencer is pysumdb's batch sequencer, modelled on Go's sumdb:
// run once per batch (by cron or `pysumdb run`), it appends new PyPI files
// to the log's tiles, signs a checkpoint, updates the project indexes and
// exits. There is no server: the store is the database.
//
// One batch goes through these steps, in this order (DESIGN.md):
//
//  1. dedupe: records whose filename the log holds with the same project,
//     sha256 and size are dropped; under another project, or with another
//     sha256 or size, they raise an alarm and are not appended;
//  2. stage: the ordered new records, the tree size they start from and
//     the source cursor are fixed in the state object by compare-and-swap.
//     A sequencer that loses this race has written nothing;
//  3. entry bundles and hash tiles (create-only objects);
//  4. project indexes, project list shards and filename notes
//     (compare-and-swap), so that every leaf of a published checkpoint is
//     in an index; then the statistics the web page draws (stats.json,
//     unsigned, best effort: a failure never stops the batch);
//  5. checkpoint (compare-and-swap);
//  6. state: the batch is done, the cursor advances.
//
// Everything written in steps 3–5 is a pure function of the tree before
// the batch and of the staged records, so a run that crashed anywhere is
// finished by the next one (Open) replaying the staged batch: it rewrites
// byte-identical objects, loses nothing and appends nothing twice.
//
// The sequencer also owns the log's rules: a filename is logged once,
// under one project, and alarms are reported by every run until a human
// acknowledges them. Objects it depends on that are missing or damaged
// stop it (ErrStoreDamaged) rather than be appended around.
package sequencer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/intake"
	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// ErrInconsistent reports a store whose objects contradict each other (for
// example a checkpoint that is neither before nor after the staged batch):
// a human must look, the sequencer won't guess.
var ErrInconsistent = errors.New("log store is inconsistent")

// Config configures a Sequencer.
type Config struct {
	// Store holds the log.
	Store publish.Store
	// Key is the log's private note key ("PRIVATE+KEY+<origin>+..."), as
	// `pysumdb keygen` writes it; its name is the log's origin.
	Key string
	// Signer signs for the log in place of Key, with a key this process
	// does not hold (a Cloud KMS key version: package kmssigner); its name
	// is the log's origin. VerifierKey is then its verifier key, which the
	// sequencer publishes and verifies what it reads back with: it must
	// name the Signer's key (same name and key hash). Exactly one of Key
	// and Signer is set.
	Signer      note.Signer
	VerifierKey string
	// Logger receives progress, recoveries and alarms; nil discards.
	Logger *slog.Logger
	// Concurrency bounds parallel object writes and reads; 0 means 32.
	Concurrency int
	// Holder names this process in the lease, for "busy" messages.
	Holder string
	// Now returns the time alarms are stamped with; nil means time.Now.
	Now func() time.Time
	// Witnesses are asked to cosign every new checkpoint (C2SP
	// tlog-witness), which is published with the cosignatures that verify;
	// none, it is published with the log's signature alone.
	Witnesses []Witness
	// WitnessTimeout bounds the exchange with each witness for one
	// checkpoint; 0 means DefaultWitnessTimeout. A witness that is down or
	// slow never stops a batch: the checkpoint is published without its
	// cosignature, and the next run asks it again.
	WitnessTimeout time.Duration
	// WitnessClient sends the add-checkpoint requests; nil means a client
	// of its own.
	WitnessClient *http.Client
	// ClaimDeadline is how long after an intake received a maintainer's
	// claim (package claim) the log must have found the file on PyPI: a
	// claimed file still missing then is an alarm (AlarmClaimNotLogged).
	// 0 means DefaultClaimDeadline; a negative value raises none.
	ClaimDeadline time.Duration
	// ClaimIssuers are the OIDC issuers whose tokens the claims are
	// verified again with (as the intake verified them); nil means
	// intake.DefaultIssuers.
	ClaimIssuers []intake.Issuer
}

// Sequencer appends batches to one log. It holds the store's lease from
// Open to Close.
type Sequencer struct {
	cfg      Config
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	log      *slog.Logger
	release  func(context.Context) error
	// cosigner is nil unless Config.Witnesses lists witnesses.
	cosigner *cosigner
	st       *state
	stVer    publish.Version

	// batch caches the signed mutable objects read during one batch
	// (from Logged to the end of Append).
	batch batchObjects
}

// Result describes one Append.
type Result struct {
	// Appended is the number of new entries.
	Appended int
	// Duplicates is the number of records already logged with the same
	// sha256 and size (or repeated within the batch).
	Duplicates int
	// Alarms are the records that contradict the log; not appended.
	Alarms []Alarm
	// TreeSize is the log size after the batch.
	TreeSize int64
}

// Open takes the store's lease (failing with an error wrapping
// publish.ErrBusy if another sequencer holds it), publishes the log key if
// the store is new, checks the state against the checkpoint, and finishes
// any batch an earlier run left half-done.
func Open(ctx context.Context, cfg Config) (*Sequencer, error) {
	cfg.Logger = logging.OrDiscard(cfg.Logger)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClaimDeadline == 0 {
		cfg.ClaimDeadline = DefaultClaimDeadline
	}
	signer, vkey, err := cfg.logKey()
	if err != nil {
		return nil, err
	}
	if err := tiles.CheckOrigin(signer.Name()); err != nil {
		return nil, fmt.Errorf("the log key's name can't be an origin: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("the log's verifier key %q: %w", vkey, err)
	}
	if verifier.Name() != signer.Name() || verifier.KeyHash() != signer.KeyHash() {
		return nil, fmt.Errorf("the verifier key %q is not the signer's key (%s, key hash %08x)", vkey, signer.Name(), signer.KeyHash())
	}
	var cosign *cosigner
	if len(cfg.Witnesses) > 0 {
		if cosign, err = newCosigner(cfg); err != nil {
			return nil, err
		}
	}
	release, err := cfg.Store.Lock(ctx, cfg.Holder)
	if err != nil {
		return nil, err
	}
	s := &Sequencer{cfg: cfg, signer: signer, verifier: verifier, vkey: vkey, cosigner: cosign,
		log: cfg.Logger.With("origin", signer.Name()), release: release}
	if err := s.open(ctx); err != nil {
		s.Close(ctx)
		return nil, err
	}
	return s, nil
}

// logKey returns the log's signer and verifier key: Key's, or Signer and
// VerifierKey.
func (cfg *Config) logKey() (note.Signer, string, error) {
	if cfg.Signer != nil {
		if cfg.Key != "" {
			return nil, "", errors.New("both a log key and a signer are configured: give one")
		}
		return cfg.Signer, cfg.VerifierKey, nil
	}
	signer, err := note.NewSigner(cfg.Key)
	if err != nil {
		return nil, "", fmt.Errorf("couldn't load the log key: %w", err)
	}
	vkey, err := tiles.VerifierKey(cfg.Key)
	if err != nil {
		return nil, "", fmt.Errorf("couldn't load the log key: %w", err)
	}
	return signer, vkey, nil
}

func (s *Sequencer) open(ctx context.Context) error {
	if err := s.publishKey(ctx); err != nil {
		return err
	}
	st, v, err := readState(ctx, s.cfg.Store)
	if err != nil {
		return err
	}
	if v == publish.NoVersion {
		if st, v, err = s.rebuildState(ctx); err != nil {
			return err
		}
	}
	s.st, s.stVer = st, v
	if st.Staged != nil {
		s.log.Warn("finishing a batch an earlier run left half-done",
			"start", st.Staged.Start, "entries", len(st.Staged.Records))
		defer s.batch.forget()
		return s.finish(ctx, st.Staged, nil)
	}
	tree, _, err := s.readCheckpoint(ctx)
	if err != nil {
		return err
	}
	if tree.N != st.TreeSize {
		return fmt.Errorf("%w: checkpoint has size %d, sequencer state says %d and stages no batch", ErrInconsistent, tree.N, st.TreeSize)
	}
	return nil
}

// rebuildState returns the state of a store that has none: empty for a
// new log; for a log whose state was lost, rebuilt from the checkpoint
// (the indexes are written before it, so they cover it). The source's
// cursor can't be rebuilt: the next run reads the source again from the
// start, deduped against the log. A store holding entries beyond the
// checkpoint lost a staged batch with its state; appending after the
// checkpoint would collide with that batch's tiles, so it is refused.
func (s *Sequencer) rebuildState(ctx context.Context) (*state, publish.Version, error) {
	tree, _, err := s.readCheckpoint(ctx)
	if err != nil || tree.N == 0 {
		return &state{}, publish.NoVersion, err
	}
	bundles, err := s.cfg.Store.List(ctx, tiles.TilePrefix+"entries/")
	if err != nil {
		return nil, publish.NoVersion, fmt.Errorf("couldn't list entry bundles: %w", err)
	}
	for _, key := range bundles {
		if t, err := tiles.ParseTilePath(key); err == nil && t.N*tiles.TileWidth+int64(t.W) > tree.N {
			return nil, publish.NoVersion, fmt.Errorf("%w: %s is missing, and %s holds entries beyond the checkpoint's size %d (a staged batch was lost with the state): restore %s from a backup",
				ErrStoreDamaged, StateKey, key, tree.N, StateKey)
		}
	}
	st := &state{TreeSize: tree.N}
	v, err := swapState(ctx, s.cfg.Store, publish.NoVersion, st)
	if err != nil {
		return nil, v, err
	}
	s.log.Warn("the sequencer state was missing: rebuilt it from the checkpoint; the source's position is lost, so the next run reads the source from the start, deduped against the log",
		"key", StateKey, "size", tree.N)
	return st, v, nil
}

// Close releases the lease.
func (s *Sequencer) Close(ctx context.Context) error {
	if s.release == nil {
		return nil
	}
	err := s.release(ctx)
	s.release = nil
	return err
}

// TreeSize returns the log's size after the last completed batch.
func (s *Sequencer) TreeSize() int64 { return s.st.TreeSize }

// Cursor returns the source cursor stored with the last completed batch.
func (s *Sequencer) Cursor() json.RawMessage { return s.st.Cursor }

// publishKey writes the verifier key at its well-known path, and refuses a
// store that holds another log's key.
func (s *Sequencer) publishKey(ctx context.Context) error {
	vkey := []byte(s.vkey + "\n")
	err := s.cfg.Store.Create(ctx, tiles.KeyKey, vkey)
	if errors.Is(err, publish.ErrIntegrity) {
		stored, _, _ := s.cfg.Store.Read(ctx, tiles.KeyKey)
		return fmt.Errorf("%w: the store holds the log of key %q, not %q", ErrInconsistent, stored, vkey)
	}
	return err
}

// Append logs the new records among records and, once they are published,
// stores cursor as the source's position. Records must be valid (see
// Record.Check). It returns ErrBusy if another sequencer won the race.
func (s *Sequencer) Append(ctx context.Context, records []Record, cursor json.RawMessage) (Result, error) {
	defer s.batch.forget()
	res, claimed, err := s.appendBatch(ctx, records, cursor)
	if err != nil {
		return res, err
	}
	alarms, err := s.settleClaims(ctx, claimed)
	res.Alarms = append(res.Alarms, alarms...)
	return res, err
}

// appendBatch is Append but for the claims of files logged earlier
// (settleClaims): it returns the store's claims it listed and read, for
// that.
func (s *Sequencer) appendBatch(ctx context.Context, records []Record, cursor json.RawMessage) (Result, *storeClaims, error) {
	if err := checkRecords(records); err != nil {
		return Result{}, nil, err
	}
	sorted := sortRecords(records)

	res, fresh, err := s.dedupe(ctx, sorted)
	if err != nil {
		return res, nil, err
	}
	// The claims decide the claimant of the batch's files before it is
	// staged, so that a replay writes the same indexes.
	claimed, err := s.listClaimed(ctx)
	if err != nil {
		return res, nil, err
	}
	alarms, err := s.matchClaims(ctx, fresh, claimed)
	res.Alarms = append(res.Alarms, alarms...)
	if err != nil {
		return res, nil, err
	}
	res.TreeSize = s.st.TreeSize
	if len(fresh) == 0 {
		if string(cursor) != string(s.st.Cursor) {
			next := &state{TreeSize: s.st.TreeSize, Cursor: cursor}
			if s.stVer, err = swapState(ctx, s.cfg.Store, s.stVer, next); err != nil {
				return res, nil, err
			}
			s.st = next
		}
		s.log.Info("nothing new to log", "size", res.TreeSize, "duplicates", res.Duplicates, "alarms", len(res.Alarms))
		return res, claimed, s.recosign(ctx)
	}

	b := &stagedBatch{Start: s.st.TreeSize, Records: fresh, Cursor: cursor}
	stage := func() error {
		staged := &state{TreeSize: s.st.TreeSize, Cursor: s.st.Cursor, Staged: b}
		v, err := swapState(ctx, s.cfg.Store, s.stVer, staged)
		if err != nil {
			return err
		}
		s.st, s.stVer = staged, v
		s.log.Info("staged batch", "start", b.Start, "entries", len(fresh))
		return nil
	}
	if err := s.finish(ctx, b, stage); err != nil {
		return res, nil, err
	}
	res.Appended = len(fresh)
	res.TreeSize = s.st.TreeSize
	return res, claimed, nil
}
