//go:build !pysumdb_client

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/pysumdb/pysumdb/internal/kmssigner"
	"github.com/pysumdb/pysumdb/internal/kmssigner/kmstest"
	"github.com/pysumdb/pysumdb/tiles"
)

// TestKMSKey runs a log whose key is in (a loopback) Cloud KMS: keygen
// --kms prints the verifier key, sequence signs with --key kms://...,
// and the log audits with the verifier key alone; a signature that does
// not verify publishes nothing, and the next run finishes the batch.
func TestKMSKey(t *testing.T) {
	const (
		version = "projects/p/locations/us-central1/keyRings/pysumdb/cryptoKeys/log/cryptoKeyVersions/1"
		p256    = "projects/p/locations/us-central1/keyRings/pysumdb/cryptoKeys/log/cryptoKeyVersions/2"
		origin  = "pysumdb.test/kms"
	)
	saved := kmsTimeout
	t.Cleanup(func() { kmsTimeout = saved })
	srv := kmstest.Start(t)
	pub := srv.AddEd25519Key(version)
	srv.AddP256Key(p256)
	t.Setenv(kmssigner.EmulatorHostEnv, srv.Addr)
	keyURL := "kms://" + version + "?origin=" + origin

	stdout, stderr := mustRun(t, 0, "keygen", "--kms", keyURL)
	vkey := strings.TrimSpace(stdout)
	if want, _ := note.NewEd25519VerifierKey(origin, pub); vkey != want {
		t.Fatalf("keygen --kms printed %q, want %q", vkey, want)
	}
	wantContains(t, "keygen --kms's stderr", stderr, "protection level HSM", "--key '"+keyURL+"'")
	if stdout, _ := mustRun(t, 0, "keygen", "--kms", "kms://"+version, "--origin", origin); strings.TrimSpace(stdout) != vkey {
		t.Fatalf("keygen --kms URL --origin printed %q, want %q", stdout, vkey)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--kms", keyURL, "--out", filepath.Join(dir, "k")}, "writes no key file"},
		{[]string{"--kms", "kms://" + version}, "no origin"},
		{[]string{"--kms", keyURL, "--origin", "other.test/log"}, "differ"},
		{[]string{"--kms", "kms://" + version + "?origin=a+b"}, "origin"},
		{[]string{"--kms", "kms://projects/p/cryptoKeys/log?origin=" + origin}, "not the resource name of a key version"},
		{[]string{"--kms", "kms://" + p256 + "?origin=" + origin}, "EC_SIGN_P256_SHA256"},
	} {
		_, stderr := mustRun(t, 2, append([]string{"keygen"}, tc.args...)...)
		wantContains(t, "keygen "+strings.Join(tc.args, " "), stderr, tc.says)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("keygen --kms wrote %v", entries)
	}

	store := filepath.Join(dir, "log")
	records := filepath.Join(dir, "records.jsonl")
	writeTextFile(t, records, `{"project":"requests","filename":"requests-2.0.tar.gz","sha256":"`+strings.Repeat("1", 64)+`","size":10}
{"project":"idna","filename":"idna-3.0.tar.gz","sha256":"`+strings.Repeat("2", 64)+`","size":20}
`)
	stdout, _ = mustRun(t, 0, "sequence", "--store", store, "--key", keyURL, "--from-jsonl", records)
	wantContains(t, "sequence's report", stdout, "appended 2")
	published, err := os.ReadFile(filepath.Join(store, filepath.FromSlash(tiles.KeyKey)))
	if err != nil || strings.TrimSpace(string(published)) != vkey {
		t.Fatalf("the store publishes the key %q (%v), want %q", published, err, vkey)
	}
	mustRun(t, 0, "audit", "--log", store, "--vkey", vkey)
	stdout, _ = mustRun(t, 0, "lookup", "--log", store, "--vkey", vkey, "requests")
	wantContains(t, "lookup", stdout, "requests-2.0.tar.gz")
	stdout, _ = mustRun(t, 0, "publish-web", "--store", store, "--key", keyURL)
	wantContains(t, "publish-web", stdout, vkey)

	// KMS signs something else: the batch is not published.
	checkpoint := filepath.Join(store, "checkpoint")
	before, err := os.ReadFile(checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnSign(func(r *kmspb.AsymmetricSignResponse) {
		r.Signature[0] ^= 1
		r.SignatureCrc32C = wrapperspb.Int64(kmstest.CRC32C(r.Signature))
	})
	writeTextFile(t, records, `{"project":"urllib3","filename":"urllib3-2.0.tar.gz","sha256":"`+strings.Repeat("3", 64)+`","size":30}
`)
	_, stderr = mustRun(t, 1, "sequence", "--store", store, "--key", keyURL, "--from-jsonl", records)
	t.Log(stderr)
	wantContains(t, "sequence with bad signatures", stderr, "signature does not verify with the key version's public key")
	if after, err := os.ReadFile(checkpoint); err != nil || !bytes.Equal(after, before) {
		t.Fatalf("the checkpoint changed after signatures that don't verify:\n%s\n%s", before, after)
	}
	mustRun(t, 0, "audit", "--log", store, "--vkey", vkey)
	srv.OnSign(nil)
	stdout, _ = mustRun(t, 0, "sequence", "--store", store, "--key", keyURL, "--from-jsonl", records)
	wantContains(t, "sequence after KMS recovered", stdout, "log size 3")
	stdout, _ = mustRun(t, 0, "audit", "--log", store, "--vkey", vkey)
	wantContains(t, "audit", stdout, "3 entries")

	// Another key is another log: the store refuses it.
	other := "projects/p/locations/us-central1/keyRings/pysumdb/cryptoKeys/log/cryptoKeyVersions/3"
	srv.AddEd25519Key(other)
	_, stderr = mustRun(t, 1, "sequence", "--store", store, "--key", "kms://"+other+"?origin="+origin, "--from-jsonl", records)
	wantContains(t, "sequence with another key", stderr, "the store holds the log of key")

	// KMS down: a clear failure, nothing signed.
	srv.Stop()
	kmsTimeout = 300 * time.Millisecond
	start := time.Now()
	_, stderr = mustRun(t, 1, "sequence", "--store", store, "--key", keyURL, "--from-jsonl", records)
	t.Log(stderr)
	wantContains(t, "sequence with KMS down", stderr, "couldn't read the public key of "+version)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("sequence with KMS down took %v", took)
	}
	// An emulator is only ever on loopback.
	t.Setenv(kmssigner.EmulatorHostEnv, "kms.example.com:443")
	_, stderr = mustRun(t, 1, "keygen", "--kms", keyURL)
	wantContains(t, "keygen with a remote emulator", stderr, "loopback")
}
