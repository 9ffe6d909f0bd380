package tiles

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// testProjectListText is the text of testProjectList.
const testProjectListText = testOrigin + "\n" +
	"projects ur\n" +
	"size 1000\n" +
	"ur\n" +
	"ur-1\n" +
	"url\n" +
	"urllib3\n" +
	"urllib3-secure-extra\n"

func testProjectList() ProjectList {
	return ProjectList{
		Origin:   testOrigin,
		Shard:    "ur",
		TreeSize: 1000,
		Projects: []string{"ur", "ur-1", "url", "urllib3", "urllib3-secure-extra"},
	}
}

func TestProjectListRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		list ProjectList
		text string
	}{
		{"five projects", testProjectList(), testProjectListText},
		{"one-letter shard", ProjectList{Origin: "o", Shard: "a", TreeSize: 1, Projects: []string{"a"}}, "o\nprojects a\nsize 1\na\n"},
		{"digit shard", ProjectList{Origin: "o", Shard: "7z", TreeSize: 2, Projects: []string{"7z", "7z-x", "7zip"}}, "o\nprojects 7z\nsize 2\n7z\n7z-x\n7zip\n"},
		{"shard ending in dash", ProjectList{Origin: "o", Shard: "a-", TreeSize: 3, Projects: []string{"a-0", "a-b", "a-b-c", "a-bc"}}, "o\nprojects a-\nsize 3\na-0\na-b\na-b-c\na-bc\n"},
		{"largest size", ProjectList{Origin: testOrigin, Shard: "zz", TreeSize: MaxTreeSize, Projects: []string{"zz"}}, testOrigin + "\nprojects zz\nsize 1099511627776\nzz\n"},
		{"longest name", ProjectList{Origin: "o", Shard: "aa", TreeSize: 1, Projects: []string{strings.Repeat("a", maxProjectLen)}}, "o\nprojects aa\nsize 1\n" + strings.Repeat("a", maxProjectLen) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatProjectList(tt.list)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.text {
				t.Fatalf("FormatProjectList =\n%s\nwant\n%s", got, tt.text)
			}
			l, err := ParseProjectList(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(l, tt.list) {
				t.Fatalf("ParseProjectList = %+v, want %+v", l, tt.list)
			}
		})
	}
}

// TestProjectListEmpty checks that a shard without projects round-trips to
// the value the sequencer starts from when the shard does not exist.
func TestProjectListEmpty(t *testing.T) {
	for _, l := range []ProjectList{
		{Origin: testOrigin, Shard: "ur"},
		{Origin: testOrigin, Shard: "ur", TreeSize: 70000},
	} {
		text, err := FormatProjectList(l)
		if err != nil {
			t.Fatal(err)
		}
		if want := testOrigin + "\nprojects ur\nsize " + strconv.FormatInt(l.TreeSize, 10) + "\n"; string(text) != want {
			t.Fatalf("FormatProjectList = %q, want %q", text, want)
		}
		got, err := ParseProjectList(string(text))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, l) {
			t.Fatalf("ParseProjectList(%q) = %#v, want %#v", text, got, l)
		}
	}
}

func TestParseProjectListRejects(t *testing.T) {
	head := testOrigin + "\nprojects ur\nsize 1000\n"
	withShard := func(s string) string { return testOrigin + "\nprojects " + s + "\nsize 1000\n" }
	withSize := func(s string) string { return testOrigin + "\nprojects ur\nsize " + s + "\n" }
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"missing trailing LF", strings.TrimSuffix(testProjectListText, "\n")},
		{"missing trailing LF, no projects", strings.TrimSuffix(head, "\n")},
		{"CRLF", strings.ReplaceAll(testProjectListText, "\n", "\r\n")},
		{"only origin", testOrigin + "\n"},
		{"no size line", testOrigin + "\nprojects ur\n"},
		{"bad origin", "pysumdb example\nprojects ur\nsize 1000\n"},
		{"origin with plus", "a+b\nprojects ur\nsize 1000\n"},
		{"empty origin", "\nprojects ur\nsize 1000\n"},
		{"kind of an index", testOrigin + "\nproject ur\nsize 1000\nur\n"},
		{"kind of a filename note", testOrigin + "\nfilenames ur\nsize 1000\n"},
		{"kind capitalized", testOrigin + "\nProjects ur\nsize 1000\n"},
		{"kind missing", testOrigin + "\nur\nsize 1000\n"},
		{"kind without shard", testOrigin + "\nprojects\nsize 1000\n"},
		{"shard empty", withShard("")},
		{"shard double space", withShard(" ur")},
		{"shard trailing space", withShard("ur ")},
		{"shard of three characters", withShard("url")},
		{"shard uppercase", withShard("Ur")},
		{"shard with underscore", withShard("u_")},
		{"shard with dot", withShard("u.")},
		{"shard starting with dash", withShard("-u")},
		{"shard dash", withShard("-")},
		{"shard no-home", withShard("_")},
		{"shard not ASCII", withShard("ü")},
		{"size keyword missing", testOrigin + "\nprojects ur\n1000\n"},
		{"size empty", withSize("")},
		{"size 01", withSize("01")},
		{"size -1", withSize("-1")},
		{"size +1", withSize("+1")},
		{"size above MaxTreeSize", withSize("1099511627777")},
		{"size overflow", withSize("9223372036854775808")},
		{"size trailing space", withSize("1000 ")},
		{"project of another shard", head + "requests\n"},
		{"project of another shard after valid ones", head + "ur\nurllib3\nus\n"},
		{"project whose shard is a prefix of the shard", withShard("ur") + "u\n"},
		{"project longer than a one-letter shard", withShard("u") + "ur\n"},
		{"project of shard u- in shard u", withShard("u") + "u-r\n"},
		{"projects unsorted", head + "urllib3\nurl\n"},
		{"projects unsorted by dash", head + "ur1\nur-1\n"},
		{"project twice", head + "url\nurl\n"},
		{"project twice, not adjacent", head + "url\nurllib3\nurl\n"},
		{"project not normalized, uppercase", head + "Urllib3\n"},
		{"project not normalized, underscore", head + "ur_x\n"},
		{"project not normalized, dot", head + "ur.x\n"},
		{"project not normalized, double dash", head + "ur--x\n"},
		{"project not normalized, trailing dash", head + "ur-\n"},
		{"project too long", head + "ur" + strings.Repeat("a", maxProjectLen-1) + "\n"},
		{"empty line", head + "\n"},
		{"empty line between", head + "ur\n\nurl\n"},
		{"project with trailing space", head + "url \n"},
		{"two projects on a line", head + "ur url\n"},
		{"checkpoint", testOrigin + "\n5\n" + testHashBase64 + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseProjectList(tt.text)
			if err == nil {
				t.Fatalf("ParseProjectList(%q) = %+v, want error", tt.text, l)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestFormatProjectListRejects(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*ProjectList)
	}{
		{"bad origin", func(l *ProjectList) { l.Origin = "a b" }},
		{"empty origin", func(l *ProjectList) { l.Origin = "" }},
		{"negative tree size", func(l *ProjectList) { l.TreeSize = -1 }},
		{"tree size above MaxTreeSize", func(l *ProjectList) { l.TreeSize = MaxTreeSize + 1 }},
		{"empty shard", func(l *ProjectList) { l.Shard = ""; l.Projects = nil }},
		{"shard of three characters", func(l *ProjectList) { l.Shard = "url"; l.Projects = []string{"url"} }},
		{"shard uppercase", func(l *ProjectList) { l.Shard = "UR"; l.Projects = nil }},
		{"shard with newline", func(l *ProjectList) { l.Shard = "u\n"; l.Projects = nil }},
		{"project of another shard", func(l *ProjectList) { l.Projects = append(l.Projects, "us") }},
		{"projects unsorted", func(l *ProjectList) { l.Projects[1], l.Projects[2] = l.Projects[2], l.Projects[1] }},
		{"project twice", func(l *ProjectList) { l.Projects[2] = l.Projects[1] }},
		{"project not normalized", func(l *ProjectList) { l.Projects[4] = "urllib3_secure_extra" }},
		{"project empty", func(l *ProjectList) { l.Projects = append([]string{""}, l.Projects...) }},
		{"project with newline", func(l *ProjectList) { l.Projects = []string{"ur\nus"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testProjectList()
			tt.modify(&l)
			b, err := FormatProjectList(l)
			if err == nil {
				t.Fatalf("FormatProjectList = %q, want error", b)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestSignOpenProjectList(t *testing.T) {
	signer, verifier, _ := newKey(t, testOrigin)
	l := testProjectList()
	msg, err := SignProjectList(l, signer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), testProjectListText+"\n— "+testOrigin+" ") {
		t.Fatalf("signed project list =\n%s", msg)
	}
	got, err := OpenProjectList(msg, verifier, "ur")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) {
		t.Fatalf("OpenProjectList = %+v, want %+v", got, l)
	}

	for _, shard := range []string{"us", "u", "ur-", "UR", ""} {
		t.Run("served for shard "+strconv.Quote(shard), func(t *testing.T) {
			got, err := OpenProjectList(msg, verifier, shard)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("OpenProjectList(%q) = %+v, %v; want ErrMalformed", shard, got, err)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		_, other, _ := newKey(t, testOrigin)
		if got, err := OpenProjectList(msg, other, "ur"); err == nil {
			t.Fatalf("OpenProjectList with another key = %+v, want error", got)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		bad := strings.Replace(string(msg), "\nurl\n", "\nurm\n", 1)
		if got, err := OpenProjectList([]byte(bad), verifier, "ur"); err == nil {
			t.Fatalf("OpenProjectList of a tampered list = %+v, want error", got)
		}
	})
	t.Run("signature of another note", func(t *testing.T) {
		other, err := SignProjectList(ProjectList{Origin: testOrigin, Shard: "ur", TreeSize: 1000}, signer)
		if err != nil {
			t.Fatal(err)
		}
		sig := string(other[strings.Index(string(other), "\n\n"):])
		bad := testProjectListText + sig
		if got, err := OpenProjectList([]byte(bad), verifier, "ur"); err == nil {
			t.Fatalf("OpenProjectList with the signature of another list = %+v, want error", got)
		}
	})
	t.Run("signer is not the origin", func(t *testing.T) {
		other, _, _ := newKey(t, "other.example.org/log")
		if msg, err := SignProjectList(l, other); err == nil {
			t.Fatalf("SignProjectList with key of another name = %s, want error", msg)
		}
	})
	t.Run("origin is not the key name", func(t *testing.T) {
		y := testProjectList()
		y.Origin = "other.example.org/log"
		text, err := FormatProjectList(y)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := OpenProjectList(msg, verifier, "ur"); !errors.Is(err, ErrMalformed) {
			t.Fatalf("OpenProjectList = %+v, %v; want ErrMalformed", got, err)
		}
	})
	t.Run("signed malformed text", func(t *testing.T) {
		msg, err := note.Sign(&note.Note{Text: testOrigin + "\nprojects ur\nsize 1000\nurl\nur\n"}, signer)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OpenProjectList(msg, verifier, "ur")
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("OpenProjectList = %+v, %v; want ErrMalformed", got, err)
		}
		if !reflect.DeepEqual(got, ProjectList{}) {
			t.Fatalf("OpenProjectList returned %+v with its error, want the zero value", got)
		}
	})
	t.Run("invalid list", func(t *testing.T) {
		y := testProjectList()
		y.Projects = append(y.Projects, "requests")
		if msg, err := SignProjectList(y, signer); err == nil {
			t.Fatalf("SignProjectList of an invalid list = %s, want error", msg)
		}
	})
}

func TestProjectShards(t *testing.T) {
	shards := ProjectShards()
	if len(shards) != 36*38 {
		t.Fatalf("len(ProjectShards()) = %d, want %d", len(shards), 36*38)
	}
	if !slices.IsSorted(shards) {
		t.Fatalf("ProjectShards() is not sorted")
	}
	set := map[string]bool{}
	for _, s := range shards {
		if set[s] {
			t.Fatalf("ProjectShards() holds %q twice", s)
		}
		set[s] = true
		if !isProjectShard(s) {
			t.Errorf("ProjectShards() holds %q, which isProjectShard rejects", s)
		}
		if ProjectListKey(s) != "projects/"+s {
			t.Errorf("ProjectListKey(%q) = %q", s, ProjectListKey(s))
		}
	}
	if shards[0] != "0" || shards[1] != "0-" || shards[2] != "00" || shards[len(shards)-1] != "zz" {
		t.Errorf("ProjectShards() = %q...%q", shards[:3], shards[len(shards)-1])
	}

	// Every normalized name of up to three characters (so of every shape
	// a shard can take) has its shard in ProjectShards, and every shard
	// is the shard of one of them.
	const alphabet = "-0123456789abcdefghijklmnopqrstuvwxyz"
	used := map[string]bool{}
	var names []string
	for _, a := range alphabet {
		names = append(names, string(a))
		for _, b := range alphabet {
			names = append(names, string(a)+string(b))
			for _, c := range alphabet {
				names = append(names, string(a)+string(b)+string(c))
			}
		}
	}
	names = append(names, "urllib3", "zope-interface", "a-b-c-d", strings.Repeat("9", maxProjectLen))
	for _, p := range names {
		if !IsNormalizedProject(p) {
			continue
		}
		s := ProjectShard(p)
		if !set[s] {
			t.Errorf("ProjectShard(%q) = %q, not in ProjectShards()", p, s)
		}
		if !strings.HasPrefix(p, s) || len(s) != min(2, len(p)) {
			t.Errorf("ProjectShard(%q) = %q", p, s)
		}
		used[s] = true
	}
	for _, s := range shards {
		if !used[s] {
			t.Errorf("no normalized name has shard %q", s)
		}
	}
	for _, s := range []string{"", "A", "Ab", "-", "-a", "_", "a_", "a.", "abc", "é", "a\n"} {
		if isProjectShard(s) {
			t.Errorf("isProjectShard(%q) = true", s)
		}
	}
}

// testFilenameNoteText is the text of testFilenameNote.
const testFilenameNoteText = testOrigin + "\n" +
	"filenames django\n" +
	"size 1000\n" +
	"3 django-1.0-py3-none-any.whl django-legacy\n" +
	"7 django-foo-1.2.tar.gz foo\n" +
	"999 Django-Extra-Tools-0.1.zip django-extra-tools-old\n"

func testFilenameNote() FilenameNote {
	return FilenameNote{
		Origin:   testOrigin,
		Home:     "django",
		TreeSize: 1000,
		Lines: []FilenameLine{
			{Leaf: 3, Filename: "django-1.0-py3-none-any.whl", Project: "django-legacy"},
			{Leaf: 7, Filename: "django-foo-1.2.tar.gz", Project: "foo"},
			{Leaf: 999, Filename: "Django-Extra-Tools-0.1.zip", Project: "django-extra-tools-old"},
		},
	}
}

func TestFilenameNoteRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		note FilenameNote
		text string
	}{
		{"three files", testFilenameNote(), testFilenameNoteText},
		{"no files, empty log", FilenameNote{Origin: testOrigin, Home: "django"}, testOrigin + "\nfilenames django\nsize 0\n"},
		{"no files yet", FilenameNote{Origin: testOrigin, Home: "_", TreeSize: 70000}, testOrigin + "\nfilenames _\nsize 70000\n"},
		{
			"no home",
			FilenameNote{Origin: "o", Home: "_", TreeSize: 10, Lines: []FilenameLine{
				{Leaf: 0, Filename: "_private-1.0.tar.gz", Project: "private"},
				{Leaf: 9, Filename: "naïve-1.0.tar.gz", Project: "naive"},
			}},
			"o\nfilenames _\nsize 10\n0 _private-1.0.tar.gz private\n9 naïve-1.0.tar.gz naive\n",
		},
		{
			"largest size",
			FilenameNote{Origin: "o", Home: "foo-bar", TreeSize: MaxTreeSize, Lines: []FilenameLine{{Leaf: MaxTreeSize - 1, Filename: "foo_bar-1.0-py3-none-any.whl", Project: "foobar"}}},
			"o\nfilenames foo-bar\nsize 1099511627776\n1099511627775 foo_bar-1.0-py3-none-any.whl foobar\n",
		},
		{
			"capped candidates",
			FilenameNote{Origin: "o", Home: "a", TreeSize: 1, Lines: []FilenameLine{{Leaf: 0, Filename: "a-b-c-d-e-f-1.0.tar.gz", Project: "a-b-c-d-e-f"}}},
			"o\nfilenames a\nsize 1\n0 a-b-c-d-e-f-1.0.tar.gz a-b-c-d-e-f\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatFilenameNote(tt.note)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.text {
				t.Fatalf("FormatFilenameNote =\n%s\nwant\n%s", got, tt.text)
			}
			x, err := ParseFilenameNote(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(x, tt.note) {
				t.Fatalf("ParseFilenameNote = %+v, want %+v", x, tt.note)
			}
		})
	}
}

func TestParseFilenameNoteRejects(t *testing.T) {
	head := testOrigin + "\nfilenames django\nsize 1000\n"
	line := "7 django-foo-1.2.tar.gz foo\n"
	withHome := func(h string) string { return testOrigin + "\nfilenames " + h + "\nsize 1000\n" }
	withSize := func(s string) string { return testOrigin + "\nfilenames django\nsize " + s + "\n" }
	withLeaf := func(s string) string { return head + s + " django-foo-1.2.tar.gz foo\n" }
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"missing trailing LF", strings.TrimSuffix(testFilenameNoteText, "\n")},
		{"missing trailing LF, no files", strings.TrimSuffix(head, "\n")},
		{"CRLF", strings.ReplaceAll(testFilenameNoteText, "\n", "\r\n")},
		{"only origin", testOrigin + "\n"},
		{"no size line", testOrigin + "\nfilenames django\n"},
		{"bad origin", "pysumdb example\nfilenames django\nsize 1000\n"},
		{"origin with plus", "a+b\nfilenames django\nsize 1000\n"},
		{"kind of an index", testOrigin + "\nproject django\nsize 1000\n"},
		{"kind of a project list", testOrigin + "\nprojects dj\nsize 1000\n"},
		{"kind singular", testOrigin + "\nfilename django\nsize 1000\n"},
		{"kind capitalized", testOrigin + "\nFilenames django\nsize 1000\n"},
		{"kind missing", testOrigin + "\ndjango\nsize 1000\n"},
		{"kind without home", testOrigin + "\nfilenames\nsize 1000\n"},
		{"home empty", withHome("")},
		{"home double space", withHome(" django")},
		{"home trailing space", withHome("django ")},
		{"home not normalized", withHome("Django")},
		{"home with underscore", withHome("django_foo")},
		{"home with trailing dash", withHome("django-")},
		{"home two underscores", withHome("__")},
		{"home dash", withHome("-")},
		{"size keyword missing", testOrigin + "\nfilenames django\n1000\n"},
		{"size empty", withSize("")},
		{"size 01", withSize("01")},
		{"size -1", withSize("-1")},
		{"size above MaxTreeSize", withSize("1099511627777")},
		{"size overflow", withSize("9223372036854775808")},
		{"lines out of order", head + "7 django-foo-1.2.tar.gz foo\n3 django-1.0-py3-none-any.whl django-legacy\n"},
		{"duplicate leaf", head + line + "7 django-bar-1.2.tar.gz foo\n"},
		{"duplicate line", head + line + line},
		{"leaf equal to size", withLeaf("1000")},
		{"leaf beyond size", withLeaf("5000")},
		{"leaf in empty log", testOrigin + "\nfilenames django\nsize 0\n" + "0 django-foo-1.2.tar.gz foo\n"},
		{"leaf negative", withLeaf("-1")},
		{"leaf with leading zero", withLeaf("07")},
		{"leaf with plus", withLeaf("+7")},
		{"leaf empty", withLeaf("")},
		{"leaf not a number", withLeaf("seven")},
		{"two fields", head + "7 django-foo-1.2.tar.gz\n"},
		{"four fields", head + "7 django-foo-1.2.tar.gz foo bar\n"},
		{"double space", head + "7  django-foo-1.2.tar.gz foo\n"},
		{"trailing space", head + "7 django-foo-1.2.tar.gz foo \n"},
		{"tab separated", head + "7\tdjango-foo-1.2.tar.gz\tfoo\n"},
		{"fields in wrong order", head + "7 foo django-foo-1.2.tar.gz\n"},
		{"empty line", head + "\n"},
		{"empty line between", head + line + "\n" + "8 django-bar-1.2.tar.gz foo\n"},
		{"filename with slash", head + "7 django-foo/1.2.tar.gz foo\n"},
		{"filename with backslash", head + "7 django-foo\\1.2.tar.gz foo\n"},
		{"filename not UTF-8", head + "7 django-\xff.tar.gz foo\n"},
		{"filename with control char", head + "7 django-\x01.tar.gz foo\n"},
		{"filename with no-break space", head + "7 django-\u00a0.tar.gz foo\n"},
		{"filename too long", head + "7 django-" + strings.Repeat("a", MaxFilenameLen) + ".tar.gz foo\n"},
		{"project empty", head + "7 django-foo-1.2.tar.gz \n"},
		{"project not normalized", head + "7 django-foo-1.2.tar.gz Foo\n"},
		{"project with underscore", head + "7 django-foo-1.2.tar.gz foo_bar\n"},
		{"project no-home", head + "7 django-foo-1.2.tar.gz _\n"},
		// Files that belong in an index only, as their project is one
		// FilenameProjects gives.
		{"file of its first candidate", head + "7 django-foo-1.2.tar.gz django\n"},
		{"file of its second candidate", head + "7 django-foo-1.2.tar.gz django-foo\n"},
		{"wheel of its project", head + "7 Django-1.0-py3-none-any.whl django\n"},
		{"egg of its project", head + "7 django-1.0-py2.7.egg django\n"},
		{"file of its fifth candidate", head + "7 django-a-b-c-d-e-1.0.tar.gz django-a-b-c-d\n"},
		{"listed file after an unlisted one", head + line + "8 django-bar-1.2.tar.gz django-bar\n"},
		// Files whose home is another note.
		{"file of home flask", head + "7 flask-1.0.tar.gz foo\n"},
		{"wheel of home django-foo", head + "7 django_foo-1.0-py3-none-any.whl foo\n"},
		{"file with no home in django", head + "7 _django-1.0.tar.gz foo\n"},
		{"file of home django in _", withHome("_") + "7 django-foo-1.2.tar.gz foo\n"},
		{"file of home d in django", head + "7 d-jango-1.2.tar.gz foo\n"},
		{"checkpoint", testOrigin + "\n5\n" + testHashBase64 + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := ParseFilenameNote(tt.text)
			if err == nil {
				t.Fatalf("ParseFilenameNote(%q) = %+v, want error", tt.text, x)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestFormatFilenameNoteRejects(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*FilenameNote)
	}{
		{"bad origin", func(x *FilenameNote) { x.Origin = "a b" }},
		{"negative tree size", func(x *FilenameNote) { x.TreeSize = -1; x.Lines = nil }},
		{"tree size above MaxTreeSize", func(x *FilenameNote) { x.TreeSize = MaxTreeSize + 1 }},
		{"home empty", func(x *FilenameNote) { x.Home = ""; x.Lines = nil }},
		{"home not normalized", func(x *FilenameNote) { x.Home = "Django"; x.Lines = nil }},
		{"home with newline", func(x *FilenameNote) { x.Home = "django\n5"; x.Lines = nil }},
		{"wrong home", func(x *FilenameNote) { x.Home = "django-foo" }},
		{"lines out of order", func(x *FilenameNote) { x.Lines[0], x.Lines[1] = x.Lines[1], x.Lines[0] }},
		{"duplicate leaf", func(x *FilenameNote) { x.Lines[1].Leaf = x.Lines[0].Leaf }},
		{"leaf equal to size", func(x *FilenameNote) { x.Lines[2].Leaf = x.TreeSize }},
		{"negative leaf", func(x *FilenameNote) { x.Lines[0].Leaf = -1 }},
		{"bad filename", func(x *FilenameNote) { x.Lines[0].Filename = "django-1.0 x.whl" }},
		{"empty filename", func(x *FilenameNote) { x.Lines[0].Filename = "" }},
		{"filename with newline", func(x *FilenameNote) { x.Lines[0].Filename = "django-1.0\n.whl" }},
		{"project not normalized", func(x *FilenameNote) { x.Lines[0].Project = "Django_Legacy" }},
		{"project with space", func(x *FilenameNote) { x.Lines[0].Project = "django legacy" }},
		{"project empty", func(x *FilenameNote) { x.Lines[0].Project = "" }},
		{"file not to be listed", func(x *FilenameNote) { x.Lines[1].Project = "django-foo" }},
		{"file of another home", func(x *FilenameNote) { x.Lines[1].Filename = "flask-1.2.tar.gz" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := testFilenameNote()
			tt.modify(&x)
			b, err := FormatFilenameNote(x)
			if err == nil {
				t.Fatalf("FormatFilenameNote = %q, want error", b)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestSignOpenFilenameNote(t *testing.T) {
	signer, verifier, _ := newKey(t, testOrigin)
	x := testFilenameNote()
	msg, err := SignFilenameNote(x, signer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), testFilenameNoteText+"\n— "+testOrigin+" ") {
		t.Fatalf("signed filename note =\n%s", msg)
	}
	got, err := OpenFilenameNote(msg, verifier, "django")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, x) {
		t.Fatalf("OpenFilenameNote = %+v, want %+v", got, x)
	}

	for _, home := range []string{"django-foo", "flask", "_", "Django", ""} {
		t.Run("served for home "+strconv.Quote(home), func(t *testing.T) {
			got, err := OpenFilenameNote(msg, verifier, home)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("OpenFilenameNote(%q) = %+v, %v; want ErrMalformed", home, got, err)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		_, other, _ := newKey(t, testOrigin)
		if got, err := OpenFilenameNote(msg, other, "django"); err == nil {
			t.Fatalf("OpenFilenameNote with another key = %+v, want error", got)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		bad := strings.Replace(string(msg), " foo\n", " bar\n", 1)
		if got, err := OpenFilenameNote([]byte(bad), verifier, "django"); err == nil {
			t.Fatalf("OpenFilenameNote of a tampered note = %+v, want error", got)
		}
	})
	t.Run("signer is not the origin", func(t *testing.T) {
		other, _, _ := newKey(t, "other.example.org/log")
		if msg, err := SignFilenameNote(x, other); err == nil {
			t.Fatalf("SignFilenameNote with key of another name = %s, want error", msg)
		}
	})
	t.Run("origin is not the key name", func(t *testing.T) {
		y := testFilenameNote()
		y.Origin = "other.example.org/log"
		text, err := FormatFilenameNote(y)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := OpenFilenameNote(msg, verifier, "django"); !errors.Is(err, ErrMalformed) {
			t.Fatalf("OpenFilenameNote = %+v, %v; want ErrMalformed", got, err)
		}
	})
	t.Run("signed malformed text", func(t *testing.T) {
		msg, err := note.Sign(&note.Note{Text: testOrigin + "\nfilenames django\nsize 1000\n" + "7 django-foo-1.2.tar.gz foo\n" + "7 django-bar-1.2.tar.gz foo\n"}, signer)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OpenFilenameNote(msg, verifier, "django")
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("OpenFilenameNote = %+v, %v; want ErrMalformed", got, err)
		}
		if !reflect.DeepEqual(got, FilenameNote{}) {
			t.Fatalf("OpenFilenameNote returned %+v with its error, want the zero value", got)
		}
	})
	t.Run("invalid note", func(t *testing.T) {
		y := testFilenameNote()
		y.Lines[0].Project = "django"
		if msg, err := SignFilenameNote(y, signer); err == nil {
			t.Fatalf("SignFilenameNote of an invalid note = %s, want error", msg)
		}
	})
}

// TestNotesAreDistinct checks that no kind of signed note of a log can be
// taken for another, even with the same key.
func TestNotesAreDistinct(t *testing.T) {
	listText, err := FormatProjectList(ProjectList{Origin: testOrigin, Shard: "5", TreeSize: 5, Projects: []string{"5"}})
	if err != nil {
		t.Fatal(err)
	}
	noteText, err := FormatFilenameNote(FilenameNote{Origin: testOrigin, Home: "5", TreeSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	indexText, err := FormatIndex(Index{Origin: testOrigin, Project: "5", TreeSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{
		"project list":  string(listText),
		"filename note": string(noteText),
		"index":         string(indexText),
		"checkpoint":    string(FormatCheckpoint(Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: 5, Hash: testHash}})),
		"empty list":    testOrigin + "\nprojects 5\nsize 5\n",
	}
	for kind, text := range texts {
		ok := map[string]bool{}
		if _, err := ParseProjectList(text); err == nil {
			ok["project list"] = true
		}
		if _, err := ParseFilenameNote(text); err == nil {
			ok["filename note"] = true
		}
		if _, err := ParseIndex(text); err == nil {
			ok["index"] = true
		}
		if _, err := ParseCheckpoint(text); err == nil {
			ok["checkpoint"] = true
		}
		if kind == "empty list" {
			kind = "project list"
		}
		if len(ok) != 1 || !ok[kind] {
			t.Errorf("%s %q parses as %v", kind, text, ok)
		}
	}
}

func TestFilenameProjects(t *testing.T) {
	long := strings.Repeat("a", maxProjectLen)
	tests := []struct {
		filename string
		want     []string
	}{
		// Wheels: the first field only, which never holds a "-".
		{"foo_bar-1.0-py3-none-any.whl", []string{"foo-bar"}},
		{"Foo.Bar-1.0-py3-none-any.whl", []string{"foo-bar"}},
		{"urllib3-2.6.3-py3-none-any.whl", []string{"urllib3"}},
		{"zope.interface-7.2-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", []string{"zope-interface"}},
		{"foo_bar-1.0-1-py3-none-any.whl", []string{"foo-bar"}},
		{"foo-bar-1.0-py3-none-any.whl", []string{"foo"}}, // not a valid wheel name
		{"foo.whl", []string{"foo-whl"}},
		// Eggs: the same.
		{"foo_bar-1.0-py2.7.egg", []string{"foo-bar"}},
		{"zope.interface-3.5.0-py2.6-win32.egg", []string{"zope-interface"}},
		{"setuptools-0.6c11-py2.4.egg", []string{"setuptools"}},
		// Sdists.
		{"foo_bar-1.0.tar.gz", []string{"foo-bar"}},
		{"urllib3-2.6.3.tar.gz", []string{"urllib3"}},
		{"django-foo-1.2.tar.gz", []string{"django", "django-foo"}},
		{"Django-Foo-1.2.tar.gz", []string{"django", "django-foo"}},
		{"django-foo-1.2-beta.tar.gz", []string{"django", "django-foo", "django-foo-1-2"}},
		{"foo-bar.tar.gz", []string{"foo"}},
		{"foo-bar-1.0.tar.bz2", []string{"foo", "foo-bar"}},
		{"foo-bar-1.0.zip", []string{"foo", "foo-bar"}},
		{"foo-bar-1.0.tgz", []string{"foo", "foo-bar"}},
		// Windows installers and other legacy files.
		{"pywin32-214.win32-py2.6.exe", []string{"pywin32", "pywin32-214-win32"}},
		{"foo-bar-1.0.win-amd64.msi", []string{"foo", "foo-bar", "foo-bar-1-0-win"}},
		{"foo-bar-1.0.win32.exe", []string{"foo", "foo-bar"}},
		{"foo-1.0-1.noarch.rpm", []string{"foo", "foo-1-0"}},
		// Names without a dash: the whole filename.
		{"foo.zip", []string{"foo-zip"}},
		{"foo", []string{"foo"}},
		{"1.0.tar.gz", []string{"1-0-tar-gz"}},
		// Many dashes: the first MaxFilenameProjects valid prefixes.
		{"a-b-c-d-e-1.0.tar.gz", []string{"a", "a-b", "a-b-c", "a-b-c-d", "a-b-c-d-e"}},
		{"a-b-c-d-e-f-g-h-1.0.tar.gz", []string{"a", "a-b", "a-b-c", "a-b-c-d", "a-b-c-d-e"}},
		{"a-_-b-c-d-e-1.0.tar.gz", []string{"a", "a-b", "a-b-c", "a-b-c-d", "a-b-c-d-e"}},
		{"a-.-_-b-c-d-e-f-1.0.tar.gz", []string{"a", "a-b", "a-b-c", "a-b-c-d", "a-b-c-d-e"}},
		{"foo--bar-1.0.tar.gz", []string{"foo", "foo-bar"}},
		{"foo-" + strings.Repeat("-", 100) + "bar-1.0.tar.gz", []string{"foo", "foo-bar"}},
		{"foo-" + strings.Repeat("-", 300) + "bar-1.0.tar.gz", []string{"foo"}},
		// Prefixes that are not valid names are left out.
		{"foo-b@r-1.0.tar.gz", []string{"foo"}},
		{"foo-b@r-baz-1.0.tar.gz", []string{"foo"}},
		{"foo_-bar-1.0.tar.gz", []string{"foo-bar"}},
		{long + "-1.0.tar.gz", []string{long}},
		{long + "a-1.0.tar.gz", nil},
		{"a-" + long + "-1.0.tar.gz", []string{"a"}},
		{long[:maxProjectLen-2] + "-b-c-1.0.tar.gz", []string{long[:maxProjectLen-2], long[:maxProjectLen-2] + "-b"}},
		// No valid prefix: FilenameHome is "_".
		{"_private-1.0.tar.gz", nil},
		{"-foo-1.0.tar.gz", nil},
		{"naïve-1.0.tar.gz", nil},
		{"naïve_thing-1.0-py3-none-any.whl", nil},
		{"foo_-1.0.tar.gz", nil},
		{"", nil},
		{"-", nil},
		{"--", nil},
		{strings.Repeat("-", MaxFilenameLen), nil},
		{strings.Repeat("_-", MaxFilenameLen/2), nil},
	}
	for _, tt := range tests {
		got := FilenameProjects(tt.filename)
		if !slices.Equal(got, tt.want) {
			t.Errorf("FilenameProjects(%q) = %q, want %q", tt.filename, got, tt.want)
		}
		if want := filenameProjectsByJoin(tt.filename); !slices.Equal(got, want) {
			t.Errorf("FilenameProjects(%q) = %q, the reference gives %q", tt.filename, got, want)
		}
		home := noHome
		if len(tt.want) > 0 {
			home = tt.want[0]
		}
		if got := FilenameHome(tt.filename); got != home {
			t.Errorf("FilenameHome(%q) = %q, want %q", tt.filename, got, home)
		}
		for _, p := range tt.want {
			if IsListedFilename(tt.filename, p) {
				t.Errorf("IsListedFilename(%q, %q) = true", tt.filename, p)
			}
		}
	}
	if FilenamesKey("django") != "filenames/django" || FilenamesKey(noHome) != "filenames/_" {
		t.Errorf("FilenamesKey = %q, %q", FilenamesKey("django"), FilenamesKey(noHome))
	}
}

func TestIsListedFilename(t *testing.T) {
	tests := []struct {
		filename, project string
		listed            bool
	}{
		{"django-foo-1.2.tar.gz", "django", false},
		{"django-foo-1.2.tar.gz", "django-foo", false},
		{"django-foo-1.2.tar.gz", "foo", true},
		{"django-foo-1.2.tar.gz", "django-foo-1-2", true},
		{"django_foo-1.2-py3-none-any.whl", "django-foo", false},
		{"django_foo-1.2-py3-none-any.whl", "django", true},
		{"django-foo-1.2-py3-none-any.whl", "django-foo", true},
		{"a-b-c-d-e-f-1.0.tar.gz", "a-b-c-d-e", false},
		{"a-b-c-d-e-f-1.0.tar.gz", "a-b-c-d-e-f", true},
		{"_private-1.0.tar.gz", "private", true},
		{"PyYAML-3.01.tar.gz", "pyyaml", false},
		{"PyYAML-3.01.tar.gz", "PyYAML", true},
		// The first candidate, compared without normalizing it.
		{"Foo__Bar.baz-1.0-py3-none-any.whl", "foo-bar-baz", false},
		{"Foo__Bar.baz-1.0-py3-none-any.whl", "foo-bar-ba", true},
		{"Foo__Bar.baz-1.0-py3-none-any.whl", "foo-bar-baz0", true},
		{"Foo__Bar.baz-1.0-py3-none-any.whl", "foo--bar-baz", true},
		{"foo_-1.0-py3-none-any.whl", "foo", true},
		{"foo_-1.0-py3-none-any.whl", "foo-", true},
		{"f@o-1.0-py3-none-any.whl", "f-o", true},
		{strings.Repeat("a", maxProjectLen+1) + "-1.0.tar.gz", strings.Repeat("a", maxProjectLen+1), true},
	}
	for _, tt := range tests {
		if got := IsListedFilename(tt.filename, tt.project); got != tt.listed {
			t.Errorf("IsListedFilename(%q, %q) = %v, want %v", tt.filename, tt.project, got, tt.listed)
		}
	}
}

// TestFilenameProjectsCost checks that filenames made to defeat
// FilenameProjects cost no allocation: it runs on every line of every
// filename note a client parses, so its cost must not grow with the
// number of dashes in a filename (the filename's length squared).
func TestFilenameProjectsCost(t *testing.T) {
	for _, filename := range []string{
		strings.Repeat("-", MaxFilenameLen),
		"_" + strings.Repeat("a-", MaxFilenameLen/2-1),
		"_" + strings.Repeat("-a", 100),
		"a@" + strings.Repeat("-a", 100),
		"a\u00e9" + strings.Repeat("-a", 100),
		strings.Repeat("a", maxProjectLen+1) + strings.Repeat("-a", 400),
	} {
		if n := testing.AllocsPerRun(10, func() {
			if got := FilenameProjects(filename); got != nil {
				t.Fatalf("FilenameProjects(%q) = %q, want none", filename, got)
			}
		}); n != 0 {
			t.Errorf("FilenameProjects(%q) allocates %v times, want 0", filename, n)
		}
	}
}

// filenameProjectsByJoin is a reference for FilenameProjects, written as
// its doc says, slowly: each "-"-separated prefix of the filename but the
// whole name (the first field only for a wheel or an egg, the whole name
// if it has no "-"), normalized, invalid ones left out, the first
// MaxFilenameProjects. It stops at the first prefix longer than any name
// so that the fuzzer is not slowed down by long inputs.
func filenameProjectsByJoin(filename string) []string {
	fields := strings.Split(filename, "-")
	n := max(1, len(fields)-1)
	if strings.HasSuffix(filename, ".whl") || strings.HasSuffix(filename, ".egg") {
		n = 1
	}
	var out []string
	for k := 1; k <= n; k++ {
		prefix := strings.Join(fields[:k], "-")
		if len(prefix) > maxProjectLen {
			break // and so are the longer ones: not a name
		}
		if p, err := NormalizeProject(prefix); err == nil && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out[:min(len(out), MaxFilenameProjects)]
}

// BenchmarkFilenameProjects measures the worst filenames: as many dashes
// as a filename can hold, behind a prefix that is never a name.
func BenchmarkFilenameProjects(b *testing.B) {
	for name, filename := range map[string]string{
		"wheel":          "urllib3-2.6.3-py3-none-any.whl",
		"legacy sdist":   "django-foo-1.2.tar.gz",
		"dashes":         strings.Repeat("-", MaxFilenameLen),
		"invalid prefix": "_" + strings.Repeat("a-", MaxFilenameLen/2-1),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				FilenameProjects(filename)
			}
		})
	}
}
