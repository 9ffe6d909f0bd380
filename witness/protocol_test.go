package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/pysumdb/pysumdb/tiles"
)

var (
	hashA = tlog.Hash{1, 2, 3}
	hashB = tlog.Hash{0xff, 0xfe}
	b64A  = base64.StdEncoding.EncodeToString(hashA[:])
	b64B  = base64.StdEncoding.EncodeToString(hashB[:])
)

const testNote = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— example.com/log AAAAAQ==\n"

func TestFormatParseAddCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		old   int64
		proof tlog.TreeProof
	}{
		{0, nil},
		{1, tlog.TreeProof{hashA}},
		{20852014, tlog.TreeProof{hashA, hashB, hashA}},
		{tiles.MaxTreeSize, make(tlog.TreeProof, MaxProofLines)},
	} {
		body := FormatAddCheckpoint(tc.old, tc.proof, []byte(testNote))
		old, proof, cp, err := ParseAddCheckpoint(body)
		if err != nil {
			t.Fatalf("ParseAddCheckpoint(%q): %v", body, err)
		}
		if old != tc.old || len(proof) != len(tc.proof) || string(cp) != testNote {
			t.Fatalf("ParseAddCheckpoint(%q) = %d, %v, %q", body, old, proof, cp)
		}
		for i := range proof {
			if proof[i] != tc.proof[i] {
				t.Fatalf("proof[%d] = %v, want %v", i, proof[i], tc.proof[i])
			}
		}
	}
	want := "old 3\n" + b64A + "\n" + b64B + "\n\n" + testNote
	if got := string(FormatAddCheckpoint(3, tlog.TreeProof{hashA, hashB}, []byte(testNote))); got != want {
		t.Fatalf("FormatAddCheckpoint = %q, want %q", got, want)
	}
}

func TestParseAddCheckpointMalformed(t *testing.T) {
	nonCanonical := b64A[:42] + "B=" // the last character's unused bits set
	many := strings.Repeat(b64A+"\n", MaxProofLines+1)
	for name, body := range map[string]string{
		"empty":                 "",
		"no newline":            "old 0",
		"no old":                "0\n\n" + testNote,
		"old without space":     "old0\n\n" + testNote,
		"two spaces":            "old  0\n\n" + testNote,
		"old uppercase":         "OLD 0\n\n" + testNote,
		"leading zero":          "old 01\n" + b64A + "\n\n" + testNote,
		"double zero":           "old 00\n\n" + testNote,
		"sign":                  "old +1\n" + b64A + "\n\n" + testNote,
		"negative":              "old -1\n\n" + testNote,
		"hex":                   "old 0x1\n" + b64A + "\n\n" + testNote,
		"trailing space":        "old 1 \n" + b64A + "\n\n" + testNote,
		"CRLF":                  "old 1\r\n" + b64A + "\r\n\r\n" + testNote,
		"too big":               "old 1099511627777\n" + b64A + "\n\n" + testNote,
		"overflow":              "old 99999999999999999999\n\n" + testNote,
		"no empty line":         "old 1\n" + b64A + "\n" + testNote,
		"no checkpoint":         "old 0\n\n",
		"two empty lines":       "old 0\n\n\n" + testNote,
		"proof for old 0":       "old 0\n" + b64A + "\n\n" + testNote,
		"short hash":            "old 1\n" + b64A[:40] + "\n\n" + testNote,
		"33-byte hash":          "old 1\n" + strings.Repeat("A", 44) + "\n\n" + testNote,
		"unpadded hash":         "old 1\n" + strings.TrimRight(b64A, "=") + "\n\n" + testNote,
		"noncanonical hash":     "old 1\n" + nonCanonical + "\n\n" + testNote,
		"url base64":            "old 1\n" + strings.ReplaceAll(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "+", "-") + "\n\n" + testNote,
		"hash with space":       "old 1\n " + b64A[1:] + "\n\n" + testNote,
		"64 proof lines":        "old 1\n" + many + "\n" + testNote,
		"larger than the limit": "old 0\n\n" + strings.Repeat("x", tiles.MaxCheckpointSize+1),
		"huge":                  "old 0\n\n" + strings.Repeat("x", MaxRequestSize),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, _, err := ParseAddCheckpoint([]byte(body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseAddCheckpoint(%.80q) = %v, want ErrMalformed", body, err)
			}
		})
	}
	// The bounds themselves are accepted.
	body := "old 1\n" + strings.Repeat(b64A+"\n", MaxProofLines) + "\n" + strings.Repeat("x", tiles.MaxCheckpointSize)
	if len(body) > MaxRequestSize {
		t.Fatalf("a request of the largest size is %d bytes, more than MaxRequestSize %d", len(body), MaxRequestSize)
	}
	if _, _, _, err := ParseAddCheckpoint([]byte(body)); err != nil {
		t.Fatalf("largest request: %v", err)
	}
	if _, _, _, err := ParseAddCheckpoint([]byte("old 1099511627776\n" + b64A + "\n\n" + testNote)); err != nil {
		t.Fatalf("old size MaxTreeSize: %v", err)
	}
}

func FuzzParseAddCheckpoint(f *testing.F) {
	f.Add([]byte("old 0\n\n" + testNote))
	f.Add([]byte("old 3\n" + b64A + "\n" + b64B + "\n\n" + testNote))
	f.Add([]byte("old 01\n\n" + testNote))
	f.Add([]byte("old 1\n" + b64A[:43] + "\n\n\n"))
	f.Add([]byte("old 1099511627776\n\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		old, proof, cp, err := ParseAddCheckpoint(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if old < 0 || old > tiles.MaxTreeSize || len(proof) > MaxProofLines || len(cp) == 0 || len(cp) > tiles.MaxCheckpointSize {
			t.Fatalf("out of bounds: old %d, %d proof lines, checkpoint of %d bytes", old, len(proof), len(cp))
		}
		if old == 0 && len(proof) > 0 {
			t.Fatalf("a proof from old size 0")
		}
		// Strict: one request has one encoding.
		if again := FormatAddCheckpoint(old, proof, cp); !bytes.Equal(again, body) {
			t.Fatalf("not canonical: %q formats back as %q", body, again)
		}
	})
}

// fakeWitness serves one canned response.
func fakeWitness(t *testing.T, status int, contentType, body string) (*httptest.Server, *[]string) {
	t.Helper()
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.Path)
		if contentType != "" {
			rw.Header().Set("Content-Type", contentType)
		}
		rw.WriteHeader(status)
		rw.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &paths
}

func TestAddCheckpointResponses(t *testing.T) {
	ctx := context.Background()
	sig := "— witness.test/w1 " + base64.StdEncoding.EncodeToString(make([]byte, 4+8+64)) + "\n"
	t.Run("200", func(t *testing.T) {
		srv, paths := fakeWitness(t, 200, "text/plain", sig+sig)
		got, err := AddCheckpoint(ctx, srv.Client(), srv.URL+"/prefix", 0, nil, []byte(testNote))
		if err != nil || string(got) != sig+sig {
			t.Fatalf("AddCheckpoint = %q, %v", got, err)
		}
		if (*paths)[0] != "POST /prefix/add-checkpoint" {
			t.Fatalf("request to %s", (*paths)[0])
		}
	})
	t.Run("URL with a slash", func(t *testing.T) {
		srv, paths := fakeWitness(t, 200, "", sig)
		if _, err := AddCheckpoint(ctx, srv.Client(), srv.URL+"/", 0, nil, []byte(testNote)); err != nil {
			t.Fatal(err)
		}
		if (*paths)[0] != "POST /add-checkpoint" {
			t.Fatalf("request to %s", (*paths)[0])
		}
	})
	t.Run("409", func(t *testing.T) {
		srv, _ := fakeWitness(t, 409, "text/x.tlog.size", "1234\n")
		_, err := AddCheckpoint(ctx, srv.Client(), srv.URL, 0, nil, []byte(testNote))
		var conflict *ConflictError
		if !errors.As(err, &conflict) || conflict.Size != 1234 {
			t.Fatalf("AddCheckpoint error %v, want ConflictError 1234", err)
		}
		if errors.Is(err, ErrRejected) || errors.Is(err, ErrBadResponse) {
			t.Fatalf("a conflict wraps %v", err)
		}
	})
	for _, status := range []int{400, 403, 404, 422, 500, 302} {
		srv, _ := fakeWitness(t, status, "text/plain", "no\x1b[31m way\n"+strings.Repeat("x", 10000))
		_, err := AddCheckpoint(ctx, srv.Client(), srv.URL, 0, nil, []byte(testNote))
		var rejected *RejectedError
		if !errors.Is(err, ErrRejected) || !errors.As(err, &rejected) || rejected.StatusCode != status {
			t.Fatalf("status %d: error %v, want a RejectedError", status, err)
		}
		if strings.ContainsAny(rejected.Body, "\x1b\n") || len(rejected.Body) > maxErrorBody || !strings.HasPrefix(rejected.Body, "no") {
			t.Fatalf("status %d: body %q not sanitized and bounded", status, rejected.Body)
		}
	}
	bad := map[string]struct {
		status      int
		contentType string
		body        string
	}{
		"409 wrong type":         {409, "text/plain", "12\n"},
		"409 no type":            {409, "", "12\n"},
		"409 no newline":         {409, "text/x.tlog.size", "12"},
		"409 leading zero":       {409, "text/x.tlog.size", "012\n"},
		"409 negative":           {409, "text/x.tlog.size", "-1\n"},
		"409 two lines":          {409, "text/x.tlog.size", "12\n13\n"},
		"409 space":              {409, "text/x.tlog.size", " 12\n"},
		"409 huge":               {409, "text/x.tlog.size", strings.Repeat("1", MaxResponseSize+10) + "\n"},
		"409 above max":          {409, "text/x.tlog.size", "1099511627777\n"},
		"200 empty":              {200, "", ""},
		"200 no newline":         {200, "", strings.TrimSuffix(sig, "\n")},
		"200 not a sig":          {200, "", "hello\n"},
		"200 ascii dash":         {200, "", "- witness " + base64.StdEncoding.EncodeToString(make([]byte, 76)) + "\n"},
		"200 empty line":         {200, "", sig + "\n"},
		"200 bad base64":         {200, "", "— witness !!!!\n"},
		"200 short sig":          {200, "", "— witness AAAA\n"},
		"200 name with plus":     {200, "", "— wit+ness " + base64.StdEncoding.EncodeToString(make([]byte, 76)) + "\n"},
		"200 no name":            {200, "", "—  " + base64.StdEncoding.EncodeToString(make([]byte, 76)) + "\n"},
		"200 trailing text":      {200, "", sig + "junk"},
		"200 control char":       {200, "", "— wit\x01ness " + base64.StdEncoding.EncodeToString(make([]byte, 76)) + "\n"},
		"200 larger than bound":  {200, "", strings.Repeat(sig, MaxResponseSize/len(sig)+1)},
		"200 lines past bound":   {200, "", linesOfSize(MaxResponseSize) + sig},
		"200 key hash only":      {200, "", "— witness AAAAAA==\n"},
		"200 invalid UTF-8":      {200, "", "— wit\xffness " + base64.StdEncoding.EncodeToString(make([]byte, 76)) + "\n"},
		"200 three fields":       {200, "", "— witness AAAAAQ== extra\n"},
		"200 noncanonical b64":   {200, "", "— witness AAAAAR==\n"},
		"200 one good, one junk": {200, "", sig + "junk\n"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			srv, _ := fakeWitness(t, tc.status, tc.contentType, tc.body)
			got, err := AddCheckpoint(ctx, srv.Client(), srv.URL, 0, nil, []byte(testNote))
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("AddCheckpoint = %q, %v; want ErrBadResponse", got, err)
			}
		})
	}
	// The largest valid response is accepted.
	t.Run("200 at the bound", func(t *testing.T) {
		body := linesOfSize(MaxResponseSize)
		srv, _ := fakeWitness(t, 200, "", body)
		if _, err := AddCheckpoint(ctx, srv.Client(), srv.URL, 0, nil, []byte(testNote)); err != nil {
			t.Fatal(err)
		}
	})
}

// linesOfSize returns signature lines of exactly size bytes in all.
func linesOfSize(size int) string {
	line := func(name string) string {
		return "— " + name + " " + base64.StdEncoding.EncodeToString(make([]byte, 4+8+64)) + "\n"
	}
	l := line("witness.test/w1")
	n := size / len(l)
	rem := size - n*len(l)
	return strings.Repeat(l, n-1) + line("witness.test/w1"+strings.Repeat("x", rem))
}

// countingReader is an endless reader counting the bytes read from it.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func TestReadBounded(t *testing.T) {
	r := &countingReader{}
	data, tooLarge, err := readBounded(r, 100)
	if err != nil || !tooLarge || len(data) != 100 || r.n > 101 {
		t.Fatalf("readBounded of an endless reader: %d bytes, %v, %v; read %d bytes", len(data), tooLarge, err, r.n)
	}
	data, tooLarge, err = readBounded(strings.NewReader(strings.Repeat("x", 100)), 100)
	if err != nil || tooLarge || len(data) != 100 {
		t.Fatalf("readBounded at the bound: %d bytes, %v, %v", len(data), tooLarge, err)
	}
}

func TestAddCheckpointErrors(t *testing.T) {
	ctx := context.Background()
	srv, _ := fakeWitness(t, 200, "", "")
	for _, u := range []string{"", "ftp://x/", "http://", "://x", "file:///tmp", "/add-checkpoint"} {
		if _, err := AddCheckpoint(ctx, nil, u, 0, nil, []byte(testNote)); err == nil || !strings.Contains(err.Error(), "is not an http(s) URL") {
			t.Errorf("URL %q: %v", u, err)
		}
	}
	if _, err := AddCheckpoint(ctx, nil, srv.URL, 1, make(tlog.TreeProof, MaxProofLines+1), []byte(testNote)); err == nil {
		t.Errorf("a proof of %d hashes was sent", MaxProofLines+1)
	}
	if _, err := AddCheckpoint(ctx, nil, srv.URL, -1, nil, []byte(testNote)); err == nil {
		t.Errorf("a negative old size was sent")
	}
	// A network error is not a rejection.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err := AddCheckpoint(ctx, nil, closed.URL, 0, nil, []byte(testNote))
	if err == nil || errors.Is(err, ErrRejected) || errors.Is(err, ErrBadResponse) {
		t.Fatalf("closed server: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := AddCheckpoint(cctx, nil, srv.URL, 0, nil, []byte(testNote)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}
