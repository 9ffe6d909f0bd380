// Package tiles is the format specification of a pysumdb log, as code.
//
// It is pure, like golang.org/x/mod/sumdb/tlog and note: no I/O, no
// context, standard library and x/mod only. Every object a pysumdb log
// publishes is produced and parsed here; everything else (where the bytes
// live, how they travel) is elsewhere.
//
// # Objects
//
// A log is a set of static objects, addressed by slash-separated keys
// relative to the log's base URL (or the store's root):
//
//	checkpoint                      signed note, C2SP tlog-checkpoint
//	tile/<L>/<N>[.p/<W>]            hash tile, C2SP tlog-tiles, height 8
//	tile/entries/<N>[.p/<W>]        entry bundle, C2SP tlog-tiles
//	index/<project>                 signed note, project index (ours)
//	.well-known/bt/tlog-key         the log's note verifier key
//
// <N> is written in groups of three decimal digits, every group but the
// last prefixed by "x" (1234067 is x001/x234/067). A partial tile holds
// <W> < 256 hashes or entries; its content never changes either, so every
// tile and bundle object is immutable.
//
// # Entry
//
// One entry per file published on PyPI, in the text serialization of the
// draft PEP "Index support for auditable package distribution". Lines end
// in LF, fields are separated by one space:
//
//	pypi-transparency/v1
//	sha256:<64 lowercase hex digits>
//	<filename>
//	publisher <kind> <SAN>
//
// The publisher line is optional; it is written only when a PEP 740
// attestation proved it. kind is one of github, gitlab, google. Parsing is
// strict: anything else is rejected (see [ParseEntry]). The leaf hash of an
// entry is RFC 6962's SHA-256(0x00 || entry), [tlog.RecordHash].
//
// # Entry bundle
//
// The entries of one tile, each as a big-endian uint16 length followed by
// that many bytes, concatenated, as C2SP tlog-tiles defines.
//
// # Checkpoint
//
// A C2SP tlog-checkpoint: a signed note whose text is the origin line, the
// tree size in decimal and the base64 root hash, each ending in LF. The
// note key's name is the origin. Witness cosignatures may follow as extra
// signature lines. [tlog.FormatTree] writes Go's own origin, so the body is
// formatted and parsed here instead.
//
// # Project index
//
// For lookups without a server, each project has a signed note (same key)
// whose text is:
//
//	<origin>
//	project <normalized project name>
//	size <tree size the index covers>
//	<leaf index> <filename> sha256:<hex> <size> <upload-time>
//	...
//
// one line per logged file of the project, in leaf index order, every leaf
// index below the covered size. upload-time is RFC 3339 UTC
// ("2024-01-02T03:04:05Z", fractional seconds allowed) or "-" when PyPI has
// none. The second line can never parse as a tree size, so a project index
// can't be mistaken for a checkpoint. A client reads the index, then proves
// each entry by inclusion proof against a checkpoint; lines at or beyond the
// size of the checkpoint it verified are "not yet provable".
//
// Project names are normalized as PEP 503 says ([NormalizeProject]).
package tiles
