package client

import "github.com/pysumdb/pysumdb/tiles"

// CheckIndexLine reports whether a line of a project index agrees with the
// entry proven at its leaf: the same filename and the same sha256. A line
// that doesn't is signed evidence of a misbehaving log, an error wrapping
// tiles.ErrVerification. Lookup checks every line it answers with so;
// package verify checks so every line its answers rest on.
func CheckIndexLine(line tiles.IndexLine, e tiles.Entry) error {
	return checkIndexLine(line, e)
}
