package tiles

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestTilePathExamples(t *testing.T) {
	tests := []struct {
		tile tlog.Tile
		path string
	}{
		// The examples of C2SP tlog-tiles.
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{tlog.Tile{H: 8, L: -1, N: 1234067, W: 8}, "tile/entries/x001/x234/067.p/8"},
		{tlog.Tile{H: 8, L: 1, N: 0, W: 255}, "tile/1/000.p/255"},
		{tlog.Tile{H: 8, L: -1, N: 1234067, W: 256}, "tile/entries/x001/x234/067"},
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 128}, "tile/0/x001/x234/067.p/128"},
		// More.
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 1}, "tile/0/000.p/1"},
		{tlog.Tile{H: 8, L: -1, N: 0, W: 1}, "tile/entries/000.p/1"},
		{tlog.Tile{H: 8, L: -1, N: 0, W: 256}, "tile/entries/000"},
		{tlog.Tile{H: 8, L: 0, N: 999, W: 256}, "tile/0/999"},
		{tlog.Tile{H: 8, L: 0, N: 1000, W: 256}, "tile/0/x001/000"},
		{tlog.Tile{H: 8, L: 2, N: 1000, W: 256}, "tile/2/x001/000"},
		{tlog.Tile{H: 8, L: 3, N: 1000000, W: 17}, "tile/3/x001/x000/000.p/17"},
		{tlog.Tile{H: 8, L: 1, N: 273, W: 1}, "tile/1/273.p/1"},
		{tlog.Tile{H: 8, L: 8, N: 0, W: 256}, "tile/8/000"},
		{tlog.Tile{H: 8, L: 0, N: 1<<55 - 1, W: 255}, "tile/0/x036/x028/x797/x018/x963/967.p/255"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := TilePath(tt.tile); got != tt.path {
				t.Fatalf("TilePath(%+v) = %q, want %q", tt.tile, got, tt.path)
			}
			got, err := ParseTilePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.tile {
				t.Fatalf("ParseTilePath(%q) = %+v, want %+v", tt.path, got, tt.tile)
			}
			if !IsImmutable(tt.path) {
				t.Fatalf("IsImmutable(%q) = false", tt.path)
			}
		})
	}
}

func TestTilePathRoundTrip(t *testing.T) {
	sizes := []struct{ old, new int64 }{
		{0, 1}, {0, 255}, {0, 256}, {0, 257}, {1, 1000}, {0, 65535}, {0, 65536}, {0, 65537},
		{1000, 70000}, {70000, 70001}, {0, 1<<24 + 5}, {1 << 32, 1<<32 + 300}, {1<<40 - 1, 1<<40 + 1},
	}
	for _, s := range sizes {
		t.Run(fmt.Sprintf("%d-%d", s.old, s.new), func(t *testing.T) {
			seen := make(map[string]bool)
			tiles := tlog.NewTiles(TileHeight, s.old, s.new)
			if len(tiles) == 0 {
				t.Fatal("no tiles")
			}
			for _, tile := range tiles {
				bundle := tile
				bundle.L = -1
				for _, tile := range []tlog.Tile{tile, bundle} {
					p := TilePath(tile)
					if seen[p] && tile.L >= 0 {
						t.Fatalf("TilePath(%+v) = %q, already seen", tile, p)
					}
					seen[p] = true
					got, err := ParseTilePath(p)
					if err != nil {
						t.Fatalf("ParseTilePath(TilePath(%+v) = %q): %v", tile, p, err)
					}
					if got != tile {
						t.Fatalf("ParseTilePath(%q) = %+v, want %+v", p, got, tile)
					}
					// Same encoding as Go's tile paths, without the height and
					// with "entries" for "data".
					goPath := strings.Replace(tile.Path(), "/data/", "/entries/", 1)
					if want := "tile/" + strings.TrimPrefix(goPath, "tile/8/"); p != want {
						t.Fatalf("TilePath(%+v) = %q, want %q", tile, p, want)
					}
				}
			}
		})
	}
}

func TestParseTilePathRejects(t *testing.T) {
	for _, p := range []string{
		"",
		"tile",
		"tile/",
		"tile/0",
		"tile/0/",
		"tiles/0/000",
		"/tile/0/000",
		"tile//000",
		"tile/0//000",
		"tile/0/000/",
		"tile/data/000",
		"tile/data/000.p/5",
		"tile/8/0/000",
		"tile/8/data/000",
		"tile/8/entries/000",
		"tile/entries/data/000",
		"tile/entries/entries/000",
		"tile/x/000",
		"tile/-1/000",
		"tile/+1/000",
		"tile/00/000",
		"tile/01/000",
		"tile/ 1/000",
		"tile/0/0",
		"tile/0/00",
		"tile/0/0000",
		"tile/0/1",
		"tile/0/+01",
		"tile/0/-01",
		"tile/0/x000",
		"tile/0/x000/001",
		"tile/0/x001/x234/x067",
		"tile/0/001/234/067",
		"tile/0/001/x234/067",
		"tile/0/x001/234/067",
		"tile/0/x1/x234/067",
		"tile/0/x0001/x234/067",
		"tile/0/xx01/067",
		"tile/0/X001/067",
		"tile/0/x001/x234/067.p/0",
		"tile/0/x001/x234/067.p/256",
		"tile/0/x001/x234/067.p/300",
		"tile/0/000.p/-1",
		"tile/0/000.p/08",
		"tile/0/000.p/+8",
		"tile/0/000.p/",
		"tile/0/000.p",
		"tile/0/000.p/8/9",
		"tile/0/000.q/8",
		"tile/0/000.p.p/8",
		"tile/entries/000.p/0",
		"tile/entries/000.p/256",
		"tile/entries/x001",
		"tile/0/x999/x999/x999/x999/x999/x999/x999/999",
		"tile/0/000\n",
		"tile/0/000 ",
		"checkpoint",
		"index/foo",
	} {
		t.Run(p, func(t *testing.T) {
			tile, err := ParseTilePath(p)
			if err == nil {
				t.Fatalf("ParseTilePath(%q) = %+v, want error", p, tile)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestEntryBundleTile(t *testing.T) {
	tile := EntryBundleTile(1234067, 8)
	if want := (tlog.Tile{H: 8, L: -1, N: 1234067, W: 8}); tile != want {
		t.Fatalf("EntryBundleTile = %+v, want %+v", tile, want)
	}
	if p := TilePath(tile); p != "tile/entries/x001/x234/067.p/8" {
		t.Fatalf("TilePath = %q", p)
	}
	if p := TilePath(EntryBundleTile(0, TileWidth)); p != "tile/entries/000" {
		t.Fatalf("TilePath = %q", p)
	}
}

func TestObjectKeys(t *testing.T) {
	if got := IndexKey("zope-interface"); got != "index/zope-interface" {
		t.Errorf("IndexKey = %q", got)
	}
	tests := []struct {
		key  string
		want bool
	}{
		{"tile/0/000", true},
		{"tile/0/000.p/5", true},
		{"tile/entries/x001/000.p/255", true},
		{"tile/1/000", true},
		{CheckpointKey, false},
		{KeyKey, false},
		{IndexKey("urllib3"), false},
		{"index/urllib3", false},
		{"checkpoint.sig", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsImmutable(tt.key); got != tt.want {
			t.Errorf("IsImmutable(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func FuzzParseTilePath(f *testing.F) {
	for _, p := range []string{
		"tile/0/x001/x234/067", "tile/entries/x001/x234/067.p/8", "tile/1/000.p/255",
		"tile/data/000", "tile/8/0/000", "tile/0/x000/001", "tile/0/001/234/067",
		"tile/0/000.p/0", "tile/0/000.p/256", "tile/01/000", "tile/entries/000.p/08",
		"tile/0/x999/x999/x999/x999/x999/x999/x999/999", "tile/8/000",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tile, err := ParseTilePath(p)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if tile.H != TileHeight || tile.L < -1 || tile.N < 0 || tile.W < 1 || tile.W > TileWidth {
			t.Fatalf("ParseTilePath(%q) = %+v", p, tile)
		}
		if got := TilePath(tile); got != p {
			t.Fatalf("TilePath(ParseTilePath(%q)) = %q", p, got)
		}
	})
}
