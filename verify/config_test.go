package verify_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/verify"
)

func newVKey(t testing.TB, origin string) string {
	t.Helper()
	_, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

func TestParseConfig(t *testing.T) {
	a, b, a2 := newVKey(t, "a.test/log"), newVKey(t, "b.test/log"), newVKey(t, "a.test/log")
	logA := fmt.Sprintf("[[log]]\nurl = \"https://a.test/log/\"\nvkey = %q\n", a)
	logB := fmt.Sprintf("[[log]]\nurl = \"./b\"\nvkey = %q\n", b)
	good, err := verify.ParseConfig([]byte("quorum = 2\n" + logA + logB))
	if err != nil {
		t.Fatal(err)
	}
	if good.Quorum != 2 || len(good.Logs) != 2 || good.Logs[0].URL != "https://a.test/log/" || good.Logs[1].VKey != b {
		t.Errorf("parsed %+v", good)
	}
	one, err := verify.ParseConfig([]byte(logA))
	if err != nil || one.Quorum != 1 {
		t.Errorf("one log without quorum: %+v, %v", one, err)
	}
	for name, tc := range map[string]struct{ text, want string }{
		"empty":             {"", "no [[log]]"},
		"no quorum":         {logA + logB, "quorum = 0, want 1 to 2"},
		"quorum too big":    {"quorum = 3\n" + logA + logB, "quorum = 3, want 1 to 2"},
		"negative quorum":   {"quorum = -1\n" + logA, "quorum = -1"},
		"no url":            {fmt.Sprintf("[[log]]\nvkey = %q\n", a), "log 1 has no url"},
		"bad vkey":          {"[[log]]\nurl = \"x\"\nvkey = \"nope\"\n", "log 1 (x): vkey"},
		"same origin twice": {"quorum = 1\n" + logA + strings.Replace(logA, a, a2, 1), "logs 1 and 2 have the same origin a.test/log"},
		"unknown key":       {"quorum = 1\nqorum = 2\n" + logA, "line 2"},
		"not toml":          {"quorum = \n", "line 1"},
		"wrong type":        {"quorum = \"2\"\n" + logA, "bad log configuration"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := verify.ParseConfig([]byte(tc.text))
			if !errors.Is(err, verify.ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %q", err, tc.want)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	a, b := newVKey(f, "a.test/log"), newVKey(f, "b.test/log")
	f.Add([]byte(fmt.Sprintf("quorum = 2\n[[log]]\nurl = \"https://a.test/\"\nvkey = %q\n[[log]]\nurl = \"b\"\nvkey = %q\n", a, b)))
	f.Add([]byte(fmt.Sprintf("[[log]]\nurl = \"https://a.test/\"\nvkey = %q\n", a)))
	f.Add([]byte("quorum = 1\n[[log]]\nurl = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := verify.ParseConfig(data)
		if err != nil {
			if !errors.Is(err, verify.ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
			return
		}
		// Whatever is accepted is usable as is.
		if err := c.Check(); err != nil {
			t.Fatalf("accepted config fails Check: %v", err)
		}
		if c.Quorum < 1 || c.Quorum > len(c.Logs) {
			t.Fatalf("accepted quorum %d with %d logs", c.Quorum, len(c.Logs))
		}
		origins := map[string]bool{}
		for _, l := range c.Logs {
			v, err := note.NewVerifier(l.VKey)
			if err != nil || l.URL == "" || origins[v.Name()] {
				t.Fatalf("accepted log %+v: %v", l, err)
			}
			origins[v.Name()] = true
		}
	})
}
