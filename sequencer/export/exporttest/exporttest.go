// Package exporttest writes BigQuery exports of PyPI's file metadata, as
// package export reads them, for tests.
package exporttest

import (
	"bufio"
	"io"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Row is one row of the export: one file of PyPI.
type Row struct {
	// Name is the project's display name.
	Name string
	// Version is the release's version: empty for NULL. A column
	// `version` is written only when some row has one.
	Version string
	// Filename is the distribution's filename.
	Filename string
	// SHA256 is the digest as BigQuery holds it: lowercase hex.
	SHA256 string
	// Size is the file's size in bytes.
	Size int64
	// UploadTime is the upload time, nil for NULL.
	UploadTime *time.Time
}

// hasVersion reports whether some row has a version.
func hasVersion(rows []Row) bool {
	for _, r := range rows {
		if r.Version != "" {
			return true
		}
	}
	return false
}

// WriteNDJSON writes rows as BigQuery's JSON export does (INT64 as strings,
// TIMESTAMP "YYYY-MM-DD HH:MM:SS.ffffff UTC", NULL omitted): one object a
// line, its members in the order of the query's columns.
func WriteNDJSON(w io.Writer, rows []Row) error {
	bw := bufio.NewWriter(w)
	var line []byte
	for _, r := range rows {
		line = append(line[:0], `{"name":`...)
		line = appendString(line, r.Name)
		if r.Version != "" {
			line = append(line, `,"version":`...)
			line = appendString(line, r.Version)
		}
		line = append(line, `,"filename":`...)
		line = appendString(line, r.Filename)
		line = append(line, `,"sha256_digest":`...)
		line = appendString(line, r.SHA256)
		line = append(line, `,"size":"`...)
		line = strconv.AppendInt(line, r.Size, 10)
		line = append(line, '"')
		if r.UploadTime != nil {
			line = append(line, `,"upload_time":"`...)
			line = r.UploadTime.UTC().AppendFormat(line, "2006-01-02 15:04:05.000000 UTC")
			line = append(line, '"')
		}
		line = append(line, "}\n"...)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// appendString appends s as a JSON string, escaping what JSON requires
// ('"', '\\' and control characters) and, as BigQuery does, '<', '>' and
// '&'. Other bytes are written as they are, invalid UTF-8 too (for tests of
// refusals).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// bigQueryRow is a row of the documented query's columns, in its order,
// every column optional, as BigQuery's Parquet export writes it.
type bigQueryRow struct {
	Name         *string `parquet:"name,optional,dict"`
	Filename     *string `parquet:"filename,optional"`
	SHA256Digest *string `parquet:"sha256_digest,optional"`
	Size         *int64  `parquet:"size,optional"`
	UploadTime   *int64  `parquet:"upload_time,optional,timestamp(microsecond:utc)"`
}

// versionRow is bigQueryRow with the column version.
type versionRow struct {
	Name         *string `parquet:"name,optional,dict"`
	Version      *string `parquet:"version,optional"`
	Filename     *string `parquet:"filename,optional"`
	SHA256Digest *string `parquet:"sha256_digest,optional"`
	Size         *int64  `parquet:"size,optional"`
	UploadTime   *int64  `parquet:"upload_time,optional,timestamp(microsecond:utc)"`
}

// WriteParquet writes rows as BigQuery's Parquet export does (every column
// optional, strings as UTF-8 byte arrays, timestamps in microseconds,
// UTC-adjusted; SNAPPY compression, version 1 data pages, names
// dictionary-encoded), in row groups of at most 64k rows.
func WriteParquet(w io.Writer, rows []Row) error {
	options := []parquet.WriterOption{
		parquet.Compression(&parquet.Snappy),
		parquet.MaxRowsPerRowGroup(1 << 16),
		parquet.CreatedBy("pysumdb exporttest", "1", "0"),
		// Version 1 data pages, as most writers write by default.
		parquet.DataPageVersion(1),
	}
	if hasVersion(rows) {
		out := make([]versionRow, 0, min(len(rows), 1024))
		pw := parquet.NewGenericWriter[versionRow](w, options...)
		for len(rows) > 0 {
			n := min(len(rows), 1024)
			out = out[:0]
			for _, r := range rows[:n] {
				b := toRow(r)
				var version *string
				if r.Version != "" {
					version = &r.Version
				}
				out = append(out, versionRow{b.Name, version, b.Filename, b.SHA256Digest, b.Size, b.UploadTime})
			}
			if _, err := pw.Write(out); err != nil {
				return err
			}
			rows = rows[n:]
		}
		return pw.Close()
	}
	out := make([]bigQueryRow, 0, min(len(rows), 1024))
	pw := parquet.NewGenericWriter[bigQueryRow](w, options...)
	for len(rows) > 0 {
		n := min(len(rows), 1024)
		out = out[:0]
		for _, r := range rows[:n] {
			out = append(out, toRow(r))
		}
		if _, err := pw.Write(out); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return pw.Close()
}

func toRow(r Row) bigQueryRow {
	b := bigQueryRow{Name: &r.Name, Filename: &r.Filename, SHA256Digest: &r.SHA256, Size: &r.Size}
	if r.UploadTime != nil {
		us := r.UploadTime.UnixMicro()
		b.UploadTime = &us
	}
	return b
}
