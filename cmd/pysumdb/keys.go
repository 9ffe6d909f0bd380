package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/tiles"
)

// readVerifierKey accepts a verifier key or the path of a file holding one.
func readVerifierKey(arg string) (string, error) {
	return readKeyArg("--vkey", "verifier key", arg, func(vkey string) error {
		if tiles.IsCosignatureKey(vkey) {
			return errors.New("it is a witness's cosignature key, not a log's verifier key: give it with --witness")
		}
		_, err := note.NewVerifier(vkey)
		return err
	})
}

// readWitnessKey accepts a witness's cosignature verifier key or the path
// of a file holding one.
func readWitnessKey(arg string) (string, error) {
	return readKeyArg("--witness", "witness key", arg, func(vkey string) error {
		if _, err := note.NewVerifier(vkey); err == nil {
			return errors.New("it is a log's verifier key, not a witness's cosignature key (`pysumdb witness vkey` prints that)")
		}
		_, err := tiles.NewCosignatureVerifier(vkey)
		return err
	})
}

// readKeyArg accepts, for flag, a key (what) that check accepts or the path
// of a file holding one.
func readKeyArg(flag, what, arg string, check func(string) error) (string, error) {
	keyErr := check(arg)
	if keyErr == nil {
		return arg, nil
	}
	data, _, err := bounded.ReadFile(arg, tiles.MaxKeySize)
	if err != nil {
		if _, statErr := os.Stat(arg); errors.Is(statErr, fs.ErrNotExist) && strings.Count(arg, "+") >= 2 {
			// A key, not a path: say what is wrong with it.
			return "", usagef("%s %q is not a %s: %v", flag, arg, what, keyErr)
		}
		return "", usagef("%s %q is neither a %s nor a readable file", flag, arg, what)
	}
	vkey := strings.TrimSpace(string(data))
	if err := check(vkey); err != nil {
		return "", usagef("%s: %s does not hold a %s: %v", flag, arg, what, err)
	}
	return vkey, nil
}
