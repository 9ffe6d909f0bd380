package tiles

import (
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Bounds on the size of a log's objects, in bytes. A reader refuses an
// object larger than its bound before it has read more than the bound:
// whatever a server (or a file) serves, a client never holds more than this
// in memory for one object. The bounds are format rules, not tuning: a log
// that follows this package never publishes a larger object, so an honest
// log is always readable; raising one only costs memory.
const (
	// MaxHashTileSize is a full hash tile: 256 hashes of 32 bytes. A
	// partial tile of width W is exactly W*32 bytes.
	MaxHashTileSize = TileWidth * tlog.HashSize

	// MaxBundleSize is the largest full entry bundle the format allows:
	// 256 entries of MaxEntrySize bytes, each after its 2-byte length,
	// some 16 MiB. A partial bundle of width W is bounded by W entries.
	// Real entries are far smaller (a filename of at most MaxFilenameLen
	// bytes and a publisher SAN, a URL or an email: under 2 KiB, so
	// bundles under 512 KiB), but the bound is what FormatEntry and
	// EncodeBundle accept, so that no entry a sequencer logged can make
	// its bundle unreadable. Lowering MaxEntrySize lowers it.
	MaxBundleSize = TileWidth * (2 + MaxEntrySize)

	// MaxCheckpointSize bounds a signed checkpoint: a body of three short
	// lines and at most 100 signature lines (the most note.Open accepts),
	// the log's and witnesses' cosignatures, each about 150 bytes with
	// the key name. 64 KiB leaves room for long witness names.
	MaxCheckpointSize = 64 << 10

	// MaxIndexSize bounds a project index: a header and one line per file
	// of the project, about 150 bytes a line (at most about 1,200 with a
	// filename of MaxFilenameLen bytes). PyPI's largest projects have on
	// the order of 100,000 files, some 15 MB; 64 MiB leaves four times
	// that. A project that ever outgrows it needs a sharded index.
	MaxIndexSize = 64 << 20

	// MaxListSize bounds a shard of the project list (projects/<shard>,
	// one name a line: the largest two-letter shard of PyPI's 600,000
	// projects holds some tens of thousands of names, under 1 MB) and a
	// filename note (filenames/<home>, the few files logged under a
	// project their filename does not name, about 100 bytes a line).
	MaxListSize = 16 << 20

	// MaxKeySize bounds the verifier key file, one line of about 100
	// bytes.
	MaxKeySize = 4 << 10

	// MaxStateSize bounds an object under StatePrefix, the sequencer's
	// state beside the log (not one of the log's objects; a mirror copies
	// it from a store the operator controls). A staged batch holds a line
	// of about 250 bytes per record, 25 MB at the default batch size: 1 GiB
	// is some four million records, and the sequencer refuses to stage a
	// larger batch.
	MaxStateSize = 1 << 30

	// MaxWebSize bounds a file of the web page under WebPrefix: the
	// largest is the verifier compiled to WebAssembly, about 8 MB.
	MaxWebSize = 32 << 20

	// MaxOtherSize bounds any other object, such as an alarm (a small
	// JSON document).
	MaxOtherSize = 1 << 20
)

// StatePrefix is where the sequencer keeps its state beside the log.
const StatePrefix = "sequencer/"

// WebPrefix is where the log's web page is published beside it.
const WebPrefix = "web/"

// MaxObjectSize returns the largest size a valid object at key can have
// (see the constants above). For a tile or bundle it is computed from the
// width in the path: W*32 bytes for a hash tile, W*(2+MaxEntrySize) for an
// entry bundle, W*MaxProofSize for the proofs of a bundle's entries; a key
// that is not a valid tile or proof path gets MaxOtherSize.
func MaxObjectSize(key string) int64 {
	switch {
	case key == CheckpointKey:
		return MaxCheckpointSize
	case key == KeyKey:
		return MaxKeySize
	case strings.HasPrefix(key, TilePrefix):
		t, err := ParseTilePath(key)
		if err != nil {
			return MaxOtherSize
		}
		if t.L == -1 {
			return int64(t.W) * (2 + MaxEntrySize)
		}
		return int64(t.W) * tlog.HashSize
	case strings.HasPrefix(key, ProofPrefix):
		t, err := ParseProofBundleKey(key)
		if err != nil {
			return MaxOtherSize
		}
		return int64(t.W) * MaxProofSize
	case strings.HasPrefix(key, IndexPrefix):
		return MaxIndexSize
	case strings.HasPrefix(key, ProjectListPrefix), strings.HasPrefix(key, FilenamesPrefix):
		return MaxListSize
	case strings.HasPrefix(key, StatePrefix):
		return MaxStateSize
	case strings.HasPrefix(key, WebPrefix):
		return MaxWebSize
	}
	return MaxOtherSize
}
