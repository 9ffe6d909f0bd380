// Package jsonl is the generic source of records: PyPI files given as JSON
// lines (`pysumdb sequence --from-jsonl`), one file a line:
//
//	{"project": "Foo_Bar", "filename": "foo_bar-1.0.tar.gz", "sha256": "<64 lowercase hex>",
//	 "size": 1234, "upload_time": "2024-01-02T03:04:05Z"}
//
// upload_time is optional or null; "publisher": {"Kind", "SAN"} is
// optional. Lines are decoded strictly: what is logged is exactly what the
// line says, or the line is refused.
package jsonl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

// line is one JSON line: like sequencer.Record, but the project may be a
// display name, the sha256 is hex text and the upload time may be null or
// absent.
type line struct {
	Project    *string          `json:"project"`
	Filename   *string          `json:"filename"`
	SHA256     *string          `json:"sha256"`
	Size       *int64           `json:"size"`
	UploadTime *string          `json:"upload_time"`
	Publisher  *tiles.Publisher `json:"publisher"`
}

// StrictOptions make the decoder strict: what is logged is exactly what the
// line says, or the line is refused. The decoder
// (github.com/go-json-experiment/json) refuses by default invalid UTF-8
// and lone surrogate escapes (rather than logging U+FFFD), duplicated
// member names (rather than keeping the last), names that differ from a
// field's only by case, and anything after the one value; unknown members
// are refused too.
var StrictOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// Read reads the records of r, given as JSON lines, naming r name in
// errors. Project names are normalized. Blank lines are skipped. The
// first invalid line fails the whole read with an error wrapping
// sequencer.ErrBadRecord and naming its line number: nothing of a bad
// file is logged. Lines are decoded strictly (see StrictOptions): a line that
// JSON decoders could read in more than one way is invalid.
func Read(r io.Reader, name string) ([]sequencer.Record, error) {
	var records []sequencer.Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := sc.Bytes()
		// Only JSON's own white space makes a line blank.
		if len(bytes.Trim(text, " \t\r")) == 0 {
			continue
		}
		rec, err := parseLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
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

func parseLine(text []byte) (sequencer.Record, error) {
	var in line
	// Unmarshal refuses anything but white space after the value.
	if err := json.Unmarshal(text, &in, StrictOptions); err != nil {
		return sequencer.Record{}, fmt.Errorf("%w: %s", sequencer.ErrBadRecord, jsonError(err))
	}
	var missing []string
	for field, v := range map[string]bool{"project": in.Project == nil, "filename": in.Filename == nil, "sha256": in.SHA256 == nil, "size": in.Size == nil} {
		if v {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return sequencer.Record{}, fmt.Errorf("%w: missing %s", sequencer.ErrBadRecord, strings.Join(missing, ", "))
	}
	project, err := tiles.NormalizeProject(*in.Project)
	if err != nil {
		return sequencer.Record{}, fmt.Errorf("%w: %v", sequencer.ErrBadRecord, err)
	}
	digest, err := tiles.ParseHexDigest(*in.SHA256)
	// A bad filename is reported first, as Check reports it.
	if err != nil && tiles.CheckFilename(*in.Filename) == nil {
		return sequencer.Record{}, fmt.Errorf("%w: %s: %v", sequencer.ErrBadRecord, *in.Filename, err)
	}
	rec := sequencer.Record{
		Project:    project,
		Filename:   *in.Filename,
		SHA256:     digest,
		Size:       *in.Size,
		UploadTime: tiles.NoUploadTime,
		Publisher:  in.Publisher,
	}
	if in.UploadTime != nil {
		rec.UploadTime = *in.UploadTime
	}
	if err := rec.Check(); err != nil {
		return sequencer.Record{}, err
	}
	return rec, nil
}
