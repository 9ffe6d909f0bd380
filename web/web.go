// Package web is the log's web page: a static page that looks a project
// up, shows its files marked verified, and checks a lockfile, anyone's
// browser doing the checking. It is published in the log's own store,
// under web/ (Publish; the sequencer's runs and `pysumdb publish-web` call
// it), so that the bucket, the CDN in front of it or `pysumdb serve`
// hosts it beside the log: at <log>/web/, with the log at "../".
//
// Nothing is computed by a server: the page is HTML, CSS and JavaScript
// around the Go client compiled to WebAssembly (pysumdb.wasm, run by Go's
// wasm_exec.js), which reads the log's static files (checkpoint, tiles,
// project indexes) and checks the checkpoint's signature with the
// verifier key and every file's inclusion proof, in the browser. The key
// is the one the operator publishes with the page in web/config.json,
// unless the user pastes their own. The page also draws the log's growth
// from stats.json, which is not signed and is labelled so.
package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/pysumdb/pysumdb/publish"
)

//go:embed static
var static embed.FS

// Files are the page's files, by their names under web/ in a store.
var Files = mustSub(static, "static")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a constant directory of the embedded files
	}
	return sub
}

// ConfigKey is the page's configuration, written by Publish: the
// verifier key the page pins and where the log is, relative to the page.
const ConfigKey = publish.WebPrefix + "config.json"

// Config is the content of ConfigKey.
type Config struct {
	// VKey is the log's verifier key, as the operator publishes it.
	VKey string `json:"vkey"`
	// Log is the URL of the log, relative to the page: "../", the
	// store's root.
	Log string `json:"log"`
}

// Publish writes the page into store: every file of Files under
// publish.WebPrefix and ConfigKey naming vkey. An object whose stored
// copy already holds the same bytes is not written again, so publishing
// an unchanged page writes nothing. The page's objects are not the log's:
// they are replaced as a whole (compare-and-swap from the version read),
// never appended to. The page itself (index.html) is written last, so that
// a browser loading a new page finds the files it names already there.
func Publish(ctx context.Context, store publish.Store, vkey string) error {
	if vkey == "" || strings.ContainsAny(vkey, "\n\r") {
		return fmt.Errorf("couldn't publish the web page: invalid verifier key %q", vkey)
	}
	config, err := json.MarshalIndent(Config{VKey: vkey, Log: "../"}, "", "  ")
	if err != nil {
		return err
	}
	objects := map[string][]byte{ConfigKey: append(config, '\n')}
	err = fs.WalkDir(Files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key := publish.WebPrefix + name
		if key == ConfigKey {
			return fmt.Errorf("web/static/%s would be replaced by the configuration Publish writes", name)
		}
		objects[key], err = fs.ReadFile(Files, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("couldn't read the embedded web page: %w", err)
	}
	// index.html last, the others in key order.
	keys := slices.Sorted(maps.Keys(objects))
	if i := slices.Index(keys, publish.WebIndex); i >= 0 {
		keys = append(slices.Delete(keys, i, i+1), publish.WebIndex)
	}
	for _, key := range keys {
		if err := replace(ctx, store, key, objects[key]); err != nil {
			return fmt.Errorf("couldn't publish the web page: %w", err)
		}
	}
	return nil
}

// replace writes data at key unless the object there holds it already.
func replace(ctx context.Context, store publish.Store, key string, data []byte) error {
	old, v, err := store.Read(ctx, key)
	switch {
	case errors.Is(err, publish.ErrNotExist):
		v = publish.NoVersion
	case err != nil:
		return fmt.Errorf("couldn't read %s: %w", key, err)
	case bytes.Equal(old, data):
		return nil
	}
	_, err = store.Swap(ctx, key, v, data)
	if errors.Is(err, publish.ErrConflict) {
		// Another process published at the same time (two runs of the
		// sequencer at once, one of which will find itself busy): the
		// page is what it must be if it wrote the same bytes.
		if now, _, rerr := store.Read(ctx, key); rerr == nil && bytes.Equal(now, data) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("couldn't write %s: %w", key, err)
	}
	return nil
}
