package export_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/export"
)

// FuzzParquet checks that whatever a Parquet file holds, reading it never
// panics (or allocates without bound: the fuzzer would run out of
// memory), refuses with sequencer.ErrBadRecord naming the file, and that
// what it reads are valid records.
func FuzzParquet(f *testing.F) {
	values, _ := manyValues(6)
	f.Add(parquetFile(f, sampleRows()))
	for _, name := range []string{"snappy v1", "snappy v2", "gzip v1", "zstd v2", "uncompressed v1", "small row groups"} {
		data := writeColumns(f, bigQueryColumns(), values, layouts[name]...)
		// Without checksums, mutations reach the decoders.
		f.Add(rewrite(f, data, nil, func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			h.CRC = 0
			return b
		}))
	}
	for _, cols := range [][]col{
		encodedColumns(&parquet.DeltaLengthByteArray, &parquet.DeltaBinaryPacked),
		encodedColumns(&parquet.DeltaByteArray, &parquet.RLEDictionary),
		encodedColumns(&parquet.RLEDictionary, nil),
	} {
		for _, layout := range []string{"uncompressed v1", "uncompressed v2"} {
			data := writeColumns(f, cols, values, layouts[layout]...)
			f.Add(rewrite(f, data, nil, func(g, c, p int, h *format.PageHeader, b []byte) []byte {
				h.CRC = 0
				return b
			}))
		}
	}
	dir := f.TempDir()
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, strconv.FormatInt(n.Add(1), 10)+".parquet")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		r, err := export.Open([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for {
			recs, err := r.Next(64)
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, sequencer.ErrBadRecord) {
					t.Fatalf("error not wrapping sequencer.ErrBadRecord: %v", err)
				}
				return
			}
			for _, rec := range recs {
				if err := rec.Check(); err != nil {
					t.Fatalf("accepted record fails Check: %v", err)
				}
			}
		}
	})
}
