package tiles

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxTreeSize bounds the tree size a checkpoint or an index may claim:
// 2^40 entries, some 60,000 times PyPI's 17 million files. A larger size
// is refused when parsing, before anything is allocated or computed from
// it: x/mod's tlog loops without end on sizes above 2^62, and a log that
// misbehaves must not make a client spin or allocate in proportion to a
// number it made up.
const MaxTreeSize = 1 << 40

// Checkpoint is the signed body of a C2SP tlog-checkpoint.
type Checkpoint struct {
	// Origin names the log; it is also the name of the log's note key.
	Origin string
	// Tree is the tree size and root hash.
	tlog.Tree
}

// CheckOrigin reports whether origin can be a checkpoint's first line and
// a note key name: non-empty, printable, no spaces or "+".
func CheckOrigin(origin string) error {
	if origin == "" || strings.ContainsAny(origin, " \t\n+") {
		return malformed("origin %q: must be non-empty, without spaces or '+'", origin)
	}
	for _, r := range origin {
		if r < 0x21 || r > 0x7e {
			return malformed("origin %q: must be printable ASCII", origin)
		}
	}
	return nil
}

// FormatCheckpoint returns the checkpoint body (the note text).
func FormatCheckpoint(c Checkpoint) []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.N, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// ParseCheckpoint parses a checkpoint body: origin, decimal size (no sign,
// no leading zeros), base64 hash; no extension lines.
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	if !strings.HasSuffix(text, "\n") {
		return c, malformed("checkpoint does not end in newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 3 {
		return c, malformed("checkpoint has %d lines, want 3", len(lines))
	}
	if err := CheckOrigin(lines[0]); err != nil {
		return c, err
	}
	n, err := parseDecimal(lines[1])
	if err != nil || n > MaxTreeSize {
		return c, malformed("checkpoint tree size %q", lines[1])
	}
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	// The decoder skips '\r' and '\n' even in strict mode: also require
	// the canonical encoding, so that one hash has one checkpoint text.
	if err != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return c, malformed("checkpoint root hash %q", lines[2])
	}
	c.Origin = lines[0]
	c.N = n
	copy(c.Hash[:], h)
	return c, nil
}

// parseDecimal parses a canonical non-negative int64: digits only, no
// leading zeros.
func parseDecimal(s string) (int64, error) {
	if s == "" || s[0] == '+' || s[0] == '-' || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not canonical")
	}
	return strconv.ParseInt(s, 10, 64)
}

// SignCheckpoint returns the signed note of c. The signer's name must be the
// origin.
func SignCheckpoint(c Checkpoint, signer note.Signer) ([]byte, error) {
	if err := CheckOrigin(c.Origin); err != nil {
		return nil, err
	}
	if signer.Name() != c.Origin {
		return nil, fmt.Errorf("key name %q differs from origin %q", signer.Name(), c.Origin)
	}
	return note.Sign(&note.Note{Text: string(FormatCheckpoint(c))}, signer)
}

// OpenCheckpoint verifies a signed checkpoint with the log's verifier and
// parses it. The log's signature must be there and valid; so must be every
// cosignature by one of witnesses (a cosignature/v1 verifier of
// NewCosignatureVerifier each): the returned note's Sigs then hold the
// log's signature and the witnesses' cosignatures found, UnverifiedSigs
// those by other keys, which are not checked. The origin must be the
// verifier's name.
func OpenCheckpoint(msg []byte, verifier note.Verifier, witnesses ...note.Verifier) (Checkpoint, *note.Note, error) {
	n, err := note.Open(msg, note.VerifierList(append([]note.Verifier{verifier}, witnesses...)...))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	// note.Open accepts a note that any one known key signed: a witness's
	// cosignature alone must not pass for the log's signature.
	if !slices.ContainsFunc(n.Sigs, func(s note.Signature) bool {
		return s.Name == verifier.Name() && s.Hash == verifier.KeyHash()
	}) {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint signature: not signed by the log's key %s", verifier.Name())
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Origin != verifier.Name() {
		return Checkpoint{}, nil, malformed("checkpoint origin %q is not the key name %q", c.Origin, verifier.Name())
	}
	return c, n, nil
}
