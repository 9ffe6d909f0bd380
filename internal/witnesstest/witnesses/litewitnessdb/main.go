// Command litewitnessdb registers a log in a litewitness database, as
// torchwood's `witnessctl add-log` and `witnessctl add-key` do.
//
// witnessctl itself can't be built here: it imports sigsum.org/sigsum-go,
// which the module proxy doesn't serve. This does the same with the same
// SQLite driver (zombiezen.com/go/sqlite): the tables as litewitness
// creates them (filippo.io/torchwood/internal/witness.OpenDB, v0.9.0), the
// log at size 0 with the empty tree's hash, and its verifier key.
//
// Usage: litewitnessdb -db PATH -origin ORIGIN -key VKEY
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"log"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// schema is litewitness's (torchwood v0.9.0 internal/witness.OpenDB).
const schema = `
	PRAGMA strict_types = ON;
	PRAGMA foreign_keys = ON;
	CREATE TABLE IF NOT EXISTS log (
		origin TEXT PRIMARY KEY,
		tree_size INTEGER NOT NULL,
		tree_hash TEXT NOT NULL -- base64-encoded
	);
	CREATE TABLE IF NOT EXISTS key (
		origin TEXT NOT NULL,
		key TEXT NOT NULL, -- note verifier key
		FOREIGN KEY(origin) REFERENCES log(origin)
	);
	CREATE TABLE IF NOT EXISTS bastion (
		origin TEXT NOT NULL,
		bastion TEXT NOT NULL, -- addr:port
		FOREIGN KEY(origin) REFERENCES log(origin)
	);
`

func main() {
	db := flag.String("db", "", "path to the litewitness sqlite database (created if missing)")
	origin := flag.String("origin", "", "the log's origin")
	key := flag.String("key", "", "the log's note verifier key")
	flag.Parse()
	if *db == "" || *origin == "" || *key == "" || flag.NArg() != 0 {
		flag.Usage()
		log.Fatal("litewitnessdb: -db, -origin and -key are required")
	}
	conn, err := sqlite.OpenConn(*db, 0)
	if err != nil {
		log.Fatalf("litewitnessdb: opening %s: %v", *db, err)
	}
	defer conn.Close()
	if err := sqlitex.ExecScript(conn, schema); err != nil {
		log.Fatalf("litewitnessdb: creating tables: %v", err)
	}
	// witnessctl add-log: a new log starts at size 0, with the hash of the
	// empty tree (RFC 6962: the SHA-256 of the empty string).
	empty := sha256.Sum256(nil)
	if err := sqlitex.Execute(conn, "INSERT INTO log (origin, tree_size, tree_hash) VALUES (?, 0, ?)",
		&sqlitex.ExecOptions{Args: []any{*origin, base64.StdEncoding.EncodeToString(empty[:])}}); err != nil {
		log.Fatalf("litewitnessdb: adding log %q: %v", *origin, err)
	}
	// witnessctl add-key.
	if err := sqlitex.Execute(conn, "INSERT INTO key (origin, key) VALUES (?, ?)",
		&sqlitex.ExecOptions{Args: []any{*origin, *key}}); err != nil {
		log.Fatalf("litewitnessdb: adding key for log %q: %v", *origin, err)
	}
}
