package tomlconfig

import (
	"fmt"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	type log struct {
		VKey string `toml:"vkey"`
	}
	type config struct {
		Quorum int   `toml:"quorum"`
		Logs   []log `toml:"log"`
	}
	var c config
	if err := Decode([]byte("quorum = 2\n[[log]]\nvkey = \"k\"\n"), &c); err != nil || c.Quorum != 2 || c.Logs[0].VKey != "k" {
		t.Fatalf("Decode = %+v, %v", c, err)
	}
	for text, want := range map[string]string{
		"quorum = 2\n[[log]]\nvkey = \"k\"\nurl = \"u\"\n": "line 4: unknown key log.url",
		"qorum = 2\n":         "line 1: unknown key qorum",
		"quorum = \n":         "line 1:",
		"quorum = \"2\"\n":    "line 1: quorum is a string, want an integer",
		"[[log]]\nvkey = 3\n": "line 2: log.vkey is an integer, want a string",
		"log = \"x\"\n":       "line 1: log is a string, want an array of tables",
	} {
		if err := Decode([]byte(text), &config{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%q) = %v, want an error with %q", text, err, want)
		}
		if err := Decode([]byte(text), &config{}); err != nil && strings.Contains(err.Error(), "tomlconfig") || strings.Contains(fmt.Sprint(err), "struct") {
			t.Errorf("Decode(%q) = %v: Go's words", text, err)
		}
	}
}
