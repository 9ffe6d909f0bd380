package tiles

import (
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is the height of every tile: 256 hashes or entries.
const TileHeight = 8

// TileWidth is the number of hashes (or entries) in a full tile.
const TileWidth = 1 << TileHeight

// Object keys of the mutable and discovery objects.
const (
	CheckpointKey = "checkpoint"
	KeyKey        = ".well-known/bt/tlog-key"
	IndexPrefix   = "index/"
	TilePrefix    = "tile/"
)

// TilePath returns the C2SP path of t: tile/<L>/<N>[.p/<W>] for hash tiles
// and tile/entries/<N>[.p/<W>] for entry bundles (t.L == -1). t.H must be
// TileHeight.
func TilePath(t tlog.Tile) string {
	// Go's tile paths are tile/<H>/<L|data>/<N>[.p/<W>] with the same
	// encoding of N and W; C2SP drops the height and says "entries".
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	if strings.HasPrefix(p, "data/") {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return TilePrefix + p
}

// ParseTilePath is the inverse of TilePath. It rejects anything TilePath
// would not produce, so a path maps to exactly one tile.
func ParseTilePath(path string) (tlog.Tile, error) {
	rest, ok := strings.CutPrefix(path, TilePrefix)
	if !ok {
		return tlog.Tile{}, malformed("tile path %q", path)
	}
	if e, ok := strings.CutPrefix(rest, "entries/"); ok {
		rest = "data/" + e
	} else if strings.HasPrefix(rest, "data/") {
		return tlog.Tile{}, malformed("tile path %q", path)
	}
	t, err := tlog.ParseTilePath("tile/8/" + rest)
	if err != nil || TilePath(t) != path {
		return tlog.Tile{}, malformed("tile path %q", path)
	}
	return t, nil
}

// EntryBundleTile returns the entry bundle tile holding entries
// [n*256, n*256+w).
func EntryBundleTile(n int64, w int) tlog.Tile {
	return tlog.Tile{H: TileHeight, L: -1, N: n, W: w}
}

// IndexKey returns the object key of a project's index. The project must
// be normalized.
func IndexKey(project string) string {
	return IndexPrefix + project
}

// IsImmutable reports whether the object at key never changes once
// written: tiles and entry bundles (full or partial) and the tlog-proofs
// of their entries, not the key file.
func IsImmutable(key string) bool {
	return strings.HasPrefix(key, TilePrefix) || strings.HasPrefix(key, ProofPrefix)
}

// IsPublicKey reports whether key names one of the log's public objects,
// the only ones a log serves: the checkpoint, a tile or entry bundle (full
// or partial, as TilePath writes it), the tlog-proofs of a bundle's
// entries (as ProofBundleKey writes it), a project index, a shard of the
// project list, a filename note, the verifier key at
// .well-known/bt/tlog-key, and the objects of a maintainer-claims intake
// under claims/ (see IsClaimKey). Anything else in a store (the sequencer's state,
// alarms, a key file left there, any other file) is not public. This is
// the one place the rule lives: a new public object is added here.
func IsPublicKey(key string) bool {
	switch {
	case key == CheckpointKey, key == KeyKey:
		return true
	case strings.HasPrefix(key, TilePrefix):
		_, err := ParseTilePath(key)
		return err == nil
	case strings.HasPrefix(key, ProofPrefix):
		_, err := ParseProofBundleKey(key)
		return err == nil
	}
	if project, ok := strings.CutPrefix(key, IndexPrefix); ok {
		return IsNormalizedProject(project)
	}
	if shard, ok := strings.CutPrefix(key, ProjectListPrefix); ok {
		return isProjectShard(shard)
	}
	if home, ok := strings.CutPrefix(key, FilenamesPrefix); ok {
		return isFilenameHome(home)
	}
	if strings.HasPrefix(key, ClaimsPrefix) {
		return IsClaimKey(key)
	}
	return false
}

// CheckKey reports whether key is a valid object key: relative,
// slash-separated, no empty, "." or ".." segments, no segment starting
// with "." other than ".well-known", printable ASCII without spaces or
// backslashes.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty object key")
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || (strings.HasPrefix(seg, ".") && seg != ".well-known") {
			return fmt.Errorf("invalid object key %q", key)
		}
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return fmt.Errorf("invalid object key %q", key)
		}
	}
	return nil
}
