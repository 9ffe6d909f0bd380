package lockfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
)

type pipfileMeta struct {
	PipfileSpec any `json:"pipfile-spec"`
	Sources     []struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	} `json:"sources"`
}

type pipfilePackage struct {
	Hashes   []string `json:"hashes"`
	Version  string   `json:"version"`
	Index    string   `json:"index"`
	Git      string   `json:"git"`
	Path     string   `json:"path"`
	File     string   `json:"file"`
	Editable bool     `json:"editable"`
}

// pipfileEntry is one package of one category, with where it starts.
type pipfileEntry struct {
	name string
	pkg  pipfilePackage
	from int
}

// parsePipfile reads a Pipfile.lock token by token rather than into maps, to
// keep the packages in file order and know where each starts.
func parsePipfile(file string, data []byte) ([]Artifact, error) {
	r := &reader{file: file, text: newLocator(data)}
	dec := json.NewDecoder(bytes.NewReader(data))
	fail := func(err error) error { return r.jsonError(dec, err, 0, "the file", nil) }
	if err := expectObject(dec, "the file"); err != nil {
		return nil, fail(err)
	}
	var meta *pipfileMeta
	var entries []pipfileEntry
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		if key == "_meta" {
			start := int(dec.InputOffset())
			if err := dec.Decode(&meta); err != nil {
				return nil, r.jsonError(dec, err, start, "_meta", reflect.TypeFor[pipfileMeta]())
			}
			continue
		}
		// Every other key is a category of packages: "default",
		// "develop", or one of pipenv's custom categories.
		if err := expectObject(dec, fmt.Sprintf("category %q", key)); err != nil {
			return nil, fail(err)
		}
		for dec.More() {
			name, err := dec.Token()
			if err != nil {
				return nil, fail(err)
			}
			entry := pipfileEntry{name: fmt.Sprint(name), from: int(dec.InputOffset())}
			if err := dec.Decode(&entry.pkg); err != nil {
				return nil, r.jsonError(dec, err, entry.from, fmt.Sprintf("package %q", entry.name), reflect.TypeFor[pipfilePackage]())
			}
			entries = append(entries, entry)
		}
		if _, err := dec.Token(); err != nil { // the category's closing brace
			return nil, fail(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the file's closing brace
		return nil, fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail(errors.New("data after the JSON object"))
	}

	if meta == nil {
		return nil, &ParseError{File: file, Err: errors.New("no _meta")}
	}
	if meta.PipfileSpec != float64(6) {
		return nil, unsupportedVersion(file, "_meta.pipfile-spec", meta.PipfileSpec, "6")
	}
	sources := map[string]string{}
	for _, source := range meta.Sources {
		sources[source.Name] = source.URL
	}
	// A package without an index comes from the first source, pipenv's
	// default; with no sources at all, from PyPI.
	defaultIndex := "https://pypi.org/simple"
	if len(meta.Sources) > 0 {
		defaultIndex = meta.Sources[0].URL
	}
	for _, entry := range entries {
		if err := r.addPipfilePackage(entry, sources, defaultIndex); err != nil {
			return nil, err
		}
	}
	return r.artifacts, nil
}

func (r *reader) addPipfilePackage(entry pipfileEntry, sources map[string]string, defaultIndex string) error {
	line := r.text.line(entry.from)
	project, err := normalizeProject(r.file, line, entry.name)
	if err != nil {
		return err
	}
	pkg := entry.pkg
	base := Artifact{Project: project, Version: pinnedVersion(pkg.Version)}
	index := defaultIndex
	if pkg.Index != "" {
		var ok bool
		if index, ok = sources[pkg.Index]; !ok {
			return &ParseError{File: r.file, Line: r.text.find(`"`+pkg.Index+`"`, entry.from), Err: fmt.Errorf("package %s: index %q is not in _meta.sources", entry.name, pkg.Index)}
		}
	}
	switch {
	case pkg.Editable:
		base.Skip = "editable install: not a PyPI file"
	case pkg.Git != "":
		base.Skip = "git source: not a PyPI file"
	case pkg.File != "":
		base.Skip = "direct URL or file: not a PyPI file"
	case pkg.Path != "":
		base.Skip = "local path: not a PyPI file"
	case !isPyPIIndex(index):
		base.Skip = notPyPIIndex(index)
	}
	if len(pkg.Hashes) == 0 {
		if base.Skip == "" {
			base.Skip = "no hash"
		}
		return r.addFile(base, nil, entry.from, line)
	}
	for _, hash := range pkg.Hashes {
		if err := r.addHash(base, hash, entry.from, line); err != nil {
			return err
		}
	}
	return nil
}

// expectObject reads the next token and checks that it opens an object,
// the value named what.
func expectObject(dec *json.Decoder, what string) error {
	token, err := dec.Token()
	if err != nil {
		return err
	}
	if token != json.Delim('{') {
		return fmt.Errorf("%s is %s, want an object", what, describeToken(token))
	}
	return nil
}

// errTruncatedJSON is the error of a JSON lockfile that ends too soon.
var errTruncatedJSON = errors.New("truncated JSON: the file ends before the document does")

// jsonError places a JSON decoding error: at the offset the decoder gives,
// at the end for a truncated file, or else where the decoder stopped. A type
// error's offset counts from where Decode started, valueStart; it is told
// in the file's words, for the value named what, decoded into root.
func (r *reader) jsonError(dec *json.Decoder, err error, valueStart int, what string, root reflect.Type) error {
	offset := int(dec.InputOffset())
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		offset = int(syntaxErr.Offset)
	case errors.As(err, &typeErr):
		offset = valueStart + int(typeErr.Offset)
	case isTruncated(err):
		offset = len(r.text.lower)
		err = errTruncatedJSON
	}
	if root != nil || syntaxErr != nil {
		err = jsonMessage(err, what, root)
	}
	return &ParseError{File: r.file, Line: r.text.line(offset), Err: err}
}
