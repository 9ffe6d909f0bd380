package pypi_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/sequencer/pypi"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/tiles"
)

func TestProjectPage(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	upper := strings.ToUpper(digestOf("a"))
	files := []fakepypi.File{
		{Filename: "foo_bar-1.0.tar.gz", Version: "1.0", SHA256: upper, Size: 10, UploadTime: "2024-01-02T03:04:05.123456Z", Provenance: []byte(`{"attestation_bundles":[]}`)},
		{Filename: "foo_bar-1.0-py3-none-any.whl", Version: "1.0", SHA256: digestOf("b"), Size: 0},
		{Filename: "foo_bar-1.1.tar.gz", Version: "1.1", SHA256: digestOf("c"), Size: 12, UploadTime: "2024-01-02T04:04:05+01:00"},
	}
	for _, f := range files {
		if _, err := srv.AddFile("Foo.Bar", f); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, testConfig(srv, &logRecorder{}))
	page, err := c.Project(context.Background(), "foo-bar")
	if err != nil {
		t.Fatal(err)
	}
	if page.Name != "foo-bar" || page.Serial != srv.Serial() || len(page.Files) != 3 {
		t.Fatalf("page = %+v", page)
	}
	want := []struct {
		sha, upload string
		size        int64
		provenance  bool
	}{
		{strings.ToLower(upper), "2024-01-02T03:04:05.123456Z", 10, true},
		{digestOf("b"), tiles.NoUploadTime, 0, false},
		{digestOf("c"), "2024-01-02T03:04:05Z", 12, false},
	}
	for i, f := range page.Files {
		if f.Project != "foo-bar" || f.Filename != files[i].Filename || hex.EncodeToString(f.SHA256[:]) != want[i].sha ||
			f.Size != want[i].size || f.UploadTime != want[i].upload || (f.ProvenanceURL != "") != want[i].provenance {
			t.Errorf("file %d = %+v, want %+v", i, f, want[i])
		}
		if err := tiles.CheckUploadTime(f.UploadTime); err != nil {
			t.Errorf("file %d: %v", i, err)
		}
	}

	provenance, err := c.Provenance(context.Background(), page.Files[0].ProvenanceURL)
	if err != nil || string(provenance) != string(files[0].Provenance) {
		t.Errorf("Provenance = %q, %v", provenance, err)
	}
	if _, err := c.Provenance(context.Background(), srv.URL+"/integrity/foo-bar/1.0/none.tar.gz/provenance"); !errors.Is(err, pypi.ErrNotFound) {
		t.Errorf("missing provenance: %v, want ErrNotFound", err)
	}
}

func TestProjectValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		file fakepypi.File
	}{
		{"no sha256", fakepypi.File{Filename: "x-1.tar.gz"}},
		{"short sha256", fakepypi.File{Filename: "x-1.tar.gz", SHA256: digestOf("x")[:63]}},
		{"non-hex sha256", fakepypi.File{Filename: "x-1.tar.gz", SHA256: strings.Repeat("g", 64)}},
		{"filename with a space", fakepypi.File{Filename: "x 1.tar.gz", SHA256: digestOf("x")}},
		{"filename with a slash", fakepypi.File{Filename: "../x-1.tar.gz", SHA256: digestOf("x")}},
		{"empty filename", fakepypi.File{Filename: "", SHA256: digestOf("x")}},
		{"negative size", fakepypi.File{Filename: "x-1.tar.gz", SHA256: digestOf("x"), Size: -1}},
		{"upload time not RFC 3339", fakepypi.File{Filename: "x-1.tar.gz", SHA256: digestOf("x"), UploadTime: "yesterday"}},
		{"upload time before 1970", fakepypi.File{Filename: "x-1.tar.gz", SHA256: digestOf("x"), UploadTime: "1960-01-01T00:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakepypi.NewServer()
			defer srv.Close()
			if _, err := srv.AddFile("x", tc.file); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, testConfig(srv, &logRecorder{}))
			if page, err := c.Project(context.Background(), "x"); !errors.Is(err, pypi.ErrMalformed) {
				t.Errorf("Project = %+v, %v; want ErrMalformed", page, err)
			}
			if n := srv.Requests().Total; n != 1 {
				t.Errorf("%d requests, want 1: bad data is not retried", n)
			}
		})
	}
}

func TestProjectList(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	for _, name := range []string{"Zope.Interface", "a_b", "Django"} {
		add(t, srv, name, name+"-1.tar.gz")
	}
	if _, err := srv.AddProject("empty"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, testConfig(srv, &logRecorder{}))
	list, err := c.ProjectList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []pypi.ListedProject{{Name: "a-b", Serial: 6}, {Name: "django", Serial: 9}, {Name: "empty", Serial: 10}, {Name: "zope-interface", Serial: 3}}
	if list.Serial != 10 || len(list.Projects) != len(want) {
		t.Fatalf("list = %+v", list)
	}
	for i := range want {
		if list.Projects[i] != want[i] {
			t.Errorf("project %d = %+v, want %+v", i, list.Projects[i], want[i])
		}
	}

	add(t, srv, "-invalid-", "invalid-1.tar.gz")
	if _, err := c.ProjectList(context.Background()); !errors.Is(err, pypi.ErrMalformed) {
		t.Errorf("list with an invalid name: %v, want ErrMalformed", err)
	}
}

// TestRetries checks that each transient fault is retried until the
// answer comes through.
func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakepypi.Fault
	}{
		{"429", fakepypi.Fault{Kind: fakepypi.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "0"}},
		{"429 with a date", fakepypi.Fault{Kind: fakepypi.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "Mon, 02 Jan 2006 15:04:05 GMT"}},
		{"500", fakepypi.Fault{Kind: fakepypi.FaultStatus, Status: http.StatusInternalServerError}},
		{"503", fakepypi.Fault{Kind: fakepypi.FaultStatus, Status: http.StatusServiceUnavailable}},
		{"truncated body", fakepypi.Fault{Kind: fakepypi.FaultTruncate}},
		{"slow answer", fakepypi.Fault{Kind: fakepypi.FaultDelay, Delay: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakepypi.NewServer()
			defer srv.Close()
			add(t, srv, "foo", "foo-1.tar.gz")
			tc.fault.Endpoint, tc.fault.Times = fakepypi.EndpointProject, 2
			srv.AddFault(tc.fault)
			logs := &logRecorder{}
			cfg := testConfig(srv, logs)
			cfg.Timeout = 100 * time.Millisecond // the slow answer times out
			c := newClient(t, cfg)
			page, err := c.Project(context.Background(), "foo")
			if err != nil || len(page.Files) != 1 {
				t.Fatalf("Project = %+v, %v", page, err)
			}
			if n := srv.Requests().ByEndpoint[fakepypi.EndpointProject]; n != 3 {
				t.Errorf("%d requests, want 3", n)
			}
			if n := c.Requests(); n != 3 {
				t.Errorf("client counted %d requests, want 3", n)
			}
			if n := len(logs.find("retrying PyPI request")); n != 2 {
				t.Errorf("%d retries logged, want 2", n)
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "foo", "foo-1.tar.gz")
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Kind: fakepypi.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 1})
	logs := &logRecorder{}
	c := newClient(t, testConfig(srv, logs))
	if _, err := c.Project(context.Background(), "foo"); err != nil {
		t.Fatal(err)
	}
	retries := logs.find("retrying PyPI request")
	if len(retries) != 1 || retries[0]["wait"].Duration() != time.Second {
		t.Errorf("retries logged: %v, want one waiting 1s as Retry-After said", retries)
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "foo", "foo-1.tar.gz")
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Kind: fakepypi.FaultStatus, Status: http.StatusInternalServerError, Times: fakepypi.Always})
	cfg := testConfig(srv, &logRecorder{})
	cfg.MaxRetries = 2
	_, err := newClient(t, cfg).Project(context.Background(), "foo")
	if statusErr, ok := errors.AsType[*pypi.StatusError](err); !ok || statusErr.Code != http.StatusInternalServerError {
		t.Errorf("error %v, want a StatusError 500", err)
	}
	if n := srv.Requests().Total; n != 3 {
		t.Errorf("%d requests, want 3 (2 retries)", n)
	}

	cfg.MaxRetries = -1
	if _, err := newClient(t, cfg).Project(context.Background(), "foo"); err == nil {
		t.Error("no error")
	}
	if n := srv.Requests().Total; n != 4 {
		t.Errorf("%d requests, want 4: no retry with MaxRetries < 0", n)
	}
}

func TestMalformedAnswers(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "foo", "foo-1.tar.gz")
	c := newClient(t, testConfig(srv, &logRecorder{}))

	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Kind: fakepypi.FaultMalformed, Times: 1})
	if _, err := c.Project(context.Background(), "foo"); !errors.Is(err, pypi.ErrMalformed) {
		t.Errorf("malformed page: %v, want ErrMalformed", err)
	}
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointIndex, Kind: fakepypi.FaultMalformed, Times: 1})
	if _, err := c.ProjectList(context.Background()); !errors.Is(err, pypi.ErrMalformed) {
		t.Errorf("malformed list: %v, want ErrMalformed", err)
	}
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointXMLRPC, Kind: fakepypi.FaultMalformed, Times: 1})
	if _, err := c.ChangelogSince(context.Background(), 0); !errors.Is(err, pypi.ErrMalformed) {
		t.Errorf("malformed changelog: %v, want ErrMalformed", err)
	}
	if n := srv.Requests().Total; n != 3 {
		t.Errorf("%d requests, want 3: malformed answers are not retried", n)
	}
}

func TestNotFound(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "foo", "foo-1.tar.gz")
	c := newClient(t, testConfig(srv, &logRecorder{}))
	if _, err := c.Project(context.Background(), "nope"); !errors.Is(err, pypi.ErrNotFound) {
		t.Errorf("unknown project: %v, want ErrNotFound", err)
	}
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointProject, Project: "foo", Kind: fakepypi.FaultStatus, Status: http.StatusNotFound, Times: 1})
	if _, err := c.Project(context.Background(), "foo"); !errors.Is(err, pypi.ErrNotFound) {
		t.Errorf("listed project answering 404: %v, want ErrNotFound", err)
	}
	if n := srv.Requests().Total; n != 2 {
		t.Errorf("%d requests, want 2: 404 is not retried", n)
	}
}

func TestRedirectFollowed(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	if _, err := srv.AddFile("Foo_Bar", fakepypi.File{Filename: "foo_bar-1.tar.gz", SHA256: digestOf("x"), Provenance: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, testConfig(srv, &logRecorder{}))
	page, err := c.Project(context.Background(), "Foo_Bar")
	if err != nil {
		t.Fatal(err)
	}
	if page.Name != "foo-bar" || len(page.Files) != 1 || page.Files[0].Project != "foo-bar" {
		t.Errorf("page = %+v", page)
	}
	if n := srv.Requests().ByEndpoint[fakepypi.EndpointProject]; n != 2 {
		t.Errorf("%d requests, want 2 (redirect, page)", n)
	}
}

func TestETagRevalidation(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "foo", "foo-1.tar.gz")
	transport := &recordingTransport{}
	cfg := testConfig(srv, &logRecorder{})
	cfg.HTTPClient = &http.Client{Transport: transport}
	c := newClient(t, cfg)
	ctx := context.Background()

	first, err := c.Project(ctx, "foo")
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Project(ctx, "foo")
	if err != nil {
		t.Fatal(err)
	}
	if transport.lastStatus() != http.StatusNotModified || transport.requests[1].Header.Get("If-None-Match") == "" {
		t.Fatalf("second fetch: status %d, If-None-Match %q; want a 304 revalidation", transport.lastStatus(), transport.requests[1].Header.Get("If-None-Match"))
	}
	if len(second.Files) != 1 || second.Files[0] != first.Files[0] || second.Serial != first.Serial {
		t.Errorf("revalidated page %+v differs from %+v", second, first)
	}

	if _, err := c.ProjectList(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ProjectList(ctx); err != nil || transport.lastStatus() != http.StatusNotModified {
		t.Errorf("project list revalidation: status %d, %v", transport.lastStatus(), err)
	}

	add(t, srv, "foo", "foo-2.tar.gz")
	third, err := c.Project(ctx, "foo")
	if err != nil || transport.lastStatus() != http.StatusOK || len(third.Files) != 2 {
		t.Errorf("after a change: status %d, page %+v, %v", transport.lastStatus(), third, err)
	}
}

func TestHTMLAnswerRejected(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "foo", "foo-1.tar.gz")
	cfg := testConfig(srv, &logRecorder{})
	cfg.HTTPClient = &http.Client{Transport: &recordingTransport{edit: func(r *http.Request) { r.Header.Del("Accept") }}}
	if _, err := newClient(t, cfg).Project(context.Background(), "foo"); !errors.Is(err, pypi.ErrMalformed) {
		t.Errorf("HTML page: %v, want ErrMalformed", err)
	}
}

func TestUserAgent(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "foo", "foo-1.tar.gz")
	for _, ua := range []string{"", "mirror-audit/1.0 (ops@example.org)"} {
		transport := &recordingTransport{}
		cfg := testConfig(srv, &logRecorder{})
		cfg.HTTPClient = &http.Client{Transport: transport}
		cfg.UserAgent = ua
		if _, err := newClient(t, cfg).Project(context.Background(), "foo"); err != nil {
			t.Fatal(err)
		}
		want := ua
		if want == "" {
			want = pypi.DefaultUserAgent
		}
		if got := transport.requests[0].Header.Get("User-Agent"); got != want {
			t.Errorf("User-Agent %q, want %q", got, want)
		}
	}
	if !strings.Contains(pypi.DefaultUserAgent, "pysumdb") || !strings.Contains(pypi.DefaultUserAgent, "https://") {
		t.Errorf("DefaultUserAgent %q names neither pysumdb nor a URL", pypi.DefaultUserAgent)
	}
}

func TestChangelog(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "Foo.Bar", "foo_bar-1.tar.gz")              // 1 create, 2 new release, 3 add
	if _, err := srv.RemoveProject("foo.bar"); err != nil { // 4
		t.Fatal(err)
	}
	srv.SetChangelogLimit(2)
	c := newClient(t, testConfig(srv, &logRecorder{}))
	ctx := context.Background()

	last, err := c.LastSerial(ctx)
	if err != nil || last != 4 {
		t.Fatalf("LastSerial = %d, %v; want 4", last, err)
	}
	first, err := c.ChangelogSince(ctx, 0)
	if err != nil || len(first) != 2 {
		t.Fatalf("ChangelogSince(0) = %+v, %v; want 2 rows", first, err)
	}
	if first[0].Project != "foo-bar" || first[0].Action != "create" || first[0].Version != "" || first[0].Serial != 1 || first[0].Time.IsZero() {
		t.Errorf("row 1 = %+v", first[0])
	}
	if first[1].Action != "new release" || first[1].Version != "1" {
		t.Errorf("row 2 = %+v", first[1])
	}
	rest, err := c.ChangelogSince(ctx, first[1].Serial)
	if err != nil || len(rest) != 2 || rest[0].Action != "add source file foo_bar-1.tar.gz" || rest[1].Action != "remove project" || rest[1].Serial != 4 {
		t.Errorf("ChangelogSince(2) = %+v, %v", rest, err)
	}
	if end, err := c.ChangelogSince(ctx, 4); err != nil || len(end) != 0 {
		t.Errorf("ChangelogSince(4) = %+v, %v; want none", end, err)
	}
}

func TestXMLRPCRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakepypi.Fault
	}{
		{"403", fakepypi.Fault{Kind: fakepypi.FaultStatus, Status: http.StatusForbidden}},
		{"405", fakepypi.Fault{Kind: fakepypi.FaultStatus, Status: http.StatusMethodNotAllowed}},
		{"410", fakepypi.Fault{Kind: fakepypi.FaultStatus, Status: http.StatusGone}},
		{"fault", fakepypi.Fault{Kind: fakepypi.FaultXMLRPC, Message: "RuntimeError: This API has been deprecated."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakepypi.NewServer()
			defer srv.Close()
			tc.fault.Endpoint, tc.fault.Times = fakepypi.EndpointXMLRPC, fakepypi.Always
			srv.AddFault(tc.fault)
			c := newClient(t, testConfig(srv, &logRecorder{}))
			if _, err := c.LastSerial(context.Background()); !errors.Is(err, pypi.ErrXMLRPCUnavailable) {
				t.Errorf("LastSerial: %v, want ErrXMLRPCUnavailable", err)
			}
			if n := srv.Requests().Total; n != 1 {
				t.Errorf("%d requests, want 1: a refusal is not retried", n)
			}
		})
	}
}

func TestXMLRPCRateLimitFaultRetried(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "foo", "foo-1.tar.gz")
	srv.AddFault(fakepypi.Fault{Endpoint: fakepypi.EndpointXMLRPC, Kind: fakepypi.FaultXMLRPC, Times: 2,
		Message: "HTTPTooManyRequests: The action could not be performed because there were too many requests by the client. Limit may reset in 1 seconds."})
	c := newClient(t, testConfig(srv, &logRecorder{}))
	if last, err := c.LastSerial(context.Background()); err != nil || last != 3 {
		t.Errorf("LastSerial = %d, %v; want 3", last, err)
	}
	if n := srv.Requests().Total; n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestNewClientRejectsBadURL(t *testing.T) {
	for _, u := range []string{"pypi.org", "ftp://pypi.org", "https://", "https://pypi.org/?x=1", "://"} {
		if _, err := pypi.NewClient(pypi.Config{BaseURL: u}); err == nil {
			t.Errorf("NewClient accepted %q", u)
		}
	}
	c, err := pypi.NewClient(pypi.Config{})
	if err != nil || c.BaseURL() != pypi.DefaultBaseURL {
		t.Errorf("default client: %v, base URL %q", err, c.BaseURL())
	}
	if c, err := pypi.NewClient(pypi.Config{BaseURL: "https://mirror.example/pypi/"}); err != nil || c.BaseURL() != "https://mirror.example/pypi" {
		t.Errorf("trailing slash: %v", err)
	}
}

// TestBaseURLSimpleSuffix: an index URL written as pip users write it,
// with /simple/, names the same index as its base URL, and works.
func TestBaseURLSimpleSuffix(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    pypi.DefaultBaseURL,
		"https://pypi.org":                    "https://pypi.org",
		"https://pypi.org/":                   "https://pypi.org",
		"https://pypi.org/simple":             "https://pypi.org",
		"https://pypi.org/simple/":            "https://pypi.org",
		"https://pypi.org/simple//":           "https://pypi.org",
		" https://pypi.org/simple/ ":          "https://pypi.org",
		"https://mirror.example/pypi/simple/": "https://mirror.example/pypi",
		"https://mirror.example/simpler/":     "https://mirror.example/simpler",
		"https://simple":                      "https://simple",
	} {
		if got := pypi.NormalizeBaseURL(in); got != want {
			t.Errorf("NormalizeBaseURL(%q) = %q, want %q", in, got, want)
		}
	}
	srv := fakepypi.NewServer()
	defer srv.Close()
	add(t, srv, "foo", "foo-1.tar.gz")
	cfg := testConfig(srv, &logRecorder{})
	cfg.BaseURL = srv.URL + "/simple/"
	c := newClient(t, cfg)
	if c.BaseURL() != srv.URL {
		t.Errorf("BaseURL() = %q, want %q", c.BaseURL(), srv.URL)
	}
	page, err := c.Project(context.Background(), "foo")
	if err != nil || len(page.Files) != 1 {
		t.Fatalf("Project(foo) through %s = %+v, %v", cfg.BaseURL, page, err)
	}
}

func TestSerialAt(t *testing.T) {
	srv := fakepypi.NewServer()
	defer srv.Close()
	// 60 changes, a minute apart, two of them (serials 31 and 32) in the
	// same second, as PyPI's changelog has.
	start := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	var times []time.Time // times[s-1] is the time of serial s
	for i := range 60 {
		at := start.Add(time.Duration(i) * time.Minute)
		if i == 31 {
			at = times[30]
		}
		srv.SetClock(func() time.Time { return at })
		if _, err := srv.AddProject(fmt.Sprintf("p%02d", i)); err != nil {
			t.Fatal(err)
		}
		times = append(times, at)
	}
	// want is the last serial at or before at, found by reading them all.
	want := func(at time.Time) int64 {
		var s int64
		for i, ti := range times {
			if !ti.After(at) {
				s = int64(i + 1)
			}
		}
		return s
	}
	for _, limit := range []int{1, 4, 100} {
		srv.SetChangelogLimit(limit)
		c := newClient(t, testConfig(srv, &logRecorder{}))
		for _, at := range []time.Time{
			start.Add(-time.Hour),       // before every change: 0
			start,                       // the first change
			start.Add(time.Second),      // between two changes
			times[30],                   // two changes in that second
			times[30].Add(-time.Second), // just before them
			times[58].Add(30 * time.Second),
			times[59],                     // the last change
			times[59].Add(24 * time.Hour), // after every change
		} {
			before := srv.Requests().ByEndpoint[fakepypi.EndpointXMLRPC]
			got, err := c.SerialAt(context.Background(), at)
			if err != nil {
				t.Fatal(err)
			}
			if got != want(at) {
				t.Errorf("limit %d: SerialAt(%s) = %d, want %d", limit, at.Format(time.TimeOnly), got, want(at))
			}
			// One call for the last serial, then a bisection.
			if calls := srv.Requests().ByEndpoint[fakepypi.EndpointXMLRPC] - before; calls > 9 {
				t.Errorf("limit %d: SerialAt(%s) took %d calls, want at most 1+log2(60)+1", limit, at.Format(time.TimeOnly), calls)
			}
		}
	}
}
