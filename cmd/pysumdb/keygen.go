//go:build !pysumdb_client

package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/tiles"
)

func newKeygenCommand(g *globals) *cobra.Command {
	var origin, out, kmsURL string
	c := &cobra.Command{
		Use:   "keygen --origin ORIGIN --out KEYFILE | --kms KMS_KEY_URL",
		Short: "Create a log's private signing key and print its verifier key",
		Long: `keygen creates the Ed25519 note key that signs a log's checkpoints and
project indexes. ORIGIN names the log (for example pysumdb.example.org/log);
it is the first line of every checkpoint and the key's name. The private key
is written to KEYFILE with mode 0600 (an existing file is never
overwritten); the verifier key, which clients pin, is printed.

--kms kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/
cryptoKeyVersions/N?origin=ORIGIN prints the verifier key of a Cloud KMS
Ed25519 key version instead (made with gcloud kms keys create --purpose
asymmetric-signing --default-algorithm ec-sign-ed25519), from its public
key, and writes nothing: the private key stays in KMS, and sequence and run
sign with it given as --key with the same URL. The origin is the URL's, or
--origin's.`,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if kmsURL != "" {
				if out != "" {
					return usagef("--kms writes no key file: the private key stays in KMS (drop --out)")
				}
				vkey, err := kmsVerifierKey(c.Context(), kmsURL, origin, g.stderr)
				if err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, vkey)
				return nil
			}
			if err := requireFlags(c, "origin", "out"); err != nil {
				return err
			}
			if err := tiles.CheckOrigin(origin); err != nil {
				return usageError{err}
			}
			skey, vkey, err := note.GenerateKey(rand.Reader, origin)
			if err != nil {
				return err
			}
			if err := writeKeyFile(out, skey); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, vkey)
			return nil
		},
	}
	c.Flags().StringVar(&origin, "origin", "", "the log's origin, e.g. pysumdb.example.org/log")
	c.Flags().StringVar(&out, "out", "", "file to write the private key to (mode 0600)")
	c.Flags().StringVar(&kmsURL, "kms", "", "print the verifier key of this Cloud KMS key version (kms://...?origin=ORIGIN) instead")
	return c
}

// readSignerKey reads a private key file written by keygen. A key file
// that its group or others may read (keygen writes 0600) is still used, as
// refusing would stop a running log, but with a warning on stderr saying
// what to run.
func readSignerKey(path string, stderr io.Writer) (string, error) {
	// A key file is one line of about a hundred bytes.
	data, info, err := bounded.ReadFile(path, 64<<10)
	switch {
	case errors.Is(err, bounded.ErrNotRegular):
		return "", usagef("key file %s is not a regular file", path)
	case err != nil:
		return "", usagef("couldn't read key file: %v", err)
	}
	skey := strings.TrimSpace(string(data))
	if _, err := note.NewSigner(skey); err != nil {
		return "", usagef("%s is not a private note key: %v", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "pysumdb: WARNING: private key file %s has mode %04o: others on this machine may read the log's signing key; run: chmod 600 %s\n",
			path, info.Mode().Perm(), shellQuote(path))
	}
	return skey, nil
}

// shellQuote quotes s for a POSIX shell if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+=:@%,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
