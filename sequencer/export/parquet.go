package export

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/pysumdb/pysumdb/sequencer"
)

// parquetMagic begins and ends a Parquet file.
const parquetMagic = "PAR1"

const (
	// maxFooter bounds a file's metadata. BigQuery's are a few
	// kilobytes: six columns, a row group for every hundred megabytes
	// or so.
	maxFooter = 16 << 20
	// maxPage bounds a page, compressed or not (writers' are about a
	// megabyte).
	maxPage = 64 << 20
	// maxPageValues bounds the values of a page: parquet-go allocates
	// its levels and indexes before decoding them.
	maxPageValues = 1 << 24
	// maxPageHeader bounds a page's header (its statistics hold a
	// column's least and greatest values).
	maxPageHeader = 1 << 20
	// rowBatch is how many rows are read at a time.
	rowBatch = 256
)

// column is what a column of the export is.
type column int

const (
	colName column = iota
	colVersion
	colFilename
	colSHA256
	colSize
	colUploadTime
	numColumns
)

var columnNames = [numColumns]string{"name", "version", "filename", "sha256_digest", "size", "upload_time"}

// parquetSource reads one Parquet file.
type parquetSource struct {
	name string
	f    *os.File
	size int64
	// dataEnd is where the footer begins.
	dataEnd int64
	meta    format.FileMetaData
	pf      *parquet.File

	// roles are what each leaf column of the file is, by index.
	roles []column
	// timeUnit is upload_time's unit.
	timeUnit time.Duration

	// group is the index of the next row group to read.
	group int
	rows  parquet.Rows
	// groupRows is the number of rows read of the open row group,
	// groupDone whether they are all read.
	groupRows int64
	groupDone bool
	buf       []parquet.Row
	n, i      int
	// row is the number, in the file, of the last row read.
	row int64

	// header, page and plain are buffers for checking pages: a page's
	// header, its bytes, and its bytes decompressed.
	header, page, plain []byte
	zstd                *zstd.Decoder
}

// bad is the error of a file that is not a valid export.
func (s *parquetSource) bad(msg string, args ...any) error {
	return fmt.Errorf("%s: %w: "+msg, append([]any{s.name, sequencer.ErrBadRecord}, args...)...)
}

// recovered turns a panic of parquet-go reading a corrupt file into an
// error.
func (s *parquetSource) recovered(err *error) {
	if p := recover(); p != nil {
		*err = s.bad("corrupt Parquet file (row %d): %v", s.row+1, p)
	}
}

func openParquet(name string, f *os.File) (src *parquetSource, err error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	s := &parquetSource{name: name, f: f, size: fi.Size()}
	defer func() {
		if p := recover(); p != nil {
			err = s.bad("corrupt Parquet file: %v", p)
		}
	}()
	if err := s.readFooter(); err != nil {
		return nil, err
	}
	if err := s.checkSchema(); err != nil {
		return nil, err
	}
	if err := s.checkRowGroups(); err != nil {
		return nil, err
	}
	s.pf, err = parquet.OpenFile(f, s.size,
		parquet.SkipPageIndex(true),
		parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, s.bad("%v", err)
	}
	if len(s.pf.RowGroups()) != len(s.meta.RowGroups) {
		return nil, s.bad("%d row groups, the footer says %d", len(s.pf.RowGroups()), len(s.meta.RowGroups))
	}
	s.buf = make([]parquet.Row, rowBatch)
	return s, nil
}

// readFooter reads and decodes the file's metadata, after checking that
// decoding it allocates in proportion to its size.
func (s *parquetSource) readFooter() error {
	// "PAR1", the metadata, its length and "PAR1".
	if s.size < 12 {
		return s.bad("%d bytes is too short for a Parquet file", s.size)
	}
	var tail [8]byte
	if _, err := s.f.ReadAt(tail[:], s.size-8); err != nil {
		return fmt.Errorf("export: couldn't read %s: %w", s.name, err)
	}
	if string(tail[4:]) != parquetMagic {
		return s.bad("no Parquet footer (a truncated file?)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > s.size-12 {
		return s.bad("Parquet footer of %d bytes in a file of %d (a truncated file?)", n, s.size)
	}
	if n > maxFooter {
		return s.bad("Parquet footer of %d bytes, more than %d", n, maxFooter)
	}
	s.dataEnd = s.size - 8 - n
	footer := make([]byte, n)
	if _, err := s.f.ReadAt(footer, s.size-8-n); err != nil {
		return fmt.Errorf("export: couldn't read %s: %w", s.name, err)
	}
	m, err := checkThrift(footer)
	if err != nil {
		return s.bad("corrupt Parquet footer: %v", err)
	}
	if int64(m) != n {
		return s.bad("corrupt Parquet footer: %d bytes after its end", n-int64(m))
	}
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &s.meta); err != nil {
		return s.bad("corrupt Parquet footer: %v", err)
	}
	if s.meta.EncryptionAlgorithm.Value != nil {
		return s.bad("encrypted Parquet file")
	}
	return nil
}

// checkSchema checks that the file's columns are the export's: flat,
// each of the right type, the ones the query selects all present, no
// other but version. It sets s.roles and s.timeUnit.
func (s *parquetSource) checkSchema() error {
	schema := s.meta.Schema
	if len(schema) == 0 {
		return s.bad("Parquet file without a schema")
	}
	root := schema[0]
	if !root.NumChildren.Valid || int64(root.NumChildren.V) != int64(len(schema)-1) {
		for _, e := range schema[1:] {
			if e.NumChildren.Valid {
				return s.bad("column %q is nested: the export's columns are scalars (%s)", e.Name, columnList)
			}
		}
		return s.bad("malformed Parquet schema")
	}
	var seen [numColumns]bool
	for _, e := range schema[1:] {
		if e.NumChildren.Valid {
			return s.bad("column %q is nested: the export's columns are scalars (%s)", e.Name, columnList)
		}
		role := column(slices.Index(columnNames[:], e.Name))
		if role < 0 {
			return fmt.Errorf("%s: %w", s.name, unknownColumn(e.Name))
		}
		if seen[role] {
			return s.bad("column %q twice", e.Name)
		}
		seen[role] = true
		if !e.RepetitionType.Valid {
			return s.bad("column %q has no repetition type", e.Name)
		}
		if e.RepetitionType.V == format.Repeated {
			return s.bad("column %q is repeated: the export's columns are scalars (%s)", e.Name, columnList)
		}
		if err := s.checkType(role, &e); err != nil {
			return err
		}
		s.roles = append(s.roles, role)
	}
	var missing []string
	for c, name := range columnNames {
		if !seen[c] && column(c) != colVersion {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return s.bad("missing column %s: select %s", strings.Join(missing, ", "), columnList)
	}
	return nil
}

// typeName describes a column's type as the schema has it: its physical
// type, its logical type, and its converted type when there is no logical
// type or when it says something else.
func typeName(e *format.SchemaElement) string {
	t := "no type"
	if e.Type.Valid {
		t = e.Type.V.String()
	}
	if e.LogicalType.Value != nil {
		t += " " + e.LogicalType.String()
	}
	if e.ConvertedType.Valid {
		name := convertedName(e.ConvertedType.V)
		switch {
		case e.LogicalType.Value == nil:
			t += " " + name
		case name != impliedConverted(e.LogicalType.Value):
			t += " (converted type " + name + ")"
		}
	}
	return t
}

// convertedNames are the names of converted types, by value.
var convertedNames = []string{
	"UTF8", "MAP", "MAP_KEY_VALUE", "LIST", "ENUM", "DECIMAL", "DATE",
	"TIME_MILLIS", "TIME_MICROS", "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS",
	"UINT_8", "UINT_16", "UINT_32", "UINT_64", "INT_8", "INT_16", "INT_32", "INT_64",
	"JSON", "BSON", "INTERVAL",
}

// convertedName names a converted type.
func convertedName(c deprecated.ConvertedType) string {
	if c >= 0 && int(c) < len(convertedNames) {
		return convertedNames[c]
	}
	return fmt.Sprint(int(c))
}

// impliedConverted is the name of the converted type writers write with a
// logical type, if any.
func impliedConverted(lt format.LogicalTypeValue) string {
	switch lt := lt.(type) {
	case *format.StringType:
		return "UTF8"
	case *format.EnumType:
		return "ENUM"
	case *format.JsonType:
		return "JSON"
	case *format.BsonType:
		return "BSON"
	case *format.DateType:
		return "DATE"
	case *format.IntType:
		name := fmt.Sprintf("INT_%d", lt.BitWidth)
		if !lt.IsSigned {
			name = "U" + name
		}
		return name
	case *format.TimestampType:
		if lt.Unit.Value != nil {
			switch lt.Unit.Value.Duration() {
			case time.Millisecond:
				return "TIMESTAMP_MILLIS"
			case time.Microsecond:
				return "TIMESTAMP_MICROS"
			}
		}
	}
	return ""
}

// checkType checks that e is of the type BigQuery writes the column role
// as: STRING as BYTE_ARRAY annotated STRING, INT64 as INT64, TIMESTAMP as
// INT64 annotated TIMESTAMP, adjusted to UTC (micros; millis and nanos are
// read too).
func (s *parquetSource) checkType(role column, e *format.SchemaElement) error {
	ok := false
	want := ""
	switch role {
	case colName, colVersion, colFilename, colSHA256:
		want = "BYTE_ARRAY STRING (BigQuery's STRING)"
		_, str := e.LogicalType.Value.(*format.StringType)
		ok = e.Type.Valid && e.Type.V == format.ByteArray &&
			(str && (!e.ConvertedType.Valid || e.ConvertedType.V == deprecated.UTF8) ||
				e.LogicalType.Value == nil && e.ConvertedType.Valid && e.ConvertedType.V == deprecated.UTF8)
	case colSize:
		want = "INT64 (BigQuery's INT64)"
		it, isInt := e.LogicalType.Value.(*format.IntType)
		ok = e.Type.Valid && e.Type.V == format.Int64 &&
			(e.LogicalType.Value == nil || isInt && it.BitWidth == 64 && it.IsSigned) &&
			(!e.ConvertedType.Valid || e.ConvertedType.V == deprecated.Int64)
	case colUploadTime:
		want = "INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MICROS) (BigQuery's TIMESTAMP)"
		if !e.Type.Valid || e.Type.V != format.Int64 {
			break
		}
		switch lt := e.LogicalType.Value.(type) {
		case *format.TimestampType:
			if lt.IsAdjustedToUTC && lt.Unit.Value != nil {
				s.timeUnit = lt.Unit.Value.Duration()
			}
		case nil:
			// Before logical types, a timestamp was UTC by definition.
			switch {
			case !e.ConvertedType.Valid:
			case e.ConvertedType.V == deprecated.TimestampMicros:
				s.timeUnit = time.Microsecond
			case e.ConvertedType.V == deprecated.TimestampMillis:
				s.timeUnit = time.Millisecond
			}
		}
		ok = s.timeUnit != 0
	}
	if !ok {
		return s.bad("column %q is %s, want %s", e.Name, typeName(e), want)
	}
	return nil
}

// checkRowGroups checks the footer's row groups: one chunk a column, in
// the schema's order, stored in this file, compressed as BigQuery may
// compress it, a value a row, within the file.
func (s *parquetSource) checkRowGroups() error {
	var total int64
	for g, rg := range s.meta.RowGroups {
		if rg.NumRows < 0 {
			return s.bad("row group %d has %d rows", g, rg.NumRows)
		}
		total += rg.NumRows
		if total < 0 {
			return s.bad("too many rows")
		}
		if len(rg.Columns) != len(s.roles) {
			return s.bad("row group %d has %d columns, the schema %d", g, len(rg.Columns), len(s.roles))
		}
		for c, cc := range rg.Columns {
			name := s.meta.Schema[c+1].Name
			md := &cc.MetaData
			switch {
			case cc.FilePath != "":
				return s.bad("row group %d, column %q is in another file", g, name)
			case cc.CryptoMetadata.Value != nil || cc.EncryptedColumnMetadata != nil:
				return s.bad("row group %d, column %q is encrypted", g, name)
			case len(md.PathInSchema) != 1 || md.PathInSchema[0] != name:
				return s.bad("row group %d, column %d is %q, the schema's is %q", g, c, strings.Join(md.PathInSchema, "."), name)
			case md.Type != s.meta.Schema[c+1].Type.V:
				return s.bad("row group %d, column %q is %s, the schema says %s", g, name, md.Type, s.meta.Schema[c+1].Type.V)
			case md.NumValues != rg.NumRows:
				return s.bad("row group %d, column %q has %d values for %d rows", g, name, md.NumValues, rg.NumRows)
			}
			switch md.Codec {
			case format.Uncompressed, format.Snappy, format.Gzip, format.Zstd:
			default:
				return s.bad("row group %d, column %q is compressed with %s, not one BigQuery writes (SNAPPY, GZIP, ZSTD)", g, name, md.Codec)
			}
			start := chunkStart(md)
			if start < int64(len(parquetMagic)) || md.TotalCompressedSize < 0 || md.TotalCompressedSize > s.dataEnd-start {
				return s.bad("row group %d, column %q is out of the file (%d bytes at %d)", g, name, md.TotalCompressedSize, start)
			}
		}
	}
	if total != s.meta.NumRows {
		return s.bad("row groups of %d rows, the footer says %d", total, s.meta.NumRows)
	}
	return nil
}

// chunkStart is where a column chunk begins: at its dictionary page if it
// has one, as parquet-go reads it.
func chunkStart(md *format.ColumnMetaData) int64 {
	if md.DictionaryPageOffset != 0 {
		return md.DictionaryPageOffset
	}
	return md.DataPageOffset
}

// read returns the next row's record. After an error, the source is only
// to be closed: parquet-go's state is not to be trusted.
func (s *parquetSource) read() (rec sequencer.Record, t time.Time, err error) {
	defer s.recovered(&err)
	for s.i == s.n {
		if err := s.fill(); err != nil {
			return sequencer.Record{}, time.Time{}, err
		}
	}
	row := s.buf[s.i]
	s.i++
	s.row++
	rec, t, err = s.record(row)
	if err != nil {
		return sequencer.Record{}, time.Time{}, fmt.Errorf("%s: row %d: %w", s.name, s.row, err)
	}
	return rec, t, nil
}

// fill reads the next rows into s.buf, going on to the next row group
// when one is done; io.EOF after the last.
func (s *parquetSource) fill() error {
	if s.rows != nil && s.groupDone {
		// Only now: the rows read last may point into its pages.
		s.rows.Close()
		s.rows = nil
		s.group++
	}
	if s.rows == nil {
		if s.group == len(s.meta.RowGroups) {
			return io.EOF
		}
		for c := range s.meta.RowGroups[s.group].Columns {
			if err := s.scanChunk(s.group, c); err != nil {
				return err
			}
		}
		s.rows = s.pf.RowGroups()[s.group].Rows()
		s.groupRows, s.groupDone = 0, false
	}
	n, err := s.rows.ReadRows(s.buf)
	s.n, s.i = n, 0
	s.groupRows += int64(n)
	want := s.meta.RowGroups[s.group].NumRows
	if s.groupRows > want {
		return s.bad("row group %d has more rows than its %d", s.group, want)
	}
	if err == io.EOF {
		if s.groupRows != want {
			return s.bad("row group %d has %d rows, the footer says %d", s.group, s.groupRows, want)
		}
		s.groupDone = true
		return nil
	}
	if err != nil {
		return s.bad("row %d: %v", s.row+1, err)
	}
	return nil
}

// record makes the record of a row.
func (s *parquetSource) record(row parquet.Row) (sequencer.Record, time.Time, error) {
	if len(row) != len(s.roles) {
		return sequencer.Record{}, time.Time{}, fmt.Errorf("%w: %d values for %d columns", sequencer.ErrBadRecord, len(row), len(s.roles))
	}
	var (
		strs    [numColumns]string
		present [numColumns]bool
		size    int64
		micros  int64
	)
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= len(s.roles) || present[s.roles[c]] {
			return sequencer.Record{}, time.Time{}, fmt.Errorf("%w: malformed row", sequencer.ErrBadRecord)
		}
		role := s.roles[c]
		if v.IsNull() {
			continue
		}
		present[role] = true
		switch role {
		case colVersion:
			// Ignored.
		case colName, colFilename, colSHA256:
			if v.Kind() != parquet.ByteArray {
				return sequencer.Record{}, time.Time{}, fmt.Errorf("%w: column %s holds a %s", sequencer.ErrBadRecord, columnNames[role], v.Kind())
			}
			b := v.ByteArray()
			if len(b) > maxString {
				return sequencer.Record{}, time.Time{}, fmt.Errorf("%w: %s of %d bytes, more than %d", sequencer.ErrBadRecord, columnNames[role], len(b), maxString)
			}
			strs[role] = string(b)
		case colSize, colUploadTime:
			if v.Kind() != parquet.Int64 {
				return sequencer.Record{}, time.Time{}, fmt.Errorf("%w: column %s holds a %s", sequencer.ErrBadRecord, columnNames[role], v.Kind())
			}
			if role == colSize {
				size = v.Int64()
			} else {
				micros = v.Int64()
			}
		}
	}
	var missing []string
	for _, c := range []column{colName, colFilename, colSHA256, colSize} {
		if !present[c] {
			missing = append(missing, columnNames[c])
		}
	}
	if len(missing) > 0 {
		return sequencer.Record{}, time.Time{}, fmt.Errorf("%w: null %s", sequencer.ErrBadRecord, strings.Join(missing, ", "))
	}
	var t time.Time
	hasTime := present[colUploadTime]
	if hasTime {
		switch s.timeUnit {
		case time.Millisecond:
			t = time.UnixMilli(micros)
		case time.Microsecond:
			t = time.UnixMicro(micros)
		default:
			t = time.Unix(0, micros)
		}
		t = t.UTC()
	}
	rec, err := makeRecord(strs[colName], strs[colFilename], strs[colSHA256], size, t, hasTime)
	if err != nil {
		return sequencer.Record{}, time.Time{}, err
	}
	return rec, t, nil
}

func (s *parquetSource) close() error {
	if s.rows != nil {
		s.rows.Close()
		s.rows = nil
	}
	if s.zstd != nil {
		s.zstd.Close()
		s.zstd = nil
	}
	return s.f.Close()
}
