package verify_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/tiles"
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

func newWitnessVKey(t testing.TB, name string) string {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := tiles.CosignatureVerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

func TestParseConfigWitnesses(t *testing.T) {
	a := newVKey(t, "a.test/log")
	logA := fmt.Sprintf("[[log]]\nurl = \"https://a.test/log/\"\nvkey = %q\n", a)
	w1, w2 := newWitnessVKey(t, "w1.test"), newWitnessVKey(t, "w2.test")
	witness := func(vkey string) string { return fmt.Sprintf("[[witness]]\nvkey = %q\n", vkey) }

	all, err := verify.ParseConfig([]byte(logA + witness(w1) + witness(w2)))
	if err != nil || all.WitnessQuorum != 2 {
		t.Fatalf("witnesses without witness_quorum: %+v, %v; want all of them", all, err)
	}
	p, err := all.WitnessPolicy()
	if err != nil || p.Quorum() != 2 || len(p.Witnesses()) != 2 {
		t.Fatalf("WitnessPolicy: %v, %v", p, err)
	}
	one, err := verify.ParseConfig([]byte("witness_quorum = 1\n" + logA + witness(w1) + "url = \"https://w1.test/\"\n" + witness(w2)))
	if err != nil || one.WitnessQuorum != 1 || one.Witnesses[0].URL != "https://w1.test/" {
		t.Fatalf("witness_quorum = 1 with a url: %+v, %v", one, err)
	}
	none, err := verify.ParseConfig([]byte(logA))
	if p, perr := none.WitnessPolicy(); err != nil || perr != nil || p != nil {
		t.Fatalf("no witnesses: policy %v, %v, %v", p, err, perr)
	}
	for name, tc := range map[string]struct{ text, want string }{
		"quorum without witnesses": {"witness_quorum = 1\n" + logA, "no [[witness]]"},
		"quorum too big":           {"witness_quorum = 3\n" + logA + witness(w1) + witness(w2), "witness quorum 3, want 1 to 2"},
		"a log key":                {logA + witness(a), "witness key"},
		"no vkey":                  {logA + "[[witness]]\nurl = \"https://w.test/\"\n", "witness 1 has no vkey"},
		"twice":                    {logA + witness(w1) + witness(w1), "two witness keys named w1.test"},
		"unknown key":              {logA + witness(w1) + "name = \"w\"\n", "unknown"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := verify.ParseConfig([]byte(tc.text))
			if !errors.Is(err, verify.ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %q", err, tc.want)
			}
		})
	}
}
