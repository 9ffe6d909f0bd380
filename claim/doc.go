// Package claim is the format specification of maintainers' claims, as
// code: the statement a project's maintainer makes, beside uploading to
// PyPI, that these are the sha256 and size of these files, which a
// pysumdb log compares with what PyPI serves when it logs them.
//
// Like package tiles it is pure: no I/O, standard library, x/mod and tiles
// only. Package intake receives claims over HTTP, verifies them and stores
// them; this package formats, parses, signs and checks.
//
// # Claim
//
// A claim text, each line ending in LF, printable ASCII only:
//
//	pysumdb-claim/v1
//	project <normalized project name (PEP 503)>
//	time <RFC 3339 UTC, whole seconds: 2026-11-28T05:00:00Z>
//	<filename> sha256:<64 lowercase hex digits> <size in bytes>
//	...
//
// 1 to [MaxFiles] file lines, sorted by filename (byte order) without
// duplicates; each filename a wheel or an sdist (.tar.gz, .zip) of the
// project ([CheckFile]), each size a decimal integer of at least 1 without
// leading zeros. Parsing is strict: anything else is rejected ([Parse]).
// A claim's identifier is the SHA-256 of its text ([ID]).
//
// A claim is made by the project's claim identity ([Identity]), in one of
// two ways:
//
//   - key: the text is a signed note (golang.org/x/mod/sumdb/note) signed
//     by the identity's Ed25519 note key and by no other ([Sign], [Open]).
//     The identity is "key <verifier key>" (name+hash+key). A claim as
//     sent, text and signatures, is at most [MaxSize] (256 KiB).
//   - OIDC: the text alone, sent with an OIDC token (a JWT) of a CI
//     workflow, issued for the intake's audience by an issuer it trusts
//     (GitHub Actions, GitLab CI). The identity is "github
//     https://github.com/<job_workflow_ref>" or "gitlab
//     https://<ci_config_ref_uri>", the Subject Alternative Names PEP 740
//     and Fulcio give these workflows, without their "@<ref>" (a release's
//     tag changes the ref; the workflow that may claim stays, as PyPI's
//     trusted publishers match a repository and a workflow)
//     ([OIDCIdentity]).
//
// # Identity change
//
// A project's identity is registered by its first accepted claim (trust
// on first use) and replaced only by a change, made by the current
// identity:
//
//	pysumdb-identity/v1
//	project <normalized project name>
//	time <RFC 3339 UTC>
//	old <kind> <value>
//	new <kind> <value>
//
// signed by old's key if old is a key, or sent with an OIDC token of old's
// workflow; and signed by new's key too if new is a key, so that no one
// locks a project with a key they don't hold ([Change.SignerKeys]). No
// other signature is allowed. The time must be later than the claim or
// change that registered old, so that an old change can't be replayed
// once the identity has moved on. A change is at most [MaxChangeSize].
//
// # Records
//
// An intake stores what it accepted as records, with their evidence, so
// that anyone can check them again (object keys in tiles.ClaimsPrefix):
//
//	pysumdb-claim-record/v1        pysumdb-identity-record/v1
//	project <project>              project <project>
//	registration <n>               index <n>
//	identity <kind> <value>        identity <kind> <value>
//	received <RFC 3339 UTC>        received <RFC 3339 UTC>
//	issuer <URL>        \
//	audience <audience>  | only for a request made with an OIDC token
//	jwk <JSON>           |
//	token <JWT>         /
//	<empty line>
//	<the request body as received: signed note, or text>
//
// A claim record (at claims/<project>/claim/<ID of the claim text>) holds
// the claim and the identity that made it, which the project's identity
// record <registration> registered. Identity record 1 (at
// claims/<project>/identity/00000001) holds the project's first claim and
// registers the identity that made it; record n > 1 holds a change from
// record n-1's identity to its own ([CheckIdentityRecord]). So the chain
// of a project's identities, and every claim, can be replayed from the
// store alone: signatures by keys are checked with the keys the records
// name, tokens with the issuer's key (jwk) the intake used, which was the
// issuer's at the time (published at its jwks_uri; the record alone can't
// prove that part). "received" is the intake's clock, for information.
//
// Each file of an accepted claim is also fixed by a create-only object
// claims/<project>/file/<filename> holding "sha256:<hex> <size>"
// ([FormatFileMarker]): a filename is claimed once, with one content,
// across claims.
package claim
