package tiles

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestMaxObjectSize(t *testing.T) {
	tests := []struct {
		key  string
		want int64
	}{
		{"checkpoint", 64 << 10},
		{".well-known/bt/tlog-key", 4 << 10},
		{"tile/0/000", 256 * 32},
		{"tile/3/x001/x234/067", 256 * 32},
		{"tile/0/000.p/1", 32},
		{"tile/1/273.p/255", 255 * 32},
		{"tile/entries/000", 256 * 65537},
		{"tile/entries/x001/x234/067.p/8", 8 * 65537},
		{"tile/entries/000.p/1", 65537},
		{"index/requests", 64 << 20},
		{"index/a", 64 << 20},
		{"projects/re", 16 << 20},
		{"filenames/_", 16 << 20},
		{"filenames/foo-bar", 16 << 20},
		// Not a tile path TilePath produces: the default.
		{"tile/8/0/000", 1 << 20},
		{"tile/entries/000.p/256", 1 << 20},
		{"tile/0/000.p/0", 1 << 20},
		{"tile/data/000", 1 << 20},
		{"alarms/0123.json", 1 << 20},
		{"sequencer/state", 1 << 30},
		{"sequencer/lease", 1 << 30},
		{"checkpoint.old", 1 << 20},
		{"", 1 << 20},
	}
	for _, tt := range tests {
		if got := MaxObjectSize(tt.key); got != tt.want {
			t.Errorf("MaxObjectSize(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

// TestMaxObjectSizeHoldsLargestObjects checks that the largest objects this
// package produces fit their bound exactly or with room, so that a bound
// never makes an honest log unreadable.
func TestMaxObjectSizeHoldsLargestObjects(t *testing.T) {
	// A bundle of 256 entries of the largest size EncodeBundle accepts.
	big := bytes.Repeat([]byte("e"), MaxEntrySize)
	for _, w := range []int{1, 17, TileWidth} {
		entries := make([][]byte, w)
		for i := range entries {
			entries[i] = big
		}
		b, err := EncodeBundle(entries)
		if err != nil {
			t.Fatal(err)
		}
		key := TilePath(EntryBundleTile(0, w))
		if max := MaxObjectSize(key); int64(len(b)) != max {
			t.Errorf("largest bundle of width %d: %d bytes, bound %d", w, len(b), max)
		}
	}
	if MaxObjectSize("tile/entries/000") != MaxBundleSize {
		t.Errorf("MaxBundleSize = %d, full bundle bound %d", MaxBundleSize, MaxObjectSize("tile/entries/000"))
	}
	// A full hash tile.
	if got := MaxObjectSize(TilePath(tlog.Tile{H: TileHeight, L: 0, N: 5, W: TileWidth})); got != MaxHashTileSize {
		t.Errorf("full hash tile bound %d, want %d", got, MaxHashTileSize)
	}

	// A checkpoint with the most signatures note.Open accepts, by keys
	// with long names.
	skey, _, err := note.GenerateKey(rand.Reader, "pysumdb.example.org/log")
	if err != nil {
		t.Fatal(err)
	}
	signers := []note.Signer{mustSigner(t, skey)}
	for i := range 99 {
		sk, _, err := note.GenerateKey(rand.Reader, fmt.Sprintf("witness-%02d.%s.example.net/w", i, bytes.Repeat([]byte("w"), 100)))
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, mustSigner(t, sk))
	}
	msg, err := note.Sign(&note.Note{Text: string(FormatCheckpoint(Checkpoint{Origin: "pysumdb.example.org/log", Tree: tlog.Tree{N: MaxTreeSize}}))}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg) > MaxCheckpointSize/2 {
		t.Errorf("checkpoint with 100 signatures: %d bytes, more than half the bound %d", len(msg), MaxCheckpointSize)
	}

	// An index line at its longest.
	line := IndexLine{Leaf: MaxTreeSize - 1, Filename: string(bytes.Repeat([]byte("f"), MaxFilenameLen)), Size: 1<<63 - 1, UploadTime: "2024-01-02T03:04:05.123456789Z"}
	x, err := FormatIndex(Index{Origin: "pysumdb.example.org/log", Project: "f", TreeSize: MaxTreeSize, Lines: []IndexLine{line}})
	if err != nil {
		t.Fatal(err)
	}
	if perLine := len(x); perLine*50_000 > MaxIndexSize {
		t.Errorf("an index of 50,000 longest lines (%d bytes each) exceeds %d", perLine, MaxIndexSize)
	}
}

func mustSigner(t *testing.T, skey string) note.Signer {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
