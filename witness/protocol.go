// Package witness speaks the C2SP tlog-witness protocol
// (https://c2sp.org/tlog-witness): the add-checkpoint request that asks a
// witness to cosign a checkpoint, on both sides. FormatAddCheckpoint and
// AddCheckpoint are the log's side; ParseAddCheckpoint and Witness (a
// witness server keeping its state in a directory) are the witness's.
//
// Everything read from the network is bounded before it is parsed: a
// request by MaxRequestSize, a response by MaxResponseSize.
package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

// Protocol bounds.
const (
	// MaxProofLines is the most consistency proof lines a request may
	// carry (the spec's limit; a consistency proof between trees of at
	// most tiles.MaxTreeSize leaves has at most about 40 hashes).
	MaxProofLines = 63

	// maxOldLine bounds the "old <size>" line with its newline: "old ",
	// at most 19 digits and "\n" (a size above tiles.MaxTreeSize is
	// refused when parsed anyway).
	maxOldLine = 4 + 19 + 1

	// hashLine is the length of a proof line without its newline: a
	// 32-byte hash in padded base64.
	hashLine = 44

	// MaxRequestSize bounds an add-checkpoint request body: the old size
	// line, MaxProofLines proof lines, the empty line and a signed
	// checkpoint of at most tiles.MaxCheckpointSize bytes.
	MaxRequestSize = maxOldLine + MaxProofLines*(hashLine+1) + 1 + tiles.MaxCheckpointSize

	// MaxResponseSize bounds a witness's response body that AddCheckpoint
	// reads: a few cosignature lines of some 150 bytes each, or a short
	// error message.
	MaxResponseSize = 8 << 10

	// maxErrorBody bounds the part of an error response kept in a
	// RejectedError, for logs.
	maxErrorBody = 512
)

// SizeContentType is the media type of a 409 Conflict response's body: the
// witness's latest tree size in decimal and a newline.
const SizeContentType = "text/x.tlog.size"

// Errors that callers branch on.
var (
	// ErrMalformed is wrapped by ParseAddCheckpoint's errors: the request
	// body does not follow the protocol (a witness answers 400).
	ErrMalformed = errors.New("malformed add-checkpoint request")

	// ErrRejected is wrapped by AddCheckpoint's error when the witness
	// answered with a status other than 200 or 409 (a *RejectedError,
	// with the status and the start of the body). 409 is a
	// *ConflictError instead.
	ErrRejected = errors.New("witness rejected the checkpoint")

	// ErrBadResponse is wrapped by AddCheckpoint's error when the witness
	// answered 200 or 409 with a body that breaks the protocol, or a body
	// larger than MaxResponseSize.
	ErrBadResponse = errors.New("malformed witness response")
)

// ConflictError is AddCheckpoint's error for a 409 Conflict: the witness's
// latest cosigned checkpoint of the log has Size leaves, not the old size
// of the request. Retry with a consistency proof from Size. A Size equal to
// the old size sent means that the witness holds a checkpoint of that size
// with another root hash: the log, or the checkpoint given, forked.
type ConflictError struct {
	// Size is the size of the witness's latest cosigned checkpoint.
	Size int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness conflict: its latest cosigned checkpoint has size %d", e.Size)
}

// RejectedError is AddCheckpoint's error for a status other than 200 and
// 409. It wraps ErrRejected.
type RejectedError struct {
	// StatusCode is the HTTP status the witness answered: 400 malformed
	// request, 403 no valid log signature, 404 unknown log, 422 the
	// consistency proof does not verify, or anything else it chose.
	StatusCode int
	// Body is the start of the response body (at most 512 bytes),
	// with control characters and invalid UTF-8 replaced: safe to log.
	Body string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("%v: %d %s: %q", ErrRejected, e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

func (e *RejectedError) Unwrap() error { return ErrRejected }

// FormatAddCheckpoint returns the body of an add-checkpoint request: the
// old size line, one line per hash of proof (a consistency proof from
// oldSize to the checkpoint's size), an empty line and the signed
// checkpoint.
func FormatAddCheckpoint(oldSize int64, proof tlog.TreeProof, signedCheckpoint []byte) []byte {
	b := make([]byte, 0, maxOldLine+len(proof)*(hashLine+1)+1+len(signedCheckpoint))
	b = fmt.Appendf(b, "old %d\n", oldSize)
	for _, h := range proof {
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, signedCheckpoint...)
}

// ParseAddCheckpoint parses an add-checkpoint request body, strictly: an
// "old <size>" line (decimal, no sign, no leading zeros, at most
// tiles.MaxTreeSize), at most MaxProofLines lines of a canonical base64
// hash each (none when the old size is 0), an empty line and a non-empty
// checkpoint of at most tiles.MaxCheckpointSize bytes, returned as is (its
// signatures are the caller's to verify). Errors wrap ErrMalformed.
func ParseAddCheckpoint(body []byte) (oldSize int64, proof tlog.TreeProof, checkpoint []byte, err error) {
	if len(body) > MaxRequestSize {
		return 0, nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxRequestSize)
	}
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return 0, nil, nil, fmt.Errorf("%w: no old size line", ErrMalformed)
	}
	digits, ok := bytes.CutPrefix(line, []byte("old "))
	if !ok {
		return 0, nil, nil, fmt.Errorf("%w: first line is not \"old <size>\"", ErrMalformed)
	}
	oldSize, err = parseSize(digits)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: old size: %v", ErrMalformed, err)
	}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return 0, nil, nil, fmt.Errorf("%w: no empty line before the checkpoint", ErrMalformed)
		}
		if len(line) == 0 {
			break
		}
		if len(proof) == MaxProofLines {
			return 0, nil, nil, fmt.Errorf("%w: more than %d proof lines", ErrMalformed, MaxProofLines)
		}
		h, err := parseHash(line)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%w: proof line %d: %v", ErrMalformed, len(proof)+1, err)
		}
		proof = append(proof, h)
	}
	if oldSize == 0 && len(proof) > 0 {
		return 0, nil, nil, fmt.Errorf("%w: a proof from old size 0", ErrMalformed)
	}
	switch {
	case len(rest) == 0:
		return 0, nil, nil, fmt.Errorf("%w: no checkpoint", ErrMalformed)
	case rest[0] == '\n':
		return 0, nil, nil, fmt.Errorf("%w: more than one empty line before the checkpoint", ErrMalformed)
	case len(rest) > tiles.MaxCheckpointSize:
		return 0, nil, nil, fmt.Errorf("%w: checkpoint larger than %d bytes", ErrMalformed, tiles.MaxCheckpointSize)
	}
	return oldSize, proof, rest, nil
}

// parseSize parses a canonical tree size: decimal digits, no leading zero
// (but "0"), at most tiles.MaxTreeSize.
func parseSize(s []byte) (int64, error) {
	if len(s) == 0 || len(s) > 19 {
		return 0, fmt.Errorf("%q is not a decimal size", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal size", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", s)
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil || n > tiles.MaxTreeSize {
		return 0, fmt.Errorf("%q is larger than %d", s, int64(tiles.MaxTreeSize))
	}
	return n, nil
}

// parseHash parses a hash in canonical padded base64 (one text per hash).
func parseHash(line []byte) (tlog.Hash, error) {
	var h tlog.Hash
	if len(line) != hashLine {
		return h, fmt.Errorf("not a base64 hash of %d characters", hashLine)
	}
	// Decode needs room for what 44 characters may decode to (33 bytes
	// without padding), or it panics.
	var buf [hashLine / 4 * 3]byte
	n, err := base64.StdEncoding.Strict().Decode(buf[:], line)
	copy(h[:], buf[:])
	// Strict decoding still skips '\r' and '\n' (none here: lines are
	// split on '\n', and a '\r' makes the length short of a full hash or
	// the text non-canonical); also require the canonical encoding.
	if err != nil || n != tlog.HashSize || base64.StdEncoding.EncodeToString(h[:]) != string(line) {
		return tlog.Hash{}, errors.New("not a canonical base64 hash")
	}
	return h, nil
}

// AddCheckpoint asks the witness at witnessURL (its submission prefix; the
// request goes to <witnessURL>/add-checkpoint) to cosign signedCheckpoint,
// with proof, a consistency proof from oldSize (the size of the latest
// checkpoint the witness cosigned, 0 at first). hc may be nil for
// http.DefaultClient; ctx bounds the whole exchange.
//
// On 200 it returns the witness's note signature lines ("— <name>
// <base64>\n" each), checked for syntax only: append them to the
// checkpoint's and verify them with the witness's cosignature key. On 409
// the error is a *ConflictError with the witness's size; on another status,
// a *RejectedError (wrapping ErrRejected). A response that breaks the
// protocol wraps ErrBadResponse; an error of the network is returned
// wrapped.
func AddCheckpoint(ctx context.Context, hc *http.Client, witnessURL string, oldSize int64, proof tlog.TreeProof, signedCheckpoint []byte) (sigLines []byte, err error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	u, err := url.Parse(witnessURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("witness URL %q is not an http(s) URL", witnessURL)
	}
	endpoint := u.JoinPath("add-checkpoint")
	if oldSize < 0 || len(proof) > MaxProofLines || len(signedCheckpoint) > tiles.MaxCheckpointSize {
		return nil, fmt.Errorf("add-checkpoint to %s: old size %d, %d proof hashes, a checkpoint of %d bytes: out of the protocol's bounds",
			endpoint.Redacted(), oldSize, len(proof), len(signedCheckpoint))
	}
	body := FormatAddCheckpoint(oldSize, proof, signedCheckpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("add-checkpoint to %s: %w", endpoint.Redacted(), err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("add-checkpoint to %s: %w", endpoint.Redacted(), err)
	}
	defer resp.Body.Close()
	data, tooLarge, err := readBounded(resp.Body, MaxResponseSize)
	if err != nil {
		return nil, fmt.Errorf("add-checkpoint to %s: reading the response: %w", endpoint.Redacted(), err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if tooLarge {
			return nil, fmt.Errorf("add-checkpoint to %s: %w: body larger than %d bytes", endpoint.Redacted(), ErrBadResponse, MaxResponseSize)
		}
		if err := checkSignatureLines(data); err != nil {
			return nil, fmt.Errorf("add-checkpoint to %s: %w: %v", endpoint.Redacted(), ErrBadResponse, err)
		}
		return data, nil
	case http.StatusConflict:
		size, err := parseConflict(resp.Header.Get("Content-Type"), data, tooLarge)
		if err != nil {
			return nil, fmt.Errorf("add-checkpoint to %s: %w: 409 Conflict: %v", endpoint.Redacted(), ErrBadResponse, err)
		}
		return nil, &ConflictError{Size: size}
	default:
		return nil, fmt.Errorf("add-checkpoint to %s: %w", endpoint.Redacted(), &RejectedError{StatusCode: resp.StatusCode, Body: sanitize(data, maxErrorBody)})
	}
}

// readBounded reads r to its end or until it has read more than limit
// bytes, returning at most limit bytes and whether there were more.
func readBounded(r io.Reader, limit int64) ([]byte, bool, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(data)) > limit {
		return data[:limit], true, nil
	}
	return data, false, nil
}

// parseConflict parses a 409 response: Content-Type text/x.tlog.size and a
// body of a canonical decimal size and a newline.
func parseConflict(contentType string, body []byte, tooLarge bool) (int64, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != SizeContentType {
		return 0, fmt.Errorf("Content-Type %q, want %s", contentType, SizeContentType)
	}
	digits, ok := bytes.CutSuffix(body, []byte("\n"))
	if tooLarge || !ok {
		return 0, fmt.Errorf("body %q is not a size and a newline", sanitize(body, 64))
	}
	size, err := parseSize(digits)
	if err != nil {
		return 0, err
	}
	return size, nil
}

// checkSignatureLines checks that data is one or more note signature
// lines, "— <name> <base64>\n", as note.Open would accept them after a
// checkpoint: a name of no spaces and no '+', and a signature of a 4-byte
// key hash and at least one byte.
func checkSignatureLines(data []byte) error {
	if len(data) == 0 {
		return errors.New("no signature lines")
	}
	if !utf8.Valid(data) {
		return errors.New("not UTF-8")
	}
	if data[len(data)-1] != '\n' {
		return errors.New("last line does not end in a newline")
	}
	for n, line := range strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n") {
		line = strings.TrimSuffix(line, "\n")
		rest, ok := strings.CutPrefix(line, "— ")
		name, b64, ok2 := strings.Cut(rest, " ")
		if !ok || !ok2 || !validKeyName(name) {
			return fmt.Errorf("line %d is not a signature line", n+1)
		}
		sig, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || len(sig) < 5 || base64.StdEncoding.EncodeToString(sig) != b64 {
			return fmt.Errorf("line %d: malformed signature", n+1)
		}
	}
	return nil
}

// validKeyName reports whether name can name a note key: non-empty, no
// space characters (nor any control character), no '+'.
func validKeyName(name string) bool {
	return name != "" && !strings.ContainsRune(name, '+') &&
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// sanitize returns the start of b as text safe to log, of at most limit
// bytes: invalid UTF-8 and control characters become U+FFFD, newlines
// spaces, surrounding space is trimmed.
func sanitize(b []byte, limit int) string {
	if len(b) > limit {
		b = b[:limit]
	}
	s := strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return ' '
		case unicode.IsControl(r):
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(string(b), string(utf8.RuneError)))
	// Replacements are longer than what they replace: cut again, at a
	// rune's start.
	for len(s) > limit {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return strings.TrimSpace(s)
}
