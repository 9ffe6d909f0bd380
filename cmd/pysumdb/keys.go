package main

import (
	"errors"
	"fmt"
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

// writeKeyFile writes a private key to the new file out (mode 0600), and
// syncs it: an existing file is a usage error, never overwritten, and a
// file that could not be written whole is removed.
func writeKeyFile(out, skey string) error {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return usagef("%s exists; refusing to overwrite a key", out)
	}
	if err != nil {
		return fmt.Errorf("couldn't create key file: %w", err)
	}
	_, err = fmt.Fprintln(f, skey)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("couldn't write key file: %w", err)
	}
	return nil
}
