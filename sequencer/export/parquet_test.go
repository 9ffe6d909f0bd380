package export_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/export/exporttest"
)

// col is a column of a Parquet file written by writeColumns.
type col struct {
	name string
	node parquet.Node
}

// bigQueryColumns are the columns as BigQuery writes them.
func bigQueryColumns() []col {
	return []col{
		{"name", parquet.Optional(parquet.String())},
		{"filename", parquet.Optional(parquet.String())},
		{"sha256_digest", parquet.Optional(parquet.String())},
		{"size", parquet.Optional(parquet.Int(64))},
		{"upload_time", parquet.Optional(parquet.Timestamp(parquet.Microsecond))},
	}
}

// goodValues are the values of the first of sampleRows, by column.
func goodValues() map[string]any {
	return map[string]any{
		"name":          "Foo_Bar",
		"filename":      "foo_bar-1.0.tar.gz",
		"sha256_digest": digestA,
		"size":          int64(1234),
		"upload_time":   at("2024-01-02T03:04:05.123456Z").UnixMicro(),
	}
}

// withColumn returns cols with the column name replaced by node, or
// added; a nil node removes it.
func withColumn(cols []col, name string, node parquet.Node) []col {
	var out []col
	found := false
	for _, c := range cols {
		if c.name == name {
			found = true
			if node == nil {
				continue
			}
			c.node = node
		}
		out = append(out, c)
	}
	if !found && node != nil {
		out = append(out, col{name, node})
	}
	return out
}

// writeColumns writes rows (column name to value; absent or nil is NULL)
// as a flat Parquet file of cols.
func writeColumns(t testing.TB, cols []col, rows []map[string]any, options ...parquet.WriterOption) []byte {
	t.Helper()
	group := parquet.Group{}
	for _, c := range cols {
		group[c.name] = c.node
	}
	schema := parquet.NewSchema("schema", group)
	var b bytes.Buffer
	w := parquet.NewWriter(&b, append([]parquet.WriterOption{schema}, options...)...)
	for _, r := range rows {
		var row parquet.Row
		for i, path := range schema.Columns() {
			leaf, _ := schema.Lookup(path...)
			def := leaf.MaxDefinitionLevel
			v, ok := r[path[0]]
			if !ok || v == nil {
				row = append(row, parquet.NullValue().Level(0, 0, i))
				continue
			}
			row = append(row, parquet.ValueOf(v).Level(0, def, i))
		}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readParquet reads data as the file in.parquet, returning its path too.
func readParquet(t testing.TB, data []byte) ([]sequencer.Record, string, error) {
	t.Helper()
	dir := writeFiles(t, map[string][]byte{"in.parquet": data})
	path := filepath.Join(dir, "in.parquet")
	recs, _, err := readAll(t, 100, path)
	return recs, path, err
}

// wantBad checks that err wraps sequencer.ErrBadRecord, begins with
// prefix and contains want.
func wantBad(t testing.TB, err error, prefix, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one beginning %q containing %q", prefix, want)
	}
	if !errors.Is(err, sequencer.ErrBadRecord) || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q\nwant sequencer.ErrBadRecord, beginning %q, containing %q", err, prefix, want)
	}
}

// TestParquetColumns checks that the columns may come in any order, with
// version or without, optional or required, and with the annotations of
// older writers.
func TestParquetColumns(t *testing.T) {
	v := goodValues()
	withVersion := goodValues()
	withVersion["version"] = "1.0"
	for name, tc := range map[string]struct {
		cols []col
		rows []map[string]any
	}{
		"BigQuery's":     {bigQueryColumns(), []map[string]any{v}},
		"version":        {withColumn(bigQueryColumns(), "version", parquet.Optional(parquet.String())), []map[string]any{withVersion, v}},
		"required":       {withColumn(bigQueryColumns(), "name", parquet.Required(parquet.String())), []map[string]any{v}},
		"plain INT64":    {withColumn(bigQueryColumns(), "size", parquet.Optional(parquet.Leaf(parquet.Int64Type))), []map[string]any{v}},
		"millis":         {withColumn(bigQueryColumns(), "upload_time", parquet.Optional(parquet.Timestamp(parquet.Millisecond))), []map[string]any{{"name": "a", "filename": "a", "sha256_digest": digestA, "size": int64(1234), "upload_time": at("2024-01-02T03:04:05.123Z").UnixMilli()}}},
		"nanos":          {withColumn(bigQueryColumns(), "upload_time", parquet.Optional(parquet.Timestamp(parquet.Nanosecond))), []map[string]any{{"name": "a", "filename": "a", "sha256_digest": digestA, "size": int64(1234), "upload_time": at("2024-01-02T03:04:05.123456Z").UnixNano()}}},
		"NULL timestamp": {bigQueryColumns(), []map[string]any{{"name": "a", "filename": "a", "sha256_digest": digestA, "size": int64(1234), "upload_time": nil}}},
	} {
		t.Run(name, func(t *testing.T) {
			recs, _, err := readParquet(t, writeColumns(t, tc.cols, tc.rows))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tc.rows) {
				t.Fatalf("%d records", len(recs))
			}
			for i, r := range tc.rows {
				want := "-"
				if r["upload_time"] != nil {
					want = map[string]string{"millis": "2024-01-02T03:04:05.123000Z"}[name]
					if want == "" {
						want = "2024-01-02T03:04:05.123456Z"
					}
				}
				if recs[i].UploadTime != want || recs[i].Size != 1234 {
					t.Errorf("record %d = %+v, want upload time %s", i, recs[i], want)
				}
			}
		})
	}
}

// TestParquetSchemaRefuses checks each refusal of a schema: each names
// the file and the column.
func TestParquetSchemaRefuses(t *testing.T) {
	cols := bigQueryColumns()
	for name, tc := range map[string]struct {
		cols []col
		want string
	}{
		"missing column":  {withColumn(cols, "filename", nil), "missing column filename: select name, filename, sha256_digest, size, upload_time"},
		"missing columns": {withColumn(withColumn(cols, "upload_time", nil), "size", nil), "missing column size, upload_time"},
		"unknown column":  {withColumn(cols, "requires_python", parquet.Optional(parquet.String())), `unknown column "requires_python": select only the documented columns`},
		"upper-case":      {append(withColumn(cols, "size", nil), col{"Size", parquet.Optional(parquet.Int(64))}), `unknown column "Size"`},
		"repeated":        {withColumn(cols, "filename", parquet.Repeated(parquet.String())), `column "filename" is repeated`},
		"nested":          {withColumn(cols, "name", parquet.Optional(parquet.Group{"first": parquet.String()})), `column "name" is nested`},
		"size a string":   {withColumn(cols, "size", parquet.Optional(parquet.String())), `column "size" is BYTE_ARRAY STRING, want INT64`},
		"size INT32":      {withColumn(cols, "size", parquet.Optional(parquet.Int(32))), `column "size" is INT32`},
		"size unsigned":   {withColumn(cols, "size", parquet.Optional(parquet.Uint(64))), `column "size" is INT64 INT(64,false), want INT64`},
		"size timestamp":  {withColumn(cols, "size", parquet.Optional(parquet.Timestamp(parquet.Microsecond))), `column "size" is INT64 TIMESTAMP`},
		"size double":     {withColumn(cols, "size", parquet.Optional(parquet.Leaf(parquet.DoubleType))), `column "size" is DOUBLE`},
		"name bytes":      {withColumn(cols, "name", parquet.Optional(parquet.Leaf(parquet.ByteArrayType))), `column "name" is BYTE_ARRAY, want BYTE_ARRAY STRING`},
		"name JSON":       {withColumn(cols, "name", parquet.Optional(parquet.JSON())), `column "name" is BYTE_ARRAY JSON, want BYTE_ARRAY STRING`},
		"digest INT64":    {withColumn(cols, "sha256_digest", parquet.Optional(parquet.Int(64))), `column "sha256_digest" is INT64`},
		"digest fixed":    {withColumn(cols, "sha256_digest", parquet.Optional(parquet.Leaf(parquet.FixedLenByteArrayType(32)))), `column "sha256_digest" is FIXED_LEN_BYTE_ARRAY`},
		"version INT64":   {withColumn(cols, "version", parquet.Optional(parquet.Int(64))), `column "version" is INT64`},
		"time not UTC":    {withColumn(cols, "upload_time", parquet.Optional(parquet.TimestampAdjusted(parquet.Microsecond, false))), `column "upload_time" is INT64 TIMESTAMP(isAdjustedToUTC=false,unit=MICROS), want INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)`},
		"time plain":      {withColumn(cols, "upload_time", parquet.Optional(parquet.Int(64))), `column "upload_time" is INT64 INT(64,true)`},
		"time a string":   {withColumn(cols, "upload_time", parquet.Optional(parquet.String())), `column "upload_time" is BYTE_ARRAY STRING`},
		"time a date":     {withColumn(cols, "upload_time", parquet.Optional(parquet.Date())), `column "upload_time" is INT32 DATE`},
		"time INT96":      {withColumn(cols, "upload_time", parquet.Optional(parquet.Leaf(parquet.Int96Type))), `column "upload_time" is INT96`},
	} {
		t.Run(name, func(t *testing.T) {
			// No rows: the schema is checked before any is read.
			_, path, err := readParquet(t, writeColumns(t, tc.cols, nil))
			wantBad(t, err, path+": ", tc.want)
		})
	}
}

// TestParquetRowRefuses checks each refusal of a row's values: each names
// the file and row.
func TestParquetRowRefuses(t *testing.T) {
	good := sampleRows()[0]
	for name, tc := range map[string]struct {
		edit func(*exporttest.Row)
		want string
	}{
		"bad digest":        {func(r *exporttest.Row) { r.SHA256 = "zz" + r.SHA256[2:] }, "not lowercase hex"},
		"upper-case digest": {func(r *exporttest.Row) { r.SHA256 = strings.ToUpper(r.SHA256) }, "not lowercase hex"},
		"short digest":      {func(r *exporttest.Row) { r.SHA256 = r.SHA256[1:] }, "not 64 hex digits"},
		"negative size":     {func(r *exporttest.Row) { r.Size = -5 }, "negative size -5"},
		"bad project name":  {func(r *exporttest.Row) { r.Name = "foo bar" }, `project name "foo bar" is not a valid distribution name`},
		"empty project":     {func(r *exporttest.Row) { r.Name = "" }, "not a valid distribution name"},
		"bad filename":      {func(r *exporttest.Row) { r.Filename = "foo\nbar" }, `contains '\n'`},
		"invalid UTF-8":     {func(r *exporttest.Row) { r.Filename = "foo\xffbar" }, "is not UTF-8"},
		"before 1970":       {func(r *exporttest.Row) { r.UploadTime = at("1969-12-31T23:59:59.999999Z") }, "not RFC 3339 UTC"},
		"after 9999": {func(r *exporttest.Row) {
			r.UploadTime = at("9999-12-31T23:59:59Z")
			*r.UploadTime = r.UploadTime.Add(time.Hour)
		}, "not RFC 3339 UTC"},
		"overlong value": {func(r *exporttest.Row) { r.SHA256 = strings.Repeat("a", 64<<10+1) }, "sha256_digest of 65537 bytes, more than 65536"},
	} {
		t.Run(name, func(t *testing.T) {
			bad := good
			tc.edit(&bad)
			_, path, err := readParquet(t, parquetFile(t, []exporttest.Row{good, good, bad, good}))
			wantBad(t, err, path+": row 3: invalid record: ", tc.want)
		})
	}
	// NULL in a column that can't be.
	for _, c := range []string{"name", "filename", "sha256_digest", "size"} {
		t.Run("null "+c, func(t *testing.T) {
			v := goodValues()
			v[c] = nil
			_, path, err := readParquet(t, writeColumns(t, bigQueryColumns(), []map[string]any{goodValues(), v}))
			wantBad(t, err, path+": row 2: invalid record: ", "null "+c)
		})
	}
	// Nanoseconds BigQuery can't have.
	t.Run("finer than micros", func(t *testing.T) {
		v := goodValues()
		v["upload_time"] = at("2024-01-02T03:04:05.123456789Z").UnixNano()
		_, path, err := readParquet(t, writeColumns(t, withColumn(bigQueryColumns(), "upload_time", parquet.Optional(parquet.Timestamp(parquet.Nanosecond))), []map[string]any{v}))
		wantBad(t, err, path+": row 1: invalid record: ", "finer than microseconds")
	})
}

// layout writes files in the ways a Parquet writer may: compressions,
// page versions, encodings, small pages and row groups.
var layouts = map[string][]parquet.WriterOption{
	"snappy v1":         {parquet.Compression(&parquet.Snappy), parquet.DataPageVersion(1)},
	"snappy v2":         {parquet.Compression(&parquet.Snappy), parquet.DataPageVersion(2)},
	"gzip v1":           {parquet.Compression(&parquet.Gzip), parquet.DataPageVersion(1)},
	"gzip v2":           {parquet.Compression(&parquet.Gzip), parquet.DataPageVersion(2)},
	"zstd v1":           {parquet.Compression(&parquet.Zstd), parquet.DataPageVersion(1)},
	"zstd v2":           {parquet.Compression(&parquet.Zstd), parquet.DataPageVersion(2)},
	"uncompressed v1":   {parquet.Compression(&parquet.Uncompressed), parquet.DataPageVersion(1)},
	"uncompressed v2":   {parquet.Compression(&parquet.Uncompressed), parquet.DataPageVersion(2)},
	"small row groups":  {parquet.Compression(&parquet.Snappy), parquet.MaxRowsPerRowGroup(7), parquet.PageBufferSize(256)},
	"small pages, zstd": {parquet.Compression(&parquet.Zstd), parquet.PageBufferSize(128), parquet.DataPageVersion(1)},
}

// manyValues are n rows of the BigQuery columns, some NULL upload times.
func manyValues(n int) ([]map[string]any, []exporttest.Row) {
	var values []map[string]any
	var rows []exporttest.Row
	for i := range n {
		t := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1234567 * time.Microsecond)
		r := exporttest.Row{Name: "Project_" + string(rune('a'+i%7)), Filename: "p-" + strings.Repeat("x", i%13) + ".tar.gz", SHA256: strings.Repeat("0123456789abcdef"[i%16:i%16+1], 64), Size: int64(i * 1000), UploadTime: &t}
		v := map[string]any{"name": r.Name, "filename": r.Filename, "sha256_digest": r.SHA256, "size": r.Size, "upload_time": t.UnixMicro()}
		if i%5 == 0 {
			r.UploadTime, v["upload_time"] = nil, nil
		}
		values, rows = append(values, v), append(rows, r)
	}
	return values, rows
}

// TestParquetLayouts checks that what parquet-go writes, in each layout,
// reads as the same rows in JSON do.
func TestParquetLayouts(t *testing.T) {
	values, rows := manyValues(100)
	want, _, err := readAll(t, 1000, writeFiles(t, map[string][]byte{"a.json": ndjson(t, rows)}))
	if err != nil {
		t.Fatal(err)
	}
	for name, options := range layouts {
		t.Run(name, func(t *testing.T) {
			data := writeColumns(t, bigQueryColumns(), values, options...)
			got, _, err := readParquet(t, data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("records differ from JSON's")
			}
			// And rewritten, unchanged, by the test's own rewriter.
			got, _, err = readParquet(t, rewrite(t, data, nil, nil))
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("rewritten: %v", err)
			}
		})
	}
}

// footer returns the metadata of a Parquet file.
func footer(t testing.TB, data []byte) *format.FileMetaData {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	md := new(format.FileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), data[len(data)-8-n:len(data)-8], md); err != nil {
		t.Fatal(err)
	}
	return md
}

// withFooter returns data with its metadata replaced by footer bytes fb.
func withFooter(data, fb []byte) []byte {
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	out := bytes.Clone(data[:len(data)-8-n])
	out = append(out, fb...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(fb)))
	return append(out, "PAR1"...)
}

// pageEdit changes page p of row group g's column c: its header and
// data.
type pageEdit func(g, c, p int, h *format.PageHeader, data []byte) []byte

// rewrite rewrites a Parquet file page by page, editing pages with page
// and then the metadata with meta (either may be nil), and setting the
// chunks' offsets and sizes to where the pages end up.
func rewrite(t testing.TB, data []byte, meta func(*format.FileMetaData), page pageEdit) []byte {
	t.Helper()
	md := footer(t, data)
	out := []byte("PAR1")
	var protocol thrift.CompactProtocol
	for g := range md.RowGroups {
		rg := &md.RowGroups[g]
		rg.FileOffset = int64(len(out))
		for c := range rg.Columns {
			cc := &rg.Columns[c]
			cm := &cc.MetaData
			start := cm.DataPageOffset
			if cm.DictionaryPageOffset != 0 {
				start = cm.DictionaryPageOffset
			}
			pos, end := start, start+cm.TotalCompressedSize
			chunk := int64(len(out))
			cm.DictionaryPageOffset, cm.DataPageOffset = 0, 0
			for p := 0; pos < end; p++ {
				r := protocol.NewReaderFromBytes(data[pos:end])
				h := new(format.PageHeader)
				if err := thrift.NewDecoder(r).Decode(h); err != nil {
					t.Fatal(err)
				}
				pos += int64(r.BytesRead())
				body := bytes.Clone(data[pos : pos+int64(h.CompressedPageSize)])
				pos += int64(h.CompressedPageSize)
				if page != nil {
					body = page(g, c, p, h, body)
				}
				hb, err := thrift.Marshal(&protocol, h)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case h.Type == format.DictionaryPage && p == 0:
					cm.DictionaryPageOffset = int64(len(out))
				case cm.DataPageOffset == 0:
					cm.DataPageOffset = int64(len(out))
				}
				out = append(append(out, hb...), body...)
			}
			cm.TotalCompressedSize = int64(len(out)) - chunk
			cc.FileOffset = chunk
			cc.OffsetIndexOffset, cc.OffsetIndexLength, cc.ColumnIndexOffset, cc.ColumnIndexLength = 0, 0, 0, 0
		}
		rg.TotalCompressedSize = int64(len(out)) - rg.FileOffset
	}
	if meta != nil {
		meta(md)
	}
	fb, err := thrift.Marshal(&protocol, md)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, fb...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(fb)))
	return append(out, "PAR1"...)
}

// TestParquetFooterRefuses checks each refusal of a file's metadata.
func TestParquetFooterRefuses(t *testing.T) {
	values, _ := manyValues(20)
	data := writeColumns(t, bigQueryColumns(), values, parquet.MaxRowsPerRowGroup(8), parquet.Compression(&parquet.Snappy))
	withMeta := func(edit func(*format.FileMetaData)) []byte { return rewrite(t, data, edit, nil) }
	sizeCol := func(md *format.FileMetaData) int {
		for i, e := range md.Schema {
			if e.Name == "size" {
				return i
			}
		}
		panic("no size")
	}
	n := len(data)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"short":             {[]byte("PAR1PAR1"), "8 bytes is too short for a Parquet file"},
		"truncated":         {data[:n-1], "no Parquet footer (a truncated file?)"},
		"truncated more":    {data[:n/2], "no Parquet footer"},
		"footer past start": {append(binary.LittleEndian.AppendUint32(bytes.Clone(data[:n-8]), uint32(n-11)), "PAR1"...), "Parquet footer of " + strconv.Itoa(n-11) + " bytes in a file of " + strconv.Itoa(n)},
		"footer garbage":    {withFooter(data, []byte{0x19, 0xff, 0xff, 0xff, 0xff, 0x0f}), "corrupt Parquet footer"},
		"footer trailing":   {withFooter(data, append(thriftBytes(t, footer(t, data)), 0)), "corrupt Parquet footer: 1 bytes after its end"},
		"footer no fields":  {withFooter(data, []byte{0}), "corrupt Parquet footer: "},
		"empty group":       {withMeta(func(md *format.FileMetaData) { md.Schema[sizeCol(md)].NumChildren = thrift.New(int32(0)) }), `column "size" is nested`},
		"string as enum": {withMeta(func(md *format.FileMetaData) {
			md.Schema[sizeCol(md)-1].ConvertedType = thrift.New(deprecated.Enum)
		}), `column "sha256_digest" is BYTE_ARRAY STRING (converted type ENUM), want BYTE_ARRAY STRING`},
		"size unsigned, no converted type": {withMeta(func(md *format.FileMetaData) {
			md.Schema[sizeCol(md)].LogicalType.Value = &format.IntType{BitWidth: 64, IsSigned: false}
			md.Schema[sizeCol(md)].ConvertedType.Valid = false
		}), `column "size" is INT64 INT(64,false), want INT64`},
		"size as legacy timestamp": {withMeta(func(md *format.FileMetaData) {
			md.Schema[sizeCol(md)].LogicalType.Value = nil
			md.Schema[sizeCol(md)].ConvertedType = thrift.New(deprecated.TimestampMicros)
		}), `column "size" is INT64 TIMESTAMP_MICROS, want INT64`},
		"encrypted":        {withMeta(func(md *format.FileMetaData) { md.EncryptionAlgorithm.Value = &format.AesGcmV1{} }), "encrypted Parquet file"},
		"no schema":        {withMeta(func(md *format.FileMetaData) { md.Schema = nil }), "without a schema"},
		"root children":    {withMeta(func(md *format.FileMetaData) { md.Schema[0].NumChildren.V++ }), "malformed Parquet schema"},
		"duplicate column": {withMeta(func(md *format.FileMetaData) { md.Schema[sizeCol(md)].Name = "filename" }), `column "filename" twice`},
		"no repetition":    {withMeta(func(md *format.FileMetaData) { md.Schema[sizeCol(md)].RepetitionType.Valid = false }), `column "size" has no repetition type`},
		"rows total":       {withMeta(func(md *format.FileMetaData) { md.NumRows++ }), "row groups of 20 rows, the footer says 21"},
		"negative rows":    {withMeta(func(md *format.FileMetaData) { md.RowGroups[1].NumRows = -1 }), "row group 1 has -1 rows"},
		"missing chunk":    {withMeta(func(md *format.FileMetaData) { md.RowGroups[1].Columns = md.RowGroups[1].Columns[1:] }), "row group 1 has 4 columns, the schema 5"},
		"other file":       {withMeta(func(md *format.FileMetaData) { md.RowGroups[0].Columns[2].FilePath = "x.parquet" }), "is in another file"},
		"encrypted column": {withMeta(func(md *format.FileMetaData) { md.RowGroups[0].Columns[2].EncryptedColumnMetadata = []byte{1} }), "is encrypted"},
		"chunk path":       {withMeta(func(md *format.FileMetaData) { md.RowGroups[0].Columns[2].MetaData.PathInSchema = []string{"x"} }), `row group 0, column 2 is "x"`},
		"chunk type":       {withMeta(func(md *format.FileMetaData) { md.RowGroups[0].Columns[sizeCol(md)-1].MetaData.Type = format.Int32 }), `column "size" is INT32, the schema says INT64`},
		"chunk values":     {withMeta(func(md *format.FileMetaData) { md.RowGroups[2].Columns[1].MetaData.NumValues-- }), `row group 2, column "name" has 3 values for 4 rows`},
		"codec":            {withMeta(func(md *format.FileMetaData) { md.RowGroups[0].Columns[1].MetaData.Codec = format.Lz4Raw }), "not one BigQuery writes"},
		"chunk past end":   {withMeta(func(md *format.FileMetaData) { md.RowGroups[2].Columns[4].MetaData.TotalCompressedSize += 8 }), "is out of the file"},
		"chunk at start":   {withMeta(func(md *format.FileMetaData) { md.RowGroups[0].Columns[0].MetaData.DataPageOffset = 2 }), "is out of the file"},
		"chunk size":       {withMeta(func(md *format.FileMetaData) { md.RowGroups[0].Columns[0].MetaData.TotalCompressedSize = -1 }), "is out of the file"},
		// parquet-go would allocate the list before reading it.
		"huge list":     {withFooter(data, []byte{0x19, 0xfc, 0xff, 0xff, 0xff, 0x07, 0}), "corrupt Parquet footer: thrift value runs past its end"},
		"deep nesting":  {withFooter(data, deepThrift(100)), "nested more than 32 deep"},
		"many elements": {withFooter(data, manyElements(1<<18+1)), "more than 262144 elements"},
	} {
		t.Run(name, func(t *testing.T) {
			_, path, err := readParquet(t, tc.data)
			wantBad(t, err, path+": invalid record: ", tc.want)
		})
	}
}

func thriftBytes(t testing.TB, v any) []byte {
	b, err := thrift.Marshal(new(thrift.CompactProtocol), v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deepThrift is a struct of structs, n deep.
func deepThrift(n int) []byte {
	var b []byte
	for range n {
		b = append(b, 0x1c) // field 1, a struct
	}
	for range n + 1 {
		b = append(b, 0)
	}
	return b
}

// manyElements is a struct holding a list of n empty structs.
func manyElements(n int) []byte {
	b := []byte{0x19, 0xfc}
	b = binary.AppendUvarint(b, uint64(n))
	b = append(b, make([]byte, n)...)
	return append(b, 0)
}

// TestParquetPageRefuses checks each refusal of a page's header or data.
func TestParquetPageRefuses(t *testing.T) {
	values, _ := manyValues(50)
	for name, tc := range map[string]struct {
		options []parquet.WriterOption
		edit    pageEdit
		want    string
	}{
		"compressed size": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.CompressedPageSize = 64<<20 + 1
			}
			return b
		}, `row group 0, column "name": page 0 of 67108865 bytes`},
		"uncompressed size": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.UncompressedPageSize = 64<<20 + 1
			}
			return b
		}, "(67108865 uncompressed), more than 67108864"},
		"negative size": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.UncompressedPageSize = -1
			}
			return b
		}, "(-1 uncompressed)"},
		"past the chunk": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.CompressedPageSize += 1000
			}
			return b
		}, "page 0 runs past the column's end"},
		"snappy bomb": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.UncompressedPageSize = 10
			}
			return b
		}, "page 0: decompresses to more than its 10 bytes"},
		"snappy v2 bomb": {layouts["snappy v2"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.UncompressedPageSize = 10
			}
			return b
		}, "decompresses to more than its 10 bytes"},
		"gzip bomb": {layouts["gzip v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.UncompressedPageSize = 10
			}
			return b
		}, "decompresses to more than its 10 bytes"},
		"zstd bomb": {layouts["zstd v2"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.UncompressedPageSize = 10
			}
			return b
		}, "decompresses to more than its 10 bytes"},
		"corrupt gzip": {layouts["gzip v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				b[len(b)-5] ^= 0xff
			}
			return b
		}, "corrupt gzip data"},
		"corrupt zstd": {layouts["zstd v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				b[0] ^= 0xff
			}
			return b
		}, "corrupt zstd data"},
		"too many values": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.DataPageHeader.V.NumValues = 1<<24 + 1
			}
			return b
		}, "page 0 has 16777217 values"},
		"dictionary values": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if h.Type == format.DictionaryPage {
				h.DictionaryPageHeader.V.NumValues = 1<<24 + 1
			}
			return b
		}, "page 0 has 16777217 values"},
		"more values": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.DataPageHeader.V.NumValues++
			}
			return b
		}, "pages hold more than the column's 50 values"},
		"fewer values": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 3 {
				h.DataPageHeader.V.NumValues--
			}
			return b
		}, "pages hold 49 values, the column 50"},
		"v2 nulls": {layouts["snappy v2"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.DataPageHeaderV2.V.NumNulls = h.DataPageHeaderV2.V.NumValues + 1
			}
			return b
		}, "inconsistent data page header"},
		"v2 levels": {layouts["snappy v2"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.DataPageHeaderV2.V.DefinitionLevelsByteLength = h.CompressedPageSize + 1
			}
			return b
		}, "levels longer than the page"},
		"index page": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.Type = format.IndexPage
			}
			return b
		}, "page 0 is of type INDEX_PAGE"},
		"no page header": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				h.DataPageHeader.Valid = false
			}
			return b
		}, "page 0 has no data page header"},
		"second dictionary": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 && p == 1 {
				h.Type = format.DictionaryPage
				h.DictionaryPageHeader = thrift.New(format.DictionaryPageHeader{NumValues: 1})
			}
			return b
		}, "page 1 is a misplaced dictionary"},
		"huge header list": {layouts["snappy v1"], func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				// A data page statistic's (binary) max value claiming
				// more than is left.
				h.DataPageHeader.V.Statistics.MaxValue = bytes.Repeat([]byte{'z'}, 1<<20)
			}
			return b
		}, "corrupt header: thrift value runs past its end"},
	} {
		t.Run(name, func(t *testing.T) {
			opts := append([]parquet.WriterOption{parquet.PageBufferSize(1 << 20)}, tc.options...)
			cols := withColumn(bigQueryColumns(), "filename", parquet.Optional(parquet.Encoded(parquet.String(), &parquet.RLEDictionary)))
			data := writeColumns(t, cols, values, opts...)
			if name == "second dictionary" {
				data = writeColumns(t, cols, values, append(opts, parquet.PageBufferSize(64))...)
			}
			_, path, err := readParquet(t, rewrite(t, data, nil, tc.edit))
			wantBad(t, err, path+": invalid record: ", tc.want)
		})
	}
}

// encodedColumns are the BigQuery columns encoded as parquet-go may encode
// them.
func encodedColumns(strings, ints encoding.Encoding) []col {
	enc := func(n parquet.Node, e encoding.Encoding) parquet.Node {
		if e == nil {
			return parquet.Optional(n)
		}
		return parquet.Optional(parquet.Encoded(n, e))
	}
	return []col{
		{"name", enc(parquet.String(), strings)},
		{"filename", enc(parquet.String(), strings)},
		{"sha256_digest", enc(parquet.String(), strings)},
		{"size", enc(parquet.Int(64), ints)},
		{"upload_time", enc(parquet.Timestamp(parquet.Microsecond), ints)},
	}
}

// TestParquetEncodings checks that the checks of pages accept what
// parquet-go writes, in each of the encodings it may write the columns
// in: many values, long runs, shared prefixes, in both page versions.
func TestParquetEncodings(t *testing.T) {
	values, rows := manyValues(1200)
	for i := range values {
		if i%3 == 0 {
			long := strings.Repeat("project-with-a-long-name-", 1+i%5) + strconv.Itoa(i) + ".tar.gz"
			values[i]["filename"], rows[i].Filename = long, long
		}
	}
	want, _, err := readAll(t, 10000, writeFiles(t, map[string][]byte{"a.json": ndjson(t, rows)}))
	if err != nil {
		t.Fatal(err)
	}
	for name, cols := range map[string][]col{
		"plain":                {{"name", parquet.Optional(parquet.Encoded(parquet.String(), &parquet.Plain))}, {"filename", parquet.Optional(parquet.Encoded(parquet.String(), &parquet.Plain))}, {"sha256_digest", parquet.Optional(parquet.Encoded(parquet.String(), &parquet.Plain))}, {"size", parquet.Optional(parquet.Encoded(parquet.Int(64), &parquet.Plain))}, {"upload_time", parquet.Optional(parquet.Encoded(parquet.Timestamp(parquet.Microsecond), &parquet.Plain))}},
		"delta length, delta":  encodedColumns(&parquet.DeltaLengthByteArray, &parquet.DeltaBinaryPacked),
		"delta byte array":     encodedColumns(&parquet.DeltaByteArray, &parquet.DeltaBinaryPacked),
		"dictionary":           encodedColumns(&parquet.RLEDictionary, &parquet.RLEDictionary),
		"plain dictionary":     encodedColumns(&parquet.PlainDictionary, &parquet.PlainDictionary),
		"byte stream split":    encodedColumns(nil, &parquet.ByteStreamSplit),
		"required, dictionary": {{"name", parquet.Required(parquet.Encoded(parquet.String(), &parquet.RLEDictionary))}, {"filename", parquet.Required(parquet.String())}, {"sha256_digest", parquet.Required(parquet.String())}, {"size", parquet.Required(parquet.Encoded(parquet.Int(64), &parquet.DeltaBinaryPacked))}, {"upload_time", parquet.Optional(parquet.Timestamp(parquet.Microsecond))}},
	} {
		for _, layout := range []string{"snappy v1", "uncompressed v2", "gzip v2", "zstd v1"} {
			t.Run(name+", "+layout, func(t *testing.T) {
				t.Parallel()
				data := writeColumns(t, cols, values, append([]parquet.WriterOption{parquet.PageBufferSize(8 << 10)}, layouts[layout]...)...)
				got, _, err := readParquet(t, data)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatal("records differ from JSON's")
				}
			})
		}
	}
}

// uvarints appends the unsigned varints of us.
func uvarints(b []byte, us ...uint64) []byte {
	for _, u := range us {
		b = binary.AppendUvarint(b, u)
	}
	return b
}

// deltaHeader is a DELTA_BINARY_PACKED header of total values, the first
// first, in blocks of 128 values in 4 miniblocks.
func deltaHeader(total uint64, first int64) []byte {
	return binary.AppendVarint(uvarints(nil, 128, 4, total), first)
}

// TestParquetLevelsAndValues checks the refusals of a page's levels and
// values that would have parquet-go allocate beyond the page.
func TestParquetLevelsAndValues(t *testing.T) {
	values, _ := manyValues(50)
	// replace replaces the body of row group 0's column c's first data
	// page: for a v1 page, levels (if not nil) and then values (if not
	// nil); for a v2 page (uncompressed) the definition levels.
	replace := func(c int, levels, vals []byte) pageEdit {
		return func(g, cc, p int, h *format.PageHeader, b []byte) []byte {
			h.CRC = 0
			if cc != c || h.Type == format.DictionaryPage || p > 1 {
				return b
			}
			if h.Type == format.DataPageV2 {
				v := &h.DataPageHeaderV2.V
				rest := b[v.RepetitionLevelsByteLength+v.DefinitionLevelsByteLength:]
				v.DefinitionLevelsByteLength = int32(len(levels))
				b = append(append(bytes.Clone(b[:v.RepetitionLevelsByteLength]), levels...), rest...)
			} else {
				n := binary.LittleEndian.Uint32(b)
				oldLevels, oldValues := b[4:4+n], b[4+n:]
				if levels == nil {
					levels = oldLevels
				}
				if vals == nil {
					vals = oldValues
				}
				b = append(append(binary.LittleEndian.AppendUint32(nil, uint32(len(levels))), levels...), vals...)
			}
			h.CompressedPageSize, h.UncompressedPageSize = int32(len(b)), int32(len(b))
			return b
		}
	}
	run := func(count uint64, value byte) []byte { return append(uvarints(nil, count<<1), value) }
	for name, tc := range map[string]struct {
		cols   []col
		layout string
		edit   pageEdit
		want   string
	}{
		"level run":     {bigQueryColumns(), "uncompressed v1", replace(1, run(1<<30, 1), nil), `column "name": page 0: definition levels: a run of more values than the page's 50`},
		"level runs":    {bigQueryColumns(), "uncompressed v1", replace(1, bytes.Repeat(run(40, 1), 8), nil), "definition levels: runs of more values than the page's 50"},
		"packed levels": {bigQueryColumns(), "uncompressed v1", replace(1, uvarints(nil, (1<<28)<<1|1), nil), "definition levels: a run of more values"},
		"v2 level run":  {bigQueryColumns(), "uncompressed v2", replace(1, run(1<<30, 1), nil), "definition levels: a run of more values than the page's 50"},
		"index run": {withColumn(bigQueryColumns(), "filename", parquet.Optional(parquet.Encoded(parquet.String(), &parquet.RLEDictionary))), "uncompressed v1",
			replace(0, nil, append([]byte{5}, run(1<<30, 0)...)), `column "filename": page 1: dictionary indexes: a run of more values than the page's 50`},
		"packed index run": {withColumn(bigQueryColumns(), "filename", parquet.Optional(parquet.Encoded(parquet.String(), &parquet.RLEDictionary))), "uncompressed v1",
			replace(0, nil, append([]byte{0}, uvarints(nil, (1<<28)<<1|1)...)), "dictionary indexes: a run of more values"},
		"index width": {withColumn(bigQueryColumns(), "filename", parquet.Optional(parquet.Encoded(parquet.String(), &parquet.RLEDictionary))), "uncompressed v1",
			replace(0, nil, append([]byte{33}, run(1, 0)...)), "dictionary indexes of 33 bits"},
		"delta count": {encodedColumns(nil, &parquet.DeltaBinaryPacked), "uncompressed v1",
			replace(3, nil, deltaHeader(1<<30, 0)), `column "size": page 0: 1073741824 values, more than the page's 50`},
		"delta header": {encodedColumns(nil, &parquet.DeltaBinaryPacked), "uncompressed v1",
			replace(3, nil, binary.AppendVarint(uvarints(nil, 100, 4, 1), 0)), "corrupt delta header (block of 100 values in 4 miniblocks)"},
		"delta lengths": {encodedColumns(&parquet.DeltaLengthByteArray, nil), "uncompressed v1",
			replace(1, nil, deltaHeader(1, 1<<30)), "lengths summing to 1073741824, more than the 0 bytes after them"},
		"negative length": {encodedColumns(&parquet.DeltaLengthByteArray, nil), "uncompressed v1",
			replace(1, nil, deltaHeader(1, -5)), "lengths: negative length -5"},
		"negative delta": {encodedColumns(&parquet.DeltaLengthByteArray, nil), "uncompressed v1",
			replace(1, nil, append(binary.AppendVarint(deltaHeader(2, 3), -4), 0, 0, 0, 0)), "lengths: negative length -1"},
		"truncated deltas": {encodedColumns(&parquet.DeltaLengthByteArray, nil), "uncompressed v1",
			replace(1, nil, deltaHeader(50, 0)), "lengths: truncated delta block"},
		"truncated miniblock": {encodedColumns(&parquet.DeltaLengthByteArray, nil), "uncompressed v1",
			replace(1, nil, append(binary.AppendVarint(deltaHeader(50, 0), 0), 8, 0, 0, 0, 1, 2, 3)), "lengths: truncated delta miniblock"},
		"truncated widths": {encodedColumns(&parquet.DeltaLengthByteArray, nil), "uncompressed v1",
			replace(1, nil, append(binary.AppendVarint(deltaHeader(50, 0), 0), 8)), "lengths: truncated delta block"},
		"delta width": {encodedColumns(&parquet.DeltaLengthByteArray, nil), "uncompressed v1",
			replace(1, nil, append(binary.AppendVarint(deltaHeader(2, 0), 0), 33, 0, 0, 0)), "lengths: deltas of 33 bits"},
		"prefix lengths": {encodedColumns(&parquet.DeltaByteArray, nil), "uncompressed v1",
			replace(1, nil, append(append(binary.AppendVarint(deltaHeader(2, 0), 1<<30), 0, 0, 0, 0), append(binary.AppendVarint(deltaHeader(2, 0), 0), 0, 0, 0, 0)...)), "values of 1073741824 bytes, more than 67108864"},
		"suffix lengths": {encodedColumns(&parquet.DeltaByteArray, nil), "uncompressed v1",
			replace(1, nil, append(deltaHeader(1, 0), deltaHeader(1, 7)...)), "suffix lengths summing to 7, more than the 0 bytes after them"},
		"corrupt snappy": {bigQueryColumns(), "snappy v1", func(g, c, p int, h *format.PageHeader, b []byte) []byte {
			if c == 1 {
				_, k := binary.Uvarint(b)
				for i := k; i < len(b); i++ {
					b[i] = 0xff
				}
			}
			return b
		}, "corrupt snappy data"},
	} {
		t.Run(name, func(t *testing.T) {
			data := writeColumns(t, tc.cols, values, append([]parquet.WriterOption{parquet.PageBufferSize(1 << 20)}, layouts[tc.layout]...)...)
			_, path, err := readParquet(t, rewrite(t, data, nil, tc.edit))
			wantBad(t, err, path+": invalid record: row group 0, ", tc.want)
		})
	}
}

// TestParquetUncompressedV2 checks a v2 page whose values are not
// compressed, in a compressed column.
func TestParquetUncompressedV2(t *testing.T) {
	values, _ := manyValues(50)
	data := writeColumns(t, bigQueryColumns(), values, layouts["snappy v2"]...)
	n := 0
	data = rewrite(t, data, nil, func(g, c, p int, h *format.PageHeader, b []byte) []byte {
		v := &h.DataPageHeaderV2
		if !v.Valid || v.V.IsCompressed.Valid && !v.V.IsCompressed.V {
			return b
		}
		levels := v.V.RepetitionLevelsByteLength + v.V.DefinitionLevelsByteLength
		plain, err := snappy.Decode(nil, b[levels:])
		if err != nil {
			t.Fatal(err)
		}
		n++
		v.V.IsCompressed = thrift.New(false)
		h.CRC = 0
		b = append(bytes.Clone(b[:levels]), plain...)
		h.CompressedPageSize = int32(len(b))
		return b
	})
	recs, _, err := readParquet(t, data)
	if err != nil || len(recs) != 50 || n == 0 {
		t.Fatalf("read %d records, %v (%d pages uncompressed)", len(recs), err, n)
	}
}

// TestParquetLegacyTimestamp checks a TIMESTAMP_MICROS converted type
// without a logical type, as older writers annotate timestamps.
func TestParquetLegacyTimestamp(t *testing.T) {
	data := writeColumns(t, bigQueryColumns(), []map[string]any{goodValues()})
	for name, tc := range map[string]struct {
		converted deprecated.ConvertedType
		want      string
	}{
		"micros": {deprecated.TimestampMicros, "2024-01-02T03:04:05.123456Z"},
		"millis": {deprecated.TimestampMillis, "2024-01-02T03:04:05.123456Z"},
		"none":   {-1, ""},
	} {
		t.Run(name, func(t *testing.T) {
			edited := rewrite(t, data, func(md *format.FileMetaData) {
				for i := range md.Schema {
					if md.Schema[i].Name == "upload_time" {
						md.Schema[i].LogicalType.Value = nil
						md.Schema[i].ConvertedType = thrift.New(tc.converted)
						if tc.converted < 0 {
							md.Schema[i].ConvertedType.Valid = false
						}
					}
				}
			}, nil)
			recs, path, err := readParquet(t, edited)
			switch name {
			case "micros":
				if err != nil || len(recs) != 1 || recs[0].UploadTime != tc.want {
					t.Fatalf("read %+v, %v", recs, err)
				}
			case "millis":
				// The same values read as milliseconds: years ahead.
				if err == nil || !strings.Contains(err.Error(), "not RFC 3339 UTC") {
					t.Fatalf("read %+v, %v", recs, err)
				}
			default:
				wantBad(t, err, path+": invalid record: ", `column "upload_time" is INT64, want INT64 TIMESTAMP`)
			}
		})
	}
}

// TestParquetLegacyString checks a UTF8 converted type without a logical
// type, as older writers annotate strings.
func TestParquetLegacyString(t *testing.T) {
	data := rewrite(t, writeColumns(t, bigQueryColumns(), []map[string]any{goodValues()}), func(md *format.FileMetaData) {
		for i := range md.Schema[1:] {
			if md.Schema[i+1].Type.V == format.ByteArray {
				md.Schema[i+1].LogicalType.Value = nil
				md.Schema[i+1].ConvertedType = thrift.New(deprecated.UTF8)
			}
		}
	}, nil)
	recs, _, err := readParquet(t, data)
	if err != nil || len(recs) != 1 || recs[0].Filename != "foo_bar-1.0.tar.gz" {
		t.Fatalf("read %+v, %v", recs, err)
	}
}

// TestParquetLongPageHeader checks that a page header longer than the
// first read of one (16 KiB) is read whole.
func TestParquetLongPageHeader(t *testing.T) {
	values, _ := manyValues(10)
	data := rewrite(t, writeColumns(t, bigQueryColumns(), values, layouts["snappy v1"]...), nil, func(g, c, p int, h *format.PageHeader, b []byte) []byte {
		if h.Type == format.DataPage {
			h.DataPageHeader.V.Statistics.MaxValue = bytes.Repeat([]byte{'z'}, 200<<10)
		}
		return b
	})
	recs, _, err := readParquet(t, data)
	if err != nil || len(recs) != 10 {
		t.Fatalf("read %d records, %v", len(recs), err)
	}
}

// TestParquetFooterBound checks that a footer longer than 16 MiB is
// refused before it is read.
func TestParquetFooterBound(t *testing.T) {
	data := make([]byte, 17<<20)
	copy(data, "PAR1")
	binary.LittleEndian.PutUint32(data[len(data)-8:], 16<<20+1)
	copy(data[len(data)-4:], "PAR1")
	_, path, err := readParquet(t, data)
	wantBad(t, err, path+": invalid record: ", "Parquet footer of 16777217 bytes, more than 16777216")
}

// TestParquetCorrupt checks that truncated and corrupted files are
// refused with an error naming the file, never a panic or records of
// made-up data that don't pass their checks.
func TestParquetCorrupt(t *testing.T) {
	values, _ := manyValues(20)
	for name, options := range layouts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := writeColumns(t, bigQueryColumns(), values, options...)
			if strings.Contains(name, "v1") {
				// Without checksums, as other writers write: corrupt
				// data reaches the decoders.
				data = rewrite(t, data, nil, func(g, c, p int, h *format.PageHeader, b []byte) []byte {
					h.CRC = 0
					return b
				})
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "in.parquet")
			check := func(what string, b []byte) {
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				recs, _, err := readAll(t, 7, path)
				if err != nil && (!errors.Is(err, sequencer.ErrBadRecord) || !strings.HasPrefix(err.Error(), path+":")) {
					t.Fatalf("%s: error %v, want ErrBadRecord naming the file", what, err)
				}
				for _, r := range recs {
					if err := r.Check(); err != nil {
						t.Fatalf("%s: %v", what, err)
					}
				}
			}
			// Every part of the file: the pages, the footer, its length.
			step := max(1, len(data)/48)
			for n := 0; n < len(data); n += step {
				check("truncated to "+strconv.Itoa(n), data[:n])
			}
			for i := 4; i < len(data)-4; i += step {
				b := bytes.Clone(data)
				b[i] ^= 0x55
				check("byte "+strconv.Itoa(i)+" flipped", b)
				b[i] = 0xff
				check("byte "+strconv.Itoa(i)+" set", b)
			}
		})
	}
}

// TestParquetExporttest checks that exporttest writes BigQuery's schema.
func TestParquetExporttest(t *testing.T) {
	for _, rows := range [][]exporttest.Row{sampleRows(), {{Name: "a", Version: "1", Filename: "a", SHA256: digestA}}} {
		md := footer(t, parquetFile(t, rows))
		var got []string
		for _, e := range md.Schema[1:] {
			if e.RepetitionType.V != format.Optional {
				t.Errorf("column %s is %v", e.Name, e.RepetitionType.V)
			}
			got = append(got, e.Name+" "+e.Type.V.String()+" "+e.LogicalType.String())
		}
		want := []string{"name BYTE_ARRAY STRING", "filename BYTE_ARRAY STRING", "sha256_digest BYTE_ARRAY STRING", "size INT64 INT(64,true)", "upload_time INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"}
		if rows[0].Version != "" {
			want = append(want[:1], append([]string{"version BYTE_ARRAY STRING"}, want[1:]...)...)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("schema\n%q\nwant\n%q", got, want)
		}
	}
}
