package export_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/export"
	"github.com/pysumdb/pysumdb/sequencer/export/exporttest"
	"github.com/pysumdb/pysumdb/tiles"
)

const (
	digestA = "bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4"
	digestB = "af272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4"
)

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// sampleRows are rows as the documented query returns them: display
// names, a NULL upload time, a zero size, a non-ASCII filename.
func sampleRows() []exporttest.Row {
	return []exporttest.Row{
		{Name: "Foo_Bar", Filename: "foo_bar-1.0.tar.gz", SHA256: digestA, Size: 1234, UploadTime: at("2024-01-02T03:04:05.123456Z")},
		{Name: "Foo_Bar", Filename: "foo_bar-1.0-py3-none-any.whl", SHA256: digestB, Size: 0, UploadTime: at("2024-01-02T03:04:06Z")},
		{Name: "old.project", Filename: "old.project-0.1.zip", SHA256: strings.Repeat("0", 64), Size: 1 << 40},
		{Name: "Zope..Interface", Filename: "zope.interface-5.0-ü.tar.gz", SHA256: strings.Repeat("f", 64), Size: 9223372036854775807, UploadTime: at("2005-06-07T08:09:10.000001Z")},
	}
}

// wantRecords are the records of sampleRows.
func wantRecords() []sequencer.Record {
	d := func(s string) [32]byte {
		b, err := tiles.ParseHexDigest(s)
		if err != nil {
			panic(err)
		}
		return b
	}
	return []sequencer.Record{
		{Project: "foo-bar", Filename: "foo_bar-1.0.tar.gz", SHA256: d(digestA), Size: 1234, UploadTime: "2024-01-02T03:04:05.123456Z"},
		{Project: "foo-bar", Filename: "foo_bar-1.0-py3-none-any.whl", SHA256: d(digestB), Size: 0, UploadTime: "2024-01-02T03:04:06.000000Z"},
		{Project: "old-project", Filename: "old.project-0.1.zip", SHA256: d(strings.Repeat("0", 64)), Size: 1 << 40, UploadTime: tiles.NoUploadTime},
		{Project: "zope-interface", Filename: "zope.interface-5.0-ü.tar.gz", SHA256: d(strings.Repeat("f", 64)), Size: 9223372036854775807, UploadTime: "2005-06-07T08:09:10.000001Z"},
	}
}

func ndjson(t testing.TB, rows []exporttest.Row) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := exporttest.WriteNDJSON(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func parquetFile(t testing.TB, rows []exporttest.Row) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := exporttest.WriteParquet(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipped(t testing.TB, data ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	// One gzip member for each part: BigQuery's files may be multistream.
	for _, d := range data {
		z := gzip.NewWriter(&b)
		z.Write(d)
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// writeFiles writes files (name to content) in a new directory.
func writeFiles(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readAll reads paths to the end, max records a call.
func readAll(t testing.TB, max int, paths ...string) ([]sequencer.Record, *export.Reader, error) {
	t.Helper()
	r, err := export.Open(paths)
	if err != nil {
		t.Fatal(err)
	}
	var all []sequencer.Record
	for {
		recs, err := r.Next(max)
		if err == io.EOF {
			if len(recs) != 0 {
				t.Fatalf("io.EOF with %d records", len(recs))
			}
			break
		}
		if err != nil {
			if len(recs) != 0 {
				t.Fatalf("error %v with %d records", err, len(recs))
			}
			return all, r, err
		}
		if len(recs) == 0 || len(recs) > max {
			t.Fatalf("Next(%d) returned %d records", max, len(recs))
		}
		all = append(all, recs...)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return all, r, nil
}

// digestOf is Digest computed from its definition.
func digestOf(recs []sequencer.Record) [32]byte {
	h := sha256.New()
	for _, r := range recs {
		fmt.Fprintf(h, "%s %s %s %d %s\n", r.Project, r.Filename, hex.EncodeToString(r.SHA256[:]), r.Size, r.UploadTime)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func TestRoundTrip(t *testing.T) {
	rows := sampleRows()
	versioned := sampleRows()
	for i := range versioned {
		versioned[i].Version = fmt.Sprint("1.", i)
	}
	want := wantRecords()
	for name, data := range map[string][]byte{
		"ndjson":             ndjson(t, rows),
		"ndjson, version":    ndjson(t, versioned),
		"ndjson.gz":          gzipped(t, ndjson(t, rows[:1]), ndjson(t, rows[1:])),
		"parquet":            parquetFile(t, rows),
		"parquet, version":   parquetFile(t, versioned),
		"parquet as .json":   parquetFile(t, rows),
		"ndjson as .parquet": ndjson(t, rows),
	} {
		t.Run(name, func(t *testing.T) {
			file := map[bool]string{true: "files-000.parquet", false: "files-000.json"}[strings.HasPrefix(name, "parquet")]
			switch name {
			case "parquet as .json":
				file = "files-000.json"
			case "ndjson as .parquet":
				file = "files-000.parquet"
			}
			dir := writeFiles(t, map[string][]byte{file: data})
			for _, max := range []int{1, 3, 1000} {
				got, r, err := readAll(t, max, filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("records\n%+v\nwant\n%+v", got, want)
				}
				if r.Count() != int64(len(want)) {
					t.Errorf("Count = %d, want %d", r.Count(), len(want))
				}
				if r.Digest() != digestOf(want) {
					t.Errorf("Digest = %x, want %x", r.Digest(), digestOf(want))
				}
				if !r.Newest().Equal(*at("2024-01-02T03:04:06Z")) || r.Newest().Location() != time.UTC {
					t.Errorf("Newest = %v", r.Newest())
				}
			}
		})
	}
}

// TestEmpty checks empty files: no records, no upload time, the digest of
// nothing.
func TestEmpty(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"a.json": nil, "b.parquet": parquetFile(t, nil), "c.json.gz": gzipped(t, nil)})
	got, r, err := readAll(t, 10, dir)
	if err != nil || len(got) != 0 {
		t.Fatalf("read %v, %v", got, err)
	}
	if r.Count() != 0 || r.Digest() != sha256.Sum256(nil) || !r.Newest().IsZero() {
		t.Fatalf("Count %d, Digest %x, Newest %v", r.Count(), r.Digest(), r.Newest())
	}
}

// TestNewestWithoutTimes checks that NULL upload times leave Newest zero.
func TestNewestWithoutTimes(t *testing.T) {
	rows := sampleRows()[2:3]
	dir := writeFiles(t, map[string][]byte{"a.json": ndjson(t, rows), "b.parquet": parquetFile(t, rows)})
	got, r, err := readAll(t, 10, dir)
	if err != nil || len(got) != 2 || !r.Newest().IsZero() {
		t.Fatalf("read %d records, %v; Newest %v", len(got), err, r.Newest())
	}
}

func TestDirectory(t *testing.T) {
	rows := sampleRows()
	one := func(i int) []exporttest.Row { return rows[i : i+1] }
	dir := writeFiles(t, map[string][]byte{
		"files-000000000001.parquet":    parquetFile(t, one(1)),
		"files-000000000000.json":       ndjson(t, one(0)),
		"files-000000000002.ndjson.gz":  gzipped(t, ndjson(t, one(2))),
		"files-000000000003.jsonl":      ndjson(t, one(3)),
		"files-000000000004.parquet.gz": ndjson(t, one(0)), // named gzipped, read as it is
		"README.txt":                    []byte("not an export"),
		"files-000000000002.csv":        []byte("name,filename\n"),
		".json":                         ndjson(t, one(1)), // no name before the suffix
		"files.json.bak":                ndjson(t, one(1)),
		"sub.json/files-9.json":         ndjson(t, one(1)), // a directory: skipped, not walked
	})
	got, _, err := readAll(t, 2, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := wantRecords()
	want = append(want, want[0])
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records\n%+v\nwant\n%+v", got, want)
	}

	// Paths are read in the order given; a file given is read whatever
	// its name.
	other := writeFiles(t, map[string][]byte{"extra.txt": ndjson(t, one(3))})
	got, _, err = readAll(t, 100, filepath.Join(other, "extra.txt"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || got[0] != wantRecords()[3] || got[1] != wantRecords()[0] {
		t.Fatalf("records %+v", got)
	}

	if _, err := os.Stat(filepath.Join(dir, "sub.json")); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"a.json": ndjson(t, sampleRows()), "notes/README.md": nil})
	for name, tc := range map[string]struct {
		paths []string
		want  string
	}{
		"nothing":      {nil, "no files given"},
		"missing":      {[]string{filepath.Join(dir, "nope.json")}, "no such file"},
		"empty dir":    {[]string{t.TempDir()}, "has no export files"},
		"no exports":   {[]string{filepath.Join(dir, "notes")}, "has no export files"},
		"twice":        {[]string{dir, filepath.Join(dir, "a.json")}, "given twice"},
		"twice, as is": {[]string{filepath.Join(dir, "a.json"), filepath.Join(dir, ".", "a.json")}, "given twice"},
		"not a file":   {[]string{os.DevNull}, "neither a regular file nor a directory"},
		"one bad of 2": {[]string{dir, filepath.Join(dir, "nope")}, "no such file"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := export.Open(tc.paths)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%q) = %v, %v; want error containing %q", tc.paths, r, err, tc.want)
			}
			if errors.Is(err, sequencer.ErrBadRecord) {
				t.Errorf("a usage error wraps ErrBadRecord: %v", err)
			}
		})
	}
}

// TestBatches checks that batches span files, that Next(max) returns at
// most max, and io.EOF (repeatedly) after the last.
func TestBatches(t *testing.T) {
	rows := sampleRows()
	dir := writeFiles(t, map[string][]byte{
		"a.json":    ndjson(t, rows[:3]),
		"b.parquet": parquetFile(t, rows),
		"c.json":    ndjson(t, rows[:2]),
	})
	r, err := export.Open([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, max := range []int{0, -1} {
		if recs, err := r.Next(max); err == nil || err == io.EOF || recs != nil {
			t.Fatalf("Next(%d) = %v, %v; want an error", max, recs, err)
		}
	}
	want := wantRecords()
	for i, tc := range []struct {
		max  int
		want []sequencer.Record
	}{
		{2, want[:2]},
		{2, []sequencer.Record{want[2], want[0]}}, // a.json, then b.parquet
		{4, []sequencer.Record{want[1], want[2], want[3], want[0]}},
		{100, want[1:2]},
	} {
		got, err := r.Next(tc.max)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("batch %d: Next(%d) = %+v, %v; want %+v", i, tc.max, got, err, tc.want)
		}
	}
	for range 2 {
		if got, err := r.Next(5); err != io.EOF || got != nil {
			t.Fatalf("Next at the end = %v, %v; want io.EOF", got, err)
		}
	}
	if r.Count() != 9 {
		t.Fatalf("Count = %d", r.Count())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(1); err == nil || err == io.EOF {
		t.Fatalf("Next after Close = %v", err)
	}
}

// TestErrorAfterRecords checks that the records before a bad one are
// returned first, then the error, again and again, with nothing counted
// of the bad file's rest.
func TestErrorAfterRecords(t *testing.T) {
	good := ndjson(t, sampleRows())
	lines := bytes.SplitAfter(good, []byte("\n"))
	bad := append(append(append([]byte{}, lines[0]...), lines[1]...), []byte("{}\n")...)
	bad = append(bad, lines[2]...)
	dir := writeFiles(t, map[string][]byte{"a.json": good, "b.json": bad, "c.json": good})
	r, err := export.Open([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Next(100)
	if err != nil || len(got) != 6 {
		t.Fatalf("Next = %d records, %v; want the 6 before the bad line", len(got), err)
	}
	for range 2 {
		got, err := r.Next(100)
		if got != nil || !errors.Is(err, sequencer.ErrBadRecord) || !strings.Contains(err.Error(), "b.json:3: ") {
			t.Fatalf("Next = %v, %v; want the error of b.json:3", got, err)
		}
	}
	all := append(wantRecords(), wantRecords()[:2]...)
	if r.Count() != 6 || r.Digest() != digestOf(all) {
		t.Fatalf("Count %d, Digest %x; want 6, %x", r.Count(), r.Digest(), digestOf(all))
	}
}

// TestGolden reads a file written by hand in the shape of BigQuery's JSON
// export of the documented query, with real PyPI files (testdata/README.md).
func TestGolden(t *testing.T) {
	got, r, err := readAll(t, 5, filepath.Join("testdata", "files-000000000000.json"))
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		project, filename, sha256 string
		size                      int64
		upload                    string
	}
	want := []rec{
		{"aiofiles", "aiofiles-25.1.0-py3-none-any.whl", "abe311e527c862958650f9438e859c1fa7568a141b22abcd015e120e86a85695", 14668, "2025-10-09T20:51:03.174000Z"},
		{"aiofiles", "aiofiles-25.1.0.tar.gz", "a8d728f0a29de45dc521f18f07297428d56992a742f0cd2701ba86e44d23d5b2", 46354, "2025-10-09T20:51:04.358000Z"},
		{"alabaster", "alabaster-1.0.0-py3-none-any.whl", "fc6786402dc3fcb2de3cabd5fe455a2db534b371124f1f21de8731783dec828b", 13929, "2024-07-26T18:15:02.050000Z"},
		{"alabaster", "alabaster-1.0.0.tar.gz", "c00dca57bca26fa62a6d7d0a9fcce65f3e026e9bfe33e9c538fd3fbb2144fd9e", 24210, "2024-07-26T18:15:03.762000Z"},
		{"jinja2", "jinja2-3.1.6-py3-none-any.whl", "85ece4451f492d0c13c5dd7c13a64681a86afae63a5f347908daf103ce6d2f67", 134899, "2025-03-05T20:05:00.369000Z"},
		{"jinja2", "jinja2-3.1.6.tar.gz", "0137fb05990d35f1275a587e9aee6d56da821fc83491a0fb838183be43f66d6d", 245115, "2025-03-05T20:05:02.478000Z"},
		{"markupsafe", "markupsafe-3.0.3-cp310-cp310-macosx_10_9_x86_64.whl", "2f981d352f04553a7171b8e44369f2af4055f888dfb147d55e42d29e29e74559", 11631, "2025-09-27T18:36:05.558000Z"},
		{"markupsafe", "markupsafe-3.0.3-cp310-cp310-macosx_11_0_arm64.whl", "e1c1493fb6e50ab01d20a22826e57520f1284df32f2d8601fdd90b6304601419", 12057, "2025-09-27T18:36:07.165000Z"},
		{"markupsafe", "markupsafe-3.0.3.tar.gz", "722695808f4b6457b320fdc131280796bdceb04ab50fe1795cd540799ebe1698", 80313, "2025-09-27T18:37:40.426000Z"},
		{"pyyaml", "pyyaml-6.0.3-cp310-cp310-macosx_10_13_x86_64.whl", "214ed4befebe12df36bcc8bc2b64b396ca31be9304b8f59e25c11cf94a4c033b", 184227, "2025-09-25T21:31:46.040000Z"},
		{"pyyaml", "pyyaml-6.0.3.tar.gz", "d76623373421df22fb4cf8817020cbb7ef15c725b9d5e45f17e189bfc384190f", 130960, "2025-09-25T21:33:16.546000Z"},
		{"typing-extensions", "typing_extensions-4.15.0-py3-none-any.whl", "f0fa19c6845758ab08074a0cfa8b7aecb71c999ca73d62883bc25cc018c4e548", 44614, "2025-08-25T13:49:24.860000Z"},
		{"typing-extensions", "typing_extensions-4.15.0.tar.gz", "0cea48d173cc12fa28ecabc3b837ea3cf6f38c6d1136f85cbaaf598984861466", 109391, "2025-08-25T13:49:26.313000Z"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Project != w.project || g.Filename != w.filename || hex.EncodeToString(g.SHA256[:]) != w.sha256 || g.Size != w.size || g.UploadTime != w.upload || g.Publisher != nil {
			t.Errorf("record %d = %+v, want %+v", i, g, w)
		}
	}
	if !r.Newest().Equal(*at("2025-10-09T20:51:04.358Z")) {
		t.Errorf("Newest = %v", r.Newest())
	}
	// Each project's files in upload order: what the query's ORDER BY
	// gives.
	for i := 1; i < len(got); i++ {
		if got[i].Project < got[i-1].Project || got[i].Project == got[i-1].Project && got[i].UploadTime < got[i-1].UploadTime {
			t.Errorf("record %d out of the query's order", i)
		}
	}
}
