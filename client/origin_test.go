package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/tiles"
)

// TestCheckpointOfAnotherOrigin: a key of another origin than the log's
// checkpoint is a mistake of configuration (OriginError), not a security
// error; a key of the log's own origin that doesn't verify, or a checkpoint
// the log's key signed with another origin in it, stays a security error.
func TestCheckpointOfAnotherOrigin(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", nil)
	srv := clienttest.Serve(t, tl)
	ctx := context.Background()

	_, otherVKey, err := note.GenerateKey(rand.Reader, "other.test/log")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := clienttest.OpenLog(t, srv.URL, otherVKey, nil)
	_, _, err = l.Checkpoint(ctx)
	var wrongOrigin *client.OriginError
	if !errors.As(err, &wrongOrigin) || wrongOrigin.Origin != "other.test/log" || wrongOrigin.Served != "pysumdb.test/log" || client.IsSecurityError(err) {
		t.Errorf("a key of another origin: %v, want an OriginError that is no security error", err)
	}

	_, impostorVKey, err := note.GenerateKey(rand.Reader, "pysumdb.test/log")
	if err != nil {
		t.Fatal(err)
	}
	l, _ = clienttest.OpenLog(t, srv.URL, impostorVKey, nil)
	if _, _, err = l.Checkpoint(ctx); !client.IsSecurityError(err) || errors.As(err, &wrongOrigin) {
		t.Errorf("a key of the log's origin that doesn't verify: %v, want a security error", err)
	}

	// The log's key signs a checkpoint of another origin: the log's own
	// statement, evidence.
	signer, err := note.NewSigner(tl.SKey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(tl.VKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := tiles.OpenCheckpoint(tl.Read(t, tiles.CheckpointKey), verifier)
	if err != nil {
		t.Fatal(err)
	}
	cp.Origin = "other.test/log"
	forged, err := note.Sign(&note.Note{Text: string(tiles.FormatCheckpoint(cp))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetRewrite(clienttest.Replace(tiles.CheckpointKey, forged))
	l, _ = clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	if _, _, err = l.Checkpoint(ctx); !client.IsSecurityError(err) || errors.As(err, &wrongOrigin) {
		t.Errorf("a checkpoint the log's key signed with another origin: %v, want a security error", err)
	}
}
