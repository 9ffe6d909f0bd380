package tiles

import (
	"encoding/binary"
)

// EncodeBundle serializes entries as a C2SP entry bundle: each entry as a
// big-endian uint16 length followed by its bytes.
func EncodeBundle(entries [][]byte) ([]byte, error) {
	size := 0
	for _, e := range entries {
		size += 2 + len(e)
	}
	b := make([]byte, 0, size)
	for i, e := range entries {
		if len(e) > MaxEntrySize {
			return nil, malformed("entry %d of %d bytes exceeds %d", i, len(e), MaxEntrySize)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b, nil
}

// AppendBundleEntry appends one entry to a bundle being built. It panics
// if entry is longer than MaxEntrySize, which FormatEntry never returns.
func AppendBundleEntry(bundle, entry []byte) []byte {
	if len(entry) > MaxEntrySize {
		panic(malformed("bundle entry of %d bytes exceeds %d", len(entry), MaxEntrySize))
	}
	bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(entry)))
	return append(bundle, entry...)
}

// ParseBundle splits a C2SP entry bundle into its entries. want is the
// number of entries the bundle must hold (256 for a full bundle, W for a
// partial one); a bundle with fewer, more or trailing bytes is malformed.
// The entries alias data. want must be in [0, TileWidth].
func ParseBundle(data []byte, want int) ([][]byte, error) {
	if want < 0 || want > TileWidth {
		return nil, malformed("bundle of %d entries: want 0 to %d", want, TileWidth)
	}
	entries := make([][]byte, 0, want)
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, malformed("bundle truncated in a length prefix after %d entries", len(entries))
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if len(data) < n {
			return nil, malformed("bundle truncated in entry %d (%d of %d bytes)", len(entries), len(data), n)
		}
		if len(entries) == want {
			return nil, malformed("bundle holds more than %d entries", want)
		}
		entries = append(entries, data[:n:n])
		data = data[n:]
	}
	if len(entries) != want {
		return nil, malformed("bundle holds %d entries, want %d", len(entries), want)
	}
	return entries, nil
}
