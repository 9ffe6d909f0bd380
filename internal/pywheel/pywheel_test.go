package pywheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeBinary is the bytes of a binary for tests that don't check it.
var fakeBinary = []byte("\x7fELF not really a binary")

func testWheel(goos, goarch string) *Wheel {
	return &Wheel{
		Name: "pysumdb", Version: "0.1.0.dev0+abc1234", Summary: "A test wheel", License: "Apache-2.0",
		RequiresPython: ">=3.8", HomePage: "https://example.com/pysumdb", Description: "# pysumdb\n\nHello.",
		LicenseText: []byte("the license\n"),
		GOOS:        goos, GOARCH: goarch, Executable: "pysumdb", Binary: fakeBinary,
	}
}

// readWheel returns the wheel's entries by name, in order.
func readWheel(t *testing.T, data []byte) (names []string, files map[string]*zip.File) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files = map[string]*zip.File{}
	for _, f := range zr.File {
		names = append(names, f.Name)
		files[f.Name] = f
	}
	return names, files
}

func readEntry(t *testing.T, f *zip.File) []byte {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestWheelLayout(t *testing.T) {
	for _, tc := range []struct {
		goos, goarch, filename, exe string
		tags                        []string
	}{
		{"linux", "amd64", "pysumdb-0.1.0.dev0+abc1234-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_2_x86_64.whl", "pysumdb",
			[]string{"py3-none-manylinux_2_17_x86_64", "py3-none-manylinux2014_x86_64", "py3-none-musllinux_1_2_x86_64"}},
		{"linux", "arm64", "pysumdb-0.1.0.dev0+abc1234-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_2_aarch64.whl", "pysumdb",
			[]string{"py3-none-manylinux_2_17_aarch64", "py3-none-manylinux2014_aarch64", "py3-none-musllinux_1_2_aarch64"}},
		{"darwin", "amd64", "pysumdb-0.1.0.dev0+abc1234-py3-none-macosx_12_0_x86_64.whl", "pysumdb", []string{"py3-none-macosx_12_0_x86_64"}},
		{"darwin", "arm64", "pysumdb-0.1.0.dev0+abc1234-py3-none-macosx_12_0_arm64.whl", "pysumdb", []string{"py3-none-macosx_12_0_arm64"}},
		{"windows", "amd64", "pysumdb-0.1.0.dev0+abc1234-py3-none-win_amd64.whl", "pysumdb.exe", []string{"py3-none-win_amd64"}},
		{"windows", "arm64", "pysumdb-0.1.0.dev0+abc1234-py3-none-win_arm64.whl", "pysumdb.exe", []string{"py3-none-win_arm64"}},
	} {
		t.Run(tc.goos+"/"+tc.goarch, func(t *testing.T) {
			filename, data, err := testWheel(tc.goos, tc.goarch).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if filename != tc.filename {
				t.Errorf("filename %q, want %q", filename, tc.filename)
			}
			names, files := readWheel(t, data)
			const dataDir, distInfo = "pysumdb-0.1.0.dev0+abc1234.data", "pysumdb-0.1.0.dev0+abc1234.dist-info"
			wantNames := []string{
				dataDir + "/scripts/" + tc.exe,
				distInfo + "/METADATA", distInfo + "/WHEEL", distInfo + "/LICENSE", distInfo + "/RECORD",
			}
			if !slices.Equal(names, wantNames) {
				t.Fatalf("entries %q, want %q (dist-info last, RECORD last of all)", names, wantNames)
			}

			// Modes: the binary executable, the rest not; Unix modes,
			// which pip reads from the external attributes.
			for _, name := range names {
				f := files[name]
				want := fs.FileMode(0o644)
				if strings.Contains(name, "/scripts/") {
					want = 0o755
				}
				if f.Mode() != want {
					t.Errorf("%s: mode %v, want %v", name, f.Mode(), want)
				}
				if got := fs.FileMode(f.ExternalAttrs>>16) & fs.ModePerm; got != want {
					t.Errorf("%s: Unix mode in the external attributes %v, want %v", name, got, want)
				}
				if f.CreatorVersion>>8 != 3 { // 3: Unix, for the mode to count
					t.Errorf("%s: creator system %d, want 3 (Unix)", name, f.CreatorVersion>>8)
				}
				if f.Method != zip.Deflate {
					t.Errorf("%s: method %d, want deflate", name, f.Method)
				}
			}
			if got := readEntry(t, files[wantNames[0]]); !bytes.Equal(got, fakeBinary) {
				t.Errorf("the binary is %q, want %q", got, fakeBinary)
			}

			wheel := string(readEntry(t, files[distInfo+"/WHEEL"]))
			wantWheel := "Wheel-Version: 1.0\nGenerator: " + Generator + "\nRoot-Is-Purelib: false\n"
			for _, tag := range tc.tags {
				wantWheel += "Tag: " + tag + "\n"
			}
			if wheel != wantWheel {
				t.Errorf("WHEEL:\n%s\nwant:\n%s", wheel, wantWheel)
			}
			// Each Tag of WHEEL is in the file name's compressed tag set
			// and the other way round.
			platforms := strings.Split(strings.TrimSuffix(strings.TrimPrefix(filename, "pysumdb-0.1.0.dev0+abc1234-py3-none-"), ".whl"), ".")
			var fromName []string
			for _, p := range platforms {
				fromName = append(fromName, "py3-none-"+p)
			}
			if !slices.Equal(fromName, tc.tags) {
				t.Errorf("the file name's tags %q, WHEEL's %q", fromName, tc.tags)
			}

			metadata := string(readEntry(t, files[distInfo+"/METADATA"]))
			wantMetadata := "Metadata-Version: 2.1\nName: pysumdb\nVersion: 0.1.0.dev0+abc1234\nSummary: A test wheel\n" +
				"Project-URL: Homepage, https://example.com/pysumdb\nLicense: Apache-2.0\nRequires-Python: >=3.8\n" +
				"Description-Content-Type: text/markdown\n\n# pysumdb\n\nHello.\n"
			if metadata != wantMetadata {
				t.Errorf("METADATA:\n%s\nwant:\n%s", metadata, wantMetadata)
			}
			checkRecord(t, data)
		})
	}
}

// checkRecord checks RECORD against the wheel: one row per other entry,
// with its sha256 (recomputed here, not with RecordHash) and size, and a
// row for RECORD with neither.
func checkRecord(t *testing.T, data []byte) {
	t.Helper()
	names, files := readWheel(t, data)
	recordName := names[len(names)-1]
	if !strings.HasSuffix(recordName, ".dist-info/RECORD") {
		t.Fatalf("the last entry is %s, want RECORD", recordName)
	}
	rows, err := csv.NewReader(bytes.NewReader(readEntry(t, files[recordName]))).ReadAll()
	if err != nil {
		t.Fatalf("RECORD is not CSV: %v", err)
	}
	if len(rows) != len(names) {
		t.Fatalf("RECORD has %d rows, the wheel %d entries", len(rows), len(names))
	}
	for i, row := range rows {
		if len(row) != 3 || row[0] != names[i] {
			t.Errorf("RECORD row %d is %q, want one for %s", i, row, names[i])
			continue
		}
		if row[0] == recordName {
			if row[1] != "" || row[2] != "" {
				t.Errorf("RECORD's own row %q has a hash or size", row)
			}
			continue
		}
		content := readEntry(t, files[row[0]])
		sum := sha256.Sum256(content)
		wantHash := "sha256=" + strings.TrimRight(base64.URLEncoding.EncodeToString(sum[:]), "=")
		if row[1] != wantHash {
			t.Errorf("RECORD: %s hash %s, want %s", row[0], row[1], wantHash)
		}
		if strings.ContainsAny(strings.TrimPrefix(row[1], "sha256="), "+/=") {
			t.Errorf("RECORD: %s hash %s is not URL-safe base64 without padding", row[0], row[1])
		}
		if row[2] != strconv.Itoa(len(content)) {
			t.Errorf("RECORD: %s size %s, want %d", row[0], row[2], len(content))
		}
	}
}

func TestWheelDeterministic(t *testing.T) {
	_, a, err := testWheel("linux", "amd64").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := testWheel("linux", "amd64").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two builds of the same wheel differ")
	}
}

func TestWheelMinimalMetadata(t *testing.T) {
	w := &Wheel{Name: "Py.Sum-DB", Version: "1.0", GOOS: "linux", GOARCH: "arm64", Executable: "pysumdb", Binary: fakeBinary}
	filename, data, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	// The file and directory names escape the project name; METADATA
	// keeps it.
	if !strings.HasPrefix(filename, "py_sum_db-1.0-py3-none-") {
		t.Errorf("filename %s", filename)
	}
	names, files := readWheel(t, data)
	if !slices.Equal(names, []string{"py_sum_db-1.0.data/scripts/pysumdb", "py_sum_db-1.0.dist-info/METADATA", "py_sum_db-1.0.dist-info/WHEEL", "py_sum_db-1.0.dist-info/RECORD"}) {
		t.Errorf("entries %q", names)
	}
	if got, want := string(readEntry(t, files["py_sum_db-1.0.dist-info/METADATA"])), "Metadata-Version: 2.1\nName: Py.Sum-DB\nVersion: 1.0\n"; got != want {
		t.Errorf("METADATA %q, want %q", got, want)
	}
	checkRecord(t, data)
}

func TestWheelErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Wheel)
	}{
		{"bad name", func(w *Wheel) { w.Name = "-pysumdb" }},
		{"non-PEP 440 version", func(w *Wheel) { w.Version = "0.1.0-SNAPSHOT-abc1234" }},
		{"v version", func(w *Wheel) { w.Version = "v1.0.0" }},
		{"unknown platform", func(w *Wheel) { w.GOOS = "plan9" }},
		{"unknown arch", func(w *Wheel) { w.GOARCH = "386" }},
		{"no binary", func(w *Wheel) { w.Binary = nil }},
		{"path in executable", func(w *Wheel) { w.Executable = "../pysumdb" }},
		{"two-line summary", func(w *Wheel) { w.Summary = "a\nb" }},
		{"header injection", func(w *Wheel) { w.License = "MIT\nName: other" }},
	} {
		w := testWheel("linux", "amd64")
		tc.change(w)
		if _, _, err := w.Bytes(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestRecordHash(t *testing.T) {
	// sha256("") in URL-safe base64, padding dropped.
	if got, want := RecordHash(nil), "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"; got != want {
		t.Errorf("RecordHash(nil) = %s, want %s", got, want)
	}
}

func TestPlatformTag(t *testing.T) {
	for _, tc := range []struct{ goos, goarch, want string }{
		{"linux", "amd64", "manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_2_x86_64"},
		{"linux", "arm64", "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_2_aarch64"},
		{"darwin", "amd64", "macosx_12_0_x86_64"},
		{"darwin", "arm64", "macosx_12_0_arm64"},
		{"windows", "amd64", "win_amd64"},
		{"windows", "arm64", "win_arm64"},
	} {
		got, err := PlatformTag(tc.goos, tc.goarch)
		if err != nil || got != tc.want {
			t.Errorf("PlatformTag(%s, %s) = %q, %v; want %q", tc.goos, tc.goarch, got, err, tc.want)
		}
	}
	for _, p := range [][2]string{{"linux", "386"}, {"linux", "arm"}, {"freebsd", "amd64"}, {"", ""}} {
		if got, err := PlatformTag(p[0], p[1]); err == nil {
			t.Errorf("PlatformTag(%s, %s) = %q, want an error", p[0], p[1], got)
		}
	}
}

func TestPEP440Version(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1.2.3", "1.2.3"},
		{"v1.2.3", "1.2.3"},
		{"v1.2", "1.2"},
		{"0.1.0-SNAPSHOT-abc1234", "0.1.0.dev0+abc1234"},
		{"v0.1.0-SNAPSHOT-abc1234", "0.1.0.dev0+abc1234"},
		{"0.0.1-SNAPSHOT-9BDE89D", "0.0.1.dev0+9bde89d"},
		{"0.1.0-snapshot", "0.1.0.dev0"},
		{"0.1.0-SNAPSHOT-abc1234-dirty", "0.1.0.dev0+abc1234.dirty"},
		{"1.2.3-rc.1", "1.2.3rc1"},
		{"1.2.3-rc1", "1.2.3rc1"},
		{"1.2.3-rc", "1.2.3rc0"},
		{"1.2.3-beta.2", "1.2.3b2"},
		{"1.2.3-alpha.01", "1.2.3a1"},
		{"1.2.3+build.5", "1.2.3+build.5"},
		{"1.2.3-rc.2+Build-7", "1.2.3rc2+build.7"},
		{"v0.0.0-20260101120000-abcdef123456", "0.0.0.dev20260101120000+abcdef123456"},
		{"v1.2.4-0.20260101120000-abcdef123456", "1.2.4.dev20260101120000+abcdef123456"},
		{"1.02.3", "1.2.3"},
	} {
		got, err := PEP440Version(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("PEP440Version(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if !IsPEP440(tc.want) {
			t.Errorf("IsPEP440(%q) is false", tc.want)
		}
	}
	for _, in := range []string{"", "v", "latest", "1.2.3-foo", "1.2.3-SNAPSHOT-abc_def", "1..2", "1.2.3-", "(devel)", "1.2.3 "} {
		if got, err := PEP440Version(in); err == nil {
			t.Errorf("PEP440Version(%q) = %q, want an error", in, got)
		}
	}
	for _, v := range []string{"1.2.3-rc1", "v1.0", "1.0.dev0+ABC", "01.0", "1.0+", "1.0.0-SNAPSHOT-abc1234", "1.0rc", "1!"} {
		if IsPEP440(v) {
			t.Errorf("IsPEP440(%q) is true", v)
		}
	}
}

// TestCheckBinary builds a small program for each platform and checks it
// is accepted for that platform only, and a macOS one for the macOS
// version of the tag only.
func TestCheckBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles six programs")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	binaries := map[string][]byte{}
	for p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		out := filepath.Join(dir, goos+"-"+goarch)
		cmd := exec.Command(gocmd, "build", "-ldflags=-s -w", "-o", out, src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
		if output, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("GOOS=%s GOARCH=%s go build: %v\n%s", goos, goarch, err, output)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		binaries[p] = data
	}
	for p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		for q, data := range binaries {
			err := CheckBinary(goos, goarch, data)
			if q == p && err != nil {
				t.Errorf("the %s binary for %s: %v", q, p, err)
			}
			if q != p && err == nil {
				t.Errorf("the %s binary passes for %s", q, p)
			}
		}
	}
	if err := CheckBinary(runtime.GOOS, runtime.GOARCH, fakeBinary); err == nil {
		t.Error("a file that is no executable passes")
	}

	// Go's linker sets a macOS binary's minimum version: a Go that raises
	// it past the tag's must fail the wheel.
	macOSMinimumWas := macOSMinimum
	t.Cleanup(func() { macOSMinimum = macOSMinimumWas })
	macOSMinimum = [2]uint32{11, 0}
	if err := CheckBinary("darwin", "arm64", binaries["darwin/arm64"]); err == nil {
		t.Error("a binary for macOS 12 passes a macOS 11 tag")
	}
}
