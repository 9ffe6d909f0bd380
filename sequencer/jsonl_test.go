package sequencer

import (
	"errors"
	"strings"
	"testing"
)

// TestReadJSONLRefusesAmbiguousLines checks that a line JSON decoders could
// read in more than one way is refused, naming its line, rather than
// altered: the sequencer must log exactly what it was given.
func TestReadJSONLRefusesAmbiguousLines(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		// encoding/json turns these into U+FFFD and logs the result.
		"invalid UTF-8":      {strings.Replace(goodLine, "foo_bar-1.0", "foo_bar-1.0\xff", 1), "invalid UTF-8"},
		"lone surrogate":     {strings.Replace(goodLine, "foo_bar-1.0", `foo_bar-1.0\ud800`, 1), "invalid surrogate pair"},
		"lone low surrogate": {strings.Replace(goodLine, "foo_bar-1.0", `foo_bar-1.0\udc00`, 1), "invalid surrogate pair"},
		// encoding/json keeps the last value.
		"duplicate key":          {strings.Replace(goodLine, `"filename":`, `"filename":"other-1.0.tar.gz","filename":`, 1), `duplicate object member name "filename"`},
		"duplicate key, escaped": {strings.Replace(goodLine, `"filename":`, `"filename":"other-1.0.tar.gz","\u0066ilename":`, 1), `duplicate object member name "filename"`},
		"duplicate in publisher": {strings.Replace(goodLine, `}`, `,"publisher":{"Kind":"github","Kind":"gitlab","SAN":"x"}}`, 1), `duplicate object member name "Kind"`},
		// encoding/json matches names case-insensitively.
		"upper-case key":           {strings.Replace(goodLine, `"filename"`, `"FILENAME"`, 1), `unknown field "FILENAME"`},
		"upper-case beside lower":  {strings.Replace(goodLine, `}`, `,"Size":13}`, 1), `unknown field "Size"`},
		"lower-case publisher key": {strings.Replace(goodLine, `}`, `,"publisher":{"kind":"github","SAN":"x"}}`, 1), `unknown field "kind" in "publisher"`},
		"unknown field":            {strings.Replace(goodLine, `}`, `,"extra":1}`, 1), `unknown field "extra"`},
		"trailing garbage":         {goodLine + " x", "invalid character 'x' after top-level value"},
		"trailing comma":           {goodLine + ",", "after top-level value"},
		"not an object":            {`["foo"]`, "cannot unmarshal JSON array"},
	} {
		t.Run(name, func(t *testing.T) {
			in := goodLine + "\n" + tc.line + "\n" + goodLine + "\n"
			got, err := ReadJSONL(strings.NewReader(in), "in.jsonl")
			if err == nil {
				t.Fatalf("ReadJSONL accepted %q: %+v", tc.line, got)
			}
			if !errors.Is(err, ErrBadRecord) || !strings.HasPrefix(err.Error(), "in.jsonl:2: invalid record: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want ErrBadRecord at in.jsonl:2 containing %q", err, tc.want)
			}
			if got != nil {
				t.Fatalf("ReadJSONL returned records with its error: %+v", got)
			}
		})
	}
}

// TestReadJSONLKeepsEscapes checks that what strict decoding accepts is
// still read: escapes of valid characters, a surrogate pair, white space
// around the value.
func TestReadJSONLKeepsEscapes(t *testing.T) {
	line := strings.Replace(goodLine, `"foo_bar-1.0.tar.gz"`, `"foo_bar-1.0\u002ebar-\ud83d\ude00.tar.gz"`, 1)
	got, err := ReadJSONL(strings.NewReader(" \t"+line+" \r\n \t\r\n"), "in")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Filename != "foo_bar-1.0.bar-\U0001F600.tar.gz" {
		t.Fatalf("ReadJSONL = %+v", got)
	}
	// A no-break space is not JSON white space: the line is refused, not
	// trimmed.
	if _, err := ReadJSONL(strings.NewReader(line+"\u00a0\n"), "in"); err == nil {
		t.Fatalf("a line ending in U+00A0 was accepted")
	}
}
