// Package tomlconfig decodes pysumdb's TOML configuration files strictly:
// a key the configuration doesn't know is an error naming it and its
// line, as is a syntax error, so that a typo never silently drops a
// setting (a witness, a quorum).
package tomlconfig

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Decode decodes data into v, refusing unknown keys. Its errors say where
// ("line 3: unknown key log.url").
func Decode(data []byte, v any) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var strict *toml.StrictMissingError
	var syntax *toml.DecodeError
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
	case errors.As(err, &syntax):
		line, _ := syntax.Position()
		return fmt.Errorf("line %d: %v", line, err)
	default:
		return err
	}
}
