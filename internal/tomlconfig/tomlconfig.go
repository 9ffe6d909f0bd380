// Package tomlconfig decodes pysumdb's TOML files strictly: a key the
// configuration doesn't know is an error naming it and its line, as is a
// syntax error, so that a typo never silently drops a setting (a witness, a
// quorum). A value of the wrong type is said in the file's words, its key
// and the type wanted ("line 4: log.vkey is an integer, want a string"),
// never in Go's ("struct field verify.LogConfig.VKey of type string").
// Unmarshal does the same without refusing unknown keys, for documents of
// which only a part is read (lockfiles).
package tomlconfig

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Error is an error of a TOML document, at a line.
type Error struct {
	// Line is 1-based; 0 if unknown.
	Line int
	// Msg says what is wrong, in the document's words.
	Msg string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Decode decodes data into v, refusing unknown keys. Its errors say where
// ("line 3: unknown key log.url").
func Decode(data []byte, v any) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var strict *toml.StrictMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &strict):
		var unknown []string
		for _, e := range strict.Errors {
			line, _ := e.Position()
			unknown = append(unknown, fmt.Sprintf("line %d: unknown key %s", line, strings.Join(e.Key(), ".")))
		}
		return errors.New(strings.Join(unknown, "; "))
	}
	return describe(err, v)
}

// Unmarshal decodes data into v, ignoring keys v doesn't have. Its error,
// an *Error, says where and what in the document's words.
func Unmarshal(data []byte, v any) error {
	if err := toml.Unmarshal(data, v); err != nil {
		return describe(err, v)
	}
	return nil
}

// describe turns a go-toml error of decoding into v into an *Error.
func describe(err error, v any) error {
	var decodeErr *toml.DecodeError
	if errors.As(err, &decodeErr) {
		line, _ := decodeErr.Position()
		return &Error{Line: line, Msg: typeMessage(decodeErr, reflect.TypeOf(v))}
	}
	return &Error{Msg: "invalid TOML: " + strings.TrimPrefix(err.Error(), "toml: ")}
}
