package proxy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/internal/pydisttest"
	"github.com/pysumdb/pysumdb/internal/syncbuf"
	"github.com/pysumdb/pysumdb/proxy"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
	"github.com/pysumdb/pysumdb/verify"
)

// dist is a distribution file the test PyPI serves.
type dist struct {
	project, version, filename string
	data                       []byte
}

func wheel(t testing.TB, project, version, marker string) dist {
	t.Helper()
	name, data, err := pydisttest.Wheel(project, version, marker)
	if err != nil {
		t.Fatal(err)
	}
	return dist{project, version, name, data}
}

func (d dist) sha256() string {
	sum := sha256.Sum256(d.data)
	return hex.EncodeToString(sum[:])
}

func (d dist) record() sequencer.Record {
	return sequencer.Record{Project: d.project, Filename: d.filename, SHA256: sha256.Sum256(d.data), Size: int64(len(d.data)), UploadTime: "-"}
}

// env is a test PyPI, a log over HTTP holding some of its files, and a
// proxy in front of both.
type env struct {
	pypi     *fakepypi.Server
	log      *clienttest.Log
	logSrv   *clienttest.Server
	proxy    *proxy.Proxy
	srv      *httptest.Server
	cacheDir string
	logs     *syncbuf.Buffer
	// upstream, if set, is the URL the proxy takes for the PyPI's
	// instead of its own (a server in front of it).
	upstream string
}

// newEnv publishes logged and unlogged on the test PyPI, logs the first,
// and starts a proxy configured by configure.
func newEnv(t testing.TB, logged, unlogged []dist, configure func(*proxy.Config)) *env {
	t.Helper()
	e := newUpstream(t, logged, unlogged)
	e.start(t, configure)
	return e
}

// newUpstream publishes logged and unlogged on the test PyPI and logs the
// first, without a proxy yet.
func newUpstream(t testing.TB, logged, unlogged []dist) *env {
	t.Helper()
	e := &env{pypi: fakepypi.NewServer()}
	t.Cleanup(e.pypi.Close)
	var records []sequencer.Record
	for _, d := range logged {
		records = append(records, d.record())
	}
	for _, d := range append(append([]dist{}, logged...), unlogged...) {
		if _, err := e.pypi.AddDist(d.project, d.version, d.filename, d.data); err != nil {
			t.Fatal(err)
		}
	}
	e.log = clienttest.NewLog(t, "pysumdb.test/proxy", records)
	e.logSrv = clienttest.Serve(t, e.log)
	return e
}

// start starts a proxy (configured by configure) in front of e's PyPI and
// log, with a client.Log of its own and an empty cache.
func (e *env) start(t testing.TB, configure func(*proxy.Config)) {
	t.Helper()
	e.cacheDir, e.logs = t.TempDir(), &syncbuf.Buffer{}
	fetch, err := client.NewHTTPFetcher(e.logSrv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := client.NewLog(fetch, e.log.VKey)
	if err != nil {
		t.Fatal(err)
	}
	upstreamURL := e.pypi.URL
	if e.upstream != "" {
		upstreamURL = e.upstream
	}
	upstream, err := proxy.UpstreamURL(upstreamURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := proxy.Config{
		Upstream:      upstream,
		Verifier:      &verify.Verifier{Logs: []*client.Log{l}, Quorum: 1},
		CacheDir:      e.cacheDir,
		CacheMaxBytes: 1 << 30,
		Logger:        slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&cfg)
	}
	if e.proxy, err = proxy.New(cfg); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.proxy)
	t.Cleanup(e.srv.Close)
}

// get fetches path from the proxy without following redirects.
func (e *env) get(t *testing.T, path string, header ...string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// page fetches a project page as JSON and parses it.
func (e *env) page(t *testing.T, project string) (proxy.Page, *http.Response) {
	t.Helper()
	resp, body, err := e.get(t, "/simple/"+project+"/", "Accept", proxy.MediaTypeJSON)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("page of %s: %v %v %s", project, err, resp, body)
	}
	base, _ := url.Parse(e.srv.URL + "/simple/" + project + "/")
	p, err := proxy.ParseProjectPage(resp.Header.Get("Content-Type"), body, base)
	if err != nil {
		t.Fatal(err)
	}
	return p, resp
}

// download fetches d through the proxy.
func (e *env) download(t *testing.T, d dist) (*http.Response, []byte, error) {
	t.Helper()
	return e.get(t, "/files/"+d.project+"/"+url.PathEscape(d.filename))
}

func TestPagesRewrittenWithLoggedHashes(t *testing.T) {
	good := wheel(t, "demo", "1.0", "good")
	e := newEnv(t, []dist{good}, nil, nil)
	page, resp := e.page(t, "demo")
	if resp.Header.Get("Content-Type") != proxy.MediaTypeJSON || !strings.Contains(resp.Header.Get("Vary"), "Accept") {
		t.Errorf("headers %v", resp.Header)
	}
	if len(page.Files) != 1 {
		t.Fatalf("files %+v", page.Files)
	}
	f := page.Files[0]
	if want := e.srv.URL + "/files/demo/" + good.filename; f.URL != want {
		t.Errorf("URL %s, want %s", f.URL, want)
	}
	if f.Hashes["sha256"] != good.sha256() {
		t.Errorf("hashes %v, want sha256 %s", f.Hashes, good.sha256())
	}

	// The log's hash, not the upstream's, is the one pages carry.
	other := []byte("other bytes")
	otherSum := sha256.Sum256(other)
	if err := e.pypi.TamperFile("demo", good.filename, hex.EncodeToString(otherSum[:]), int64(len(other))); err != nil {
		t.Fatal(err)
	}
	page, _ = e.page(t, "demo")
	if page.Files[0].Hashes["sha256"] != good.sha256() {
		t.Errorf("after the upstream changed: hashes %v, want the log's %s", page.Files[0].Hashes, good.sha256())
	}

	// HTML for pip without Accept, with the fragment.
	resp, body, err := e.get(t, "/simple/demo/")
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("HTML page: %v %v", err, resp)
	}
	if want := "../../files/demo/" + good.filename + "#sha256=" + good.sha256(); !strings.Contains(string(body), want) {
		t.Errorf("HTML page lacks %s:\n%s", want, body)
	}
}

func TestPageRedirectsAndRefusals(t *testing.T) {
	e := newEnv(t, []dist{wheel(t, "demo-pkg", "1.0", "x")}, nil, nil)
	resp, _, err := e.get(t, "/simple/Demo_Pkg/")
	if err != nil || resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/simple/demo-pkg/" {
		t.Errorf("non-normalized name: %v %v", err, resp)
	}
	resp, _, _ = e.get(t, "/simple/demo-pkg/", "Accept", "application/xml")
	if resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("unacceptable type: %d", resp.StatusCode)
	}
	resp, _, _ = e.get(t, "/simple/nonexistent/")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown project: %d", resp.StatusCode)
	}
	resp, _, _ = e.get(t, "/files/demo-pkg/nonexistent-1.0.tar.gz")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown file: %d", resp.StatusCode)
	}
	resp, body, err := e.get(t, "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	var health map[string]any
	if err := json.Unmarshal(body, &health); err != nil || health["status"] != "ok" {
		t.Errorf("healthz: %s %v", body, err)
	}
}

func TestVerifiedDownloadIsCachedAndServedWithUpstreamDown(t *testing.T) {
	good := wheel(t, "demo", "1.0", "good")
	e := newEnv(t, []dist{good}, nil, nil)
	e.page(t, "demo")
	resp, body, err := e.download(t, good)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, good.data) {
		t.Fatalf("download: %v %v (%d bytes)", err, resp, len(body))
	}
	if v := resp.Header.Get(proxy.HeaderVerdict); v != "verified" {
		t.Errorf("verdict %q", v)
	}
	if files := e.pypi.Requests().ByEndpoint[fakepypi.EndpointFile]; files != 1 {
		t.Errorf("%d downloads upstream", files)
	}

	e.pypi.Close()
	page, resp := e.page(t, "demo")
	if resp.Header.Get(proxy.HeaderStale) == "" || len(page.Files) != 1 {
		t.Errorf("page with the upstream down: %v %+v", resp.Header, page)
	}
	resp, body, err = e.download(t, good)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, good.data) {
		t.Fatalf("download from the cache: %v %v", err, resp)
	}
	if !strings.Contains(resp.Header.Get(proxy.HeaderDetail), "cache") {
		t.Errorf("detail %q", resp.Header.Get(proxy.HeaderDetail))
	}
}

// corruptCached downloads d through the proxy, which caches it, and
// flips a bit of the cached copy.
func (e *env) corruptCached(t *testing.T, d dist) {
	t.Helper()
	if resp, _, err := e.download(t, d); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatal(err, resp)
	}
	cached := filepath.Join(e.cacheDir, "files", d.sha256(), d.filename)
	data, err := os.ReadFile(cached)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 1
	if err := os.WriteFile(cached, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptCacheIsFetchedAgain(t *testing.T) {
	good := wheel(t, "demo", "1.0", "good")
	e := newEnv(t, []dist{good}, nil, nil)
	e.corruptCached(t, good)
	resp, body, err := e.download(t, good)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, good.data) {
		t.Fatalf("download after corruption: %v %v", err, resp)
	}
	if files := e.pypi.Requests().ByEndpoint[fakepypi.EndpointFile]; files != 2 {
		t.Errorf("%d downloads upstream, want 2 (the corrupt copy not served)", files)
	}
	if !strings.Contains(e.logs.String(), "no longer has its hash: removed") {
		t.Errorf("corruption not logged:\n%s", e.logs)
	}
}

func TestTamperedListingRefusedBeforeAnyByte(t *testing.T) {
	good := wheel(t, "demo", "1.0", "good")
	evil := wheel(t, "demo", "1.0", "evil")
	e := newEnv(t, []dist{good}, nil, nil)
	// A compromised index: new bytes, and their hash listed.
	if err := e.pypi.TamperFile("demo", good.filename, evil.sha256(), int64(len(evil.data))); err != nil {
		t.Fatal(err)
	}
	if err := e.pypi.ReplaceContent("demo", good.filename, evil.data); err != nil {
		t.Fatal(err)
	}
	resp, body, err := e.download(t, good)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "SECURITY ERROR") ||
		!strings.Contains(resp.Status, evil.sha256()) || !strings.Contains(resp.Status, good.sha256()) {
		t.Errorf("status %q", resp.Status)
	}
	if bytes.Contains(body, evil.data[:64]) {
		t.Error("the refusal carries the file's bytes")
	}
	if e.proxy.Alarms() != 1 {
		t.Errorf("%d alarms", e.proxy.Alarms())
	}
	evidence, _ := filepath.Glob(filepath.Join(e.cacheDir, "alarms", "*.json"))
	if len(evidence) != 1 {
		t.Fatalf("evidence files %v", evidence)
	}
	data, _ := os.ReadFile(evidence[0])
	var a proxy.Alarm
	if err := json.Unmarshal(data, &a); err != nil || a.ServedSHA256 != evil.sha256() || a.LoggedSHA256 != good.sha256() || a.Filename != good.filename {
		t.Errorf("evidence %s (%v)", data, err)
	}
	if !strings.Contains(e.logs.String(), "SECURITY ERROR") {
		t.Errorf("no SECURITY ERROR logged:\n%s", e.logs)
	}
	if n, _ := filepath.Glob(filepath.Join(e.cacheDir, "files", "*", "*")); len(n) != 0 {
		t.Errorf("cached: %v", n)
	}
}

func TestTamperedBytesCutShort(t *testing.T) {
	// Large enough that most of it streams before the end.
	good := dist{"demo", "1.0", "demo-1.0.tar.gz", bytes.Repeat([]byte("good bytes "), 100_000)}
	evil := dist{"demo", "1.0", "demo-1.0.tar.gz", bytes.Repeat([]byte("evil bytes "), 100_000)}
	e := newEnv(t, []dist{good}, nil, nil)
	// A compromised CDN: the index still lists the logged hash.
	if err := e.pypi.ReplaceContent("demo", good.filename, evil.data); err != nil {
		t.Fatal(err)
	}
	resp, body, err := e.download(t, good)
	if err == nil {
		t.Fatalf("download of other bytes ended normally: %v, %d bytes", resp.Status, len(body))
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err %v", err)
	}
	if len(body) >= len(evil.data) {
		t.Errorf("the client got %d bytes of %d", len(body), len(evil.data))
	}
	if e.proxy.Alarms() != 1 || !strings.Contains(e.logs.String(), "SECURITY ERROR") {
		t.Errorf("%d alarms; log:\n%s", e.proxy.Alarms(), e.logs)
	}
	if n, _ := filepath.Glob(filepath.Join(e.cacheDir, "files", "*", "*")); len(n) != 0 {
		t.Errorf("cached: %v", n)
	}
}

func TestTamperedSmallFileRefused(t *testing.T) {
	good := wheel(t, "demo", "1.0", "good")
	evil := wheel(t, "demo", "1.0", "evil")
	e := newEnv(t, []dist{good}, nil, nil)
	if err := e.pypi.ReplaceContent("demo", good.filename, evil.data); err != nil {
		t.Fatal(err)
	}
	resp, body, err := e.download(t, good)
	if err != nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "SECURITY ERROR") ||
		!strings.Contains(resp.Status, evil.sha256()) || bytes.Contains(body, evil.data[:100]) {
		t.Fatalf("%v %v", err, resp)
	}
	if e.proxy.Alarms() != 1 {
		t.Errorf("%d alarms", e.proxy.Alarms())
	}
}

func TestNotInLogPolicies(t *testing.T) {
	logged := wheel(t, "demo", "1.0", "logged")
	fresh := wheel(t, "demo", "2.0", "fresh")
	for _, tc := range []struct {
		policy proxy.NotInLogPolicy
		status int
		warned bool
	}{
		{proxy.NotInLogAllow, http.StatusOK, false},
		{proxy.NotInLogWarn, http.StatusOK, true},
		{proxy.NotInLogDeny, http.StatusForbidden, false},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			e := newEnv(t, []dist{logged}, []dist{fresh}, func(c *proxy.Config) { c.NotInLog = tc.policy })
			resp, body, err := e.download(t, fresh)
			if err != nil || resp.StatusCode != tc.status {
				t.Fatalf("%v %v", err, resp)
			}
			if tc.status == http.StatusOK {
				if !bytes.Equal(body, fresh.data) || resp.Header.Get(proxy.HeaderVerdict) != "not-in-log" {
					t.Errorf("verdict %q, %d bytes", resp.Header.Get(proxy.HeaderVerdict), len(body))
				}
			} else if !strings.Contains(resp.Status, "not in the log") {
				t.Errorf("status %q", resp.Status)
			}
			if warned := strings.Contains(e.logs.String(), "not in the log"); warned != tc.warned {
				t.Errorf("warned %v; log:\n%s", warned, e.logs)
			}
			if e.proxy.Alarms() != 0 {
				t.Errorf("%d alarms for a file not in the log", e.proxy.Alarms())
			}
			// Never cached: it was not verified.
			if n, _ := filepath.Glob(filepath.Join(e.cacheDir, "files", "*", "*")); len(n) != 0 {
				t.Errorf("cached: %v", n)
			}
		})
	}
}

func TestExcludedProjectsNeverReachTheLog(t *testing.T) {
	private := wheel(t, "acme-internal", "1.0", "private")
	public := wheel(t, "demo", "1.0", "public")
	e := newEnv(t, []dist{public}, []dist{private}, func(c *proxy.Config) {
		c.Verifier.Exclude = &verify.Exclusions{}
		if err := c.Verifier.Exclude.Add("test", "acme-*"); err != nil {
			t.Fatal(err)
		}
		c.NotInLog = proxy.NotInLogDeny
	})
	e.page(t, "acme-internal")
	resp, body, err := e.download(t, private)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, private.data) || resp.Header.Get(proxy.HeaderVerdict) != "excluded" {
		t.Fatalf("excluded download: %v %v", err, resp)
	}
	if resp, _, err := e.download(t, public); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("public download: %v %v", err, resp)
	}
	for key, n := range e.logSrv.Counts() {
		if strings.Contains(key, "acme") {
			t.Errorf("the log was asked %d times for %s", n, key)
		}
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	a := dist{"demo", "1.0", "demo-1.0.tar.gz", bytes.Repeat([]byte("a"), 600)}
	b := dist{"demo", "2.0", "demo-2.0.tar.gz", bytes.Repeat([]byte("b"), 600)}
	c := dist{"demo", "3.0", "demo-3.0.tar.gz", bytes.Repeat([]byte("c"), 600)}
	e := newEnv(t, []dist{a, b, c}, nil, func(c *proxy.Config) { c.CacheMaxBytes = 1500 })
	for _, d := range []dist{a, b, a, c} { // b is then the least recently used
		if resp, _, err := e.download(t, d); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatal(err, resp)
		}
	}
	for _, tc := range []struct {
		d    dist
		want bool
	}{{a, true}, {b, false}, {c, true}} {
		_, err := os.Stat(filepath.Join(e.cacheDir, "files", tc.d.sha256(), tc.d.filename))
		if got := err == nil; got != tc.want {
			t.Errorf("%s cached %v, want %v", tc.d.filename, got, tc.want)
		}
	}
}

func TestUnlistedHashCheckedAfterStreaming(t *testing.T) {
	good := dist{"demo", "1.0", "demo-1.0.tar.gz", bytes.Repeat([]byte("good "), 50_000)}
	evil := dist{"demo", "1.0", "demo-1.0.tar.gz", bytes.Repeat([]byte("evil "), 50_000)}
	e := newEnv(t, []dist{good}, nil, nil)
	// An index that lists no hash: the logs are asked about the bytes.
	if err := e.pypi.TamperFile("demo", good.filename, "", int64(len(good.data))); err != nil {
		t.Fatal(err)
	}
	resp, body, err := e.download(t, good)
	if err != nil || !bytes.Equal(body, good.data) {
		t.Fatalf("good bytes, no hash listed: %v %v", err, resp)
	}
	if err := e.pypi.ReplaceContent("demo", good.filename, evil.data); err != nil {
		t.Fatal(err)
	}
	// Smaller than what is held back: refused before a byte is sent.
	resp, body, err = e.download(t, good)
	if err != nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "SECURITY ERROR") ||
		!strings.Contains(resp.Status, "the upstream served sha256 "+evil.sha256()) || bytes.Contains(body, evil.data[:100]) {
		t.Fatalf("other bytes, no hash listed: %v %v", err, resp)
	}
	if e.proxy.Alarms() != 1 {
		t.Errorf("%d alarms; log:\n%s", e.proxy.Alarms(), e.logs)
	}
}

func TestLogsDownRefusesRatherThanServes(t *testing.T) {
	good := wheel(t, "demo", "1.0", "good")
	e := newEnv(t, []dist{good}, nil, func(c *proxy.Config) { c.VerifyTimeout = 5 * time.Second })
	e.logSrv.Down()
	resp, _, err := e.download(t, good)
	if err != nil || resp.StatusCode != http.StatusBadGateway || !strings.Contains(resp.Status, "couldn't verify") {
		t.Fatalf("%v %v", err, resp)
	}
	if n := strings.Count(resp.Status, "pysumdb.test/proxy: "); n != 1 {
		t.Errorf("the reason names the log %d times: %s", n, resp.Status)
	}
}

func TestCacheKeyedByFilename(t *testing.T) {
	a := wheel(t, "demo", "1.0", "a")
	b := wheel(t, "demo", "2.0", "b")
	e := newEnv(t, []dist{a, b}, nil, nil)
	if resp, _, err := e.download(t, a); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatal(err, resp)
	}
	// The upstream lists and serves a's (cached, verified) bytes as b: the
	// log proves other bytes for b, so the cached copy of a must not
	// answer for it.
	if err := e.pypi.TamperFile("demo", b.filename, a.sha256(), int64(len(a.data))); err != nil {
		t.Fatal(err)
	}
	if err := e.pypi.ReplaceContent("demo", b.filename, a.data); err != nil {
		t.Fatal(err)
	}
	e.page(t, "demo") // as pip does: the proxy now has the new listing
	resp, _, err := e.download(t, b)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a bytes as b: %v %v\n%s", err, resp, e.logs)
	}
}

func TestFileSizeBounded(t *testing.T) {
	big := dist{"demo", "1.0", "demo-1.0.tar.gz", bytes.Repeat([]byte("x"), 4000)}
	e := newEnv(t, []dist{big}, nil, func(c *proxy.Config) { c.MaxFileSize = 1000 })
	resp, body, err := e.download(t, big)
	if err != nil || resp.StatusCode != http.StatusBadGateway || !strings.Contains(resp.Status, "more than the proxy's limit of 1000") || len(body) >= len(big.data) {
		t.Fatalf("%v %v", err, resp)
	}
}

func TestCorruptLargeCachedFileCutShort(t *testing.T) {
	big := dist{"demo", "1.0", "demo-1.0.tar.gz", bytes.Repeat([]byte("big "), 300_000)}
	e := newEnv(t, []dist{big}, nil, nil)
	e.corruptCached(t, big)
	// Found out after most of it was sent: cut short, never whole.
	_, body, err := e.download(t, big)
	if err == nil || len(body) >= len(big.data) {
		t.Fatalf("corrupt cached copy: err %v, %d of %d bytes", err, len(body), len(big.data))
	}
	// Removed: the next download comes from the upstream again.
	resp, body, err := e.download(t, big)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, big.data) {
		t.Fatalf("after removal: %v %v", err, resp)
	}
	if files := e.pypi.Requests().ByEndpoint[fakepypi.EndpointFile]; files != 2 {
		t.Errorf("%d downloads upstream, want 2", files)
	}
}
