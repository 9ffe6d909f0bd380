package tiles

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// fixedLogKey is a log key made from a zero seed, for golden output
// (Ed25519 signatures are deterministic).
func fixedLogKey(t testing.TB) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(make([]byte, 64)), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// testTlogProof returns the tlog-proof of leaf in the memLog of size n,
// against a checkpoint signed by signer, and the checkpoint.
func testTlogProof(t testing.TB, signer note.Signer, n, leaf int64) (TlogProof, []byte) {
	t.Helper()
	l := sharedMemLog(t, n)
	tree := l.tree(t, n)
	signed, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Tree: tree}, signer)
	if err != nil {
		t.Fatal(err)
	}
	hashes, err := tlog.ProveRecord(n, leaf, l)
	if err != nil {
		t.Fatal(err)
	}
	p := TlogProof{Extra: l.entries[leaf], Index: leaf, Hashes: hashes, Checkpoint: signed}
	data, err := FormatTlogProof(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, data
}

func TestTlogProofRoundTrip(t *testing.T) {
	signer, verifier := fixedLogKey(t)
	for _, c := range []struct{ n, leaf int64 }{{1, 0}, {2, 1}, {7, 3}, {300, 0}, {300, 299}, {1000, 513}} {
		p, data := testTlogProof(t, signer, c.n, c.leaf)
		got, err := ParseTlogProof(data)
		if err != nil {
			t.Fatalf("ParseTlogProof(%d of %d): %v", c.leaf, c.n, err)
		}
		again, err := FormatTlogProof(got)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip of %d of %d: %v\n%s\n%s", c.leaf, c.n, err, again, data)
		}
		_, cp, _, e, err := OpenTlogProof(data, verifier)
		if err != nil {
			t.Fatalf("OpenTlogProof(%d of %d): %v", c.leaf, c.n, err)
		}
		want, _ := ParseEntry(p.Extra)
		if cp.N != c.n || e.Filename != want.Filename || e.SHA256 != want.SHA256 {
			t.Fatalf("OpenTlogProof(%d of %d) = %v, %+v", c.leaf, c.n, cp, e)
		}
	}
}

// TestTlogProofGolden pins the format: a change to it breaks every proof
// already published and saved.
func TestTlogProofGolden(t *testing.T) {
	signer, _ := fixedLogKey(t)
	_, data := testTlogProof(t, signer, 5, 2)
	const want = `c2sp.org/tlog-proof@v1
extra cHlwaS10cmFuc3BhcmVuY3kvdjEKc2hhMjU2OmQ0NzM1ZTNhMjY1ZTE2ZWVlMDNmNTk3MThiOWI1ZDAzMDE5YzA3ZDhiNmM1MWY5MGRhM2E2NjZlZWMxM2FiMzUKcGtnMi0xLjAuMi1weTMtbm9uZS1hbnkud2hsCg==
index 2
vgAX8Xo6qmI/qOkZ1bqLwucbHIMIeaRfLJ7s/Sc5cL4=
BQkhSMn5X6Qjq74fKLS22TvGqC578cwuF/zdnqUp5ps=
HNP9VogKORJTe83nhsSIZ+MyhXboYqfxnt3im5sHSgE=

pysumdb.example.org/log
5
qZ3HXWtRSevzAsJt5tbAUXLHky8CJ74FOA7OoZ0XIo8=

— pysumdb.example.org/log AqaEKyRqJsjnOQEmareC1oJZoPDB+WVEpOm7qympc/1dfygtgUm4kvcTSvGExZYSa1TT+Ye/majmgG5XZ/P2W/HPNQs=
`
	if string(data) != want {
		t.Fatalf("proof\n%s\nwant\n%s", data, want)
	}
}

// TestTlogProofSpecExample parses the example of C2SP tlog-proof (its
// signatures are elided, which parsing does not look at).
func TestTlogProofSpecExample(t *testing.T) {
	const example = `c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
— witness1.example mJirIklj[...]qY9v2B/5bg==
`
	p, err := ParseTlogProof([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if p.Index != 73894 || len(p.Hashes) != 5 || !strings.HasPrefix(string(p.Extra), "age-v1.2.1-darwin-arm64.tar.gz") ||
		!strings.HasPrefix(string(p.Checkpoint), "example.com/fancylog\n109482\n") {
		t.Fatalf("parsed %+v", p)
	}
	out, err := FormatTlogProof(p)
	if err != nil || string(out) != example {
		t.Fatalf("FormatTlogProof: %v\n%s", err, out)
	}
}

func TestParseTlogProofRejects(t *testing.T) {
	signer, _ := fixedLogKey(t)
	_, good := testTlogProof(t, signer, 7, 3)
	s := string(good)
	lines := strings.SplitAfter(s, "\n")
	hashLine := lines[3]
	cpAt := strings.Index(s, "\n\n") + 2
	replace := func(old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in proof", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	// Exactly one hash too many.
	var many strings.Builder
	for range MaxProofHashes + 1 - (cpAtLine(lines) - 3) + 1 {
		many.WriteString(hashLine)
	}
	cases := map[string]string{
		"empty":                   "",
		"other header":            replace(ProofHeader, "c2sp.org/tlog-proof@v2"),
		"header with space":       replace(ProofHeader+"\n", ProofHeader+" \n"),
		"CRLF":                    strings.ReplaceAll(s, "\n", "\r\n"),
		"no index":                replace("index 3\n", ""),
		"index leading zero":      replace("index 3\n", "index 03\n"),
		"index sign":              replace("index 3\n", "index +3\n"),
		"index too large":         replace("index 3\n", fmt.Sprintf("index %d\n", MaxTreeSize)),
		"index two spaces":        replace("index 3\n", "index  3\n"),
		"extra after index":       replace("index 3\n", "index 3\nextra AAAA\n"),
		"empty extra":             replace("extra ", "extra \nextra "),
		"extra not base64":        replace("extra ", "extra !"),
		"extra not canonical":     replace("extra cHlw", "extra cHlw\n"),
		"extra line twice":        replace("extra ", "extra AAAA\nextra "),
		"hash not canonical":      replace(hashLine, strings.TrimSuffix(hashLine, "=\n")+"\n"),
		"hash with CR":            replace(hashLine, hashLine[:10]+"\r"+hashLine[10:]),
		"extra with CR":           replace("extra cHlw", "extra cHl\rw"),
		"hash short":              replace(hashLine, base64.StdEncoding.EncodeToString(make([]byte, 31))+"\n"),
		"hash long":               replace(hashLine, base64.StdEncoding.EncodeToString(make([]byte, 33))+"\n"),
		"too many hashes":         replace(hashLine, many.String()),
		"no empty line":           s[:cpAt-1] + s[cpAt:],
		"no checkpoint":           s[:cpAt],
		"checkpoint without LF":   strings.TrimSuffix(s, "\n"),
		"checkpoint too large":    s + strings.Repeat("x", MaxCheckpointSize) + "\n",
		"proof too large":         s + strings.Repeat("x", MaxProofSize),
		"no newline after header": ProofHeader,
	}
	for name, data := range cases {
		if _, err := ParseTlogProof([]byte(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseTlogProof = %v, want ErrMalformed", name, err)
		}
	}
	// The limits hold exactly: 40 hashes and a checkpoint of
	// MaxCheckpointSize bytes parse.
	forty := replace(hashLine, strings.Repeat(hashLine, MaxProofHashes-len(lines[3:cpAtLine(lines)])+1))
	if p, err := ParseTlogProof([]byte(forty)); err != nil || len(p.Hashes) != MaxProofHashes {
		t.Errorf("proof of %d hashes: %v", MaxProofHashes, err)
	}
	// A proof of MaxProofSize bytes parses, one of a byte more doesn't.
	hashes := s[strings.Index(s, "index 3\n")+len("index 3\n") : cpAt]
	head := ProofHeader + "\nextra " + base64.StdEncoding.EncodeToString(make([]byte, 150_000)) + "\nindex 3\n" + hashes
	for _, extra := range []int{0, 1} {
		data := head + strings.Repeat("x", MaxProofSize-len(head)-1+extra) + "\n"
		if _, err := ParseTlogProof([]byte(data)); (err == nil) != (extra == 0) {
			t.Errorf("proof of %d bytes: %v", len(data), err)
		}
	}
	bigCP := s[:cpAt] + strings.Repeat("x", MaxCheckpointSize-1) + "\n"
	if _, err := ParseTlogProof([]byte(bigCP)); err != nil {
		t.Errorf("checkpoint of %d bytes: %v", MaxCheckpointSize, err)
	}
	if _, err := ParseTlogProof([]byte(bigCP[:cpAt] + "x" + bigCP[cpAt:])); err == nil {
		t.Errorf("checkpoint of %d bytes parsed", MaxCheckpointSize+1)
	}
}

// cpAtLine returns the index of the empty line of a proof split in lines.
func cpAtLine(lines []string) int {
	for i, l := range lines {
		if l == "\n" {
			return i
		}
	}
	return -1
}

func TestFormatTlogProofRejects(t *testing.T) {
	signer, _ := fixedLogKey(t)
	good, _ := testTlogProof(t, signer, 7, 3)
	for name, mutate := range map[string]func(*TlogProof){
		"empty extra":              func(p *TlogProof) { p.Extra = []byte{} },
		"negative index":           func(p *TlogProof) { p.Index = -1 },
		"index too large":          func(p *TlogProof) { p.Index = MaxTreeSize },
		"too many hashes":          func(p *TlogProof) { p.Hashes = make(tlog.RecordProof, MaxProofHashes+1) },
		"no checkpoint":            func(p *TlogProof) { p.Checkpoint = nil },
		"checkpoint without LF":    func(p *TlogProof) { p.Checkpoint = bytes.TrimSuffix(p.Checkpoint, []byte("\n")) },
		"checkpoint too large":     func(p *TlogProof) { p.Checkpoint = append(bytes.Repeat([]byte("x"), MaxCheckpointSize), '\n') },
		"extra too large in total": func(p *TlogProof) { p.Extra = make([]byte, MaxProofSize) },
	} {
		p := good
		mutate(&p)
		if _, err := FormatTlogProof(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: FormatTlogProof = %v, want ErrMalformed", name, err)
		}
	}
	p := good
	p.Extra = nil
	data, err := FormatTlogProof(p)
	if err != nil || bytes.Contains(data, []byte("extra")) {
		t.Errorf("proof without extra data: %v\n%s", err, data)
	}
}

// TestOpenTlogProofRejects: every byte of a proof counts. Each case is a
// weakening of one check of OpenTlogProof.
func TestOpenTlogProofRejects(t *testing.T) {
	signer, verifier := fixedLogKey(t)
	good, data := testTlogProof(t, signer, 300, 42)
	if _, _, _, _, err := OpenTlogProof(data, verifier); err != nil {
		t.Fatal(err)
	}
	reformat := func(mutate func(*TlogProof)) []byte {
		p := good
		p.Hashes = append(tlog.RecordProof(nil), good.Hashes...)
		p.Extra = bytes.Clone(good.Extra)
		mutate(&p)
		out, err := FormatTlogProof(p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	other, _, _ := newKey(t, testOrigin)
	_, otherCP := testTlogProof(t, other, 300, 42)
	l := sharedMemLog(t, 300)
	mismatch := map[string][]byte{
		"one bit of a hash": reformat(func(p *TlogProof) { p.Hashes[0][31] ^= 1 }),
		"last hash":         reformat(func(p *TlogProof) { p.Hashes[len(p.Hashes)-1][0] ^= 0x80 }),
		"hash dropped":      reformat(func(p *TlogProof) { p.Hashes = p.Hashes[:len(p.Hashes)-1] }),
		"hash added":        reformat(func(p *TlogProof) { p.Hashes = append(p.Hashes, p.Hashes[0]) }),
		"hashes swapped":    reformat(func(p *TlogProof) { p.Hashes[0], p.Hashes[1] = p.Hashes[1], p.Hashes[0] }),
		"other index":       reformat(func(p *TlogProof) { p.Index = 43 }),
		"index beyond tree": reformat(func(p *TlogProof) { p.Index = 300 }),
		"other entry":       reformat(func(p *TlogProof) { p.Extra = l.entries[43] }),
		"one byte of entry": reformat(func(p *TlogProof) { p.Extra[len(p.Extra)-2] ^= 1 }),
	}
	for name, d := range mismatch {
		if _, _, _, _, err := OpenTlogProof(d, verifier); !errors.Is(err, ErrProofMismatch) {
			t.Errorf("%s: OpenTlogProof = %v, want ErrProofMismatch", name, err)
		}
	}
	otherSig := reformat(func(p *TlogProof) { p.Checkpoint, _ = ParseTlogProofCheckpoint(otherCP) })
	if _, _, _, _, err := OpenTlogProof(otherSig, verifier); err == nil || errors.Is(err, ErrProofMismatch) {
		t.Errorf("checkpoint signed by another key: OpenTlogProof = %v", err)
	}
	noExtra := reformat(func(p *TlogProof) { p.Extra = nil })
	if _, _, _, _, err := OpenTlogProof(noExtra, verifier); !errors.Is(err, ErrMalformed) {
		t.Errorf("proof without extra: OpenTlogProof = %v, want ErrMalformed", err)
	}
	// A witness's cosignature is checked when the witness is given.
	w, wv, _ := newWitness(t, "witness1.example")
	n, err := note.Open(good.Checkpoint, note.VerifierList(verifier))
	if err != nil {
		t.Fatal(err)
	}
	cosignedCP, err := note.Sign(n, w)
	if err != nil {
		t.Fatal(err)
	}
	withW := reformat(func(p *TlogProof) { p.Checkpoint = cosignedCP })
	if _, _, n, _, err := OpenTlogProof(withW, verifier, wv); err != nil || len(n.Sigs) != 2 {
		t.Fatalf("cosigned proof: %v", err)
	}
	bad := bytes.Clone(cosignedCP)
	bad[len(bad)-3] ^= 1
	badW := reformat(func(p *TlogProof) { p.Checkpoint = bad })
	if _, _, _, _, err := OpenTlogProof(badW, verifier, wv); err == nil {
		t.Errorf("proof with a bad cosignature opened")
	}
}

// ParseTlogProofCheckpoint returns the checkpoint of a formatted proof.
func ParseTlogProofCheckpoint(data []byte) ([]byte, error) {
	p, err := ParseTlogProof(data)
	return p.Checkpoint, err
}

func TestProofBundleKey(t *testing.T) {
	for key, bundle := range map[string]tlog.Tile{
		"proof/000":                    EntryBundleTile(0, TileWidth),
		"proof/007.p/5":                EntryBundleTile(7, 5),
		"proof/x001/000":               EntryBundleTile(1000, TileWidth),
		"proof/x001/x234/067.p/255":    EntryBundleTile(1234067, 255),
		"proof/x004/x294/x967/295.p/1": EntryBundleTile(MaxTreeSize/TileWidth-1, 1),
	} {
		if got := ProofBundleKey(bundle); got != key {
			t.Errorf("ProofBundleKey(%v) = %q, want %q", bundle, got, key)
		}
		if got, err := ParseProofBundleKey(key); err != nil || got != bundle {
			t.Errorf("ParseProofBundleKey(%q) = %v, %v", key, got, err)
		}
		if max := int64(bundle.W) * MaxProofSize; !IsPublicKey(key) || !IsImmutable(key) || MaxObjectSize(key) != max || CheckKey(key) != nil {
			t.Errorf("%s: not a public, immutable, valid key of size %d", key, max)
		}
	}
	for _, key := range []string{"proof/", "proof/7", "proof/0007", "proof/x000/007", "proof/007.p/0", "proof/007.p/256", "proof/007.p/05", "proof/-01", "proof/abc", "proofs/000", "proof/000/", "proof/8/0/000", "proof/entries/000"} {
		if _, err := ParseProofBundleKey(key); err == nil {
			t.Errorf("ParseProofBundleKey(%q) accepted", key)
		}
		if IsPublicKey(key) {
			t.Errorf("IsPublicKey(%q)", key)
		}
		if MaxObjectSize(key) != MaxOtherSize {
			t.Errorf("MaxObjectSize(%q) = %d", key, MaxObjectSize(key))
		}
	}
}

func TestBundleOf(t *testing.T) {
	for _, c := range []struct {
		leaf, n int64
		want    tlog.Tile
	}{
		{0, 1, EntryBundleTile(0, 1)},
		{0, 256, EntryBundleTile(0, 256)},
		{255, 300, EntryBundleTile(0, 256)},
		{256, 300, EntryBundleTile(1, 44)},
		{299, 300, EntryBundleTile(1, 44)},
		{299, 1000, EntryBundleTile(1, 256)},
	} {
		if got := BundleOf(c.leaf, c.n); got != c.want {
			t.Errorf("BundleOf(%d, %d) = %v, want %v", c.leaf, c.n, got, c.want)
		}
	}
}

// testProofBundle returns the proofs of the entries of bundle, in the
// memLog of size n, against one checkpoint, as the sequencer writes them.
func testProofBundle(t testing.TB, signer note.Signer, n int64, bundle tlog.Tile) []byte {
	t.Helper()
	var data []byte
	for k := range bundle.W {
		_, p := testTlogProof(t, signer, n, bundle.N*TileWidth+int64(k))
		data = append(data, p...)
	}
	return data
}

func TestSplitProofBundle(t *testing.T) {
	signer, verifier := fixedLogKey(t)
	for _, c := range []struct {
		n      int64
		bundle tlog.Tile
	}{{1, EntryBundleTile(0, 1)}, {300, EntryBundleTile(0, 256)}, {300, EntryBundleTile(1, 44)}, {1000, EntryBundleTile(1, 256)}} {
		data := testProofBundle(t, signer, c.n, c.bundle)
		proofs, err := SplitProofBundle(data, c.bundle)
		if err != nil || len(proofs) != c.bundle.W {
			t.Fatalf("SplitProofBundle(%v) = %d proofs, %v", c.bundle, len(proofs), err)
		}
		var again []byte
		for k, p := range proofs {
			out, err := FormatTlogProof(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, _, err := OpenTlogProof(out, verifier); err != nil || p.Index != c.bundle.N*TileWidth+int64(k) {
				t.Fatalf("proof %d of %v (leaf %d): %v", k, c.bundle, p.Index, err)
			}
			again = append(again, out...)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("proofs of %v don't format back to the object", c.bundle)
		}
	}
}

func TestSplitProofBundleRejects(t *testing.T) {
	signer, _ := fixedLogKey(t)
	bundle := EntryBundleTile(1, 3)
	data := testProofBundle(t, signer, 300, bundle)
	_, first := testTlogProof(t, signer, 300, 256)
	_, other := testTlogProof(t, signer, 300, 7)
	// A proof whose checkpoint has a cosignature line after the log's.
	cosigned := bytes.Replace(first, []byte("\n\u2014 "), []byte("\n\u2014 witness.example AAAA\n\u2014 "), 1)
	for name, c := range map[string]struct {
		data   []byte
		bundle tlog.Tile
	}{
		"one proof short":         {data[:len(data)-len(first)+1], bundle},
		"one byte short":          {data[:len(data)-1], bundle},
		"a byte more":             {append(bytes.Clone(data), 'x'), bundle},
		"a proof more":            {append(bytes.Clone(data), first...), bundle},
		"wrong width":             {data, EntryBundleTile(1, 4)},
		"wrong bundle":            {data, EntryBundleTile(2, 3)},
		"proofs out of order":     {append(bytes.Clone(data[len(first):]), first...), bundle},
		"proof of another bundle": {append(bytes.Clone(other), data[len(first):]...), bundle},
		"empty":                   {nil, bundle},
		"not a bundle":            {data, tlog.Tile{H: TileHeight, L: 0, N: 1, W: 3}},
		"no signature":            {[]byte(ProofHeader + "\nindex 256\n\nx\n\n" + ProofHeader + "\nindex 257\n\nx\n\n" + ProofHeader + "\nindex 258\n\nx\n\n"), bundle},
	} {
		if _, err := SplitProofBundle(c.data, c.bundle); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: SplitProofBundle = %v, want ErrMalformed", name, err)
		}
	}
	// A byte over the bound of three proofs is refused before any parsing.
	huge := append(bytes.Clone(data), make([]byte, 3*MaxProofSize-len(data)+1)...)
	if _, err := SplitProofBundle(huge, bundle); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("SplitProofBundle of %d bytes = %v, want too large", len(huge), err)
	}
	// Cosignatures are signature lines: they end the proof with the log's.
	withCosig := append(bytes.Clone(cosigned), data[len(first):]...)
	if proofs, err := SplitProofBundle(withCosig, bundle); err != nil || !bytes.Equal(proofs[0].Checkpoint, cosigned[bytes.Index(cosigned, []byte("\n\n"))+2:]) {
		t.Errorf("SplitProofBundle with a cosigned checkpoint: %v", err)
	}
}

func FuzzSplitProofBundle(f *testing.F) {
	signer, _ := fixedLogKey(f)
	f.Add(testProofBundle(f, signer, 300, EntryBundleTile(1, 3)), 3)
	f.Add(testProofBundle(f, signer, 300, EntryBundleTile(1, 1)), 1)
	f.Fuzz(func(t *testing.T, data []byte, w int) {
		bundle := EntryBundleTile(1, w)
		proofs, err := SplitProofBundle(data, bundle)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// The proofs, in order, are the object.
		var again []byte
		for k, p := range proofs {
			out, err := FormatTlogProof(p)
			if err != nil || p.Index != TileWidth+int64(k) {
				t.Fatalf("proof %d (leaf %d) formats with %v", k, p.Index, err)
			}
			again = append(again, out...)
		}
		if len(proofs) != w || !bytes.Equal(again, data) {
			t.Fatalf("%d proofs of a bundle of %d, formatting as %q; was %q", len(proofs), w, again, data)
		}
	})
}

func FuzzParseTlogProof(f *testing.F) {
	signer, _ := fixedLogKey(f)
	for _, c := range []struct{ n, leaf int64 }{{1, 0}, {7, 3}, {300, 42}} {
		_, data := testTlogProof(f, signer, c.n, c.leaf)
		f.Add(data)
	}
	f.Add([]byte(ProofHeader + "\nindex 0\n\nx\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseTlogProof(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// One proof, one text.
		out, err := FormatTlogProof(p)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("parsed proof formats as %q, %v; was %q", out, err, data)
		}
		if len(p.Hashes) > MaxProofHashes || p.Index < 0 || p.Index >= MaxTreeSize || len(p.Checkpoint) > MaxCheckpointSize {
			t.Fatalf("parsed proof beyond the bounds: %+v", p)
		}
	})
}
