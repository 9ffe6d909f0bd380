package tiles

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func testEntries(start, n int64) [][]byte {
	var entries [][]byte
	for i := start; i < start+n; i++ {
		entries = append(entries, testEntry(i))
	}
	return entries
}

func TestEncodeBundleBytes(t *testing.T) {
	tests := []struct {
		name    string
		entries [][]byte
		want    string
	}{
		{"empty", nil, ""},
		{"one", [][]byte{[]byte("ab")}, "\x00\x02ab"},
		{"zero-length entries", [][]byte{{}, []byte("x"), nil}, "\x00\x00\x00\x01x\x00\x00"},
		{"256-byte entry", [][]byte{bytes.Repeat([]byte("y"), 256)}, "\x01\x00" + strings.Repeat("y", 256)},
		{"largest entry", [][]byte{bytes.Repeat([]byte("z"), MaxEntrySize)}, "\xff\xff" + strings.Repeat("z", MaxEntrySize)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeBundle(tt.entries)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("EncodeBundle = %q, want %q", got, tt.want)
			}
			var appended []byte
			for _, e := range tt.entries {
				appended = AppendBundleEntry(appended, e)
			}
			if string(appended) != tt.want {
				t.Fatalf("AppendBundleEntry = %q, want %q", appended, tt.want)
			}
		})
	}
}

func TestBundleRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		entries [][]byte
	}{
		{"full", testEntries(0, TileWidth)},
		{"full, later tile", testEntries(5*TileWidth, TileWidth)},
		{"partial 1", testEntries(0, 1)},
		{"partial 17", testEntries(256, 17)},
		{"partial 255", testEntries(0, 255)},
		{"full of zero-length entries", make([][]byte, TileWidth)},
		{"partial with zero-length entries", [][]byte{{}, testEntry(1), {}}},
		{"largest entries", [][]byte{bytes.Repeat([]byte("a"), MaxEntrySize), bytes.Repeat([]byte("b"), MaxEntrySize)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeBundle(tt.entries)
			if err != nil {
				t.Fatal(err)
			}
			size := 0
			for _, e := range tt.entries {
				size += 2 + len(e)
			}
			if len(b) != size {
				t.Fatalf("len(bundle) = %d, want %d", len(b), size)
			}
			got, err := ParseBundle(b, len(tt.entries))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.entries) {
				t.Fatalf("ParseBundle returned %d entries, want %d", len(got), len(tt.entries))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.entries[i]) {
					t.Fatalf("entry %d = %q, want %q", i, got[i], tt.entries[i])
				}
			}
			again, err := EncodeBundle(got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("EncodeBundle(ParseBundle(b)) differs (err %v)", err)
			}
			// The bundle must hold exactly want entries.
			for _, want := range []int{len(tt.entries) - 1, len(tt.entries) + 1} {
				if want < 0 {
					continue
				}
				if _, err := ParseBundle(b, want); !errors.Is(err, ErrMalformed) {
					t.Errorf("ParseBundle(want %d) of %d entries: err = %v, want ErrMalformed", want, len(tt.entries), err)
				}
			}
		})
	}
}

func TestParseBundleEntriesDoNotOverlap(t *testing.T) {
	b, err := EncodeBundle([][]byte{[]byte("first"), []byte("second")})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ParseBundle(b, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Appending to one entry must not overwrite the next one (or the
	// next length prefix) in the shared backing array.
	_ = append(entries[0], "XXXXXXXX"...)
	if string(entries[1]) != "second" {
		t.Fatalf("entries[1] = %q after append to entries[0]", entries[1])
	}
	if string(b) != "\x00\x05first\x00\x06second" {
		t.Fatalf("bundle modified: %q", b)
	}
}

func TestParseBundleRejects(t *testing.T) {
	full, err := EncodeBundle(testEntries(0, TileWidth))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
		want int
	}{
		{"empty, want 1", "", 1},
		{"empty, want 256", "", TileWidth},
		{"truncated length prefix", "\x00\x02ab\x00", 2},
		{"only one length byte", "\x00", 1},
		{"truncated entry", "\x00\x02ab\x00\x03cd", 2},
		{"truncated entry, length only", "\x00\x05", 1},
		{"length larger than data", "\xff\xff" + strings.Repeat("a", 100), 1},
		{"too many entries", "\x00\x01a\x00\x01b\x00\x01c", 2},
		{"too few entries", "\x00\x01a\x00\x01b", 3},
		{"zero-length entry too many", "\x00\x00", 0},
		{"zero-length entries too few", "\x00\x00\x00\x00", 3},
		{"trailing zero byte", "\x00\x01a\x00", 1},
		{"full bundle, want 255", string(full), TileWidth - 1},
		{"full bundle plus an entry", string(full) + "\x00\x01a", TileWidth},
		{"full bundle truncated by a byte", string(full[:len(full)-1]), TileWidth},
		{"negative want", "\x00\x01a", -1},
		{"negative want, empty", "", -1},
		{"want beyond a tile", "\x00\x01a", TileWidth + 1},
		{"huge want", "\x00\x01a", 1 << 62},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := ParseBundle([]byte(tt.data), tt.want)
			if err == nil {
				t.Fatalf("ParseBundle = %q, want error", entries)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestParseBundleEmpty(t *testing.T) {
	entries, err := ParseBundle(nil, 0)
	if err != nil || len(entries) != 0 {
		t.Fatalf("ParseBundle(nil, 0) = %q, %v", entries, err)
	}
}

func TestEncodeBundleRejectsLargeEntry(t *testing.T) {
	b, err := EncodeBundle([][]byte{[]byte("a"), make([]byte, MaxEntrySize+1)})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("EncodeBundle = %d bytes, %v; want ErrMalformed", len(b), err)
	}
}

func TestAppendBundleEntryPanicsOnLargeEntry(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("AppendBundleEntry of an entry too large did not panic")
		}
	}()
	AppendBundleEntry(nil, make([]byte, MaxEntrySize+1))
}

func FuzzParseBundle(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input, which takes long
	// on a real 30 kB bundle.
	full := bytes.Repeat([]byte("\x00\x01a"), TileWidth)
	f.Add(full, TileWidth)
	f.Add(full[:len(full)-1], TileWidth)
	f.Add(AppendBundleEntry(nil, testEntry(3)), 1)
	f.Add([]byte("\x00\x02ab\x00\x00"), 2)
	f.Add([]byte("\x00\x02ab\x00"), 2)
	f.Add([]byte("\x00\x02ab"), 1)
	f.Add([]byte("\x00\x02ab"), -1)
	f.Add([]byte{}, 0)
	f.Add([]byte("\x00\x00\x00\x00"), 2)
	f.Fuzz(func(t *testing.T, data []byte, want int) {
		entries, err := ParseBundle(data, want)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(entries) != want {
			t.Fatalf("ParseBundle(want %d) returned %d entries", want, len(entries))
		}
		b, err := EncodeBundle(entries)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("EncodeBundle(ParseBundle(%q)) = %q", data, b)
		}
		if got := len(LeafHashes(entries)); got != want*32 {
			t.Fatalf("len(LeafHashes) = %d, want %d", got, want*32)
		}
	})
}

func BenchmarkParseBundle(b *testing.B) {
	data, err := EncodeBundle(testEntries(0, TileWidth))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseBundle(data, TileWidth); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeBundle(b *testing.B) {
	entries := testEntries(0, TileWidth)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeBundle(entries); err != nil {
			b.Fatal(err)
		}
	}
}
