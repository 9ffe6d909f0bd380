package sequencer

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/tiles"
)

const goodLine = `{"project":"Foo_Bar","filename":"foo_bar-1.0.tar.gz","sha256":"bf272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4","size":12,"upload_time":"2024-01-02T03:04:05Z"}`

func TestReadJSONL(t *testing.T) {
	in := goodLine + "\n\n" + `{"project":"x","filename":"x-1.whl","sha256":"af272323e553dfb2e87d9bfd225ca7b0f467b919d7bbd355436d3fd37cb0acd4","size":0,"upload_time":null,"publisher":{"Kind":"github","SAN":"https://github.com/o/r/.github/workflows/w.yml@refs/tags/v1"}}` + "\n"
	got, err := ReadJSONL(strings.NewReader(in), "in")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Project != "foo-bar" || got[0].UploadTime != "2024-01-02T03:04:05Z" ||
		got[1].UploadTime != tiles.NoUploadTime || got[1].Publisher == nil || got[1].Publisher.Kind != "github" {
		t.Fatalf("ReadJSONL = %+v", got)
	}
}

func TestReadJSONLRejects(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		"truncated":     {`{"project":"x",`, "in:1: invalid record: unexpected EOF"},
		"unknown field": {strings.Replace(goodLine, `"size"`, `"sizes"`, 1), `unknown field "sizes"`},
		"two values":    {goodLine + goodLine, "invalid character '{' after top-level value"},
		"uppercase":     {strings.Replace(goodLine, "bf27", "BF27", 1), "not lowercase hex"},
		"negative":      {strings.Replace(goodLine, `"size":12`, `"size":-1`, 1), "negative size -1"},
		"fraction size": {strings.Replace(goodLine, `"size":12`, `"size":1.5`, 1), "cannot unmarshal JSON number 1.5"},
		"tab":           {strings.Replace(goodLine, "foo_bar-1.0", `foo\tbar`, 1), "contains '\\t'"},
		"bad kind":      {strings.Replace(goodLine, `}`, `,"publisher":{"Kind":"bitbucket","SAN":"x"}}`, 1), `publisher kind "bitbucket"`},
		"offset time":   {strings.Replace(goodLine, "05Z", "05+01:00", 1), "not RFC 3339 UTC"},
		"missing":       {`{"project":"x"}`, "missing filename, sha256, size"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadJSONL(strings.NewReader(tc.line+"\n"), "in")
			if err == nil || !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadRecord containing %q", err, tc.want)
			}
		})
	}
}

// FuzzReadJSONL checks that whatever ReadJSONL accepts is a valid record
// whose entry and index line format and parse back.
func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(goodLine))
	f.Add([]byte(goodLine + "\n" + goodLine))
	f.Add([]byte(`{"project":"a","filename":"a","sha256":"` + strings.Repeat("0", 64) + `","size":0,"publisher":{"Kind":"google","SAN":"a@b.c"}}`))
	f.Add([]byte(`{"project":"a.b","filename":"ü","sha256":"` + strings.Repeat("f", 64) + `","size":9223372036854775807,"upload_time":"2024-01-02T03:04:05.999999999Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		records, err := ReadJSONL(bytes.NewReader(data), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrBadRecord) && !strings.Contains(err.Error(), "couldn't read") {
				t.Fatalf("error not wrapping ErrBadRecord: %v", err)
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
		}
	})
}
