// Package lockfile reads Python lockfiles and returns the artifacts they pin,
// so that a client can check each pinned sha256 against the pysumdb log.
//
// # Formats
//
// The format is chosen from the file name by [DetectFormat], or, when the
// name doesn't say (poetry.lock-v1.1-2021, project__uv.lock), from the
// content by [DetectContentFormat] ([DetectFileFormat] does both); a caller
// may name it instead. A file neither tells is an error wrapping
// [ErrUnknownFormat].
//
//   - [Pylock]: pylock.toml and pylock.<name>.toml (PEP 751), lock-version
//     "1.0". Wheels and sdists give filenames; attestation-identities are kept
//     per artifact.
//   - [UV]: uv.lock, version 1 (any revision).
//   - [Poetry]: poetry.lock, lock-version "1.1" (hashes in [metadata.files]),
//     "2.0" and "2.1" (hashes in each package's files).
//   - [Pipfile]: Pipfile.lock (JSON), pipfile-spec 6: every package category
//     ("default", "develop" and any custom one). It names no files.
//   - [Requirements]: requirements*.txt and any other .txt, in pip's
//     requirements format with --hash options, -r/-c includes (read by
//     [ParseFile]), and index options. It names no files.
//
// Any other version of a known format is an error wrapping
// [ErrUnsupportedVersion]: a newer schema may move or reinterpret hashes, and
// a reader that guessed would check the wrong things. Malformed files give a
// [*ParseError] naming the file and, where it can be found, the line, and
// saying what is wrong in the file's own words: a value of the wrong type
// is named by its key, with the type found and the type wanted
// ("package.source is a string, want a table"), never by the Go types it
// is decoded into.
//
// # What is returned
//
// One [Artifact] per pinned file (formats with filenames) or per pinned hash
// (formats without). An artifact that cannot be checked against the log is
// still returned, with a non-empty Skip saying why; nothing is dropped
// silently. The rules for Skip:
//
//   - the package does not come from PyPI: a git/vcs, directory, editable,
//     local path, direct URL or virtual source, or an index other than
//     PyPI's, https://pypi.org/simple (test.pypi.org included: it is another
//     namespace). Where the lockfile names no index (a pylock.toml package
//     without one), the file's URL must be on PyPI's hosts; a Pipfile.lock
//     package without an index comes from the first of _meta.sources; a
//     requirements file's --index-url applies to all its files and
//     includes, as in pip;
//   - the file has no sha256 (only md5, sha384 or sha512, or no hash at all):
//     the log records sha256 only;
//   - the package lists no files at all (one artifact with an empty SHA256
//     stands for it);
//   - a requirements include that is a URL (it is not fetched).
//
// An artifact that is checked but about which the reader has a doubt carries
// a Warning. Two cases:
//
//   - A lockfile that gives one filename two different sha256 hashes has made
//     its filenames up (PyPI never reuses a filename): pipenv writes
//     pylock.toml this way, naming every hash of a package
//     <name>-<version>-py3-none-any.whl. Then none of that lockfile's
//     filenames is trusted: every artifact of the file loses its Filename and
//     is checked by project, version and hash, like a Pipfile.lock entry.
//   - A requirements file that also names a source other than PyPI
//     (--extra-index-url, --find-links, or --index-url beside a PyPI extra
//     index): a hash missing from the log may be a file of that source.
//     With --no-index, or an --index-url other than PyPI and no PyPI extra
//     index, its artifacts are skipped instead.
//
// Hashes are validated (64 hex digits, uppercase folded to lowercase) and
// project names are PEP 503 normalized; anything else is a [*ParseError].
// Artifact.Line is the line of the hash (for a requirement, of its --hash
// option), or of the package when there is no hash; for TOML and JSON
// formats it is found by searching the hash's text from where its package
// starts, since the decoders do not give positions of values.
//
// The package also provides PEP 440 version comparison ([EqualVersions])
// and the version of a distribution filename ([FilenameVersion]), which the
// client needs to match lockfile pins with the log.
package lockfile
