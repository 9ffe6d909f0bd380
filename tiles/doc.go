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
//	proof/<N>                       tlog-proof of entry N, C2SP tlog-proof
//	index/<project>                 signed note, project index (ours)
//	projects/<shard>                signed note, project list shard (ours)
//	filenames/<home>                signed note, filename note (ours)
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
// # Proof of an entry
//
// For every entry it logs, the sequencer writes a C2SP tlog-proof. The
// proofs of an entry bundle's entries are one object, beside the bundle:
// proof/<N>[.p/<W>] for tile/entries/<N>[.p/<W>] ([ProofBundleKey]),
// written by the batch that writes the bundle, the W proofs one after the
// other in leaf order ([SplitProofBundle]). Each is
//
//	c2sp.org/tlog-proof@v1
//	extra <base64 of the entry>
//	index <N>
//	<base64 hash>                   inclusion proof, from the leaf's sibling up
//	...
//
//	<checkpoint of the batch that wrote the object, signed by the log only>
//
// A proof ends with its checkpoint's signature lines; the next starts with
// the header line. The extra data is the entry itself, so that a proof is
// self-contained: its verifier hashes it into the leaf hash, and shows the
// filename and sha256 it proves. All the proofs of one object are against
// one checkpoint, that of the batch that wrote it: the entries a bundle
// holds from earlier batches are proven again when a later batch fills
// it (their first proofs stay in the partial bundle's object). The
// checkpoint carries no cosignature (they hold the witnesses' clocks), so
// a replayed batch writes the same bytes, and the object is immutable like
// a tile. One object per bundle rather than per entry: a batch writes
// 1/256 more objects, not 25 times as many. Clients write single proofs
// of the same format against their latest verified checkpoint,
// cosignatures included ([FormatTlogProof], [OpenTlogProof]). A proof is
// at most [MaxProofSize], the proofs of a bundle of width W at most W
// times that.
//
// # Project index
//
// For lookups without a server, each project has a signed note (same key)
// whose text is:
//
//	<origin>
//	project <normalized project name>
//	size <tree size the index covers>
//	<leaf index> <filename> sha256:<hex> <size> <upload-time>[ claimed <kind> <value>]
//	...
//
// one line per logged file of the project, in leaf index order, every leaf
// index below the covered size. The claimant, when present, is who claimed
// the file with these bytes before the log found it on PyPI ([Claimant],
// [CheckClaimant]: key <verifier key>, github <workflow URL>, gitlab
// <configuration URL>). upload-time is RFC 3339 UTC
// ("2024-01-02T03:04:05Z", fractional seconds allowed) or "-" when PyPI has
// none. The second line can never parse as a tree size, so a project index
// can't be mistaken for a checkpoint. A client reads the index, then proves
// each entry by inclusion proof against a checkpoint; lines at or beyond the
// size of the checkpoint it verified are "not yet provable".
//
// Project names are normalized as PEP 503 says ([NormalizeProject]).
//
// # Project list
//
// An entry names a file, not its project, and PyPI does not always name a
// file after its project. So that an auditor finds every project index
// without guessing project names from filenames, the log publishes the
// list of the projects that have one, in shards (same key):
//
//	<origin>
//	projects <shard>
//	size <tree size the shard covers>
//	<normalized project name>
//	...
//
// one line per project of the shard with a logged file below the covered
// size, each once, in increasing byte order. The shard of a project is
// its first two characters, or the whole name if it has one
// ([ProjectShard]): one lowercase ASCII letter or digit, then nothing,
// "-", or a letter or digit. [ProjectShards] lists the 1368 (36 times 38)
// shards in byte order, so that a reader that can't list objects (over
// HTTP) tries them all; a shard with no project may be absent, and reads
// as empty. Shards are signed one by one and each covers its own size.
// Sharding keeps what a batch rewrites below the whole list: only the
// shards of the projects it adds.
//
// # Filename notes
//
// The sequencer must not log a file twice, so it must find whether the
// log holds a filename, and under which project, from the filename alone:
// PyPI may report a file under a project its filename does not name (a
// legacy upload, a renamed project), and reading every index would cost
// in proportion to the log. So a filename gives candidate projects by its
// form ([FilenameProjects]), in order:
//
//   - if the filename holds no "-", the whole filename;
//   - else, if it ends in ".whl" or ".egg" (whose project names never
//     hold a "-"), the text before its first "-";
//   - else the text before each of its "-", shortest first;
//
// each normalized, those that are not valid project names left out, the
// first [MaxFilenameProjects] kept. "foo_bar-1.0-py3-none-any.whl" gives
// foo-bar; "django-foo-1.2.tar.gz" gives django and django-foo;
// "a-b-c-d-e-f-1.0.tar.gz" gives a, a-b, a-b-c, a-b-c-d and a-b-c-d-e;
// "_private-1.0.tar.gz" gives none. A filename's home ([FilenameHome]) is
// its first candidate, or "_" if it has none ("_" is no normalized name).
// A file logged under a project that is not among its candidates is
// listed in the filename note of its home, at filenames/<home> (same
// key):
//
//	<origin>
//	filenames <home>
//	size <tree size the note covers>
//	<leaf index> <filename> <normalized project name>
//	...
//
// one line per such file with a leaf index below the covered size, in
// leaf index order; every filename listed has home <home>, and a file
// whose project is among its candidates is never listed
// ([IsListedFilename]). The file's digest, size and upload time are in the
// index of its project. So for each filename of a batch, the sequencer
// reads the indexes of at most MaxFilenameProjects candidates and of the
// project PyPI reports, and one filename note: a cost per batch that
// grows with the batch, not with the log. The candidates are part of the
// format: changing their rule, or MaxFilenameProjects, moves files between
// notes.
//
// The second lines "project <name>", "projects <shard>" and
// "filenames <home>" tell the signed notes of a log apart, and none can
// parse as a tree size, so none can be taken for a checkpoint.
package tiles
