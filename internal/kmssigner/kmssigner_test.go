package kmssigner_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/pysumdb/pysumdb/internal/kmssigner"
	"github.com/pysumdb/pysumdb/internal/kmssigner/kmstest"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

const (
	version = "projects/p/locations/global/keyRings/r/cryptoKeys/log/cryptoKeyVersions/1"
	origin  = "pysumdb.test/log"
)

// dial returns a client of srv, closed when the test ends.
func dial(t *testing.T, srv *kmstest.Server) *kms.KeyManagementClient {
	t.Helper()
	c, err := kms.NewKeyManagementClient(context.Background(),
		option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// start returns a server holding the Ed25519 key version, its public key
// and a signer of it.
func start(t *testing.T) (*kmstest.Server, ed25519.PublicKey, *kmssigner.Signer) {
	t.Helper()
	srv := kmstest.Start(t)
	pub := srv.AddEd25519Key(version)
	s, err := kmssigner.New(context.Background(), dial(t, srv), version, origin)
	if err != nil {
		t.Fatal(err)
	}
	s.Timeout = 5 * time.Second
	return srv, pub, s
}

func TestSignerVerifierKey(t *testing.T) {
	srv, pub, s := start(t)
	// The note key as note forms it, computed here by hand: the hash is
	// the first 4 bytes of SHA-256(name + "\n" + 0x01 + key).
	h := sha256.Sum256(append([]byte(origin+"\n\x01"), pub...))
	want := fmt.Sprintf("%s+%08x+%s", origin, binary.BigEndian.Uint32(h[:4]), base64.StdEncoding.EncodeToString(append([]byte{1}, pub...)))
	if got := s.VerifierKey(); got != want {
		t.Fatalf("VerifierKey() = %q, want %q", got, want)
	}
	if s.Name() != origin || s.KeyHash() != binary.BigEndian.Uint32(h[:4]) || s.KeyVersion() != version || s.ProtectionLevel() != "HSM" {
		t.Fatalf("Name, KeyHash, KeyVersion, ProtectionLevel = %q, %08x, %q, %q", s.Name(), s.KeyHash(), s.KeyVersion(), s.ProtectionLevel())
	}

	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		text := fmt.Sprintf("%s\n%d\nroot\n", origin, i)
		signed, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(signed, note.VerifierList(v))
		if err != nil || n.Text != text {
			t.Fatalf("note.Open(signed by KMS) = %v, %v", n, err)
		}
	}
	if pk, sign := srv.Calls(); pk != 1 || sign != 3 {
		t.Fatalf("%d GetPublicKey and %d AsymmetricSign calls, want 1 and 3", pk, sign)
	}
}

func TestSignerRefusesBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hook  func(n int, r *kmspb.AsymmetricSignResponse)
		want  error
		calls int
	}{
		{"signature of other data", func(_ int, r *kmspb.AsymmetricSignResponse) {
			r.Signature[0] ^= 1
			r.SignatureCrc32C = wrapperspb.Int64(kmstest.CRC32C(r.Signature))
		}, kmssigner.ErrBadSignature, 1},
		{"short signature", func(_ int, r *kmspb.AsymmetricSignResponse) {
			r.Signature = r.Signature[:32]
			r.SignatureCrc32C = wrapperspb.Int64(kmstest.CRC32C(r.Signature))
		}, kmssigner.ErrBadSignature, 1},
		{"signature damaged on the way", func(_ int, r *kmspb.AsymmetricSignResponse) {
			r.SignatureCrc32C = wrapperspb.Int64(r.SignatureCrc32C.Value ^ 1)
		}, kmssigner.ErrIntegrity, kmssigner.IntegrityAttempts},
		{"signature damaged after its checksum", func(_ int, r *kmspb.AsymmetricSignResponse) {
			// A signature damaged after KMS computed its checksum, that
			// would not verify either: the checksum catches it first, and
			// the request is retried.
			r.Signature[5] ^= 1
		}, kmssigner.ErrIntegrity, kmssigner.IntegrityAttempts},
		{"no signature checksum", func(_ int, r *kmspb.AsymmetricSignResponse) {
			r.SignatureCrc32C = nil
		}, kmssigner.ErrIntegrity, kmssigner.IntegrityAttempts},
		{"data checksum not verified", func(_ int, r *kmspb.AsymmetricSignResponse) {
			r.VerifiedDataCrc32C = false
		}, kmssigner.ErrIntegrity, kmssigner.IntegrityAttempts},
		{"other key version", func(_ int, r *kmspb.AsymmetricSignResponse) {
			r.Name = strings.TrimSuffix(version, "1") + "2"
		}, kmssigner.ErrWrongKey, 1},
		{"damaged once, then right", func(n int, r *kmspb.AsymmetricSignResponse) {
			if n == 1 {
				r.SignatureCrc32C = wrapperspb.Int64(r.SignatureCrc32C.Value + 1)
			}
		}, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, s := start(t)
			n := 0
			srv.OnSign(func(r *kmspb.AsymmetricSignResponse) { n++; tc.hook(n, r) })
			sig, err := s.Sign([]byte(origin + "\n1\nroot\n"))
			if !errors.Is(err, tc.want) || (err == nil) != (sig != nil) {
				t.Fatalf("Sign = %x, %v; want error %v", sig, err, tc.want)
			}
			if _, calls := srv.Calls(); calls != tc.calls {
				t.Fatalf("%d AsymmetricSign calls, want %d", calls, tc.calls)
			}
			if tc.want == nil {
				return
			}
			// A note signer that fails signs no note.
			if signed, err := note.Sign(&note.Note{Text: origin + "\n1\nroot\n"}, s); err == nil || signed != nil {
				t.Fatalf("note.Sign = %q, %v; want an error", signed, err)
			}
			t.Log(err)
		})
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	p256 := strings.TrimSuffix(version, "1") + "2"
	for _, tc := range []struct {
		name    string
		version string
		hook    func(*kmspb.PublicKey)
		want    error
		says    string
	}{
		{"P-256 key", p256, nil, kmssigner.ErrNotEd25519, "EC_SIGN_P256_SHA256"},
		{"P-256 PEM said to be Ed25519", p256, func(pk *kmspb.PublicKey) {
			pk.Algorithm = kmspb.CryptoKeyVersion_EC_SIGN_ED25519
		}, kmssigner.ErrNotEd25519, "not an Ed25519 key"},
		{"PEM damaged on the way", version, func(pk *kmspb.PublicKey) {
			// Another Ed25519 key: the PEM's checksum alone catches it.
			i := strings.Index(pk.Pem, "MCowBQYDK2VwAyEA") + 20
			other := "A"
			if pk.Pem[i] == 'A' {
				other = "B"
			}
			pk.Pem = pk.Pem[:i] + other + pk.Pem[i+1:]
		}, kmssigner.ErrIntegrity, "CRC32C"},
		{"Ed25519 PEM said to be P-256", version, func(pk *kmspb.PublicKey) {
			pk.Algorithm = kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256
		}, kmssigner.ErrNotEd25519, "EC_SIGN_P256_SHA256"},
		{"no PEM checksum", version, func(pk *kmspb.PublicKey) { pk.PemCrc32C = nil }, kmssigner.ErrIntegrity, "CRC32C"},
		{"not PEM", version, func(pk *kmspb.PublicKey) {
			pk.Pem = "MCowBQYDK2VwAyEA"
			pk.PemCrc32C = wrapperspb.Int64(kmstest.CRC32C([]byte(pk.Pem)))
		}, kmssigner.ErrNotEd25519, "PEM"},
		{"PEM of another type", version, func(pk *kmspb.PublicKey) {
			pk.Pem = strings.ReplaceAll(pk.Pem, "PUBLIC KEY", "CERTIFICATE")
			pk.PemCrc32C = wrapperspb.Int64(kmstest.CRC32C([]byte(pk.Pem)))
		}, kmssigner.ErrNotEd25519, "PEM"},
		{"two PEM blocks", version, func(pk *kmspb.PublicKey) {
			pk.Pem += pk.Pem
			pk.PemCrc32C = wrapperspb.Int64(kmstest.CRC32C([]byte(pk.Pem)))
		}, kmssigner.ErrNotEd25519, "PEM"},
		{"other key version", version, func(pk *kmspb.PublicKey) { pk.Name = p256 }, kmssigner.ErrWrongKey, p256},
		{"no such key", strings.TrimSuffix(version, "1") + "9", nil, nil, "NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := kmstest.Start(t)
			srv.AddEd25519Key(version)
			srv.AddP256Key(p256)
			srv.OnPublicKey(tc.hook)
			s, err := kmssigner.New(context.Background(), dial(t, srv), tc.version, origin)
			if err == nil || s != nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("New = %v, %v; want an error wrapping %v that says %q", s, err, tc.want, tc.says)
			}
			t.Log(err)
		})
	}
}

func TestNewRefusesBadOrigin(t *testing.T) {
	srv := kmstest.Start(t)
	srv.AddEd25519Key(version)
	for _, name := range []string{"", "a+b", "a b"} {
		if s, err := kmssigner.New(context.Background(), dial(t, srv), version, name); err == nil {
			t.Errorf("New(origin %q) = %v, want an error", name, s)
		}
	}
}

// TestKMSDown: a KMS that can't be reached is an error within the
// timeout, at start and while signing.
func TestKMSDown(t *testing.T) {
	srv, _, s := start(t)
	c := dial(t, srv)
	srv.Stop()
	s.Timeout = 300 * time.Millisecond
	start := time.Now()
	if sig, err := s.Sign([]byte("x\n")); err == nil || sig != nil {
		t.Fatalf("Sign with KMS down = %x, %v", sig, err)
	} else {
		t.Log(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Sign took %v with a timeout of 300ms", took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := kmssigner.New(ctx, c, version, origin); err == nil {
		t.Fatal("New with KMS down succeeded")
	}
}

func TestParseURL(t *testing.T) {
	for s, want := range map[string]kmssigner.KeyURL{
		"kms://" + version:                                       {KeyVersion: version},
		"kms://" + version + "?origin=" + origin:                 {KeyVersion: version, Origin: origin},
		"kms://" + version + "?origin=pysumdb.example.org%2Flog": {KeyVersion: version, Origin: "pysumdb.example.org/log"},
	} {
		got, err := kmssigner.ParseURL(s)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	u := kmssigner.KeyURL{KeyVersion: version, Origin: origin}
	if got, err := kmssigner.ParseURL(u.String()); err != nil || got != u {
		t.Errorf("ParseURL(%q) = %+v, %v", u.String(), got, err)
	}
	for _, s := range []string{
		version,
		"gcpkms://" + version,
		"kms://projects/p/locations/global/keyRings/r/cryptoKeys/log",
		"kms://projects/p/locations/global/keyRings/r/cryptoKeys/log/cryptoKeyVersions/",
		"kms://projects/p/locations/global/keyRings/r/cryptoKeys/log/cryptoKeyVersions/x",
		"kms://projects/p/locations/global/keyRings/r/cryptoKeys/log/cryptoKeyVersions/01",
		"kms://projects/p/locations/global/keyRings/r/cryptoKeys/log/cryptoKeyVersions/1/x",
		"kms://projects/p/locations/global/keyrings/r/cryptoKeys/log/cryptoKeyVersions/1",
		"kms://projects//locations/global/keyRings/r/cryptoKeys/log/cryptoKeyVersions/1",
		"kms:///projects/p/locations/global/keyRings/r/cryptoKeys/log/cryptoKeyVersions/1",
		"kms://" + version + "?origin=a&origin=b",
		"kms://" + version + "?origin=",
		"kms://" + version + "?key=x",
		"kms://" + version + "?origin=a#b",
		"kms://" + version + "#x",
	} {
		if got, err := kmssigner.ParseURL(s); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", s, got)
		}
	}
}

func TestNewClientEmulator(t *testing.T) {
	for _, host := range []string{"10.0.0.1:443", "kms.example.com:443", "127.0.0.1", ""} {
		t.Setenv(kmssigner.EmulatorHostEnv, host)
		if host == "" {
			continue // Application Default Credentials: not tested here.
		}
		if c, err := kmssigner.NewClient(context.Background()); err == nil {
			c.Close()
			t.Errorf("%s=%s: NewClient succeeded", kmssigner.EmulatorHostEnv, host)
		}
	}
	srv := kmstest.Start(t)
	srv.AddEd25519Key(version)
	t.Setenv(kmssigner.EmulatorHostEnv, srv.Addr)
	if _, _, err := kmssigner.Open(context.Background(), kmssigner.KeyURL{KeyVersion: version}); !errors.Is(err, kmssigner.ErrNoOrigin) {
		t.Fatalf("Open without origin = %v", err)
	}
	s, closeClient, err := kmssigner.Open(context.Background(), kmssigner.KeyURL{KeyVersion: version, Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient()
	if _, err := s.Sign([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
}

// TestSequencer runs batches signed through KMS and audits the log with
// the verifier key alone.
func TestSequencer(t *testing.T) {
	_, _, s := start(t)
	ctx := context.Background()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey := seqtest.NewKey(t)
	for _, cfg := range []sequencer.Config{
		{Store: store, Key: skey, Signer: s, VerifierKey: s.VerifierKey()},
		{Store: store, Signer: s, VerifierKey: vkey},
		{Store: store, Signer: s},
	} {
		if seq, err := sequencer.Open(ctx, cfg); err == nil {
			seq.Close(ctx)
			t.Fatalf("Open(Key %t, VerifierKey %q) succeeded", cfg.Key != "", cfg.VerifierKey)
		}
	}
	seq, err := sequencer.Open(ctx, sequencer.Config{Store: store, Signer: s, VerifierKey: s.VerifierKey()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seq.Append(ctx, seqtest.Records(0, 300), nil); err != nil {
		t.Fatal(err)
	}
	if err := seq.Close(ctx); err != nil {
		t.Fatal(err)
	}
	published, _, err := store.Read(ctx, tiles.KeyKey)
	if err != nil || strings.TrimSpace(string(published)) != s.VerifierKey() {
		t.Fatalf("published key %q, %v; want %q", published, err, s.VerifierKey())
	}
	if report := seqtest.Audit(t, store, s.VerifierKey()); report.Checkpoint.N != 300 || report.Entries != 300 {
		t.Fatalf("audit: tree size %d, %d entries; want 300", report.Checkpoint.N, report.Entries)
	}
	// Another key with the same origin is another log.
	if seq, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey}); err == nil {
		seq.Close(ctx)
		t.Fatal("a store of the KMS key opened with another key")
	}
}
