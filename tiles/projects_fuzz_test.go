package tiles

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func FuzzParseProjectList(f *testing.F) {
	f.Add(testProjectListText)
	f.Add(testOrigin + "\nprojects a\nsize 0\n")
	f.Add(testOrigin + "\nprojects a\nsize 1\na\n")
	f.Add(testOrigin + "\nprojects a-\nsize 1\na-b\na-b-c\na-bc\n")
	f.Add(testOrigin + "\nprojects ur\nsize 1099511627777\nur\n")
	f.Add(testOrigin + "\nprojects ur\nsize 1000\nurl\nur\n")
	f.Add(testOrigin + "\nprojects ur\nsize 1000\nurl\nurl\n")
	f.Add(testOrigin + "\nprojects ur\nsize 1000\nUr_l\n")
	f.Add(testOrigin + "\nprojects _\nsize 1000\n")
	f.Add(testOrigin + "\nproject ur\nsize 1000\n")
	f.Add(testOrigin + "\n5\n" + testHashBase64 + "\n")
	f.Add(strings.ReplaceAll(testProjectListText, "\n", "\r\n"))
	shards := map[string]bool{}
	for _, s := range ProjectShards() {
		shards[s] = true
	}
	f.Fuzz(func(t *testing.T, text string) {
		l, err := ParseProjectList(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := FormatProjectList(l)
		if err != nil {
			t.Fatalf("ParseProjectList(%q) = %+v, which FormatProjectList rejects: %v", text, l, err)
		}
		if string(b) != text {
			t.Fatalf("FormatProjectList(ParseProjectList(%q)) = %q", text, b)
		}
		if !shards[l.Shard] {
			t.Fatalf("ParseProjectList(%q) accepts shard %q, not in ProjectShards", text, l.Shard)
		}
		for i, p := range l.Projects {
			if q, err := NormalizeProject(p); err != nil || q != p || ProjectShard(p) != l.Shard || i > 0 && l.Projects[i-1] >= p {
				t.Fatalf("ParseProjectList(%q) accepts project %q", text, p)
			}
		}
		if _, err := ParseCheckpoint(text); err == nil {
			t.Fatalf("%q parses both as a project list and as a checkpoint", text)
		}
		if _, err := ParseIndex(text); err == nil {
			t.Fatalf("%q parses both as a project list and as a project index", text)
		}
		if _, err := ParseFilenameNote(text); err == nil {
			t.Fatalf("%q parses both as a project list and as a filename note", text)
		}
	})
}

func FuzzParseFilenameNote(f *testing.F) {
	f.Add(testFilenameNoteText)
	f.Add(testOrigin + "\nfilenames _\nsize 0\n")
	f.Add("o\nfilenames _\nsize 10\n0 _private-1.0.tar.gz private\n9 naïve-1.0.tar.gz naive\n")
	f.Add("o\nfilenames a\nsize 1\n0 a-b-c-d-e-f-1.0.tar.gz a-b-c-d-e-f\n")
	f.Add("o\nfilenames a\nsize 1\n0 a-b-c-d-e-f-1.0.tar.gz a-b-c-d-e\n")
	f.Add("o\nfilenames foo-bar\nsize 2\n1 foo_bar-1.0-py3-none-any.whl foo\n")
	f.Add(testOrigin + "\nfilenames django\nsize 1000\n7 django-foo-1.2.tar.gz django-foo\n")
	f.Add(testOrigin + "\nfilenames django\nsize 1000\n7 flask-1.2.tar.gz foo\n")
	f.Add(testOrigin + "\nfilenames django\nsize 1000\n7 django-foo-1.2.tar.gz foo\n3 django-1.0.zip foo\n")
	f.Add(testOrigin + "\nfilenames django\nsize 1099511627777\n")
	f.Add(testOrigin + "\nfilenames django\nsize 1000\n07 django-foo-1.2.tar.gz foo\n")
	f.Add(testOrigin + "\nfilenames django\nsize 1000\n7 django-\u00a0.tar.gz foo\n")
	f.Add(testOrigin + "\nproject django\nsize 1000\n")
	f.Add(strings.ReplaceAll(testFilenameNoteText, "\n", "\r\n"))
	f.Fuzz(func(t *testing.T, text string) {
		x, err := ParseFilenameNote(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := FormatFilenameNote(x)
		if err != nil {
			t.Fatalf("ParseFilenameNote(%q) = %+v, which FormatFilenameNote rejects: %v", text, x, err)
		}
		if string(b) != text {
			t.Fatalf("FormatFilenameNote(ParseFilenameNote(%q)) = %q", text, b)
		}
		for _, l := range x.Lines {
			if FilenameHome(l.Filename) != x.Home || slices.Contains(FilenameProjects(l.Filename), l.Project) {
				t.Fatalf("ParseFilenameNote(%q) accepts %s of project %s", text, l.Filename, l.Project)
			}
		}
		if _, err := ParseCheckpoint(text); err == nil {
			t.Fatalf("%q parses both as a filename note and as a checkpoint", text)
		}
		if _, err := ParseIndex(text); err == nil {
			t.Fatalf("%q parses both as a filename note and as a project index", text)
		}
		if _, err := ParseProjectList(text); err == nil {
			t.Fatalf("%q parses both as a filename note and as a project list", text)
		}
	})
}

func FuzzFilenameProjects(f *testing.F) {
	for _, s := range []string{
		"foo_bar-1.0-py3-none-any.whl", "foo-bar-1.0-py3-none-any.whl", "foo_bar-1.0-py2.7.egg",
		"foo_bar-1.0.tar.gz", "django-foo-1.2.tar.gz", "pywin32-214.win32-py2.6.exe",
		"foo-bar-1.0.win-amd64.msi", "foo.zip", "foo", "", "-", "a-b-c-d-e-f-g-1.0.tar.gz",
		"a-_-b-c-d-e-1.0.tar.gz", "foo--bar-1.0.tar.gz", "foo-b@r-1.0.tar.gz", "_private-1.0.tar.gz",
		"naïve-1.0.tar.gz", "a." + strings.Repeat("a", maxProjectLen) + "-1.whl",
		strings.Repeat("a", maxProjectLen-2) + "-b-c-1.0.tar.gz", strings.Repeat("_-", 300),
	} {
		f.Add(s)
	}
	shards := map[string]bool{}
	for _, s := range ProjectShards() {
		shards[s] = true
	}
	f.Fuzz(func(t *testing.T, filename string) {
		got := FilenameProjects(filename)
		if want := filenameProjectsByJoin(filename); !slices.Equal(got, want) {
			t.Fatalf("FilenameProjects(%q) = %q, the reference gives %q", filename, got, want)
		}
		if len(got) > MaxFilenameProjects {
			t.Fatalf("FilenameProjects(%q) = %q, more than %d", filename, got, MaxFilenameProjects)
		}
		for i, p := range got {
			if q, err := NormalizeProject(p); err != nil || q != p || !IsNormalizedProject(p) {
				t.Fatalf("FilenameProjects(%q) = %q: %q is not normalized", filename, got, p)
			}
			if slices.Contains(got[:i], p) {
				t.Fatalf("FilenameProjects(%q) = %q: %q twice", filename, got, p)
			}
			if i > 0 && len(p) <= len(got[i-1]) {
				t.Fatalf("FilenameProjects(%q) = %q: not shortest first", filename, got)
			}
			if !shards[ProjectShard(p)] {
				t.Fatalf("FilenameProjects(%q) = %q: shard of %q not in ProjectShards", filename, got, p)
			}
			if IsListedFilename(filename, p) {
				t.Fatalf("IsListedFilename(%q, %q) = true, but FilenameProjects gives %q", filename, p, got)
			}
		}
		// The first candidate's shortcut agrees with the list.
		if i := strings.IndexByte(filename, '-'); i > 0 {
			if p, err := NormalizeProject(filename[:i]); err == nil && IsListedFilename(filename, p) == slices.Contains(got, p) {
				t.Fatalf("IsListedFilename(%q, %q) = %v, but FilenameProjects gives %q", filename, p, !slices.Contains(got, p), got)
			}
		}
		home := FilenameHome(filename)
		switch {
		case len(got) == 0 && home != noHome, len(got) > 0 && home != got[0]:
			t.Fatalf("FilenameHome(%q) = %q, FilenameProjects = %q", filename, home, got)
		}
		if !isFilenameHome(home) {
			t.Fatalf("FilenameHome(%q) = %q, which a filename note can't be named", filename, home)
		}
		if home == noHome && !IsListedFilename(filename, "a") {
			t.Fatalf("IsListedFilename(%q, a) = false with no candidates", filename)
		}
		// A valid filename of any project not among them can be listed in
		// the note of its home.
		if CheckFilename(filename) == nil {
			// Candidates differ in length: one of these is not among them.
			project := "x0"
			if slices.Contains(got, project) {
				project = "y0"
			}
			x := FilenameNote{Origin: testOrigin, Home: home, TreeSize: 1, Lines: []FilenameLine{{Leaf: 0, Filename: filename, Project: project}}}
			text, err := FormatFilenameNote(x)
			if err != nil {
				t.Fatalf("FormatFilenameNote(%+v): %v", x, err)
			}
			if _, err := ParseFilenameNote(string(text)); err != nil {
				t.Fatalf("ParseFilenameNote(%q): %v", text, err)
			}
		}
	})
}
