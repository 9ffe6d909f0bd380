// Package export is the source of records of a BigQuery export of PyPI's
// file metadata (`pysumdb sequence --from-export PATH`).
//
// PyPI publishes the metadata of every file it serves as the public
// BigQuery table bigquery-public-data.pypi.distribution_metadata. An
// operator exports the columns pysumdb logs, one row a file, in the order
// the log wants them (by normalized project, then upload time, then
// filename), as Parquet, with the statement
//
//	EXPORT DATA OPTIONS (uri = 'gs://BUCKET/pypi/files-*.parquet', format = 'PARQUET', overwrite = true) AS
//	SELECT name, filename, sha256_digest, size, upload_time
//	FROM `bigquery-public-data.pypi.distribution_metadata`
//	ORDER BY LOWER(REGEXP_REPLACE(name, r'[-_.]+', '-')), upload_time, filename
//
// (or format = 'JSON', newline-delimited JSON, with a uri ending .json;
// optionally with compression = 'GZIP' too), then downloads the files and
// logs them:
//
//	bq query --use_legacy_sql=false '<the EXPORT DATA statement>'
//	gcloud storage cp 'gs://BUCKET/pypi/files-*' ./pypi-export/
//	pysumdb sequence --from-export ./pypi-export/
//
// (The statement holds single quotes: in a shell, put it in a file and
// pass it as "$(cat export.sql)".)
//
// BigQuery numbers the files of an export (files-000000000000.parquet,
// files-000000000001.parquet, ...) in the order of the query's ORDER BY,
// so reading a directory's files in byte order of their names reads the
// rows in that order.
//
// Each row is one file: name (the project's display name, STRING),
// filename (STRING), sha256_digest (64 lowercase hex digits, STRING), size
// (INT64) and upload_time (TIMESTAMP, may be NULL). A column version
// (STRING) may be present too and is ignored; any other column is refused.
//
// In newline-delimited JSON, BigQuery writes one object a line, INT64 as
// a JSON string ("size": "1234"; a JSON number is accepted too), TIMESTAMP
// as "2024-01-02 03:04:05.123456 UTC" (RFC 3339 is accepted too), and
// leaves a NULL column out (null is accepted too). Lines are decoded as
// strictly as package jsonl decodes its lines: a line JSON decoders could
// read in more than one way (duplicate names, invalid UTF-8, names that
// differ by case) is refused. A file whose first bytes are gzip's is read
// through gzip.
//
// In Parquet, BigQuery writes every column OPTIONAL, strings as BYTE_ARRAY
// annotated STRING, INT64 as INT64 and TIMESTAMP as INT64 annotated
// TIMESTAMP(isAdjustedToUTC=true, unit=MICROS). The schema is checked
// before any row is read, and each row group's pages before the row group
// is read: sizes within bounds and within the file, data that decompresses
// to no more than its page says, runs of levels and indexes and delta
// encodings that hold no more values than the page does. A corrupt file is
// refused rather than read into gigabytes of memory, and rows are read a
// few hundred at a time: a file is never read whole into memory.
//
// Whatever the format, a record is: the project name normalized, the
// filename, the digest, the size and the upload time in UTC with six
// fraction digits ("2006-01-02T15:04:05.000000Z", as PyPI's Simple API
// writes it), or tiles.NoUploadTime when NULL. An invalid row fails the
// read with an error wrapping sequencer.ErrBadRecord and naming its file
// and line (JSON) or row (Parquet): what is logged is exactly what the
// export says, or nothing more is read.
package export

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

const (
	// maxLine bounds a JSON line, as package jsonl does.
	maxLine = 1 << 20
	// maxString bounds a string value of a Parquet column.
	maxString = 64 << 10
	// uploadTimeLayout is how PyPI's Simple API writes upload times.
	uploadTimeLayout = "2006-01-02T15:04:05.000000Z"
)

// suffixes are the names of the files of an export read in a directory;
// each may also end ".gz".
var suffixes = []string{".json", ".jsonl", ".ndjson", ".parquet"}

// columnList names the columns the query selects, in its order; a column
// version may be present too, and is ignored.
const columnList = "name, filename, sha256_digest, size, upload_time"

// unknownColumn is the error of a column that is neither one of columnList
// nor version.
func unknownColumn(name string) error {
	return fmt.Errorf("%w: unknown column %q: select only the documented columns (%s; version is ignored)", sequencer.ErrBadRecord, name, columnList)
}

// isExportName reports whether a directory's file named name is one of
// the export's.
func isExportName(name string) bool {
	name = strings.TrimSuffix(name, ".gz")
	for _, s := range suffixes {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return true
		}
	}
	return false
}

// Open opens an export: each path is a file or a directory, whose regular
// files ending .json, .jsonl, .ndjson, .parquet, or one of those + .gz,
// are read in byte order of name (others in a directory are skipped; an
// empty directory or a path that doesn't exist is an error). Files are
// read in the order given. The format of a file is decided by its first
// bytes, not its name.
func Open(paths []string) (*Reader, error) {
	if len(paths) == 0 {
		return nil, errors.New("export: no files given")
	}
	var files []string
	seen := make(map[string]bool)
	add := func(name string) error {
		clean := filepath.Clean(name)
		if seen[clean] {
			return fmt.Errorf("export: %s is given twice", name)
		}
		seen[clean] = true
		files = append(files, name)
		return nil
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		switch {
		case fi.Mode().IsRegular():
			if err := add(p); err != nil {
				return nil, err
			}
		case fi.IsDir():
			// ReadDir sorts by name, in byte order.
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("export: %w", err)
			}
			n := 0
			for _, e := range entries {
				if !isExportName(e.Name()) {
					continue
				}
				name := filepath.Join(p, e.Name())
				// Stat, not the entry's type: a link to a regular file is
				// read.
				if fi, err := os.Stat(name); err != nil || !fi.Mode().IsRegular() {
					continue
				}
				if err := add(name); err != nil {
					return nil, err
				}
				n++
			}
			if n == 0 {
				return nil, fmt.Errorf("export: %s has no export files (*.json, *.jsonl, *.ndjson, *.parquet, or one of those + .gz)", p)
			}
		default:
			return nil, fmt.Errorf("export: %s is neither a regular file nor a directory", p)
		}
	}
	return &Reader{files: files, hash: sha256.New()}, nil
}

// Reader streams the records of an export's files, in order.
type Reader struct {
	files []string
	// next is the index in files of the next file to open.
	next int
	// src is the open file, nil between files.
	src source
	// err, once set, is returned by every later Next.
	err error

	count  int64
	hash   hash.Hash
	line   []byte
	newest time.Time
}

// source is one open file of an export.
type source interface {
	// read returns the next record and its upload time (the zero Time if
	// it has none), or io.EOF after the last.
	read() (sequencer.Record, time.Time, error)
	close() error
}

// errClosed is Next's error after Close.
var errClosed = errors.New("export: reader is closed")

// Next returns the next records, at most max (max > 0), and io.EOF (with
// no records) after the last. Records are returned in file order, a batch
// may span files. An error comes with no records: the valid records read
// before it in the same call are returned first, without error, and the
// error by the next call, and by every call after it.
func (r *Reader) Next(max int) ([]sequencer.Record, error) {
	if max <= 0 {
		return nil, fmt.Errorf("export: Next(%d): max must be positive", max)
	}
	if r.err != nil {
		return nil, r.err
	}
	out := make([]sequencer.Record, 0, min(max, 4096))
	for len(out) < max {
		if r.src == nil {
			if r.next == len(r.files) {
				break
			}
			name := r.files[r.next]
			r.next++
			src, err := openSource(name)
			if err != nil {
				r.err = err
				break
			}
			r.src = src
		}
		rec, t, err := r.src.read()
		if err != nil {
			closeErr := r.src.close()
			r.src = nil
			if err == io.EOF {
				if closeErr != nil {
					r.err = closeErr
					break
				}
				continue
			}
			r.err = err
			break
		}
		r.account(&rec, t)
		out = append(out, rec)
	}
	if len(out) > 0 {
		return out, nil
	}
	if r.err != nil {
		return nil, r.err
	}
	return nil, io.EOF
}

// account counts rec, hashes its line and notes its upload time t.
func (r *Reader) account(rec *sequencer.Record, t time.Time) {
	r.count++
	b := append(r.line[:0], rec.Project...)
	b = append(b, ' ')
	b = append(b, rec.Filename...)
	b = append(b, ' ')
	b = hex.AppendEncode(b, rec.SHA256[:])
	b = append(b, ' ')
	b = strconv.AppendInt(b, rec.Size, 10)
	b = append(b, ' ')
	b = append(b, rec.UploadTime...)
	b = append(b, '\n')
	r.hash.Write(b)
	r.line = b
	if !t.IsZero() && t.After(r.newest) {
		r.newest = t
	}
}

// Count is the number of records Next has returned.
func (r *Reader) Count() int64 { return r.count }

// Digest is the SHA-256 over the records Next has returned, each hashed as
// its line "project filename sha256hex size upload_time\n" (upload_time as
// in the record). It lets a resumed export check that it reads the same
// records as the run it resumes.
func (r *Reader) Digest() [32]byte {
	var d [32]byte
	r.hash.Sum(d[:0])
	return d
}

// Newest is the latest upload time among the records returned so far; the
// zero Time when none had one.
func (r *Reader) Newest() time.Time { return r.newest }

// Close closes the open file. Next fails after Close.
func (r *Reader) Close() error {
	var err error
	if r.src != nil {
		err = r.src.close()
		r.src = nil
	}
	if r.err == nil {
		r.err = errClosed
	}
	return err
}

// openSource opens the file name, deciding its format by its first bytes:
// Parquet's magic, gzip's, or else JSON lines.
func openSource(name string) (source, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var magic [4]byte
	n, err := io.ReadFull(f, magic[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		f.Close()
		return nil, fmt.Errorf("export: couldn't read %s: %w", name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("export: couldn't read %s: %w", name, err)
	}
	if n == 4 && string(magic[:]) == parquetMagic {
		src, err := openParquet(name, f)
		if err != nil {
			f.Close()
			return nil, err
		}
		return src, nil
	}
	src, err := openNDJSON(name, f, n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
	if err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

// makeRecord makes the record of a row whose upload time is t, or none if
// !hasTime.
func makeRecord(name, filename, sha256Hex string, size int64, t time.Time, hasTime bool) (sequencer.Record, error) {
	project, err := tiles.NormalizeProject(name)
	if err != nil {
		return sequencer.Record{}, fmt.Errorf("%w: %v", sequencer.ErrBadRecord, err)
	}
	digest, err := tiles.ParseHexDigest(sha256Hex)
	// A bad filename is reported first, as Check reports it.
	if err != nil && tiles.CheckFilename(filename) == nil {
		return sequencer.Record{}, fmt.Errorf("%w: %s: %v", sequencer.ErrBadRecord, filename, err)
	}
	rec := sequencer.Record{
		Project:    project,
		Filename:   filename,
		SHA256:     digest,
		Size:       size,
		UploadTime: tiles.NoUploadTime,
	}
	if hasTime {
		// BigQuery's TIMESTAMP holds microseconds: finer is not from
		// BigQuery, and would be cut.
		if t.Nanosecond()%1000 != 0 {
			return sequencer.Record{}, fmt.Errorf("%w: %s: upload time %s is finer than microseconds", sequencer.ErrBadRecord, filename, t.UTC().Format(time.RFC3339Nano))
		}
		rec.UploadTime = t.UTC().Format(uploadTimeLayout)
	}
	if err := rec.Check(); err != nil {
		return sequencer.Record{}, err
	}
	return rec, nil
}
