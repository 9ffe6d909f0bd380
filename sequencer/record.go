package sequencer

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/pysumdb/pysumdb/tiles"
)

// ErrBadRecord is wrapped by every error of an invalid input record.
var ErrBadRecord = errors.New("invalid record")

// Record is one PyPI file to log, as a source reports it.
type Record struct {
	// Project is the PEP 503 normalized project name.
	Project string `json:"project"`
	// Filename is the distribution filename.
	Filename string `json:"filename"`
	// SHA256 is the file digest, 64 lowercase hex digits.
	SHA256 string `json:"sha256"`
	// Size is the file size in bytes.
	Size int64 `json:"size"`
	// UploadTime is RFC 3339 UTC, or "-" when unknown.
	UploadTime string `json:"upload_time"`
	// Publisher is the verified PEP 740 publisher, if any.
	Publisher *tiles.Publisher `json:"publisher,omitempty"`
}

// Check validates r: a normalized project, a loggable filename, a
// lowercase hex sha256, a non-negative size, an RFC 3339 UTC upload time
// (or "-"), a valid publisher.
func (r *Record) Check() error {
	if !tiles.IsNormalizedProject(r.Project) {
		return fmt.Errorf("%w: project %q is not a normalized project name", ErrBadRecord, r.Project)
	}
	if err := tiles.CheckFilename(r.Filename); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if _, err := tiles.ParseHexDigest(r.SHA256); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadRecord, r.Filename, err)
	}
	if r.Size < 0 {
		return fmt.Errorf("%w: %s: negative size %d", ErrBadRecord, r.Filename, r.Size)
	}
	if err := tiles.CheckUploadTime(r.UploadTime); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadRecord, r.Filename, err)
	}
	if r.Publisher != nil {
		if err := tiles.CheckPublisher(*r.Publisher); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadRecord, r.Filename, err)
		}
	}
	return nil
}

// Entry returns the log entry of r.
func (r *Record) Entry() ([]byte, error) {
	e := tiles.Entry{Filename: r.Filename, Publisher: r.Publisher}
	if _, err := hex.Decode(e.SHA256[:], []byte(r.SHA256)); err != nil {
		return nil, fmt.Errorf("%w: %s: sha256: %v", ErrBadRecord, r.Filename, err)
	}
	return tiles.FormatEntry(e)
}

// jsonlRecord is the JSON lines input: like Record, but the project may be
// a display name and the upload time may be null or absent.
type jsonlRecord struct {
	Project    *string          `json:"project"`
	Filename   *string          `json:"filename"`
	SHA256     *string          `json:"sha256"`
	Size       *int64           `json:"size"`
	UploadTime *string          `json:"upload_time"`
	Publisher  *tiles.Publisher `json:"publisher"`
}

// jsonlOptions make the JSON lines decoder strict: what is logged is
// exactly what the line says, or the line is refused. The decoder
// (github.com/go-json-experiment/json) refuses by default invalid UTF-8
// and lone surrogate escapes (rather than logging U+FFFD), duplicated
// member names (rather than keeping the last), names that differ from a
// field's only by case, and anything after the one value; unknown members
// are refused too.
var jsonlOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// ReadJSONL reads records given as JSON lines
// {"project","filename","sha256","size","upload_time"} (upload_time
// optional or null; "publisher": {"Kind","SAN"} optional). Project names
// are normalized. Blank lines are skipped. The first invalid line fails
// the whole read, naming its line number: nothing of a bad file is logged.
// Lines are decoded strictly (see jsonlOptions): a line that JSON
// decoders could read in more than one way is invalid.
func ReadJSONL(r io.Reader, name string) ([]Record, error) {
	var records []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Bytes()
		// Only JSON's own white space makes a line blank.
		if len(bytes.Trim(text, " \t\r")) == 0 {
			continue
		}
		rec, err := parseJSONLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		records = append(records, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", name, err)
	}
	return records, nil
}

// jsonError describes a decoding error for the person who wrote the line:
// the decoder's message without its package prefix, an unknown member as
// an unknown field.
func jsonError(err error) string {
	var serr *json.SemanticError
	if errors.As(err, &serr) && errors.Is(serr.Err, json.ErrUnknownName) {
		msg := fmt.Sprintf("unknown field %q", serr.JSONPointer.LastToken())
		if parent := serr.JSONPointer.Parent(); parent != "" {
			msg += fmt.Sprintf(" in %q", strings.TrimPrefix(string(parent), "/"))
		}
		return msg
	}
	msg := err.Error()
	for _, prefix := range []string{"json: ", "jsontext: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}

func parseJSONLine(text []byte) (Record, error) {
	var in jsonlRecord
	// Unmarshal refuses anything but white space after the value.
	if err := json.Unmarshal(text, &in, jsonlOptions); err != nil {
		return Record{}, fmt.Errorf("%w: %s", ErrBadRecord, jsonError(err))
	}
	var missing []string
	for field, v := range map[string]bool{"project": in.Project == nil, "filename": in.Filename == nil, "sha256": in.SHA256 == nil, "size": in.Size == nil} {
		if v {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return Record{}, fmt.Errorf("%w: missing %s", ErrBadRecord, strings.Join(missing, ", "))
	}
	project, err := tiles.NormalizeProject(*in.Project)
	if err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	rec := Record{
		Project:    project,
		Filename:   *in.Filename,
		SHA256:     *in.SHA256,
		Size:       *in.Size,
		UploadTime: tiles.NoUploadTime,
		Publisher:  in.Publisher,
	}
	if in.UploadTime != nil {
		rec.UploadTime = *in.UploadTime
	}
	if err := rec.Check(); err != nil {
		return Record{}, err
	}
	return rec, nil
}
