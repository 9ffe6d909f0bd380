package pypi

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/tiles"
)

const fuzzDigest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var fuzzPageURL = &url.URL{Scheme: "https", Host: "pypi.org", Path: "/simple/foo-bar/"}

func seedPages(f *testing.F) {
	for _, page := range []string{
		`{"meta":{"api-version":"1.1","_last-serial":42},"name":"foo-bar","files":[{"filename":"foo_bar-1.0.tar.gz","url":"https://files/x","hashes":{"sha256":"` + fuzzDigest + `"},"size":10,"upload-time":"2024-01-02T03:04:05.123456Z","provenance":"https://pypi.org/integrity/foo-bar/1.0/foo_bar-1.0.tar.gz/provenance","yanked":false}],"versions":["1.0"]}`,
		`{"meta":{"api-version":"1.3"},"name":"Foo_Bar","files":[{"filename":"a.whl","hashes":{"sha256":"` + strings.ToUpper(fuzzDigest) + `","md5":"x"},"size":0,"upload-time":null,"provenance":"../../integrity/p"}]}`,
		`{"meta":{"api-version":"1.0","_last-serial":1},"name":"foo-bar","files":[{"filename":"a","hashes":{},"size":1}]}`,
		`{"meta":{"api-version":"2.0","_last-serial":1},"name":"foo-bar","files":[]}`,
		`{"meta":{"api-version":"1.1","_last-serial":1},"name":"foo-bar","files":[{"filename":"a","hashes":{"sha256":"` + fuzzDigest + `"},"size":1,"upload-time":"2024-01-02T03:04:05+02:00"}]}`,
		`{"meta":{"api-version":"1.1","_last-serial":1},"name":"foo-bar","files":[{"filename":"a","hashes":{"sha256":"` + fuzzDigest + `"},"size":1},{"filename":"a","hashes":{"sha256":"` + fuzzDigest + `"},"size":1}]}`,
		`{"meta":`,
		`null`,
	} {
		f.Add([]byte(page), "7")
	}
}

// FuzzParseProjectPage checks that the project page parser never panics
// and that whatever it accepts is valid and survives a round trip.
func FuzzParseProjectPage(f *testing.F) {
	seedPages(f)
	f.Fuzz(func(t *testing.T, body []byte, serialHeader string) {
		header := http.Header{}
		header.Set("X-PyPI-Last-Serial", serialHeader)
		page, err := parseProjectPage(body, header, "foo-bar", fuzzPageURL)
		if err != nil {
			return
		}
		checkPage(t, page)
		again, err := parseProjectPage(encodePage(page), http.Header{}, "foo-bar", fuzzPageURL)
		if err != nil {
			t.Fatalf("re-encoded page rejected: %v", err)
		}
		if !reflect.DeepEqual(again, page) {
			t.Fatalf("round trip changed the page:\n%+v\n%+v", page, again)
		}
	})
}

func checkPage(t *testing.T, page *ProjectPage) {
	t.Helper()
	if page.Name != "foo-bar" || page.Serial < 0 {
		t.Fatalf("page %q at serial %d", page.Name, page.Serial)
	}
	seen := make(map[string]bool)
	for _, file := range page.Files {
		if file.Project != "foo-bar" || seen[file.Filename] || file.Size < 0 {
			t.Fatalf("file %+v", file)
		}
		seen[file.Filename] = true
		if err := tiles.CheckFilename(file.Filename); err != nil {
			t.Fatal(err)
		}
		if err := tiles.CheckUploadTime(file.UploadTime); err != nil {
			t.Fatal(err)
		}
		if file.ProvenanceURL != "" {
			u, err := url.Parse(file.ProvenanceURL)
			if err != nil || !u.IsAbs() || u.Host == "" {
				t.Fatalf("provenance URL %q", file.ProvenanceURL)
			}
		}
	}
}

// encodePage writes a page back in PEP 691 form.
func encodePage(page *ProjectPage) []byte {
	type file struct {
		Filename   string            `json:"filename"`
		Hashes     map[string]string `json:"hashes"`
		Size       int64             `json:"size"`
		UploadTime *string           `json:"upload-time"`
		Provenance *string           `json:"provenance"`
	}
	doc := struct {
		Meta  map[string]any `json:"meta"`
		Name  string         `json:"name"`
		Files []file         `json:"files"`
	}{Meta: map[string]any{"api-version": "1.1", "_last-serial": page.Serial}, Name: page.Name, Files: []file{}}
	for _, f := range page.Files {
		jf := file{Filename: f.Filename, Hashes: map[string]string{"sha256": hex.EncodeToString(f.SHA256[:])}, Size: f.Size}
		if f.UploadTime != tiles.NoUploadTime {
			jf.UploadTime = &f.UploadTime
		}
		if f.ProvenanceURL != "" {
			jf.Provenance = &f.ProvenanceURL
		}
		doc.Files = append(doc.Files, jf)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzParseProjectList checks that the project list parser never panics
// and returns sorted, unique, normalized names.
func FuzzParseProjectList(f *testing.F) {
	for _, list := range []string{
		`{"meta":{"api-version":"1.1","_last-serial":9},"projects":[{"name":"Foo_Bar","_last-serial":3},{"name":"aaa","_last-serial":9}]}`,
		`{"meta":{"api-version":"1.1","_last-serial":9},"projects":[{"name":"Foo_Bar","_last-serial":3},{"name":"foo.bar","_last-serial":9}]}`,
		`{"meta":{"api-version":"1.1"},"projects":[{"name":"-x-","_last-serial":3}]}`,
		`{"meta":{"api-version":"1.1","_last-serial":9},"projects":null}`,
		`{"meta":{"api-version":"1.1","_last-serial":9},"projects":[{"name":"a"}]}`,
	} {
		f.Add([]byte(list), "")
	}
	f.Fuzz(func(t *testing.T, body []byte, serialHeader string) {
		header := http.Header{}
		header.Set("X-PyPI-Last-Serial", serialHeader)
		list, err := parseProjectList(body, header)
		if err != nil {
			return
		}
		if list.Serial < 0 {
			t.Fatalf("serial %d", list.Serial)
		}
		for i, p := range list.Projects {
			if !tiles.IsNormalizedProject(p.Name) || p.Serial < 0 {
				t.Fatalf("project %+v", p)
			}
			if i > 0 && list.Projects[i-1].Name >= p.Name {
				t.Fatalf("projects %q, %q out of order or repeated", list.Projects[i-1].Name, p.Name)
			}
		}
	})
}

// FuzzParseXMLRPC checks that the XML-RPC decoder never panics and that an
// accepted changelog is in increasing serial order with normalized names.
func FuzzParseXMLRPC(f *testing.F) {
	row := func(name, version, action, serial string) string {
		return `<value><array><data><value><string>` + name + `</string></value><value>` + version + `</value><value><int>1700000000</int></value><value>` + action + `</value><value><i4>` + serial + `</i4></value></data></array></value>`
	}
	for _, body := range []string{
		`<?xml version='1.0'?><methodResponse><params><param><value><array><data>` +
			row("Foo_Bar", "<nil/>", "<string>create</string>", "5") + row("foo", "<string>1.0</string>", "new release", "6") +
			`</data></array></value></param></params></methodResponse>`,
		`<methodResponse><params><param><value><array><data>` + row("a", "<nil/>", "x", "7") + row("b", "<nil/>", "x", "7") + `</data></array></value></param></params></methodResponse>`,
		`<methodResponse><params><param><value><int>42</int></value></param></params></methodResponse>`,
		`<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-32500</int></value></member><member><name>faultString</name><value><string>HTTPTooManyRequests: Limit may reset in 1 seconds.</string></value></member></struct></value></fault></methodResponse>`,
		`<methodResponse><params><param><value><boolean>1</boolean></value></param></params></methodResponse>`,
		`<methodResponse><params><param><value>x<int>1</int></value></param></params></methodResponse>`,
		`<methodResponse>`,
	} {
		f.Add([]byte(body), int64(4))
	}
	f.Fuzz(func(t *testing.T, body []byte, since int64) {
		v, err := parseMethodResponse(body)
		if err != nil {
			return
		}
		changes, err := changelogRows(v, since)
		if err != nil {
			return
		}
		last := since
		for _, ch := range changes {
			if ch.Serial <= last || !tiles.IsNormalizedProject(ch.Project) {
				t.Fatalf("change %+v after serial %d", ch, last)
			}
			last = ch.Serial
		}
	})
}
