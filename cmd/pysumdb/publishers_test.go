package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/tiles"
)

func TestPublisherHistory(t *testing.T) {
	gh := func(ref string) *tiles.Publisher {
		return &tiles.Publisher{Kind: "github", SAN: "https://github.com/o/r/.github/workflows/release.yml@refs/tags/" + ref}
	}
	files := []client.LoggedFile{
		{IndexLine: tiles.IndexLine{Leaf: 1, Filename: "p-1.0.tar.gz"}, Proven: true},
		{IndexLine: tiles.IndexLine{Leaf: 5, Filename: "p-1.1.tar.gz"}, Proven: true, Publisher: gh("v1.1")},
		{IndexLine: tiles.IndexLine{Leaf: 9, Filename: "p-1.2.tar.gz"}, Proven: true, Publisher: gh("v1.2")},
		{IndexLine: tiles.IndexLine{Leaf: 12, Filename: "p-1.3.tar.gz"}, Proven: true,
			Publisher: &tiles.Publisher{Kind: "github", SAN: "https://github.com/evil/r/.github/workflows/release.yml@refs/tags/v1.3"}},
		{IndexLine: tiles.IndexLine{Leaf: 14, Filename: "p-1.4.tar.gz"}, Proven: true},
		{IndexLine: tiles.IndexLine{Leaf: 20, Filename: "p-1.5.tar.gz"}},
	}
	var out bytes.Buffer
	changes := printPublisherHistory(&globals{stdout: &out}, files)
	if changes != 3 {
		t.Errorf("%d changes, want 3 (none → github, o/r → evil/r, evil/r → none); a new tag is not a change", changes)
	}
	for _, want := range []string{
		"5  p-1.1.tar.gz github https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.1  CHANGED (was no attestation)",
		"9  p-1.2.tar.gz github https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.2\n",
		"CHANGED (was github https://github.com/o/r/.github/workflows/release.yml)",
		"14  p-1.4.tar.gz no attestation  CHANGED (was github https://github.com/evil/r/.github/workflows/release.yml)",
		"20 p-1.5.tar.gz (not yet provable)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
