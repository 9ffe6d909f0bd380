package export

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/jsonl"
)

// jsonRow is one line of BigQuery's newline-delimited JSON export. Size is
// kept raw: BigQuery writes INT64 as a JSON string, others as a number.
type jsonRow struct {
	Name       *string        `json:"name"`
	Version    *string        `json:"version"`
	Filename   *string        `json:"filename"`
	SHA256     *string        `json:"sha256_digest"`
	Size       jsontext.Value `json:"size"`
	UploadTime *string        `json:"upload_time"`
}

// ndjsonSource reads one newline-delimited JSON file, maybe gzipped.
type ndjsonSource struct {
	name string
	f    *os.File
	gz   *gzip.Reader
	sc   *bufio.Scanner
	// line is the number of the last line read.
	line int
}

func openNDJSON(name string, f *os.File, gzipped bool) (*ndjsonSource, error) {
	s := &ndjsonSource{name: name, f: f}
	var r io.Reader = bufio.NewReaderSize(f, 64<<10)
	if gzipped {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, s.readError(err)
		}
		// Parquet is read at random: it can't be read through gzip.
		br := bufio.NewReaderSize(gz, 64<<10)
		if magic, _ := br.Peek(len(parquetMagic)); string(magic) == parquetMagic {
			return nil, fmt.Errorf("%s: %w: a gzipped Parquet file: decompress it first", name, sequencer.ErrBadRecord)
		}
		s.gz, r = gz, br
	}
	s.sc = bufio.NewScanner(r)
	s.sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	return s, nil
}

// readError is the error of a failed read: corrupt gzip data is a bad
// record, a failing disk is not.
func (s *ndjsonSource) readError(err error) error {
	var corrupt flate.CorruptInputError
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt) {
		return fmt.Errorf("%s: %w: corrupt gzip data: %v", s.name, sequencer.ErrBadRecord, err)
	}
	return fmt.Errorf("export: couldn't read %s: %w", s.name, err)
}

func (s *ndjsonSource) read() (sequencer.Record, time.Time, error) {
	for s.sc.Scan() {
		s.line++
		text := s.sc.Bytes()
		// Only JSON's own white space makes a line blank.
		if len(bytes.Trim(text, " \t\r")) == 0 {
			continue
		}
		rec, t, err := parseJSONRow(text)
		if err != nil {
			return sequencer.Record{}, time.Time{}, fmt.Errorf("%s:%d: %w", s.name, s.line, err)
		}
		return rec, t, nil
	}
	if err := s.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return sequencer.Record{}, time.Time{}, fmt.Errorf("%s:%d: %w: line longer than %d bytes", s.name, s.line+1, sequencer.ErrBadRecord, maxLine)
		}
		return sequencer.Record{}, time.Time{}, s.readError(err)
	}
	return sequencer.Record{}, time.Time{}, io.EOF
}

func (s *ndjsonSource) close() error {
	if s.gz != nil {
		s.gz.Close()
	}
	return s.f.Close()
}

// jsonError describes a decoding error for the person who exported the
// file: the decoder's message without its package prefix, an unknown
// member as an unknown column.
func jsonError(err error) error {
	var serr *json.SemanticError
	if errors.As(err, &serr) && errors.Is(serr.Err, json.ErrUnknownName) {
		return unknownColumn(serr.JSONPointer.LastToken())
	}
	msg := err.Error()
	for _, prefix := range []string{"json: ", "jsontext: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return fmt.Errorf("%w: %s", sequencer.ErrBadRecord, msg)
}

// parseJSONRow parses one line of the export, returning its record and
// upload time (the zero Time if NULL).
func parseJSONRow(text []byte) (sequencer.Record, time.Time, error) {
	var in jsonRow
	// Unmarshal refuses anything but white space after the value.
	if err := json.Unmarshal(text, &in, jsonl.StrictOptions); err != nil {
		return sequencer.Record{}, time.Time{}, jsonError(err)
	}
	size, sizeOK, err := parseSize(in.Size)
	if err != nil {
		return sequencer.Record{}, time.Time{}, err
	}
	var missing []string
	for _, c := range []struct {
		name string
		ok   bool
	}{{"name", in.Name != nil}, {"filename", in.Filename != nil}, {"sha256_digest", in.SHA256 != nil}, {"size", sizeOK}} {
		if !c.ok {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return sequencer.Record{}, time.Time{}, fmt.Errorf("%w: missing or null %s", sequencer.ErrBadRecord, strings.Join(missing, ", "))
	}
	var t time.Time
	if in.UploadTime != nil {
		if t, err = parseTimestamp(*in.UploadTime); err != nil {
			return sequencer.Record{}, time.Time{}, fmt.Errorf("%w: %s: %v", sequencer.ErrBadRecord, *in.Filename, err)
		}
	}
	rec, err := makeRecord(*in.Name, *in.Filename, *in.SHA256, size, t, in.UploadTime != nil)
	if err != nil {
		return sequencer.Record{}, time.Time{}, err
	}
	return rec, t, nil
}

// parseSize parses the size column: a JSON string holding a decimal
// integer (BigQuery's INT64), or a JSON integer. ok is false when it is
// absent or null.
func parseSize(v jsontext.Value) (size int64, ok bool, err error) {
	if len(v) == 0 || string(v) == "null" {
		return 0, false, nil
	}
	if v.Kind() == '"' {
		var s string
		if err := json.Unmarshal(v, &s, jsonl.StrictOptions); err != nil {
			return 0, false, jsonError(err)
		}
		if !isCanonicalInt(s) {
			return 0, false, fmt.Errorf("%w: size %q is not a decimal integer", sequencer.ErrBadRecord, s)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%w: size %q is out of range", sequencer.ErrBadRecord, s)
		}
		return n, true, nil
	}
	if err := json.Unmarshal(v, &size, jsonl.StrictOptions); err != nil {
		return 0, false, jsonError(fmt.Errorf("size: %w", err))
	}
	return size, true, nil
}

// isCanonicalInt reports whether s is an integer as BigQuery writes it:
// an optional "-" and decimal digits, without leading zeros.
func isCanonicalInt(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || digits[0] == '0' && len(digits) > 1 || s == "-0" {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isTwoDigits reports whether s is two decimal digits of at most max.
func isTwoDigits(s string, max int) bool {
	return len(s) == 2 && isDigit(s[0]) && isDigit(s[1]) && int(s[0]-'0')*10+int(s[1]-'0') <= max
}

// parseTimestamp parses a TIMESTAMP as BigQuery's JSON export writes it,
// "2006-01-02 15:04:05[.fraction] UTC", or as RFC 3339,
// "2006-01-02T15:04:05[.fraction](Z|±hh:mm)"; the fraction has one to nine
// digits. Anything else, including what time.Parse would also accept
// (one-digit fields, a comma before the fraction), is refused.
func parseTimestamp(s string) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("upload time %q is neither BigQuery's \"YYYY-MM-DD HH:MM:SS[.ffffff] UTC\" nor RFC 3339", s)
	}
	const shape = "dddd-dd-dd?dd:dd:dd"
	if len(s) < len(shape) {
		return bad()
	}
	for i := 0; i < len(shape); i++ {
		switch shape[i] {
		case 'd':
			if !isDigit(s[i]) {
				return bad()
			}
		case '?':
			if s[i] != ' ' && s[i] != 'T' {
				return bad()
			}
		default:
			if s[i] != shape[i] {
				return bad()
			}
		}
	}
	rest := s[len(shape):]
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 || n > 10 {
			return bad()
		}
		rest = rest[n:]
	}
	var t time.Time
	var err error
	if s[10] == ' ' {
		if rest != " UTC" {
			return bad()
		}
		t, err = time.Parse("2006-01-02 15:04:05", s[:len(s)-len(" UTC")])
	} else {
		switch {
		case rest == "Z":
		case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
			isTwoDigits(rest[1:3], 23) && isTwoDigits(rest[4:6], 59):
			// time.Parse allows hours up to 24, RFC 3339 up to 23.
		default:
			return bad()
		}
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		return bad()
	}
	return t.UTC(), nil
}
