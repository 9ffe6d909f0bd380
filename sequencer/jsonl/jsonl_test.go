package jsonl_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/jsonl"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
	"github.com/pysumdb/pysumdb/tiles"
)

const goodLine = `{"project":"Foo_Bar","filename":"foo_bar-1.0.tar.gz","sha256":"bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4","size":12,"upload_time":"2024-01-02T03:04:05Z"}`

func TestRead(t *testing.T) {
	in := goodLine + "\n\n" + `{"project":"x","filename":"x-1.whl","sha256":"af272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4","size":0,"upload_time":null,"publisher":{"Kind":"github","SAN":"https://github.com/o/r/.github/workflows/w.yml@refs/tags/v1"}}` + "\n"
	got, err := jsonl.Read(strings.NewReader(in), "in")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Project != "foo-bar" || got[0].UploadTime != "2024-01-02T03:04:05Z" ||
		got[1].UploadTime != tiles.NoUploadTime || got[1].Publisher == nil || got[1].Publisher.Kind != "github" {
		t.Fatalf("Read = %+v", got)
	}
	if hex.EncodeToString(got[0].SHA256[:]) != "bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4" {
		t.Fatalf("sha256 read as %x", got[0].SHA256)
	}
}

// The decoder words its errors "cannot" or "unable to" at random, once
// per process (to keep callers from depending on the wording): tests match
// what follows.
func TestReadRejects(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		"truncated":     {`{"project":"x",`, "in:1: invalid record: unexpected EOF"},
		"unknown field": {strings.Replace(goodLine, `"size"`, `"sizes"`, 1), `unknown field "sizes"`},
		"two values":    {goodLine + goodLine, "invalid character '{' after top-level value"},
		"uppercase":     {strings.Replace(goodLine, "bf27", "BF27", 1), "not lowercase hex"},
		"negative":      {strings.Replace(goodLine, `"size":12`, `"size":-1`, 1), "negative size -1"},
		"fraction size": {strings.Replace(goodLine, `"size":12`, `"size":1.5`, 1), " unmarshal JSON number 1.5"},
		"tab":           {strings.Replace(goodLine, "foo_bar-1.0", `foo\tbar`, 1), "contains '\\t'"},
		"bad kind":      {strings.Replace(goodLine, `}`, `,"publisher":{"Kind":"bitbucket","SAN":"x"}}`, 1), `publisher kind "bitbucket"`},
		"offset time":   {strings.Replace(goodLine, "05Z", "05+01:00", 1), "not RFC 3339 UTC"},
		"missing":       {`{"project":"x"}`, "missing filename, sha256, size"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jsonl.Read(strings.NewReader(tc.line+"\n"), "in")
			if err == nil || !errors.Is(err, sequencer.ErrBadRecord) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadRecord containing %q", err, tc.want)
			}
		})
	}
}

// FuzzRead checks that whatever Read accepts is a valid record whose
// entry and index line format and parse back, and whose JSON line reads
// back the same.
func FuzzRead(f *testing.F) {
	f.Add([]byte(goodLine))
	f.Add([]byte(goodLine + "\n" + goodLine))
	f.Add([]byte(`{"project":"a","filename":"a","sha256":"` + strings.Repeat("0", 64) + `","size":0,"publisher":{"Kind":"google","SAN":"a@b.c"}}`))
	f.Add([]byte(`{"project":"a.b","filename":"ü","sha256":"` + strings.Repeat("f", 64) + `","size":9223372036854775807,"upload_time":"2024-01-02T03:04:05.999999999Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		records, err := jsonl.Read(bytes.NewReader(data), "fuzz")
		if err != nil {
			if !errors.Is(err, sequencer.ErrBadRecord) && !strings.Contains(err.Error(), "couldn't read") {
				t.Fatalf("error not wrapping sequencer.ErrBadRecord: %v", err)
			}
			return
		}
		for _, r := range records {
			if err := r.Check(); err != nil {
				t.Fatalf("accepted record fails Check: %v", err)
			}
			raw, err := r.Entry()
			if err != nil {
				t.Fatalf("accepted record has no entry: %v", err)
			}
			e, err := tiles.ParseEntry(raw)
			if err != nil || e.Filename != r.Filename {
				t.Fatalf("entry of an accepted record doesn't parse back: %v", err)
			}
			x := tiles.Index{Origin: "o", Project: r.Project, TreeSize: 1, Lines: []tiles.IndexLine{{Filename: r.Filename, SHA256: e.SHA256, Size: r.Size, UploadTime: r.UploadTime}}}
			text, err := tiles.FormatIndex(x)
			if err != nil {
				t.Fatalf("index line of an accepted record: %v", err)
			}
			if _, err := tiles.ParseIndex(string(text)); err != nil {
				t.Fatalf("index of an accepted record doesn't parse: %v", err)
			}
			again, err := jsonl.Read(bytes.NewReader(jsonLine(r)), "again")
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], r) {
				t.Fatalf("accepted record %+v written back reads as %+v, %v", r, again, err)
			}
		}
	})
}

// TestReadRefusesAmbiguousLines checks that a line JSON decoders could
// read in more than one way is refused, naming its line, rather than
// altered: the sequencer must log exactly what it was given.
func TestReadRefusesAmbiguousLines(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		// encoding/json turns these into U+FFFD and logs the result.
		"invalid UTF-8":      {strings.Replace(goodLine, "foo_bar-1.0", "foo_bar-1.0\xff", 1), "invalid UTF-8"},
		"lone surrogate":     {strings.Replace(goodLine, "foo_bar-1.0", `foo_bar-1.0\ud800`, 1), "invalid surrogate pair"},
		"lone low surrogate": {strings.Replace(goodLine, "foo_bar-1.0", `foo_bar-1.0\udc00`, 1), "invalid surrogate pair"},
		// encoding/json keeps the last value.
		"duplicate key":          {strings.Replace(goodLine, `"filename":`, `"filename":"other-1.0.tar.gz","filename":`, 1), `duplicate object member name "filename"`},
		"duplicate key, escaped": {strings.Replace(goodLine, `"filename":`, `"filename":"other-1.0.tar.gz","\u0066ilename":`, 1), `duplicate object member name "filename"`},
		"duplicate in publisher": {strings.Replace(goodLine, `}`, `,"publisher":{"Kind":"github","Kind":"gitlab","SAN":"x"}}`, 1), `duplicate object member name "Kind"`},
		// encoding/json matches names case-insensitively.
		"upper-case key":           {strings.Replace(goodLine, `"filename"`, `"FILENAME"`, 1), `unknown field "FILENAME"`},
		"upper-case beside lower":  {strings.Replace(goodLine, `}`, `,"Size":13}`, 1), `unknown field "Size"`},
		"lower-case publisher key": {strings.Replace(goodLine, `}`, `,"publisher":{"kind":"github","SAN":"x"}}`, 1), `unknown field "kind" in "publisher"`},
		"unknown field":            {strings.Replace(goodLine, `}`, `,"extra":1}`, 1), `unknown field "extra"`},
		"trailing garbage":         {goodLine + " x", "invalid character 'x' after top-level value"},
		"trailing comma":           {goodLine + ",", "after top-level value"},
		"not an object":            {`["foo"]`, " unmarshal JSON array"},
	} {
		t.Run(name, func(t *testing.T) {
			in := goodLine + "\n" + tc.line + "\n" + goodLine + "\n"
			got, err := jsonl.Read(strings.NewReader(in), "in.jsonl")
			if err == nil {
				t.Fatalf("Read accepted %q: %+v", tc.line, got)
			}
			if !errors.Is(err, sequencer.ErrBadRecord) || !strings.HasPrefix(err.Error(), "in.jsonl:2: invalid record: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want sequencer.ErrBadRecord at in.jsonl:2 containing %q", err, tc.want)
			}
			if got != nil {
				t.Fatalf("Read returned records with its error: %+v", got)
			}
		})
	}
}

// TestReadKeepsEscapes checks that what strict decoding accepts is
// still read: escapes of valid characters, a surrogate pair, white space
// around the value.
func TestReadKeepsEscapes(t *testing.T) {
	line := strings.Replace(goodLine, `"foo_bar-1.0.tar.gz"`, `"foo_bar-1.0\u002ebar-\ud83d\ude00.tar.gz"`, 1)
	got, err := jsonl.Read(strings.NewReader(" \t"+line+" \r\n \t\r\n"), "in")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Filename != "foo_bar-1.0.bar-\U0001F600.tar.gz" {
		t.Fatalf("Read = %+v", got)
	}
	// A no-break space is not JSON white space: the line is refused, not
	// trimmed.
	if _, err := jsonl.Read(strings.NewReader(line+"\u00a0\n"), "in"); err == nil {
		t.Fatalf("a line ending in U+00A0 was accepted")
	}
}

// jsonLine formats r as a JSON line, as Read reads it.
func jsonLine(r sequencer.Record) []byte {
	l, err := json.Marshal(struct {
		Project    string           `json:"project"`
		Filename   string           `json:"filename"`
		SHA256     string           `json:"sha256"`
		Size       int64            `json:"size"`
		UploadTime string           `json:"upload_time"`
		Publisher  *tiles.Publisher `json:"publisher,omitempty"`
	}{r.Project, r.Filename, hex.EncodeToString(r.SHA256[:]), r.Size, r.UploadTime, r.Publisher})
	if err != nil {
		panic(err)
	}
	return append(l, '\n')
}

func BenchmarkRead(b *testing.B) {
	var buf bytes.Buffer
	for _, r := range synthetic.Records(0, 10_000) {
		buf.Write(jsonLine(r))
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := jsonl.Read(bytes.NewReader(buf.Bytes()), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
