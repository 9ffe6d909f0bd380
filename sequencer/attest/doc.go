// Package attest verifies the PEP 740 attestations that PyPI serves for a
// file, so that the sequencer can write a "publisher <kind> <SAN>" line in
// the file's log entry only when a signature proves it.
//
// PyPI's Integrity API serves, per file, a provenance object: bundles of
// attestations, each bundle naming the Trusted Publisher (GitHub, GitLab or
// Google) that uploaded the file. The publisher object itself is not
// signed, so it proves nothing by itself. For every attestation of a file,
// Verify checks, against Sigstore's public-good trust root:
//
//   - the signing certificate chains to the Fulcio root, and (when the trust
//     root lists certificate transparency logs) carries a valid SCT;
//   - the attestation is in the Rekor transparency log (inclusion promise or
//     proof), and a time proven by the log (integrated time) or by a
//     timestamping authority lies within the certificate's ten-minute
//     validity: without such a proof anybody holding an expired key could
//     sign;
//   - the DSSE signature covers an in-toto v1 statement with exactly one
//     subject, whose name is the filename and whose sha256 is the file's
//     digest, so that an attestation for another file (or other bytes)
//     can't be replayed;
//   - the predicate type is PyPI's publish attestation (or the SLSA
//     provenance PyPI also accepts at upload, provided a publish attestation
//     is present too);
//   - the certificate identity (SAN and OIDC issuer) is the one the
//     publisher object names, following pypi-attestations' rules.
//
// Only then does Verify return the publisher, as the certificate's SAN. A
// provenance that fails any check is suspicious, not merely absent: its
// error wraps ErrInvalidAttestation and says which check failed. Parsing
// and verification do no I/O, so every error they return is of that kind.
//
// The trust root is a snapshot of Sigstore's public-good trusted root
// compiled into the binary; NewVerifier can refresh it through Sigstore's
// TUF repository and falls back to the snapshot, with a warning, when that
// fails.
package attest
