// Package pypi is the PyPI side of ingest: a [Client] for the index's
// protocols and a [Source] that turns the index into batches of files for
// the sequencer, with a resumable [Cursor].
//
// # Protocols
//
// The Simple API, JSON form (PEP 691, with the PEP 700 fields), requested
// with "Accept: application/vnd.pypi.simple.v1+json":
//
//   - GET /simple/ lists every project, with its display name and the
//     serial of its last change ("_last-serial"), and the list's own serial
//     in meta; the list shows the index as of that serial.
//   - GET /simple/<project>/ lists a project's current files: filename,
//     hashes.sha256, size, upload-time, provenance; meta._last-serial (or
//     the X-PyPI-Last-Serial header) says as of which serial. Names that
//     are not normalized are redirected to the normalized URL.
//
// Answers are revalidated with ETag and If-None-Match where the client
// still holds them. Every answer is validated strictly: a file without a
// 64-hex-digit sha256, with a bad filename or a negative size, a project
// name that doesn't normalize, JSON that doesn't parse, the wrong media
// type (HTML, when the Accept header was lost) all fail with
// [ErrMalformed], and the project concerned is read again on the next
// run, never skipped. Digests are lowercased; upload times are kept in RFC
// 3339 UTC ("Z"), "-" when PyPI has none.
//
// The XML-RPC API at /pypi gives the changelog: changelog_last_serial()
// is the serial of the last change, changelog_since_serial(s) the changes
// after s as [name, version, timestamp, action, serial], capped per answer
// (50000 rows on PyPI), so the client asks again from the last serial it
// got. [Client.SerialAt] finds the serial of a time by bisecting
// changelog_since_serial (PyPI answers changelog(since), which took a
// time, with an error now). PyPI has deprecated parts of XML-RPC: when a
// call is refused ([ErrXMLRPCUnavailable]), the Source follows the per-project serials of
// the project list instead, which costs one list download per batch
// (~50 MB on PyPI) but no state: a project changed since serial S is one
// whose _last-serial is above S.
//
// Provenance objects (PEP 740, the Integrity API) are fetched from the URL
// of the file's provenance field ([Client.Provenance]).
//
// Requests carry a User-Agent naming pysumdb, are limited per second, and
// are retried with exponential backoff and jitter on 429, 5xx, timeouts,
// connection errors and truncated bodies, waiting as long as Retry-After
// says when it is given.
//
// # Batches and the cursor
//
// A fresh Source first backfills: it reads the project list, records its
// serial, and reads every project in order of normalized name, a batch of
// roughly maxFiles files at a time; the cursor holds the next project, so a
// backfill interrupted anywhere resumes where its last stored cursor
// stands. Then it follows: each batch reads the projects changed since the
// cursor's serial. A batch returns all current files of each project read;
// the sequencer dedupes them against the log by filename, and raises the
// alarm when a known filename comes back with another digest or size.
// Deletions never produce anything: the log is append-only.
//
// The cursor never passes a change it doesn't cover. A project page whose
// serial is older than the change announced for it (a lagging CDN) is
// fetched again a few times; if it stays stale, or the page fails
// validation or can't be fetched, the project goes into Cursor.Pending
// with the serial its page must reach, and is read first by the next
// batches. Only projects that PyPI says are gone (404, or "remove project"
// in the changelog) are skipped, with a warning, and counted. If many
// projects fail in a row ([ErrUnavailable]), or the context ends, Next
// returns an error and the stored cursor stays where it was.
package pypi
