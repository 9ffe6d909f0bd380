package lockfile

import "testing"

var filenameVersionCases = []struct {
	project, filename string
	version           string // "" means ok is false
}{
	// Wheels, with and without a build tag; the name is escaped.
	{"", "aiofiles-25.1.0-py3-none-any.whl", "25.1.0"},
	{"annotated-types", "annotated_types-0.7.0-py3-none-any.whl", "0.7.0"},
	{"Annotated.Types", "annotated_types-0.7.0-py3-none-any.whl", "0.7.0"},
	{"backports-tarfile", "backports.tarfile-1.2.0-py3-none-any.whl", "1.2.0"},
	{"", "pkg-1.0-1build-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "1.0"},
	{"pytz", "pytz-2026.1.post1-py3-none-any.whl", "2026.1.post1"},
	{"other", "aiofiles-25.1.0-py3-none-any.whl", ""},
	{"", "aiofiles-25.1.0-any.whl", ""},
	{"", "aiofiles--py3-none-any.whl", ""},
	// An old wheel with an unescaped hyphen: only the project can split it.
	{"foo-bar", "foo-bar-1.0-py2-none-any.whl", "1.0"},
	{"", "foo-bar-1.0-1-py2-none-any.whl", ""},
	// Source distributions.
	{"", "aiofiles-25.1.0.tar.gz", "25.1.0"},
	{"annotated-types", "annotated_types-0.7.0.tar.gz", "0.7.0"},
	{"", "Django-1.0.ZIP", "1.0"},
	{"zope-interface", "zope.interface-3.5.0.tar.bz2", "3.5.0"},
	{"", "foo-0.1.tgz", "0.1"},
	{"", "foo-0.1.tar.xz", "0.1"},
	{"", "foo-0.1.tar.Z", "0.1"},
	{"", "foo-0.1.tar", "0.1"},
	// Legacy sdists whose name has hyphens: the known project splits them.
	{"python-dateutil", "python-dateutil-2.8.2.tar.gz", "2.8.2"},
	{"", "python-dateutil-2.8.2.tar.gz", "2.8.2"},
	{"foo", "foo-1.0-1.tar.gz", "1.0-1"},
	{"", "foo-1.0-1.tar.gz", "1"}, // packaging splits at the last hyphen too
	{"foo", "foo-bar-1.0.tar.gz", "bar-1.0"},
	{"foo-bar", "foo-1.0.tar.gz", ""},
	{"", "foo.tar.gz", ""},
	{"", "foo-.tar.gz", ""},
	{"", "-1.0.tar.gz", ""},
	// Eggs.
	{"", "setuptools-0.6c11-py2.7.egg", "0.6c11"},
	{"zope-interface", "zope.interface-3.6.1-py2.6-linux-x86_64.egg", "3.6.1"},
	{"", "foo_bar-1.0.egg", "1.0"},
	{"other", "foo-1.0.egg", ""},
	// Windows and macOS installers.
	{"", "pywin32-214.win32-py2.6.exe", "214"},
	{"numpy", "numpy-1.9.2-win32-superpack-python2.7.exe", "1.9.2"},
	{"", "foo-1.0.post1.win-amd64-py3.4.msi", "1.0.post1"},
	{"pyobjc", "pyobjc-1.0-py2.5-macosx10.4.dmg", "1.0"},
	{"matplotlib", "matplotlib-1.1.0-py2.7-python.org-macosx10.3.dmg", "1.1.0"},
	{"my-tool", "my-tool-2.0rc1.win32.exe", "2.0rc1"},
	{"", "setup.exe", ""},
	// RPMs.
	{"", "foo-1.0-1.noarch.rpm", "1.0"},
	{"foo-bar", "foo-bar-2.1-3.src.rpm", "2.1"},
	{"", "foo.rpm", ""},
	// Not distributions.
	{"", "README.md", ""},
	{"", "", ""},
	{"bad name!", "foo-1.0.tar.gz", ""},
}

func TestFilenameVersion(t *testing.T) {
	for _, c := range filenameVersionCases {
		version, ok := FilenameVersion(c.project, c.filename)
		if version != c.version || ok != (c.version != "") {
			t.Errorf("FilenameVersion(%q, %q) = %q, %v; want %q", c.project, c.filename, version, ok, c.version)
		}
	}
}
