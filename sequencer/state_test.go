package sequencer

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/tiles"
)

func TestStateRoundTrip(t *testing.T) {
	records := SyntheticRecords(0, 3)
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
	good := SyntheticRecords(0, 1)[0]
	line := good.Project + " " + good.Filename + " " + good.SHA256 + " 12 " + good.UploadTime
	header := `{"tree_size":1,"staged":{"start":1,"records":1}}` + "\n"
	for name, tc := range map[string]struct{ data, want string }{
		"empty":          {"", "no header line"},
		"not json":       {"tree_size 1\n", "header"},
		"stray records":  {`{"tree_size":1}` + "\n" + line + "\n", "no staged batch"},
		"no newline":     {header + line, "doesn't end in a newline"},
		"short line":     {header + "a b c\n", "3 fields, want 5 or 7"},
		"bad size":       {header + strings.Replace(line, " 12 ", " 1x ", 1) + "\n", "size"},
		"bad digest":     {header + strings.Replace(line, good.SHA256, "abc", 1) + "\n", "sha256"},
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
	records := SyntheticRecords(0, 2)
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
