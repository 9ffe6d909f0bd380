package tiles

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const testOrigin = "pysumdb.example.org/log"

// testHash is SHA-256("pysumdb"), a fixed root hash for the tests.
var testHash = tlog.Hash(sha256.Sum256([]byte("pysumdb")))

const testHashBase64 = "NgFgIXD17YmSGoXvmeWRt1XUbn6yqugX+betUdnPTmk="

func newKey(t testing.TB, name string) (note.Signer, note.Verifier, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return signer, verifier, skey
}

func TestFormatCheckpoint(t *testing.T) {
	if got := base64.StdEncoding.EncodeToString(testHash[:]); got != testHashBase64 {
		t.Fatalf("testHashBase64 should be %s", got)
	}
	tests := []struct {
		name string
		c    Checkpoint
		text string
	}{
		{"empty tree", Checkpoint{Origin: testOrigin}, testOrigin + "\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"},
		{"size 1", Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: 1, Hash: testHash}}, testOrigin + "\n1\n" + testHashBase64 + "\n"},
		{"size 1234567", Checkpoint{Origin: "example.com", Tree: tlog.Tree{N: 1234567, Hash: testHash}}, "example.com\n1234567\n" + testHashBase64 + "\n"},
		{"largest size", Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: MaxTreeSize, Hash: testHash}}, testOrigin + "\n1099511627776\n" + testHashBase64 + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatCheckpoint(tt.c)
			if string(got) != tt.text {
				t.Fatalf("FormatCheckpoint =\n%q\nwant\n%q", got, tt.text)
			}
			c, err := ParseCheckpoint(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if c != tt.c {
				t.Fatalf("ParseCheckpoint = %+v, want %+v", c, tt.c)
			}
		})
	}
}

func TestParseCheckpointRejects(t *testing.T) {
	valid := testOrigin + "\n5\n" + testHashBase64 + "\n"
	if _, err := ParseCheckpoint(valid); err != nil {
		t.Fatal(err)
	}
	withSize := func(s string) string { return testOrigin + "\n" + s + "\n" + testHashBase64 + "\n" }
	withHash := func(h string) string { return testOrigin + "\n5\n" + h + "\n" }
	withOrigin := func(o string) string { return o + "\n5\n" + testHashBase64 + "\n" }
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"missing trailing LF", strings.TrimSuffix(valid, "\n")},
		{"CRLF", strings.ReplaceAll(valid, "\n", "\r\n")},
		{"extension line", valid + "extension\n"},
		{"two extension lines", valid + "a\nb\n"},
		{"empty extension line", valid + "\n"},
		{"two lines", testOrigin + "\n5\n"},
		{"leading empty line", "\n" + valid},
		{"size 01", withSize("01")},
		{"size 00", withSize("00")},
		{"size +1", withSize("+1")},
		{"size -1", withSize("-1")},
		{"size -0", withSize("-0")},
		{"size empty", withSize("")},
		{"size with space", withSize(" 5")},
		{"size with trailing space", withSize("5 ")},
		{"size hex", withSize("0x5")},
		{"size with underscore", withSize("1_000")},
		{"size overflows int64", withSize("9223372036854775808")},
		{"size above MaxTreeSize", withSize("1099511627777")},
		{"size 2^62", withSize("4611686018427387904")},
		{"largest int64 size", withSize("9223372036854775807")},
		{"size not a number", withSize("five")},
		{"size with CR", withSize("5\r")},
		{"hash not base64", withHash("!!!!")},
		{"hash empty", withHash("")},
		{"hash of 31 bytes", withHash(b64(testHash[:31]))},
		{"hash of 33 bytes", withHash(b64(append(testHash[:], 0)))},
		{"hash without padding", withHash(strings.TrimSuffix(testHashBase64, "="))},
		{"hash with non-zero padding bits", withHash(strings.TrimSuffix(testHashBase64, "k=") + "l=")},
		{"hash in base64url", withHash(strings.ReplaceAll(testHashBase64, "+", "-"))},
		{"hash with trailing CR", withHash(testHashBase64 + "\r")},
		{"hash with inner CR", withHash(testHashBase64[:10] + "\r" + testHashBase64[10:])},
		{"hash with space", withHash(testHashBase64 + " ")},
		{"origin empty", withOrigin("")},
		{"origin with space", withOrigin("pysumdb example")},
		{"origin with plus", withOrigin("pysumdb+log")},
		{"origin with tab", withOrigin("a\tb")},
		{"origin non-ASCII", withOrigin("pysümdb.example.org")},
		{"origin with CR", withOrigin(testOrigin + "\r")},
		{"origin with DEL", withOrigin("a\x7f")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCheckpoint(tt.text)
			if err == nil {
				t.Fatalf("ParseCheckpoint(%q) = %+v, want error", tt.text, c)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestSignOpenCheckpoint(t *testing.T) {
	signer, verifier, _ := newKey(t, testOrigin)
	c := Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: 70000, Hash: testHash}}
	msg, err := SignCheckpoint(c, signer)
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := testOrigin + "\n70000\n" + testHashBase64 + "\n\n— " + testOrigin + " "
	if !strings.HasPrefix(string(msg), wantPrefix) {
		t.Fatalf("signed checkpoint =\n%s\nwant prefix\n%s", msg, wantPrefix)
	}
	got, n, err := OpenCheckpoint(msg, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatalf("OpenCheckpoint = %+v, want %+v", got, c)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != testOrigin || len(n.UnverifiedSigs) != 0 {
		t.Fatalf("note signatures: %+v, unverified %+v", n.Sigs, n.UnverifiedSigs)
	}

	t.Run("wrong key", func(t *testing.T) {
		_, other, _ := newKey(t, testOrigin)
		c, _, err := OpenCheckpoint(msg, other)
		if err == nil {
			t.Fatalf("OpenCheckpoint with another key = %+v, want error", c)
		}
		var unverified *note.UnverifiedNoteError
		if !errors.As(err, &unverified) {
			t.Fatalf("error %v is not a note.UnverifiedNoteError", err)
		}
	})

	t.Run("tampered body", func(t *testing.T) {
		bad := strings.Replace(string(msg), "\n70000\n", "\n70001\n", 1)
		if c, _, err := OpenCheckpoint([]byte(bad), verifier); err == nil {
			t.Fatalf("OpenCheckpoint of a tampered note = %+v, want error", c)
		}
	})

	t.Run("witness cosignature appended", func(t *testing.T) {
		// A note signature by another (witness) key.
		witness, _, _ := newKey(t, "witness.example.com/w1")
		cosigned, err := note.Sign(n, signer, witness)
		if err != nil {
			t.Fatal(err)
		}
		// And a C2SP tlog-cosignature/v1 line of another witness, whose
		// signature is a timestamp and an Ed25519 signature (72 bytes).
		sig := make([]byte, 4+8+64)
		copy(sig, []byte{0xde, 0xad, 0xbe, 0xef})
		cosigned = append(cosigned, "— witness.example.net/w2 "+base64.StdEncoding.EncodeToString(sig)+"\n"...)
		got, n2, err := OpenCheckpoint(cosigned, verifier)
		if err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Fatalf("OpenCheckpoint = %+v, want %+v", got, c)
		}
		if len(n2.Sigs) != 1 || n2.Sigs[0].Name != testOrigin {
			t.Fatalf("verified signatures %+v", n2.Sigs)
		}
		if len(n2.UnverifiedSigs) != 2 {
			t.Fatalf("unverified signatures %+v, want the two cosignatures", n2.UnverifiedSigs)
		}
	})

	t.Run("only a witness signature", func(t *testing.T) {
		witness, _, _ := newKey(t, "witness.example.com/w1")
		msg, err := note.Sign(&note.Note{Text: string(FormatCheckpoint(c))}, witness)
		if err != nil {
			t.Fatal(err)
		}
		if c, _, err := OpenCheckpoint(msg, verifier); err == nil {
			t.Fatalf("OpenCheckpoint of a note not signed by the log = %+v, want error", c)
		}
	})
}

func TestCheckpointOriginMismatch(t *testing.T) {
	signer, verifier, _ := newKey(t, testOrigin)
	c := Checkpoint{Origin: "other.example.org/log", Tree: tlog.Tree{N: 5, Hash: testHash}}
	if msg, err := SignCheckpoint(c, signer); err == nil {
		t.Fatalf("SignCheckpoint with key %q of origin %q = %s, want error", signer.Name(), c.Origin, msg)
	}
	// A note signed by the log's key whose origin line names another log.
	msg, err := note.Sign(&note.Note{Text: string(FormatCheckpoint(c))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := OpenCheckpoint(msg, verifier)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("OpenCheckpoint = %+v, %v; want ErrMalformed", got, err)
	}
	// A checkpoint with an extension line, signed by the log's key.
	msg, err = note.Sign(&note.Note{Text: testOrigin + "\n5\n" + testHashBase64 + "\next\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := OpenCheckpoint(msg, verifier); !errors.Is(err, ErrMalformed) {
		t.Fatalf("OpenCheckpoint with extension line = %+v, %v; want ErrMalformed", got, err)
	}
}

func TestSignCheckpointRejectsBadOrigin(t *testing.T) {
	for _, origin := range []string{"", "a b", "a+b"} {
		signer, _, _ := newKey(t, "x")
		if msg, err := SignCheckpoint(Checkpoint{Origin: origin}, signer); err == nil {
			t.Errorf("SignCheckpoint(origin %q) = %q, want error", origin, msg)
		}
	}
}

func TestCheckOrigin(t *testing.T) {
	for _, o := range []string{"a", testOrigin, "example.com/log/v1", "~!#$%&'()*,-./:;<=>?@[]^_`{|}"} {
		if err := CheckOrigin(o); err != nil {
			t.Errorf("CheckOrigin(%q) = %v", o, err)
		}
	}
	for _, o := range []string{"", " ", "a b", "a+b", "a\nb", "a\x00", "é", "\x7f"} {
		if err := CheckOrigin(o); !errors.Is(err, ErrMalformed) {
			t.Errorf("CheckOrigin(%q) = %v, want ErrMalformed", o, err)
		}
	}
}

func TestVerifierKeyMatchesGeneratedKey(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	if got != vkey {
		t.Fatalf("VerifierKey = %q, want %q", got, vkey)
	}
	if _, err := VerifierKey(vkey); err == nil {
		t.Fatal("VerifierKey of a verifier key succeeded")
	}
	if _, err := VerifierKey("PRIVATE+KEY+x+00000000+AAAA"); err == nil {
		t.Fatal("VerifierKey of a garbage key succeeded")
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add(testOrigin + "\n5\n" + testHashBase64 + "\n")
	f.Add(testOrigin + "\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Add(testOrigin + "\n01\n" + testHashBase64 + "\n")
	f.Add(testOrigin + "\n+1\n" + testHashBase64 + "\n")
	f.Add(testOrigin + "\n-1\n" + testHashBase64 + "\n")
	f.Add(testOrigin + "\n5\n" + testHashBase64 + "\next\n")
	f.Add(testOrigin + "\n5\n" + testHashBase64)
	f.Add(testOrigin + "\n5\n" + testHashBase64[:43] + "\n")
	f.Add(testOrigin + "\nproject foo\nsize 3\n")
	f.Add(strings.ReplaceAll(testOrigin+"\n5\n"+testHashBase64+"\n", "\n", "\r\n"))
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCheckpoint(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if got := string(FormatCheckpoint(c)); got != text {
			t.Fatalf("FormatCheckpoint(ParseCheckpoint(%q)) = %q", text, got)
		}
		if _, err := ParseIndex(text); err == nil {
			t.Fatalf("%q parses both as a checkpoint and as a project index", text)
		}
	})
}
