package export

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go/format"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/export/exporttest"
	"github.com/pysumdb/pysumdb/tiles"
)

func uvarint(n uint64) []byte { return binary.AppendUvarint(nil, n) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestCheckThrift checks the walker on each type of the compact protocol,
// and each of its refusals.
func TestCheckThrift(t *testing.T) {
	long := func(n int) []byte { return cat([]byte{0x18}, uvarint(uint64(n)), make([]byte, n), []byte{0}) }
	for name, tc := range map[string]struct {
		in   []byte
		n    int
		want string
	}{
		"empty struct":   {[]byte{0}, 1, ""},
		"trailing bytes": {[]byte{0, 7, 7}, 1, ""},
		"bools":          {[]byte{0x11, 0x12, 0}, 3, ""},
		"i8, i16, i32":   {[]byte{0x13, 0x80, 0x14, 0x81, 0x01, 0x15, 0x02, 0}, 8, ""},
		"i64":            {cat([]byte{0x16}, uvarint(1<<63), []byte{0}), 12, ""},
		"double":         {cat([]byte{0x17}, make([]byte, 8), []byte{0}), 10, ""},
		"binary":         {long(300), 1 + 2 + 300 + 1, ""},
		"long field id":  {[]byte{0x05, 0xfe, 0x01, 0x02, 0}, 5, ""},
		"list of bools":  {[]byte{0x19, 0x31, 1, 2, 1, 0}, 6, ""},
		"long list":      {cat([]byte{0x19, 0xf5}, uvarint(20), bytes.Repeat([]byte{2}, 20), []byte{0}), 24, ""},
		"list of lists":  {[]byte{0x19, 0x19, 0x15, 0x02, 0}, 5, ""},
		"set":            {[]byte{0x1a, 0x28, 0, 0, 0}, 5, ""},
		"map":            {[]byte{0x1b, 0x02, 0x85, 0, 0x02, 0, 0x04, 0}, 8, ""},
		"empty map":      {[]byte{0x1b, 0x00, 0}, 3, ""},
		"struct":         {[]byte{0x1c, 0x15, 0x02, 0, 0}, 5, ""},
		"uuid":           {cat([]byte{0x1d}, make([]byte, 16), []byte{0}), 18, ""},

		"short":             {[]byte{0x15}, 0, "runs past its end"},
		"no stop":           {[]byte{0x15, 0x02}, 0, "runs past its end"},
		"short binary":      {cat([]byte{0x18}, uvarint(100), make([]byte, 99)), 0, "runs past its end"},
		"huge binary":       {cat([]byte{0x18}, uvarint(1<<40), make([]byte, 9)), 0, "runs past its end"},
		"binary of -1":      {cat([]byte{0x18}, uvarint(^uint64(0)), make([]byte, 9)), 0, "runs past its end"},
		"huge list":         {cat([]byte{0x19, 0xfc}, uvarint(1<<31-1), []byte{0, 0, 0}), 0, "runs past its end"},
		"list past its end": {cat([]byte{0x19, 0xfc}, uvarint(4), []byte{0, 0, 0, 0}), 0, "runs past its end"},
		"huge map":          {cat([]byte{0x1b}, uvarint(1<<31-1), []byte{0x55, 0, 0, 0, 0}), 0, "runs past its end"},
		"map past its end":  {cat([]byte{0x1b}, uvarint(3), []byte{0x55, 2, 2, 2, 2, 0}), 0, "runs past its end"},
		"bad type":          {[]byte{0x1e, 0}, 0, "thrift type 14"},
		"bad element type":  {[]byte{0x19, 0x10, 0}, 0, "thrift type 0"},
		"varint overflow":   {cat([]byte{0x15}, bytes.Repeat([]byte{0xff}, 10), []byte{1, 0}), 0, "varint overflows"},
		"deep structs":      {cat(bytes.Repeat([]byte{0x1c}, 40), make([]byte, 41)), 0, "nested more than 32 deep"},
		"deep lists":        {cat([]byte{0x19}, bytes.Repeat([]byte{0x19}, 40), []byte{0x10}, make([]byte, 41)), 0, "nested more than 32 deep"},
		"deep maps":         {cat([]byte{0x1b}, bytes.Repeat([]byte{0x01, 0xbb}, 40), []byte{0}), 0, "nested more than 32 deep"},
		"many elements":     {cat([]byte{0x19, 0xf1}, uvarint(maxThriftElements+1), bytes.Repeat([]byte{1}, maxThriftElements+1), []byte{0}), 0, "more than 262144 elements"},
		"many in lists": {cat([]byte{0x19, 0xf9}, uvarint(2),
			[]byte{0xf1}, uvarint(maxThriftElements/2), bytes.Repeat([]byte{1}, maxThriftElements/2),
			[]byte{0xf1}, uvarint(maxThriftElements/2), bytes.Repeat([]byte{1}, maxThriftElements/2), []byte{0}), 0, "more than 262144 elements"},
	} {
		t.Run(name, func(t *testing.T) {
			n, err := checkThrift(tc.in)
			if tc.want == "" {
				if err != nil || n != tc.n {
					t.Fatalf("checkThrift = %d, %v; want %d", n, err, tc.n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("checkThrift = %d, %v; want an error containing %q", n, err, tc.want)
			}
		})
	}
}

// TestRecovered checks that a panic reading a Parquet file is an error
// naming it.
func TestRecovered(t *testing.T) {
	// A row group without its parquet.File: reading it panics.
	s := &parquetSource{name: "x.parquet", meta: format.FileMetaData{RowGroups: []format.RowGroup{{NumRows: 1}}}}
	_, _, err := s.read()
	if !errors.Is(err, sequencer.ErrBadRecord) || !strings.HasPrefix(err.Error(), "x.parquet: invalid record: corrupt Parquet file (row 1): ") {
		t.Fatalf("error %v", err)
	}
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		"2024-01-02 03:04:05 UTC":            "2024-01-02T03:04:05Z",
		"2024-01-02 03:04:05.5 UTC":          "2024-01-02T03:04:05.5Z",
		"2024-01-02 03:04:05.123456789 UTC":  "2024-01-02T03:04:05.123456789Z",
		"2024-01-02T03:04:05Z":               "2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05.25+23:59":       "2024-01-01T03:05:05.25Z",
		"2024-01-02T03:04:05-00:00":          "2024-01-02T03:04:05Z",
		"0001-01-01 00:00:00 UTC":            "0001-01-01T00:00:00Z",
		"2024-02-29 23:59:59.999999 UTC":     "2024-02-29T23:59:59.999999Z",
		"2024-01-02 03:04:05.1234567890 UTC": "",
		"2024-01-02 03:04:05. UTC":           "",
		"2024-01-02 03:04:05 UTC ":           "",
		" 2024-01-02 03:04:05 UTC":           "",
		"2024-01-02T03:04:05+01:60":          "",
		"2024-01-02T03:04:05+1:00":           "",
		"2024-01-02T03:04:05+01:0":           "",
		"2024-01-02T03:04:05+01:00Z":         "",
		"2024-01-02 03:04:05+01:00":          "",
		"2024-01-02T03:04:05 UTC":            "",
		"2024-01-02t03:04:05Z":               "",
		"2024-1-02 03:04:05 UTC":             "",
		"2024-01-02 03:04:5 UTC":             "",
		"２024-01-02 03:04:05 UTC":            "",
		"2024-01-02 24:00:00 UTC":            "",
		"2024-01-02 03:60:00 UTC":            "",
		"2023-02-29 03:04:05 UTC":            "",
		"":                                   "",
	} {
		got, err := parseTimestamp(in)
		if want == "" {
			if err == nil {
				t.Errorf("parseTimestamp(%q) = %v, want an error", in, got)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339Nano) != want || got.Location() != time.UTC {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}

// FuzzNDJSONLine checks that parsing a line never panics, refuses with
// sequencer.ErrBadRecord, and that what it accepts is a valid record that
// reads back the same written as BigQuery writes it.
func FuzzNDJSONLine(f *testing.F) {
	for _, s := range []string{
		`{"name":"Foo_Bar","filename":"foo_bar-1.0.tar.gz","sha256_digest":"bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4","size":"12","upload_time":"2024-01-02 03:04:05.123456 UTC"}`,
		`{"name":"a","version":"1","filename":"ü","sha256_digest":"` + strings.Repeat("f", 64) + `","size":9223372036854775807,"upload_time":"2024-01-02T03:04:05.123456789+05:30"}`,
		`{"name":"a.b","filename":"a","sha256_digest":"` + strings.Repeat("0", 64) + `","size":"0","upload_time":null,"version":null}`,
		`{"name":"a","filename":"a\u0026b","sha256_digest":"` + strings.Repeat("0", 64) + `","size":0}`,
		`{"name":"a","filename":"a","sha256_digest":"` + strings.Repeat("0", 64) + `","size":"-1"}`,
		`{"name":"a","filename":"a","filename":"b"}`,
		`{}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, tm, err := parseJSONRow(line)
		if err != nil {
			if !errors.Is(err, sequencer.ErrBadRecord) {
				t.Fatalf("error not wrapping sequencer.ErrBadRecord: %v", err)
			}
			return
		}
		if err := rec.Check(); err != nil {
			t.Fatalf("accepted record fails Check: %v", err)
		}
		if rec.Publisher != nil || rec.Claimant != nil {
			t.Fatalf("accepted record has a publisher or claimant: %+v", rec)
		}
		row := exporttest.Row{Name: rec.Project, Filename: rec.Filename, SHA256: hex.EncodeToString(rec.SHA256[:]), Size: rec.Size}
		if rec.UploadTime == tiles.NoUploadTime {
			if !tm.IsZero() {
				t.Fatalf("no upload time, but time %v", tm)
			}
		} else {
			p, err := time.Parse(uploadTimeLayout, rec.UploadTime)
			if err != nil || !p.Equal(tm) || len(rec.UploadTime) != len(uploadTimeLayout) {
				t.Fatalf("upload time %q for time %v (%v)", rec.UploadTime, tm, err)
			}
			row.UploadTime = &tm
		}
		var b bytes.Buffer
		if err := exporttest.WriteNDJSON(&b, []exporttest.Row{row}); err != nil {
			t.Fatal(err)
		}
		again, tm2, err := parseJSONRow(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
		if err != nil || again != rec || !tm2.Equal(tm) {
			t.Fatalf("accepted record %+v written back as %s reads as %+v, %v", rec, b.Bytes(), again, err)
		}
	})
}
