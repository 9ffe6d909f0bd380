//go:build !pysumdb_client

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pysumdb/pysumdb/internal/kmssigner"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/tiles"
)

// keyFlagHelp is the help of the --key flag of the commands that sign for
// a log.
const keyFlagHelp = "the log's private key file (from keygen), or a Cloud KMS key version: kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N?origin=ORIGIN"

// kmsKeyHelp explains --key kms://... in the long help of those commands.
const kmsKeyHelp = `--key takes the private key file keygen wrote, or a Cloud KMS Ed25519 key
version, kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/
cryptoKeyVersions/N?origin=ORIGIN, whose private key never leaves KMS:
each signature is asked of KMS (Application Default Credentials, with the
role roles/cloudkms.signerVerifier on the key) and verified here with the
key version's public key before it is used. ORIGIN is the log's origin,
the name of its key ('pysumdb keygen --kms' prints the verifier key).`

// kmsTimeout bounds reading a KMS key version's public key at start, and
// each signature (retries included).
var kmsTimeout = 30 * time.Second

// logKey is the log's signing key as --key gives it: a private key file,
// or a Cloud KMS key version.
type logKey struct {
	// skey is the private key of a key file; "" for a KMS key.
	skey string
	// signer signs with a KMS key; nil for a key file.
	signer *kmssigner.Signer
	// vkey is the verifier key.
	vkey string
	// closeKMS closes the connection to KMS; nil for a key file.
	closeKMS func() error
}

// close releases what the key holds (the connection to KMS).
func (k logKey) close() {
	if k.closeKMS != nil {
		k.closeKMS()
	}
}

// readLogKey reads the key --key names (arg): a key file (readSignerKey)
// or a kms:// URL, whose public key it reads from KMS under ctx.
func readLogKey(ctx context.Context, arg string, stderr io.Writer) (logKey, error) {
	if !kmssigner.IsURL(arg) {
		skey, err := readSignerKey(arg, stderr)
		if err != nil {
			return logKey{}, err
		}
		vkey, err := tiles.VerifierKey(skey)
		if err != nil {
			return logKey{}, usagef("%s: %v", arg, err)
		}
		return logKey{skey: skey, vkey: vkey}, nil
	}
	u, err := kmssigner.ParseURL(arg)
	if err != nil {
		return logKey{}, usagef("--key: %v", err)
	}
	signer, closeKMS, err := openKMSKey(ctx, u)
	if err != nil {
		return logKey{}, err
	}
	return logKey{signer: signer, vkey: signer.VerifierKey(), closeKMS: closeKMS}, nil
}

// openKMSKey checks u's origin and opens its KMS key version. A URL or a
// key that can't be the log's is a usage error; KMS that can't be reached
// or refuses is a failure.
func openKMSKey(ctx context.Context, u kmssigner.KeyURL) (*kmssigner.Signer, func() error, error) {
	if u.Origin == "" {
		return nil, nil, usageError{kmssigner.ErrNoOrigin}
	}
	if err := tiles.CheckOrigin(u.Origin); err != nil {
		return nil, nil, usagef("the origin of the key URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, kmsTimeout)
	defer cancel()
	signer, closeKMS, err := kmssigner.Open(ctx, u)
	if errors.Is(err, kmssigner.ErrNotEd25519) {
		return nil, nil, usageError{err}
	}
	if err != nil {
		return nil, nil, err
	}
	signer.Timeout = kmsTimeout
	return signer, closeKMS, nil
}

// configure sets the sequencer's key.
func (k logKey) configure(cfg *sequencer.Config) {
	if k.signer != nil {
		cfg.Signer, cfg.VerifierKey = k.signer, k.vkey
		return
	}
	cfg.Key = k.skey
}

// kmsVerifierKey is keygen --kms: the verifier key of the key version
// keyURL names, with the origin of the URL or origin (not both, unless
// they agree).
func kmsVerifierKey(ctx context.Context, keyURL, origin string, stderr io.Writer) (string, error) {
	u, err := kmssigner.ParseURL(keyURL)
	if err != nil {
		return "", usagef("--kms: %v", err)
	}
	switch {
	case u.Origin == "":
		u.Origin = origin
	case origin != "" && origin != u.Origin:
		return "", usagef("--origin %s and the origin of the key URL, %s, differ: give one", origin, u.Origin)
	}
	signer, closeKMS, err := openKMSKey(ctx, u)
	if err != nil {
		return "", err
	}
	defer closeKMS()
	fmt.Fprintf(stderr, "pysumdb: %s is an Ed25519 key (protection level %s); sign with --key %s\n",
		signer.KeyVersion(), signer.ProtectionLevel(), shellQuote(u.String()))
	return signer.VerifierKey(), nil
}
