package fakepypi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const jsonAccept = "application/vnd.pypi.simple.v1+json"

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp, body
}

func xmlrpc(t *testing.T, s *Server, call string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.URL+"/pypi", "text/xml", strings.NewReader(call))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func mustAdd(t *testing.T, s *Server, projectName string, f File) int64 {
	t.Helper()
	serial, err := s.AddFile(projectName, f)
	if err != nil {
		t.Fatal(err)
	}
	return serial
}

const digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestSimpleAPI(t *testing.T) {
	s := NewServer()
	defer s.Close()
	mustAdd(t, s, "Foo_Bar", File{Filename: "foo_bar-1.0.tar.gz", Version: "1.0", SHA256: digest, Size: 10, UploadTime: "2024-01-02T03:04:05.123456Z", Provenance: []byte(`{}`)})
	serial := mustAdd(t, s, "Foo_Bar", File{Filename: "foo_bar-1.0-py3-none-any.whl", Version: "1.0", SHA256: digest, Size: 11})
	mustAdd(t, s, "aaa", File{Filename: "aaa-1.tar.gz", SHA256: digest})

	resp, body := get(t, s.URL+"/simple/", map[string]string{"Accept": jsonAccept})
	if ct := resp.Header.Get("Content-Type"); ct != jsonAccept {
		t.Fatalf("index Content-Type %q", ct)
	}
	var index jsonIndex
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatal(err)
	}
	if index.Meta.LastSerial != s.Serial() || len(index.Projects) != 2 ||
		index.Projects[0].Name != "aaa" || index.Projects[1] != (jsonIndexProject{Name: "Foo_Bar", LastSerial: serial}) {
		t.Fatalf("index = %+v", index)
	}

	resp, body = get(t, s.URL+"/simple/foo-bar/", map[string]string{"Accept": "text/html;q=0.5, " + jsonAccept})
	if got := resp.Header.Get("X-PyPI-Last-Serial"); got != strconv.FormatInt(serial, 10) {
		t.Errorf("X-PyPI-Last-Serial = %q, want %d", got, serial)
	}
	var page jsonPage
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if page.Name != "foo-bar" || page.Meta.LastSerial != serial || len(page.Files) != 2 || len(page.Versions) != 1 {
		t.Fatalf("page = %+v", page)
	}
	sdist, wheel := page.Files[0], page.Files[1]
	if sdist.Hashes["sha256"] != digest || sdist.Size != 10 || *sdist.UploadTime != "2024-01-02T03:04:05.123456Z" || sdist.Provenance == nil {
		t.Errorf("sdist = %+v", sdist)
	}
	if wheel.UploadTime != nil || wheel.Provenance != nil {
		t.Errorf("wheel has upload-time or provenance: %+v", wheel)
	}
	if !strings.Contains(string(body), `"upload-time":null`) {
		t.Errorf("null upload-time not served as null: %s", body)
	}

	resp, body = get(t, *sdist.Provenance, nil)
	if resp.StatusCode != http.StatusOK || string(body) != `{}` {
		t.Errorf("provenance: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, s.URL+"/integrity/foo-bar/1.0/foo_bar-1.0-py3-none-any.whl/provenance", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("provenance of a file without one: %d", resp.StatusCode)
	}

	for _, accept := range []string{"", "text/html", jsonAccept + ";q=0"} {
		resp, body := get(t, s.URL+"/simple/foo-bar/", map[string]string{"Accept": accept})
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), `foo_bar-1.0.tar.gz#sha256=`+digest) {
			t.Errorf("Accept %q: %s %s", accept, resp.Header.Get("Content-Type"), body)
		}
	}
}

func TestRedirectAndNotFound(t *testing.T) {
	s := NewServer()
	defer s.Close()
	mustAdd(t, s, "Foo_Bar", File{Filename: "f-1.tar.gz", SHA256: digest})
	for path, want := range map[string]string{
		"/simple/Foo_Bar/": "/simple/foo-bar/",
		"/simple/foo.bar/": "/simple/foo-bar/",
		"/simple/foo-bar":  "/simple/foo-bar/",
		"/simple":          "/simple/",
	} {
		resp, _ := get(t, s.URL+path, nil)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
			t.Errorf("%s: %d to %q, want 301 to %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	for _, path := range []string{"/simple/nope/", "/elsewhere", "/integrity/foo-bar/0/nope/provenance"} {
		if resp, _ := get(t, s.URL+path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
}

func TestETag(t *testing.T) {
	s := NewServer()
	defer s.Close()
	mustAdd(t, s, "foo", File{Filename: "foo-1.tar.gz", SHA256: digest})
	accept := map[string]string{"Accept": jsonAccept}
	resp, _ := get(t, s.URL+"/simple/foo/", accept)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	resp, body := get(t, s.URL+"/simple/foo/", map[string]string{"Accept": jsonAccept, "If-None-Match": `"other", ` + etag})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("revalidation: %d with %d bytes, want 304", resp.StatusCode, len(body))
	}
	// The HTML page is another representation, with another ETag.
	if resp, _ := get(t, s.URL+"/simple/foo/", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusOK {
		t.Errorf("HTML with the JSON ETag: %d, want 200", resp.StatusCode)
	}
	mustAdd(t, s, "foo", File{Filename: "foo-2.tar.gz", SHA256: digest})
	if resp, _ := get(t, s.URL+"/simple/foo/", map[string]string{"Accept": jsonAccept, "If-None-Match": etag}); resp.StatusCode != http.StatusOK {
		t.Errorf("after a change: %d, want 200", resp.StatusCode)
	}
}

func TestXMLRPC(t *testing.T) {
	s := NewServer()
	defer s.Close()
	mustAdd(t, s, "Foo", File{Filename: "foo-1.0.tar.gz", Version: "1.0", SHA256: digest}) // 1 create, 2 new release, 3 add
	mustAdd(t, s, "Foo", File{Filename: "foo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", Version: "1.0", SHA256: digest})
	if _, err := s.RemoveFile("foo", "foo-1.0.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveProject("FOO"); err != nil {
		t.Fatal(err)
	}
	s.SetChangelogLimit(3)

	status, body := xmlrpc(t, s, `<?xml version="1.0"?><methodCall><methodName>changelog_last_serial</methodName><params></params></methodCall>`)
	if status != http.StatusOK || !strings.Contains(body, "<int>6</int>") {
		t.Fatalf("changelog_last_serial: %d %s", status, body)
	}
	_, body = xmlrpc(t, s, `<methodCall><methodName>changelog_since_serial</methodName><params><param><value><int>0</int></value></param></params></methodCall>`)
	for _, want := range []string{"<string>create</string>", "<nil/>", "<string>new release</string>", "<string>add source file foo-1.0.tar.gz</string>"} {
		if !strings.Contains(body, want) {
			t.Errorf("first page lacks %s:\n%s", want, body)
		}
	}
	if strings.Count(body, "<value><string>Foo</string>") != 3 {
		t.Errorf("first page does not hold 3 rows:\n%s", body)
	}
	_, body = xmlrpc(t, s, `<methodCall><methodName>changelog_since_serial</methodName><params><param><value><i4>3</i4></value></param></params></methodCall>`)
	for _, want := range []string{"add cp312 file foo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "remove file foo-1.0.tar.gz", "remove project", "<int>6</int>"} {
		if !strings.Contains(body, want) {
			t.Errorf("second page lacks %s:\n%s", want, body)
		}
	}
	_, body = xmlrpc(t, s, `<methodCall><methodName>changelog</methodName><params><param><value><int>0</int></value></param></params></methodCall>`)
	if !strings.Contains(body, "<fault>") {
		t.Errorf("unknown method: %s", body)
	}
	if resp, _ := get(t, s.URL+"/pypi", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /pypi: %d, want 405", resp.StatusCode)
	}
}

func TestMutations(t *testing.T) {
	s := NewServer()
	defer s.Close()
	if _, err := s.AddProject("empty"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddProject("Empty"); err == nil {
		t.Error("AddProject of an existing project succeeded")
	}
	mustAdd(t, s, "foo", File{Filename: "foo-1.tar.gz", SHA256: digest, Size: 1})
	if _, err := s.RemoveFile("foo", "foo-1.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddFile("bar", File{Filename: "foo-1.tar.gz"}); err == nil {
		t.Error("a removed filename was reused")
	}
	if _, err := s.RemoveFile("foo", "foo-1.tar.gz"); err == nil {
		t.Error("removing a removed file succeeded")
	}

	mustAdd(t, s, "foo", File{Filename: "foo-2.tar.gz", SHA256: digest, Size: 2})
	before := s.Serial()
	other := strings.Repeat("f", 64)
	if err := s.TamperFile("foo", "foo-2.tar.gz", other, 3); err != nil {
		t.Fatal(err)
	}
	if s.Serial() != before {
		t.Error("TamperFile changed the serial")
	}
	_, body := get(t, s.URL+"/simple/foo/", map[string]string{"Accept": jsonAccept})
	if !strings.Contains(string(body), other) || !strings.Contains(string(body), `"size":3`) {
		t.Errorf("tampered file not served: %s", body)
	}

	if _, err := s.RemoveProject("foo"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, s.URL+"/simple/foo/", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removed project: %d, want 404", resp.StatusCode)
	}
	_, body = get(t, s.URL+"/simple/", map[string]string{"Accept": jsonAccept})
	if strings.Contains(string(body), `"foo"`) || !strings.Contains(string(body), `"empty"`) {
		t.Errorf("index after removal: %s", body)
	}
}

func TestFaults(t *testing.T) {
	s := NewServer()
	defer s.Close()
	mustAdd(t, s, "foo", File{Filename: "foo-1.tar.gz", SHA256: digest})
	mustAdd(t, s, "foo", File{Filename: "foo-2.tar.gz", SHA256: digest})
	mustAdd(t, s, "bar", File{Filename: "bar-1.tar.gz", SHA256: digest})
	accept := map[string]string{"Accept": jsonAccept}

	s.AddFault(Fault{Endpoint: EndpointProject, Project: "FOO", Kind: FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "7", Times: 2})
	for range 2 {
		resp, _ := get(t, s.URL+"/simple/foo/", accept)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
			t.Errorf("throttled: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if resp, _ := get(t, s.URL+"/simple/foo/", accept); resp.StatusCode != http.StatusOK {
		t.Errorf("after 2 faults: %d", resp.StatusCode)
	}

	s.AddFault(Fault{Endpoint: EndpointProject, Project: "foo", Kind: FaultStale, Times: Always})
	for range 2 {
		_, body := get(t, s.URL+"/simple/foo/", accept)
		var page jsonPage
		if err := json.Unmarshal(body, &page); err != nil || page.Meta.LastSerial != 3 || len(page.Files) != 1 {
			t.Errorf("stale page: %s", body)
		}
	}
	if resp, _ := get(t, s.URL+"/simple/bar/", accept); resp.StatusCode != http.StatusOK {
		t.Errorf("a fault for foo hit bar: %d", resp.StatusCode)
	}
	s.ClearFaults()

	s.AddFault(Fault{Endpoint: EndpointIndex, Kind: FaultMalformed, Times: 1})
	_, body := get(t, s.URL+"/simple/", accept)
	if json.Valid(body) {
		t.Errorf("malformed index is valid JSON: %s", body)
	}

	s.AddFault(Fault{Endpoint: EndpointIndex, Kind: FaultTruncate, Times: 1})
	resp, err := http.Get(s.URL + "/simple/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated body read: %v, want unexpected EOF", err)
	}
	resp.Body.Close()

	s.AddFault(Fault{Endpoint: EndpointXMLRPC, Kind: FaultXMLRPC, Message: "HTTPTooManyRequests: slow down", Times: 1})
	if _, body := xmlrpc(t, s, `<methodCall><methodName>changelog_last_serial</methodName></methodCall>`); !strings.Contains(body, "<fault>") || !strings.Contains(body, "slow down") {
		t.Errorf("XML-RPC fault: %s", body)
	}

	s.AddFault(Fault{Endpoint: EndpointProject, Kind: FaultDelay, Delay: time.Hour, Times: 1})
	client := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := client.Get(s.URL + "/simple/bar/"); err == nil {
		t.Error("a request delayed by an hour succeeded")
	}

	got := s.Requests()
	want := map[Endpoint]int64{EndpointProject: 7, EndpointIndex: 2, EndpointXMLRPC: 1}
	var total int64
	for ep, n := range want {
		total += n
		if got.ByEndpoint[ep] != n {
			t.Errorf("requests to %s = %d, want %d", ep, got.ByEndpoint[ep], n)
		}
	}
	if got.Total != total {
		t.Errorf("total requests = %d, want %d", got.Total, total)
	}
}

func TestAddFaultRejectsZeroTimes(t *testing.T) {
	s := NewServer()
	defer s.Close()
	defer func() {
		if recover() == nil {
			t.Error("AddFault with Times 0 did not panic")
		}
	}()
	s.AddFault(Fault{Endpoint: EndpointIndex, Kind: FaultMalformed})
}

func TestCloseEndsDelayedAnswers(t *testing.T) {
	s := NewServer()
	mustAdd(t, s, "foo", File{Filename: "foo-1.tar.gz", SHA256: digest})
	s.AddFault(Fault{Endpoint: EndpointProject, Kind: FaultDelay, Delay: time.Hour, Times: 1})
	failed := make(chan error)
	go func() {
		resp, err := http.Get(s.URL + "/simple/foo/")
		if err == nil {
			resp.Body.Close()
		}
		failed <- err
	}()
	for s.Requests().Total == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close() // returns although an answer is held back for an hour
	s.Close()
	if err := <-failed; err == nil {
		t.Error("the delayed request succeeded")
	}
}

// fileURL returns the URL the JSON Simple API gives for filename.
func fileURL(t *testing.T, s *Server, projectName, filename string) string {
	t.Helper()
	_, body := get(t, s.URL+"/simple/"+normalize(projectName)+"/", map[string]string{"Accept": jsonAccept})
	var page jsonPage
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	for _, f := range page.Files {
		if f.Filename == filename {
			return f.URL
		}
	}
	t.Fatalf("%s is not on the page of %s: %s", filename, projectName, body)
	return ""
}

func TestFiles(t *testing.T) {
	s := NewServer()
	defer s.Close()
	content := []byte("wheel bytes\x00\xff")
	serial, err := s.AddDist("Foo.Bar", "1.0", "foo_bar-1.0 +local.tar.gz", content)
	if err != nil {
		t.Fatal(err)
	}
	if serial != s.Serial() {
		t.Errorf("AddDist returned serial %d, the server is at %d", serial, s.Serial())
	}
	_, body := get(t, s.URL+"/simple/foo-bar/", map[string]string{"Accept": jsonAccept})
	var page jsonPage
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	f := page.Files[0]
	sum := sha256.Sum256(content)
	if f.Hashes["sha256"] != hex.EncodeToString(sum[:]) || f.Size != int64(len(content)) {
		t.Errorf("AddDist listed %+v", f)
	}
	if uploaded, err := time.Parse(time.RFC3339, *f.UploadTime); err != nil || !strings.HasSuffix(*f.UploadTime, "Z") || time.Since(uploaded) > time.Hour {
		t.Errorf("upload-time %q (%v)", *f.UploadTime, err)
	}
	if want := s.URL + "/packages/foo-bar/foo_bar-1.0%20+local.tar.gz"; f.URL != want {
		t.Errorf("file URL %q, want %q", f.URL, want)
	}

	resp, body := get(t, f.URL, nil)
	if resp.StatusCode != http.StatusOK || string(body) != string(content) {
		t.Fatalf("file: %d %q", resp.StatusCode, body)
	}
	if ct, cl := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Length"); ct != "application/octet-stream" || cl != strconv.Itoa(len(content)) {
		t.Errorf("Content-Type %q, Content-Length %q", ct, cl)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Errorf("ETag %q", etag)
	}
	if resp, _ := get(t, f.URL, map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", resp.StatusCode)
	}
	// Any spelling of the project finds the file.
	if resp, body := get(t, s.URL+"/packages/Foo_Bar/foo_bar-1.0%20+local.tar.gz", nil); resp.StatusCode != http.StatusOK || string(body) != string(content) {
		t.Errorf("file under another spelling: %d %q", resp.StatusCode, body)
	}
	resp, err = http.Head(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(content)) {
		t.Errorf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	resp, err = http.Post(f.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}

	// Files without content, unknown files and removed files answer 404.
	mustAdd(t, s, "foo.bar", File{Filename: "foo_bar-2.0.tar.gz", Version: "2.0", SHA256: digest})
	if _, err := s.AddDist("foo.bar", "3.0", "foo_bar-3.0.tar.gz", []byte("3")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveFile("foo.bar", "foo_bar-3.0.tar.gz"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/packages/foo-bar/foo_bar-2.0.tar.gz", "/packages/foo-bar/foo_bar-3.0.tar.gz", "/packages/foo-bar/nope.tar.gz", "/packages/nope/foo_bar-1.0%20+local.tar.gz", "/packages/foo-bar", "/packages/"} {
		if resp, _ := get(t, s.URL+path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	if _, err := s.AddDist("other", "1", "foo_bar-1.0 +local.tar.gz", nil); err == nil {
		t.Error("AddDist reused a filename")
	}

	got := s.Requests()
	if n := got.ByEndpoint[EndpointFile]; n != 11 {
		t.Errorf("requests to %s = %d, want 11", EndpointFile, n)
	}
}

func TestAddDistEmptyContent(t *testing.T) {
	s := NewServer()
	defer s.Close()
	if _, err := s.AddDist("foo", "1", "foo-1.tar.gz", nil); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, s.URL+"/packages/foo/foo-1.tar.gz", nil)
	if resp.StatusCode != http.StatusOK || len(body) != 0 {
		t.Errorf("empty file: %d %q", resp.StatusCode, body)
	}
	if url := fileURL(t, s, "foo", "foo-1.tar.gz"); url != s.URL+"/packages/foo/foo-1.tar.gz" {
		t.Errorf("file URL %q", url)
	}
}

func TestReplaceContent(t *testing.T) {
	s := NewServer()
	defer s.Close()
	original, evil := []byte("original"), []byte("evil bytes")
	if _, err := s.AddDist("foo", "1.0", "foo-1.0.tar.gz", original); err != nil {
		t.Fatal(err)
	}
	url := fileURL(t, s, "foo", "foo-1.0.tar.gz")
	_, pageBefore := get(t, s.URL+"/simple/foo/", map[string]string{"Accept": jsonAccept})
	resp, _ := get(t, url, nil)
	etagBefore := resp.Header.Get("ETag")
	serial := s.Serial()

	// Storage compromised: the bytes change, the index still lists the old
	// digest.
	if err := s.ReplaceContent("FOO", "foo-1.0.tar.gz", evil); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, url, nil)
	if string(body) != string(evil) || resp.Header.Get("ETag") == etagBefore {
		t.Errorf("after ReplaceContent: %q, ETag %s", body, resp.Header.Get("ETag"))
	}
	if resp, _ := get(t, url, map[string]string{"If-None-Match": etagBefore}); resp.StatusCode != http.StatusOK {
		t.Errorf("revalidation with the old ETag: %d, want 200", resp.StatusCode)
	}
	if _, page := get(t, s.URL+"/simple/foo/", map[string]string{"Accept": jsonAccept}); string(page) != string(pageBefore) || s.Serial() != serial {
		t.Errorf("ReplaceContent changed the page or serial:\n%s\n%s", pageBefore, page)
	}

	// PyPI compromised as well: the index lists the digest of the new
	// bytes.
	sum := sha256.Sum256(evil)
	if err := s.TamperFile("foo", "foo-1.0.tar.gz", hex.EncodeToString(sum[:]), int64(len(evil))); err != nil {
		t.Fatal(err)
	}
	_, page := get(t, s.URL+"/simple/foo/", map[string]string{"Accept": jsonAccept})
	if !strings.Contains(string(page), hex.EncodeToString(sum[:])) {
		t.Errorf("tampered page: %s", page)
	}
	if _, body := get(t, url, nil); string(body) != string(evil) {
		t.Errorf("TamperFile changed the bytes served: %q", body)
	}

	if err := s.ReplaceContent("foo", "foo-1.0.tar.gz", nil); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, url, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("after ReplaceContent with nil: %d, want 404", resp.StatusCode)
	}
	if err := s.ReplaceContent("foo", "nope.tar.gz", evil); err == nil {
		t.Error("ReplaceContent of an unknown file succeeded")
	}
	if err := s.ReplaceContent("nope", "foo-1.0.tar.gz", evil); err == nil {
		t.Error("ReplaceContent in an unknown project succeeded")
	}
}

func TestFileFaults(t *testing.T) {
	s := NewServer()
	defer s.Close()
	content := []byte(strings.Repeat("0123456789", 1000))
	if _, err := s.AddDist("foo", "1", "foo-1.tar.gz", content); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDist("bar", "1", "bar-1.tar.gz", content); err != nil {
		t.Fatal(err)
	}
	url := s.URL + "/packages/foo/foo-1.tar.gz"

	s.AddFault(Fault{Endpoint: EndpointFile, Project: "Foo", Kind: FaultStatus, Status: http.StatusServiceUnavailable, Times: 1})
	if resp, _ := get(t, url, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status fault: %d", resp.StatusCode)
	}
	if resp, _ := get(t, url, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("after the status fault: %d", resp.StatusCode)
	}

	s.AddFault(Fault{Endpoint: EndpointFile, Project: "foo", Kind: FaultTruncate, Times: 1})
	if resp, _ := get(t, s.URL+"/packages/bar/bar-1.tar.gz", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a fault for foo hit bar: %d", resp.StatusCode)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || resp.ContentLength != int64(len(content)) || len(body) != len(content)/2 {
		t.Errorf("truncated file: %v, %d of %d bytes announced", err, len(body), resp.ContentLength)
	}

	s.AddFault(Fault{Endpoint: EndpointFile, Kind: FaultMalformed, Times: 1})
	if resp, body := get(t, url, nil); resp.StatusCode != http.StatusOK || string(body) != string(content[:len(content)/2]) {
		t.Errorf("malformed file: %d, %d bytes", resp.StatusCode, len(body))
	}

	s.AddFault(Fault{Endpoint: EndpointFile, Kind: FaultDelay, Delay: time.Hour, Times: 1})
	client := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := client.Get(url); err == nil {
		t.Error("a request delayed by an hour succeeded")
	}
	if resp, body := get(t, url, nil); resp.StatusCode != http.StatusOK || len(body) != len(content) {
		t.Errorf("after the faults: %d, %d bytes", resp.StatusCode, len(body))
	}

	got := s.Requests()
	if got.ByEndpoint[EndpointFile] != 7 || got.Total != 7 {
		t.Errorf("requests = %+v, want 7 to %s", got, EndpointFile)
	}
}
