package sequencer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/tiles"
)

// stagedRecords returns n valid records for a staged batch.
func stagedRecords(n int) []Record {
	out := make([]Record, n)
	for k := range out {
		out[k] = Record{
			Project:    fmt.Sprintf("project-%d", k),
			Filename:   fmt.Sprintf("project_%d-1.0-py3-none-any.whl", k),
			SHA256:     sha256.Sum256(fmt.Appendf(nil, "file %d", k)),
			Size:       int64(1000 + k),
			UploadTime: fmt.Sprintf("2024-01-02T03:04:%02dZ", k),
		}
	}
	return out
}

func TestStateRoundTrip(t *testing.T) {
	records := stagedRecords(3)
	records[1].Publisher = &tiles.Publisher{Kind: tiles.PublisherGitHub, SAN: "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1"}
	records[2].UploadTime = tiles.NoUploadTime
	for _, in := range []*state{
		{},
		{TreeSize: 7, Cursor: json.RawMessage(`{"serial":2}`)},
		{TreeSize: 7, Cursor: json.RawMessage(`{"serial":2}`), Staged: &stagedBatch{Start: 7, Records: records, Cursor: json.RawMessage(`{"serial":3}`)}},
	} {
		data, err := in.marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, err := parseState(data)
		if err != nil {
			t.Fatalf("parseState(%q): %v", data, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("round trip of %q:\n%+v\n%+v", data, in, out)
		}
	}
}

func TestStateRejects(t *testing.T) {
	good := stagedRecords(1)[0]
	digest := hex.EncodeToString(good.SHA256[:])
	line := good.Project + " " + good.Filename + " " + digest + " 12 " + good.UploadTime
	header := `{"tree_size":1,"staged":{"start":1,"records":1}}` + "\n"
	for name, tc := range map[string]struct{ data, want string }{
		"empty":          {"", "no header line"},
		"not json":       {"tree_size 1\n", "header"},
		"stray records":  {`{"tree_size":1}` + "\n" + line + "\n", "no staged batch"},
		"no newline":     {header + line, "doesn't end in a newline"},
		"short line":     {header + "a b c\n", "3 fields, want 5 or 7"},
		"bad size":       {header + strings.Replace(line, " 12 ", " 1x ", 1) + "\n", "size"},
		"bad digest":     {header + strings.Replace(line, digest, "abc", 1) + "\n", "sha256"},
		"upper digest":   {header + strings.Replace(line, digest, strings.ToUpper(digest), 1) + "\n", "not lowercase hex"},
		"bad publisher":  {header + line + " bitbucket x\n", "publisher kind"},
		"missing record": {header, "0 staged records, the header says 1"},
		"extra record":   {header + line + "\n" + line + "\n", "2 staged records, the header says 1"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseState([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzState checks that whatever state parses writes back as the same
// state.
func FuzzState(f *testing.F) {
	records := stagedRecords(2)
	records[0].Publisher = &tiles.Publisher{Kind: tiles.PublisherGitLab, SAN: "https://gitlab.com/o/r//.gitlab-ci.yml@refs/heads/main"}
	data, _ := (&state{TreeSize: 3, Staged: &stagedBatch{Start: 3, Records: records}}).marshal()
	f.Add(data)
	f.Add([]byte(`{"tree_size":1,"cursor":"x"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseState(data)
		if err != nil {
			return
		}
		again, err := st.marshal()
		if err != nil {
			t.Fatal(err)
		}
		st2, err := parseState(again)
		if err != nil {
			t.Fatalf("written back %q doesn't parse: %v", again, err)
		}
		if !reflect.DeepEqual(st, st2) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", st, st2)
		}
	})
}

// TestStateFormat pins the state object's format: states written by
// earlier versions must parse the same.
func TestStateFormat(t *testing.T) {
	r := Record{
		Project: "foo", Filename: "foo-1.0.tar.gz", SHA256: [32]byte{0: 0xab, 31: 0x01}, Size: 12, UploadTime: "2024-01-02T03:04:05Z",
		Publisher: &tiles.Publisher{Kind: tiles.PublisherGitHub, SAN: "https://github.com/o/r/.github/workflows/w.yml@refs/tags/v1"},
	}
	st := &state{TreeSize: 7, Cursor: json.RawMessage(`"c"`), Staged: &stagedBatch{Start: 7, Records: []Record{r}, Cursor: json.RawMessage(`"d"`)}}
	want := `{"tree_size":7,"cursor":"c","staged":{"start":7,"records":1,"cursor":"d"}}
foo foo-1.0.tar.gz ab00000000000000000000000000000000000000000000000000000000000001 12 2024-01-02T03:04:05Z github https://github.com/o/r/.github/workflows/w.yml@refs/tags/v1
`
	data, err := st.marshal()
	if err != nil || string(data) != want {
		t.Fatalf("marshal = %q, %v; want %q", data, err, want)
	}
	if got, err := parseState([]byte(want)); err != nil || !reflect.DeepEqual(got, st) {
		t.Fatalf("parseState = %+v, %v; want %+v", got, err, st)
	}
}
