//go:build unix

package lockfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestIncludeRefusesSpecialFiles checks that only regular files are read:
// a named pipe would block a read forever (and its open, without a writer),
// /dev/zero would fill memory, a directory can't be read.
func TestIncludeRefusesSpecialFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"sub/x.txt": ""})
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	for _, c := range []struct{ include, want string }{
		{"fifo", "fifo is a named pipe (FIFO), not a regular file"},
		{"/dev/zero", "/dev/zero is a character device, not a regular file"},
		{"sub", "sub is a directory, not a regular file"},
	} {
		t.Run(c.include, func(t *testing.T) {
			req := filepath.Join(dir, "requirements.txt")
			if err := os.WriteFile(req, []byte("a==1 --hash=sha256:"+hashA+"\n-r "+c.include+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ParseFile(req, "")
			var parseErr *ParseError
			if !errors.As(err, &parseErr) || parseErr.File != req || parseErr.Line != 2 {
				t.Fatalf("error %v, want a *ParseError at %s:2", err, req)
			}
			if !strings.Contains(err.Error(), "couldn't read include: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
	// The lockfile itself too.
	for _, path := range []string{fifo, "/dev/zero"} {
		for _, format := range []Format{Requirements, UV} {
			if _, err := ParseFile(path, format); err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("ParseFile(%s, %s): %v, want not a regular file", path, format, err)
			}
		}
	}
}

// TestIncludeRefusesLargeFiles checks the bound on a file's size, as the
// file says (a sparse file, no disk used) and as read (a file of /proc,
// whose size is 0 until read).
func TestIncludeRefusesLargeFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"requirements.txt": "-r big.txt\n"})
	big := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(filepath.Join(dir, "requirements.txt"), "")
	if err == nil || !strings.Contains(err.Error(), "big.txt is larger than 16 MiB") {
		t.Errorf("error %v, want big.txt larger than 16 MiB", err)
	}
	if _, err := ParseFile(big, UV); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("ParseFile of a large uv.lock: %v, want larger than 16 MiB", err)
	}
	// A file of MaxFileSize bytes is read.
	if err := os.Truncate(big, MaxFileSize); err != nil {
		t.Fatal(err)
	}
	if data, err := readRegularFile(big); err != nil || len(data) != MaxFileSize {
		t.Errorf("readRegularFile of %d bytes: %d bytes, %v", MaxFileSize, len(data), err)
	}

	const proc = "/proc/self/maps"
	if info, err := os.Stat(proc); err != nil || info.Size() != 0 {
		t.Skipf("no %s of size 0 here", proc)
	}
	if _, err := readRegularFileLimit(proc, 16); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("readRegularFileLimit(%s, 16): %v, want larger than", proc, err)
	}
}

// TestOutsideFileContentNotShown checks that nothing of a file outside the
// lockfile's directory is shown: not in an error (a requirements file in a
// pull request checked in CI may include a secret of the CI machine), not
// in the artifacts it gives, not in an index location.
func TestOutsideFileContentNotShown(t *testing.T) {
	const secret = "hunter2"
	root := t.TempDir()
	files := map[string]string{
		"secret-error.txt":   "password = " + secret + "\n",
		"secret-name.txt":    secret + "\n",
		"secret-include.txt": "\n-r /nonexistent/" + secret + "\n",
		"secret-index.txt":   "--index-url https://user:" + secret + "@private.example/simple\n--find-links https://" + secret + ".example/\n",
		// A file outside that holds a real pin: its hash is checked, and
		// its name shown.
		"constraints.txt": "b==1 --hash=sha256:" + hashB + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "project")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A symbolic link inside the directory to a file outside it is outside.
	if err := os.Symlink(filepath.Join(root, "secret-error.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		include string
		line    int // the line of the error in the included file; 0: no error
	}{
		{"../secret-error.txt", 1},
		{filepath.Join(root, "secret-error.txt"), 1},
		{"link.txt", 1},
		{"../secret-include.txt", 2},
		{"../secret-name.txt", 0},
		{"../secret-index.txt", 0},
	} {
		t.Run(c.include, func(t *testing.T) {
			req := filepath.Join(dir, "requirements.txt")
			if err := os.WriteFile(req, []byte("a==1 --hash=sha256:"+hashA+"\n-c ../constraints.txt\n-r "+c.include+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			artifacts, err := ParseFile(req, "")
			shown := fmt.Sprintf("%v %+v", err, artifacts)
			if strings.Contains(shown, secret) {
				t.Fatalf("the content of a file outside the lockfile's directory is shown: %s", shown)
			}
			if c.line == 0 {
				if err != nil {
					t.Fatal(err)
				}
				pinned := map[string]string{}
				for _, a := range artifacts {
					pinned[a.Project] = a.SHA256
				}
				if pinned["a"] != hashA || pinned["b"] != hashB {
					t.Errorf("artifacts %q, want a's and b's pins", briefs(artifacts))
				}
				return
			}
			included := c.include
			if !filepath.IsAbs(included) {
				included = filepath.Join(dir, included)
			}
			var parseErr *ParseError
			if !errors.As(err, &parseErr) || parseErr.File != included || parseErr.Line != c.line {
				t.Fatalf("error %v, want a *ParseError at %s:%d", err, included, c.line)
			}
			if !strings.Contains(err.Error(), "outside the lockfile's directory") {
				t.Errorf("error %q does not say why it shows nothing", err)
			}
		})
	}

	// The same error in a file within the directory is shown whole.
	if err := os.WriteFile(filepath.Join(dir, "inside.txt"), []byte(files["secret-error.txt"]), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("-r inside.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(filepath.Join(dir, "requirements.txt"), ""); err == nil || !strings.Contains(err.Error(), secret) {
		t.Errorf("error %v, want the line of a file within the directory quoted", err)
	}

	// A lockfile that is itself a link out of its directory.
	for _, name := range []string{"uv.lock", "requirements-link.txt"} {
		if err := os.Symlink(filepath.Join(root, "secret-error.txt"), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		_, err := ParseFile(filepath.Join(dir, name), "")
		if err == nil || strings.Contains(err.Error(), secret) || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ParseFile(%s), a link to a file outside: %v, want an error that does not show the file", name, err)
		}
	}
}
