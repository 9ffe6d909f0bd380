// Package monitortest writes logs by hand, for the tests of the monitor:
// logs the honest sequencer can't produce (a filename logged twice, an
// entry that is not pypi-transparency/v1), with every object a log has
// (entry bundles, hash tiles, checkpoint, project indexes, project list,
// filename notes)
// computed with x/mod's tlog and signed with the log's key.
package monitortest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

// File is one leaf of a hand-written log: its raw entry and the project
// whose index lists it ("" for none).
type File struct {
	Project string
	Entry   []byte
}

// Entry returns the entry of filename with the made-up sha256
// Digest(filename + variant).
func Entry(t testing.TB, filename, variant string) []byte {
	t.Helper()
	e, err := tiles.FormatEntry(tiles.Entry{Filename: filename, SHA256: Digest(filename + variant)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Digest returns a made-up sha256 named after s.
func Digest(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// DigestHex is Digest in hex.
func DigestHex(s string) string {
	d := Digest(s)
	return hex.EncodeToString(d[:])
}

// Write writes into dir the log of files signed with skey: every entry
// bundle and hash tile (full, and partial for the final size), the
// checkpoint, an index per project, the project list and the filename
// notes. Writing a log
// again with more files extends it as a sequencer would (the partial
// objects of the smaller size stay).
func Write(t testing.TB, dir, skey string, files []File) {
	t.Helper()
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	origin := signer.Name()
	n := int64(len(files))
	put := func(key string, data []byte) {
		t.Helper()
		path := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var hashes []tlog.Hash
	for i, f := range files {
		hs, err := tlog.StoredHashes(int64(i), f.Entry, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for j, x := range idx {
				out[j] = hashes[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
	}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for j, x := range idx {
			out[j] = hashes[x]
		}
		return out, nil
	})
	for _, tile := range tlog.NewTiles(tiles.TileHeight, 0, n) {
		data, err := tlog.ReadTileData(tile, reader)
		if err != nil {
			t.Fatal(err)
		}
		put(tiles.TilePath(tile), data)
	}
	for k := int64(0); k*tiles.TileWidth < n; k++ {
		w := min(n-k*tiles.TileWidth, tiles.TileWidth)
		var entries [][]byte
		for _, f := range files[k*tiles.TileWidth : k*tiles.TileWidth+w] {
			entries = append(entries, f.Entry)
		}
		data, err := tiles.EncodeBundle(entries)
		if err != nil {
			t.Fatal(err)
		}
		put(tiles.TilePath(tiles.EntryBundleTile(k, int(w))), data)
	}
	root, err := tlog.TreeHash(n, reader)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tiles.SignCheckpoint(tiles.Checkpoint{Origin: origin, Tree: tlog.Tree{N: n, Hash: root}}, signer)
	if err != nil {
		t.Fatal(err)
	}
	put(tiles.CheckpointKey, cp)

	indexes := map[string]*tiles.Index{}
	for leaf, f := range files {
		if f.Project == "" {
			continue
		}
		e, err := tiles.ParseEntry(f.Entry)
		if err != nil {
			t.Fatalf("leaf %d of project %s: %v", leaf, f.Project, err)
		}
		x := indexes[f.Project]
		if x == nil {
			x = &tiles.Index{Origin: origin, Project: f.Project, TreeSize: n}
			indexes[f.Project] = x
		}
		x.Lines = append(x.Lines, tiles.IndexLine{Leaf: int64(leaf), Filename: e.Filename, SHA256: e.SHA256, Size: int64(len(e.Filename)), UploadTime: tiles.NoUploadTime})
	}
	notes := map[string]*tiles.FilenameNote{}
	for _, x := range indexes {
		for _, l := range x.Lines {
			if !tiles.IsListedFilename(l.Filename, x.Project) {
				continue
			}
			home := tiles.FilenameHome(l.Filename)
			if notes[home] == nil {
				notes[home] = &tiles.FilenameNote{Origin: origin, Home: home, TreeSize: n}
			}
			notes[home].Lines = append(notes[home].Lines, tiles.FilenameLine{Leaf: l.Leaf, Filename: l.Filename, Project: x.Project})
		}
	}
	for home, x := range notes {
		slices.SortFunc(x.Lines, func(a, b tiles.FilenameLine) int { return int(a.Leaf - b.Leaf) })
		signed, err := tiles.SignFilenameNote(*x, signer)
		if err != nil {
			t.Fatal(err)
		}
		put(tiles.FilenamesKey(home), signed)
	}
	shards := map[string][]string{}
	for p, x := range indexes {
		signed, err := tiles.SignIndex(*x, signer)
		if err != nil {
			t.Fatal(err)
		}
		put(tiles.IndexKey(p), signed)
		shards[tiles.ProjectShard(p)] = append(shards[tiles.ProjectShard(p)], p)
	}
	for shard, projects := range shards {
		slices.Sort(projects)
		signed, err := tiles.SignProjectList(tiles.ProjectList{Origin: origin, Shard: shard, TreeSize: n, Projects: projects}, signer)
		if err != nil {
			t.Fatal(err)
		}
		put(tiles.ProjectListKey(shard), signed)
	}
}
