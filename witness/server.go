package witness

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/internal/atomicfile"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/internal/filelock"
	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/tiles"
)

// Errors of New that callers branch on.
var (
	// ErrConfig is wrapped by New's errors about its Config: a key that
	// doesn't parse, a log given twice, a missing state directory.
	ErrConfig = errors.New("witness configuration")

	// ErrState is wrapped by New's error when a log's state file can't
	// be read, doesn't parse or doesn't verify with the log's key. It is
	// never reset: a witness that forgot what it cosigned could cosign a
	// fork. Restore the file from a backup, or retire the witness.
	ErrState = errors.New("witness state is damaged")

	// ErrLocked is wrapped by New's error when another process holds the
	// state directory's lock: two witnesses sharing one state could each
	// cosign one side of a fork.
	ErrLocked = errors.New("witness state directory is in use by another process")
)

// requestTimeout bounds the reading of one request body, whatever the
// http.Server's own timeouts (a handler used without any still can't be
// held open by a slow sender).
const requestTimeout = 30 * time.Second

// Config configures a Witness.
type Config struct {
	// Key is the witness's note private key
	// ("PRIVATE+KEY+<name>+<hash>+<base64>", as `pysumdb keygen` writes
	// it). The key's name is the witness's name; it signs C2SP
	// tlog-cosignature cosignature/v1 statements (VerifierKey).
	Key string
	// Logs are the logs the witness cosigns, each known by its origin.
	Logs []Log
	// StateDir holds the witness's state: per log the latest checkpoint
	// it cosigned (logs/), evidence of inconsistent checkpoints
	// (evidence/) and a lock file. It must exist; the witness locks it
	// (flock, LockFileEx on Windows) for as long as it is open. Losing
	// it makes the witness forget what it cosigned: back it up, or
	// retire the witness.
	StateDir string
	// Logger receives the witness's events: a SECURITY ERROR at level
	// ERROR for an inconsistent checkpoint, each request at DEBUG. Nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock of the cosignatures' timestamps; nil is time.Now.
	Now func() time.Time
}

// Log is one log a Witness cosigns.
type Log struct {
	// VKey is the log's note verifier key
	// ("<origin>+<hash>+<base64 Ed25519 key>"). Its name is the log's
	// origin, the first line of its checkpoints.
	VKey string
}

// Witness is a C2SP tlog-witness: an http.Handler answering POST
// /add-checkpoint (and GET / with a short description). For each log it
// keeps the latest checkpoint it cosigned in a file, written durably
// before it answers, and it cosigns only checkpoints consistent with it.
type Witness struct {
	name   string
	vkey   string
	signer note.Signer
	dir    string
	logger *slog.Logger
	logs   map[string]*logState
	lock   *os.File
	mux    *http.ServeMux
	now    func() time.Time

	closeOnce sync.Once
	closeErr  error

	// testHookChecked, if set, is called with a log's lock held after a
	// request passed every check, before the state is written: tests
	// make requests race there.
	testHookChecked func()
}

// logState is the state of one log.
type logState struct {
	origin   string
	verifier note.Verifier
	path     string // its state file

	// mu serializes the requests of the log: each checks against the
	// latest checkpoint and writes the next under it, so that two
	// requests can't interleave and take the state back.
	mu sync.Mutex
	// latest is the latest checkpoint cosigned, nil if none ever was.
	latest *cosigned
	// closed is set by Close: the state is another process's to write.
	closed bool
	// broken is set when a state write failed after the rename (the
	// file's content is unknown): the log's requests fail until a
	// restart reads the file back.
	broken error
}

// cosigned is a checkpoint the witness cosigned.
type cosigned struct {
	tree tlog.Tree
	// note is the signed checkpoint: the log's signature and the
	// witness's cosignature.
	note []byte
}

// New returns a witness for cfg: it locks cfg.StateDir and reads each
// log's state, which must verify with the log's key. Close it to release
// the lock.
func New(cfg Config) (*Witness, error) {
	signer, err := tiles.NewCosigner(cfg.Key, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("%w: witness key: %w", ErrConfig, err)
	}
	vkey, err := tiles.CosignatureVerifierKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: witness key: %w", ErrConfig, err)
	}
	cosigV, err := tiles.NewCosignatureVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: witness key: %w", ErrConfig, err)
	}
	if len(cfg.Logs) == 0 {
		return nil, fmt.Errorf("%w: no logs to witness", ErrConfig)
	}
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("%w: no state directory", ErrConfig)
	}
	if fi, err := os.Stat(cfg.StateDir); err != nil || !fi.IsDir() {
		// Not created here: a mistyped path must not start a witness
		// that forgot everything it cosigned.
		return nil, fmt.Errorf("%w: state directory %s does not exist or is not a directory (create it for a new witness)", ErrConfig, cfg.StateDir)
	}
	w := &Witness{
		name:   signer.Name(),
		vkey:   vkey,
		signer: signer,
		dir:    cfg.StateDir,
		logger: logging.OrDiscard(cfg.Logger),
		logs:   make(map[string]*logState, len(cfg.Logs)),
		now:    cfg.Now,
	}
	if w.now == nil {
		w.now = time.Now
	}
	for i, l := range cfg.Logs {
		v, err := note.NewVerifier(l.VKey)
		if err != nil {
			return nil, fmt.Errorf("%w: log %d: verifier key %q: %w", ErrConfig, i+1, l.VKey, err)
		}
		origin := v.Name()
		if err := tiles.CheckOrigin(origin); err != nil {
			return nil, fmt.Errorf("%w: log %d: %w", ErrConfig, i+1, err)
		}
		if w.logs[origin] != nil {
			return nil, fmt.Errorf("%w: log %s given twice", ErrConfig, origin)
		}
		name := stateFileName(origin)
		if len(name) > 200 {
			return nil, fmt.Errorf("%w: log %d: origin %q is too long for a state file name", ErrConfig, i+1, origin)
		}
		w.logs[origin] = &logState{origin: origin, verifier: v, path: filepath.Join(cfg.StateDir, "logs", name)}
	}
	if err := w.lockDir(); err != nil {
		return nil, err
	}
	for _, ls := range w.logs {
		if err := ls.load(cosigV); err != nil {
			w.Close()
			return nil, err
		}
	}
	w.mux = http.NewServeMux()
	w.mux.HandleFunc("POST /add-checkpoint", w.serveAddCheckpoint)
	w.mux.HandleFunc("GET /{$}", w.serveIndex)
	return w, nil
}

// lockDir takes a non-blocking exclusive lock (package filelock) on
// StateDir/lock, kept until Close (or the process's end: the kernel
// releases it).
func (w *Witness) lockDir() error {
	f, err := os.OpenFile(filepath.Join(w.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("couldn't open the state lock: %w", err)
	}
	err = filelock.TryLock(f)
	if errors.Is(err, filelock.ErrLocked) {
		f.Close()
		return fmt.Errorf("%w: %s", ErrLocked, w.dir)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("couldn't lock %s: %w", w.dir, err)
	}
	w.lock = f
	return nil
}

// Close waits for the requests writing a state to finish, makes later
// requests fail (503) and releases the state directory's lock: another
// witness process may then take over the state, and nothing of this one
// writes to it any more.
func (w *Witness) Close() error {
	w.closeOnce.Do(func() {
		for _, ls := range w.logs {
			ls.mu.Lock()
			ls.closed = true
			ls.mu.Unlock()
		}
		if w.lock != nil {
			// Closing releases the lock too, but on Windows not
			// necessarily at once: unlocked first, it is free when
			// Close returns.
			filelock.Unlock(w.lock)
			w.closeErr = w.lock.Close()
		}
	})
	return w.closeErr
}

// Name returns the witness's name, its key's name.
func (w *Witness) Name() string { return w.name }

// VerifierKey returns the witness's cosignature/v1 verifier key, which
// logs and clients configure to verify its cosignatures.
func (w *Witness) VerifierKey() string { return w.vkey }

// stateFileName returns the name of an origin's state file: the origin
// with every byte but a-z, 0-9, '-' and '_' percent-escaped (uppercase
// letters too, for file systems that ignore case; '.' and '/' too, so no
// origin names a path). Distinct origins get distinct names.
func stateFileName(origin string) string {
	var b strings.Builder
	for i := 0; i < len(origin); i++ {
		c := origin[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// load reads the log's state file, if any: the log's signature must
// verify, and the witness's cosignature too if it is there (by cosigV; a
// cosignature by another key of the witness, before a key change, is
// ignored).
func (ls *logState) load(cosigV note.Verifier) error {
	data, _, err := bounded.ReadFile(ls.path, tiles.MaxCheckpointSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: log %s: %w", ErrState, ls.origin, err)
	}
	bad := func(err error) error {
		return fmt.Errorf("%w: log %s: %s does not verify with the log's key: %w", ErrState, ls.origin, ls.path, err)
	}
	n, err := note.Open(data, note.VerifierList(ls.verifier, cosigV))
	if err != nil {
		return bad(err)
	}
	if !slices.ContainsFunc(n.Sigs, func(s note.Signature) bool { return s.Name == ls.verifier.Name() && s.Hash == ls.verifier.KeyHash() }) {
		return bad(errors.New("no signature of the log"))
	}
	c, err := tiles.ParseCheckpoint(n.Text)
	if err != nil {
		return bad(err)
	}
	if c.Origin != ls.origin {
		return bad(fmt.Errorf("checkpoint of %q", c.Origin))
	}
	ls.latest = &cosigned{tree: c.Tree, note: data}
	return nil
}

// ServeHTTP serves POST /add-checkpoint and GET /; anything else is 404
// (405 for another method on those paths).
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mux.ServeHTTP(rw, r)
}

func (w *Witness) serveIndex(rw http.ResponseWriter, r *http.Request) {
	origins := make([]string, 0, len(w.logs))
	for o := range w.logs {
		origins = append(origins, o)
	}
	sort.Strings(origins)
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(rw, "pysumdb witness %s (c2sp.org/tlog-witness: POST /add-checkpoint)\n\ncosignature key:\n%s\n\nlogs:\n", w.name, w.vkey)
	for _, o := range origins {
		fmt.Fprintf(rw, "%s\n", o)
	}
}

// reply is the answer to an add-checkpoint request.
type reply struct {
	status int
	body   []byte // the cosignature lines on 200, a message otherwise
	size   int64  // the witness's size on 409
}

func replyf(status int, format string, args ...any) reply {
	return reply{status: status, body: fmt.Appendf(nil, format+"\n", args...)}
}

func (w *Witness) serveAddCheckpoint(rw http.ResponseWriter, r *http.Request) {
	// Not supported by every ResponseWriter (a test recorder); the
	// server's own ReadTimeout bounds the read then.
	_ = http.NewResponseController(rw).SetReadDeadline(time.Now().Add(requestTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxRequestSize))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		http.Error(rw, fmt.Sprintf("request body larger than %d bytes", MaxRequestSize), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		w.logger.Debug("add-checkpoint: reading the request", "remote", r.RemoteAddr, "error", err)
		http.Error(rw, "couldn't read the request body", http.StatusBadRequest)
		return
	}
	rep := w.addCheckpoint(body)
	w.logger.Debug("add-checkpoint", "remote", r.RemoteAddr, "status", rep.status)
	switch rep.status {
	case http.StatusOK:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.WriteHeader(http.StatusOK)
		rw.Write(rep.body)
	case http.StatusConflict:
		rw.Header().Set("Content-Type", SizeContentType)
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", rep.size)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Header().Set("X-Content-Type-Options", "nosniff")
		rw.WriteHeader(rep.status)
		rw.Write(rep.body)
	}
}

// addCheckpoint processes an add-checkpoint request body, in the order of
// the spec's checks.
func (w *Witness) addCheckpoint(body []byte) reply {
	oldSize, proof, msg, err := ParseAddCheckpoint(body)
	if err != nil {
		return replyf(http.StatusBadRequest, "%v", err)
	}
	origin, _, _ := bytes.Cut(msg, []byte("\n"))
	ls := w.logs[string(origin)]
	if ls == nil {
		return replyf(http.StatusNotFound, "unknown log %q", sanitize(origin, 256))
	}
	n, err := note.Open(msg, note.VerifierList(ls.verifier))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified), errors.As(err, &invalid):
		return replyf(http.StatusForbidden, "no valid signature of log %s: %v", ls.origin, err)
	case err != nil:
		return replyf(http.StatusBadRequest, "checkpoint: %v", err)
	}
	c, err := tiles.ParseCheckpoint(n.Text)
	if err != nil {
		return replyf(http.StatusBadRequest, "checkpoint: %v", err)
	}
	if c.Origin != ls.origin { // the first line of the note is its text's
		return replyf(http.StatusBadRequest, "checkpoint origin %q is not %q", c.Origin, ls.origin)
	}
	if oldSize > c.N {
		return replyf(http.StatusBadRequest, "old size %d is larger than the checkpoint's size %d", oldSize, c.N)
	}
	submitted := logSigned(n)

	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return replyf(http.StatusServiceUnavailable, "the witness is shutting down")
	}
	if ls.broken != nil {
		return replyf(http.StatusInternalServerError, "the witness's state of log %s could not be written; it needs a restart", ls.origin)
	}
	var latest tlog.Tree
	if ls.latest != nil {
		latest = ls.latest.tree
	}
	if oldSize != latest.N {
		return reply{status: http.StatusConflict, size: latest.N}
	}
	switch {
	case ls.latest != nil && c.N == latest.N:
		if c.Hash != latest.Hash {
			w.forkEvidence(ls, "same tree size, different root hash: the log forked", submitted, oldSize, proof)
			return reply{status: http.StatusConflict, size: latest.N}
		}
		if len(proof) != 0 {
			return replyf(http.StatusUnprocessableEntity, "a consistency proof between trees of one size must be empty")
		}
		// The checkpoint cosigned already: cosign it again, the state
		// stays.
		return w.cosign(ls, n, nil)
	case oldSize > 0:
		if err := tlog.CheckTree(proof, c.N, c.Hash, latest.N, latest.Hash); err != nil {
			w.forkEvidence(ls, "the consistency proof from the witnessed checkpoint does not verify: the log forked, or the request carries a wrong proof", submitted, oldSize, proof)
			return replyf(http.StatusUnprocessableEntity, "consistency proof from size %d to size %d does not verify", oldSize, c.N)
		}
	}
	// oldSize == 0 here with a checkpoint of a larger tree (or the first
	// one): every tree extends the empty tree.
	return w.cosign(ls, n, &c.Tree)
}

// cosign cosigns the checkpoint n and, if tree is not nil, durably
// records it as the log's latest before returning the cosignature. ls.mu
// is held.
func (w *Witness) cosign(ls *logState, n *note.Note, tree *tlog.Tree) reply {
	text := n.Text
	signed, err := note.Sign(&note.Note{Text: text}, w.signer)
	if err != nil {
		w.logger.Error("couldn't cosign", "origin", ls.origin, "error", err)
		return replyf(http.StatusInternalServerError, "couldn't cosign")
	}
	sigLines := signed[len(text)+1:]
	if tree == nil {
		return reply{status: http.StatusOK, body: sigLines}
	}
	// Never back, whatever the checks above let through.
	if l := ls.latest; l != nil && (tree.N < l.tree.N || tree.N == l.tree.N && tree.Hash != l.tree.Hash) {
		w.logger.Error("refusing to move the state back", "origin", ls.origin, "latest", l.tree.N, "new", tree.N)
		return replyf(http.StatusInternalServerError, "internal error")
	}
	if w.testHookChecked != nil {
		w.testHookChecked()
	}
	// The state holds the log's signature and the witness's cosignature.
	state := append(logSigned(n), sigLines...)
	if err := writeFileDurably(ls.path, state); err != nil {
		if errors.Is(err, atomicfile.ErrAfterRename) {
			ls.broken = err
		}
		w.logger.Error("couldn't write the witness state; not cosigning", "origin", ls.origin, "error", err)
		return replyf(http.StatusInternalServerError, "couldn't record the checkpoint")
	}
	ls.latest = &cosigned{tree: *tree, note: state}
	w.logger.Info("cosigned", "origin", ls.origin, "size", tree.N)
	return reply{status: http.StatusOK, body: sigLines}
}

// logSigned returns the note n with only the log's verified signature
// lines: what the log signed, without whatever else a request appended.
func logSigned(n *note.Note) []byte {
	b := []byte(n.Text + "\n")
	for _, s := range n.Sigs {
		b = fmt.Appendf(b, "— %s %s\n", s.Name, s.Base64)
	}
	return b
}

// writeFileDurably replaces path with data durably (atomicfile.Replace),
// creating its directory if missing. A failure before the rename leaves
// path as it was; one after wraps atomicfile.ErrAfterRename.
func writeFileDurably(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.Mkdir(dir, 0o700); err == nil {
		if err := atomicfile.SyncDir(filepath.Dir(dir)); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	}
	return atomicfile.Replace(path, data, true)
}

// evidence is the JSON file written for a request whose checkpoint
// contradicts the witnessed one.
type evidence struct {
	Time   string `json:"time"`
	Origin string `json:"origin"`
	Reason string `json:"reason"`
	// Witnessed is the latest checkpoint the witness cosigned (signed by
	// the log and the witness).
	Witnessed string `json:"witnessed_checkpoint"`
	// Submitted is the request's checkpoint with the log's signature.
	Submitted string   `json:"submitted_checkpoint"`
	OldSize   int64    `json:"old_size"`
	Proof     []string `json:"proof"`
}

// forkEvidence reports a checkpoint, signed by the log, that contradicts
// the witnessed one (or comes with a proof that fails): a SECURITY ERROR
// logged with both checkpoints and the proof, and written to
// evidence/<sha256 of the submitted checkpoint's text>.json, once per
// checkpoint. Only the log can sign checkpoints, so the files are bounded
// by the checkpoints it signed, whatever requests anyone sends. ls.mu is
// held.
func (w *Witness) forkEvidence(ls *logState, reason string, submitted []byte, oldSize int64, proof tlog.TreeProof) {
	text, _, _ := bytes.Cut(submitted, []byte("\n\n"))
	sum := sha256.Sum256(text)
	path := filepath.Join(w.dir, "evidence", hex.EncodeToString(sum[:])+".json")
	if _, err := os.Lstat(path); err == nil {
		w.logger.Warn("inconsistent checkpoint submitted again; evidence already recorded", "origin", ls.origin, "evidence", path)
		return
	}
	proofLines := make([]string, len(proof))
	for i, h := range proof {
		proofLines[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	ev := evidence{
		Time:      w.now().UTC().Format(time.RFC3339),
		Origin:    ls.origin,
		Reason:    reason,
		Witnessed: string(ls.latest.note),
		Submitted: string(submitted),
		OldSize:   oldSize,
		Proof:     proofLines,
	}
	data, err := json.MarshalIndent(ev, "", "\t")
	if err == nil {
		err = writeFileDurably(path, append(data, '\n'))
	}
	attrs := []any{
		"origin", ls.origin, "reason", reason,
		"witnessed_checkpoint", ev.Witnessed, "submitted_checkpoint", ev.Submitted,
		"old_size", oldSize, "proof", proofLines,
	}
	if err != nil {
		attrs = append(attrs, "evidence_error", err)
	} else {
		attrs = append(attrs, "evidence", path)
	}
	w.logger.Error("SECURITY ERROR: log "+ls.origin+" signed a checkpoint inconsistent with the one this witness cosigned", attrs...)
}
