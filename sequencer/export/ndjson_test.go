package export_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/export/exporttest"
)

const goodLine = `{"name":"Foo_Bar","filename":"foo_bar-1.0.tar.gz","sha256_digest":"bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4","size":"12","upload_time":"2024-01-02 03:04:05.123456 UTC"}`

// readLine reads goodLine, line and goodLine as the file in.json, whose
// path it returns.
func readLine(t *testing.T, line string) ([]sequencer.Record, string, error) {
	t.Helper()
	dir := writeFiles(t, map[string][]byte{"in.json": []byte(goodLine + "\n" + line + "\n" + goodLine + "\n")})
	path := filepath.Join(dir, "in.json")
	recs, _, err := readAll(t, 100, path)
	return recs, path, err
}

// TestGoodLine checks that goodLine is BigQuery's shape, as exporttest
// writes it, and reads.
func TestGoodLine(t *testing.T) {
	var b bytes.Buffer
	exporttest.WriteNDJSON(&b, []exporttest.Row{{Name: "Foo_Bar", Filename: "foo_bar-1.0.tar.gz", SHA256: digestA, Size: 12, UploadTime: at("2024-01-02T03:04:05.123456Z")}})
	if b.String() != goodLine+"\n" {
		t.Fatalf("exporttest writes\n%s\nwant\n%s", b.String(), goodLine)
	}
	// BigQuery escapes <, > and &.
	b.Reset()
	exporttest.WriteNDJSON(&b, []exporttest.Row{{Name: "a", Filename: "a<b>&c", SHA256: digestA}})
	if !strings.Contains(b.String(), `"filename":"a\u003cb\u003e\u0026c"`) {
		t.Fatalf("exporttest writes %s", b.String())
	}
	recs, _, err := readLine(t, goodLine)
	if err != nil || len(recs) != 3 || recs[1].UploadTime != "2024-01-02T03:04:05.123456Z" || recs[1].Size != 12 || recs[1].Project != "foo-bar" {
		t.Fatalf("read %+v, %v", recs, err)
	}
}

func replace(old, new string) string {
	if !strings.Contains(goodLine, old) {
		panic(old)
	}
	return strings.Replace(goodLine, old, new, 1)
}

// TestNDJSONRefuses checks every refusal of a line: each names the file
// and line, wraps sequencer.ErrBadRecord, and says why.
func TestNDJSONRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		// Columns.
		"missing column":       {replace(`"filename":"foo_bar-1.0.tar.gz",`, ""), "missing or null filename"},
		"missing columns":      {`{"upload_time":null}`, "missing or null name, filename, sha256_digest, size"},
		"null column":          {replace(`"Foo_Bar"`, "null"), "missing or null name"},
		"null size":            {replace(`"12"`, "null"), "missing or null size"},
		"unknown column":       {replace(`"size"`, `"file_size"`), `unknown column "file_size": select only the documented columns`},
		"extra column":         {replace(`}`, `,"requires_python":">=3.8"}`), `unknown column "requires_python"`},
		"upper-case column":    {replace(`"filename"`, `"Filename"`), `unknown column "Filename"`},
		"upper-case beside":    {replace(`}`, `,"Size":"13"}`), `unknown column "Size"`},
		"duplicate column":     {replace(`"filename":`, `"filename":"other-1.0.tar.gz","filename":`), `duplicate object member name "filename"`},
		"duplicate, escaped":   {replace(`"filename":`, `"filename":"other-1.0.tar.gz","\u0066ilename":`), `duplicate object member name "filename"`},
		"duplicate version":    {replace(`}`, `,"version":"1","version":"2"}`), `duplicate object member name "version"`},
		"version not a string": {replace(`}`, `,"version":1.0}`), "version"},
		"invalid UTF-8":        {replace("foo_bar-1.0", "foo_bar-1.0\xff"), "invalid UTF-8"},
		"lone surrogate":       {replace("foo_bar-1.0", `foo_bar-1.0\ud800`), "invalid surrogate pair"},
		"trailing garbage":     {goodLine + " x", "after top-level value"},
		"two objects":          {goodLine + goodLine, "after top-level value"},
		"not an object":        {`["Foo_Bar"]`, "JSON array"},
		"truncated":            {goodLine[:40], "unexpected EOF"},
		"name not a string":    {replace(`"Foo_Bar"`, "7"), "JSON number"},
		// Digests.
		"bad digest":        {replace(`"bf27`, `"zz27`), "not lowercase hex"},
		"upper-case digest": {replace(`"bf27`, `"BF27`), "not lowercase hex"},
		"short digest":      {replace(`acd4"`, `acd"`), "not 64 hex digits"},
		"long digest":       {replace(`acd4"`, `acd40"`), "not 64 hex digits"},
		"prefixed digest":   {replace(`"bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4"`, `"sha256:bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4"`), "not 64 hex digits"},
		// Sizes.
		"negative size":        {replace(`"12"`, `"-1"`), "negative size -1"},
		"negative number size": {replace(`"12"`, `-1`), "negative size -1"},
		"leading zero":         {replace(`"12"`, `"012"`), `size "012" is not a decimal integer`},
		"plus sign":            {replace(`"12"`, `"+12"`), `size "+12" is not a decimal integer`},
		"minus zero":           {replace(`"12"`, `"-0"`), `size "-0" is not a decimal integer`},
		"spaced size":          {replace(`"12"`, `" 12"`), "not a decimal integer"},
		"empty size":           {replace(`"12"`, `""`), `size "" is not a decimal integer`},
		"fraction size":        {replace(`"12"`, `"1.5"`), "not a decimal integer"},
		"fraction number":      {replace(`"12"`, `1.5`), "1.5"},
		"exponent number":      {replace(`"12"`, `1e3`), "1e3"},
		"size out of range":    {replace(`"12"`, `"9223372036854775808"`), "out of range"},
		"size a bool":          {replace(`"12"`, `true`), "size"},
		// Names.
		"bad project name":       {replace(`"Foo_Bar"`, `"-foo"`), `project name "-foo" is not a valid distribution name`},
		"non-ASCII project":      {replace(`"Foo_Bar"`, `"föö"`), "not a valid distribution name"},
		"empty project":          {replace(`"Foo_Bar"`, `""`), "not a valid distribution name"},
		"bad filename":           {replace("foo_bar-1.0", `foo\tbar`), `contains '\t'`},
		"slash in filename":      {replace("foo_bar-1.0", `x/foo_bar`), `contains '/'`},
		"empty filename":         {replace(`"foo_bar-1.0.tar.gz"`, `""`), "empty filename"},
		"filename checked first": {replace(`"foo_bar-1.0.tar.gz","sha256_digest":"bf27`, `"","sha256_digest":"BF27`), "empty filename"},
		// Upload times.
		"one-digit hour":        {replace("03:04:05", "3:04:05"), "neither BigQuery's"},
		"no zone":               {replace(" UTC", ""), "neither BigQuery's"},
		"lower-case utc":        {replace(" UTC", " utc"), "neither BigQuery's"},
		"other zone":            {replace(" UTC", " PST"), "neither BigQuery's"},
		"comma fraction":        {replace("05.123456", "05,123456"), "neither BigQuery's"},
		"empty fraction":        {replace("05.123456", "05."), "neither BigQuery's"},
		"ten digits":            {replace("05.123456", "05.1234567890"), "neither BigQuery's"},
		"finer than micros":     {replace("05.123456", "05.1234567"), "finer than microseconds"},
		"no seconds":            {replace("03:04:05.123456", "03:04"), "neither BigQuery's"},
		"bad month":             {replace("2024-01-02", "2024-13-02"), "neither BigQuery's"},
		"bad day":               {replace("2024-01-02", "2023-02-29"), "neither BigQuery's"},
		"leap second":           {replace("03:04:05", "23:59:60"), "neither BigQuery's"},
		"mixed shapes":          {replace("03:04:05.123456 UTC", "03:04:05.123456Z"), "neither BigQuery's"},
		"RFC 3339 with UTC":     {replace("2024-01-02 03:04:05.123456 UTC", "2024-01-02T03:04:05.123456 UTC"), "neither BigQuery's"},
		"RFC 3339 lower-case z": {replace("2024-01-02 03:04:05.123456 UTC", "2024-01-02T03:04:05z"), "neither BigQuery's"},
		"RFC 3339 bad offset":   {replace("2024-01-02 03:04:05.123456 UTC", "2024-01-02T03:04:05+0100"), "neither BigQuery's"},
		"RFC 3339 offset hour":  {replace("2024-01-02 03:04:05.123456 UTC", "2024-01-02T03:04:05+24:00"), "neither BigQuery's"},
		"before 1970":           {replace("2024-01-02", "1969-12-31"), "not RFC 3339 UTC"},
		"upload time a number":  {replace(`"2024-01-02 03:04:05.123456 UTC"`, `1704164645`), "JSON number"},
		// Lines.
		"overlong line":       {replace(`"Foo_Bar"`, `"`+strings.Repeat("a", 1<<20)+`"`), "in.json:2: invalid record: line longer than 1048576 bytes"},
		"no-break space":      {goodLine + "\u00a0", "after top-level value"},
		"no-break space line": {"\u00a0", "invalid character"},
		"form feed line":      {"\f", "invalid character"},
	} {
		t.Run(name, func(t *testing.T) {
			recs, path, err := readLine(t, tc.line)
			if err == nil {
				t.Fatalf("accepted %q", tc.line)
			}
			if !errors.Is(err, sequencer.ErrBadRecord) || !strings.HasPrefix(err.Error(), path+":2: invalid record: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want sequencer.ErrBadRecord at in.json:2 containing %q", err, tc.want)
			}
			if len(recs) != 1 {
				t.Fatalf("read %d records before the error, want 1", len(recs))
			}
		})
	}
}

// TestNDJSONAccepts checks what strict decoding still reads: the shapes
// of timestamps, sizes as JSON numbers, null or absent NULL columns,
// escapes, white space, blank lines.
func TestNDJSONAccepts(t *testing.T) {
	for name, tc := range map[string]struct{ line, upload string }{
		"no fraction":           {replace("05.123456 UTC", "05 UTC"), "2024-01-02T03:04:05.000000Z"},
		"one digit":             {replace("05.123456 UTC", "05.1 UTC"), "2024-01-02T03:04:05.100000Z"},
		"nine digits, micros":   {replace("05.123456 UTC", "05.123456000 UTC"), "2024-01-02T03:04:05.123456Z"},
		"RFC 3339":              {replace("2024-01-02 03:04:05.123456 UTC", "2024-01-02T03:04:05.123456Z"), "2024-01-02T03:04:05.123456Z"},
		"RFC 3339, no fraction": {replace("2024-01-02 03:04:05.123456 UTC", "2024-01-02T03:04:05Z"), "2024-01-02T03:04:05.000000Z"},
		"RFC 3339 offset":       {replace("2024-01-02 03:04:05.123456 UTC", "2024-01-02T00:34:05.5-02:30"), "2024-01-02T03:04:05.500000Z"},
		"null upload time":      {replace(`"2024-01-02 03:04:05.123456 UTC"`, "null"), "-"},
		"absent upload time":    {replace(`,"upload_time":"2024-01-02 03:04:05.123456 UTC"`, ""), "-"},
		"number size":           {replace(`"12"`, "12"), "2024-01-02T03:04:05.123456Z"},
		"version":               {replace(`}`, `,"version":"1.0"}`), "2024-01-02T03:04:05.123456Z"},
		"null version":          {replace(`}`, `,"version":null}`), "2024-01-02T03:04:05.123456Z"},
		"escapes":               {replace(`"foo_bar-1.0.tar.gz"`, `"foo_bar-1.0\u002etar.gz"`), "2024-01-02T03:04:05.123456Z"},
		"escaped size":          {replace(`"12"`, `"\u00312"`), "2024-01-02T03:04:05.123456Z"},
		"white space":           {" \t" + strings.ReplaceAll(goodLine, `,"`, ` , "`) + " \r", "2024-01-02T03:04:05.123456Z"},
		"blank lines":           {"\n \t\r\n" + goodLine + "\n\n", "2024-01-02T03:04:05.123456Z"},
		"1970":                  {replace("2024-01-02 03:04:05.123456", "1970-01-01 00:00:00"), "1970-01-01T00:00:00.000000Z"},
	} {
		t.Run(name, func(t *testing.T) {
			recs, _, err := readLine(t, tc.line)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 3 || recs[1].UploadTime != tc.upload || recs[1].Size != 12 || recs[1].Filename != "foo_bar-1.0.tar.gz" {
				t.Fatalf("read %+v, want upload time %s", recs, tc.upload)
			}
		})
	}
}

// TestGzipRefuses checks corrupt and truncated gzip data, and a gzipped
// Parquet file.
func TestGzipRefuses(t *testing.T) {
	data := gzipped(t, ndjson(t, sampleRows()))
	corrupt := bytes.Clone(data)
	corrupt[len(corrupt)-6] ^= 0xff // the CRC
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"truncated":       {data[:len(data)-10], "corrupt gzip data"},
		"checksum":        {corrupt, "corrupt gzip data"},
		"bad header":      {append([]byte{0x1f, 0x8b, 0}, data[3:]...), "corrupt gzip data"},
		"gzipped parquet": {gzipped(t, parquetFile(t, sampleRows())), "gzipped Parquet file"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, map[string][]byte{"in.json.gz": tc.data})
			_, _, err := readAll(t, 100, dir)
			if !errors.Is(err, sequencer.ErrBadRecord) || !strings.Contains(err.Error(), "in.json.gz") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadRecord naming in.json.gz, containing %q", err, tc.want)
			}
		})
	}
}
