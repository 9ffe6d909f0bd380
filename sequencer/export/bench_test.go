package export_test

import (
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/sequencer/export"
	"github.com/pysumdb/pysumdb/sequencer/export/exporttest"
)

// benchRows are n rows like PyPI's: a few files a release, a few releases
// a project.
func benchRows(n int) []exporttest.Row {
	rows := make([]exporttest.Row, n)
	start := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		project := "Project_" + strconv.Itoa(i/40)
		version := strconv.Itoa(i/8%5) + "." + strconv.Itoa(i%8)
		t := start.Add(time.Duration(i) * 1234567891 * time.Nanosecond).Truncate(time.Microsecond)
		d := make([]byte, 64)
		for j := range d {
			d[j] = "0123456789abcdef"[(i*7+j*13)%16]
		}
		rows[i] = exporttest.Row{
			Name:       project,
			Filename:   "project_" + strconv.Itoa(i/40) + "-" + version + "-py3-none-any.whl",
			SHA256:     string(d),
			Size:       int64(10000 + i*37%900000),
			UploadTime: &t,
		}
	}
	return rows
}

func BenchmarkRead(b *testing.B) {
	const n = 100_000
	rows := benchRows(n)
	for _, format := range []string{"ndjson", "ndjson.gz", "parquet"} {
		b.Run(format, func(b *testing.B) {
			var data []byte
			switch format {
			case "ndjson":
				data = ndjson(b, rows)
			case "ndjson.gz":
				data = gzipped(b, ndjson(b, rows))
			case "parquet":
				data = parquetFile(b, rows)
			}
			dir := writeFiles(b, map[string][]byte{"files-0." + format: data})
			path := filepath.Join(dir, "files-0."+format)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				r, err := export.Open([]string{path})
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := r.Next(4096)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if r.Count() != n {
					b.Fatalf("read %d records", r.Count())
				}
				r.Close()
			}
			b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}
