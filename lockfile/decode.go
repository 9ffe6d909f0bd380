package lockfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/pysumdb/pysumdb/internal/tomlconfig"
)

// The decoders of TOML and JSON report a value of the wrong type in Go's
// words ("cannot decode TOML string into struct field
// lockfile.uvPackage.Source of type map[string]interface {}", "Go value of
// type lockfile.pipfilePackage"). A user knows their lockfile, not this
// package's structs: the functions here say the same in the file's words,
// the key and what it should be ("package.source is a string, want a
// table"), with the line. TOML goes through internal/tomlconfig, as
// pysumdb's own configuration files do.

// decodeTOML decodes a TOML document into v, with the line of any error
// and, for a value of the wrong type, its key and the type wanted.
func decodeTOML(file string, data []byte, v any) error {
	err := tomlconfig.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var tomlErr *tomlconfig.Error
	if errors.As(err, &tomlErr) {
		return &ParseError{File: file, Line: tomlErr.Line, Err: errors.New(tomlErr.Msg)}
	}
	return &ParseError{File: file, Err: err}
}

// jsonMessage says what a JSON decoding error of the value named what
// (such as `package "foo"`), decoded into a value of type root, means.
func jsonMessage(err error, what string, root reflect.Type) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("invalid JSON: %s", syntaxErr.Error())
	case errors.As(err, &typeErr):
		found := jsonKind(typeErr.Value)
		want := tomlconfig.DescribeType(typeErr.Type.String(), "object")
		if typeErr.Field == "" {
			return fmt.Errorf("%s is %s, want %s", what, found, want)
		}
		part := ""
		if declared, ok := jsonFieldType(root, strings.Split(typeErr.Field, ".")); ok {
			part = tomlconfig.ElementOf(declared, typeErr.Type.String())
		}
		if part != "" {
			return fmt.Errorf("%s: %q: %s is %s, want %s", what, typeErr.Field, part, found, want)
		}
		return fmt.Errorf("%s: %q is %s, want %s", what, typeErr.Field, found, want)
	}
	return err
}

// jsonKind names the kind of JSON value encoding/json reports in an
// UnmarshalTypeError ("string", "number", "number 1.5", "bool", ...).
func jsonKind(value string) string {
	kind, _, _ := strings.Cut(value, " ")
	switch kind {
	case "bool":
		return "true or false"
	case "":
		return "a value of another type"
	}
	return tomlconfig.Article(kind)
}

// jsonFieldType returns the declared type of the field at path (JSON
// names, through arrays) in root.
func jsonFieldType(root reflect.Type, path []string) (reflect.Type, bool) {
	t := root
	if t == nil {
		return nil, false
	}
	for _, name := range path {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		found := false
		for i := range t.NumField() {
			if f := t.Field(i); strings.EqualFold(tomlconfig.TagName(f, "json"), name) {
				t, found = f.Type, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return t, true
}

// describeToken names a JSON token as a user sees it.
func describeToken(token json.Token) string {
	switch t := token.(type) {
	case json.Delim:
		switch t {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "true or false"
	case nil:
		return "null"
	}
	return fmt.Sprint(token)
}

// isTruncated reports whether a JSON decoding error is the end of the
// input.
func isTruncated(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
