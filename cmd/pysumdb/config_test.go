package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/pypi/fakepypi"
)

func init() {
	// The Go tests run the commands in this process: the developer's own
	// configuration (environment, user configuration file) must not change
	// what they see. Not when this binary runs as the pysumdb of a script
	// (testscript.Main runs it under that name): the script's environment
	// is the one to use there.
	if filepath.Base(os.Args[0]) == "pysumdb" {
		return
	}
	for _, v := range []string{envSwitch, envLogs, envQuorum, envWitnesses, envWitnessQuorum, envExclude, envConfig} {
		os.Unsetenv(v)
	}
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(os.TempDir(), fmt.Sprintf("pysumdb-test-%d-no-config", os.Getpid())))
}

const (
	testVKey  = "pysumdb.test/log+1038ff14+AcTWei3m/QepKznbYWjI5JundHTJZBhBP8pZl98lGwmw"
	testVKey2 = "other.test/log+71a7fa55+AX2p6m7Z9Ou7IuchJ/MR8d9tDfGz9cwENEeWAM+J7T4/"
)

func TestParseLogsEnv(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the logs as "url vkey;", or the error
	}{
		{testVKey + " https://log.example/", "https://log.example/ " + testVKey + ";"},
		{"  " + testVKey + "\thttps://a.example/ , " + testVKey2 + " dir/log,", "https://a.example/ " + testVKey + ";dir/log " + testVKey2 + ";"},
		{testVKey, `log 1 is "` + testVKey + `", not a key and a URL; want PYSUMDB_LOGS="<vkey> <url>, <vkey> <url>"`},
		{testVKey + " https://a.example/ " + testVKey2 + " https://b.example/", "not a key and a URL"},
		{"https://a.example/ " + testVKey, `"https://a.example/" is not a verifier key (the key comes first, then the URL)`},
		{"nokey https://a.example/", `log 1: "nokey" is not a verifier key: malformed verifier id; want PYSUMDB_LOGS=`},
		{" , ,", "PYSUMDB_LOGS lists no log; want"},
	} {
		logs, err := parseLogsEnv(tc.in)
		got := ""
		for _, l := range logs {
			got += l.URL + " " + l.VKey + ";"
		}
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("parseLogsEnv(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzParseLogsEnv(f *testing.F) {
	f.Add(testVKey + " https://log.example/")
	f.Add(testVKey + " a, " + testVKey2 + " b,")
	f.Add("x y z, ,")
	f.Fuzz(func(t *testing.T, s string) {
		logs, err := parseLogsEnv(s)
		if err != nil {
			if logs != nil || !strings.Contains(err.Error(), envLogs) {
				t.Fatalf("parseLogsEnv(%q): %v with logs %v", s, err, logs)
			}
			return
		}
		if len(logs) == 0 || len(logs) > strings.Count(s, ",")+1 {
			t.Fatalf("parseLogsEnv(%q) = %d logs", s, len(logs))
		}
		for _, l := range logs {
			// What was parsed says the same written again.
			again, err := parseLogsEnv(l.VKey + " " + l.URL)
			if err != nil || len(again) != 1 || again[0] != l || l.URL == "" || strings.ContainsAny(l.URL+l.VKey, ", \t\n") {
				t.Fatalf("parseLogsEnv(%q): log %+v, again %v %v", s, l, again, err)
			}
		}
	})
}

func TestEnvLists(t *testing.T) {
	if got := strings.Join(splitList(" a ,, b,"), "|"); got != "a|b" {
		t.Errorf("splitList = %q", got)
	}
	for _, tc := range []struct{ in, want string }{{"2", ""}, {" 1 ", ""}, {"0", "want how many"}, {"two", "want how many"}} {
		_, err := parseCount(envQuorum, tc.in, "logs")
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseCount(%q): %v", tc.in, err)
		}
	}
	if _, err := parseWitnessesEnv(testVKey); err == nil || !strings.Contains(err.Error(), "is not a witness's cosignature key") {
		t.Errorf("a log's key as a witness: %v", err)
	}
	for v, want := range map[string]string{"": "", "off": "off", "0": "error", "OFF": "error", "false": "error"} {
		t.Setenv(envSwitch, v)
		off, err := switchedOff()
		got := map[bool]string{true: "off", false: ""}[off]
		if err != nil {
			got = "error"
			if !strings.Contains(err.Error(), `the only value is "off"`) || exitStatus(err) != exitUsage {
				t.Errorf("PYSUMDB=%q: %v", v, err)
			}
		}
		if got != want {
			t.Errorf("PYSUMDB=%q: %q, want %q", v, got, want)
		}
	}
}

// countingServer serves h and counts the requests whose path contains
// word.
type countingServer struct {
	*httptest.Server
	word string
	mu   sync.Mutex
	all  int
	hits []string
}

func newCountingServer(t *testing.T, word string, h http.Handler) *countingServer {
	s := &countingServer{word: word}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.all++
		if strings.Contains(strings.ToLower(r.URL.String()), word) {
			s.hits = append(s.hits, r.URL.String())
		}
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// counts returns how many requests were made, and those naming word.
func (s *countingServer) counts() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all, append([]string(nil), s.hits...)
}

// TestPrivateProjectsNeverLeave: with PYSUMDB_EXCLUDE, verify skips the
// private project's artifacts as private and verifies the others, and no
// request to the log names it; check-pypi refuses it without asking PyPI
// or the log.
func TestPrivateProjectsNeverLeave(t *testing.T) {
	dir := t.TempDir()
	key, cache := filepath.Join(dir, "log.key"), filepath.Join(dir, "cache")
	stdout, _ := mustRun(t, 0, "keygen", "--origin", "pysumdb.test/log", "--out", key)
	vkey := strings.TrimSpace(stdout)
	public, private := fmt.Sprintf("%064x", 1), fmt.Sprintf("%064x", 2)
	// The private project is in the log too (a name can be on PyPI as
	// well): asking about it would be answered, and counted.
	records := fmt.Sprintf(`{"project":"requests","filename":"requests-2.0.tar.gz","sha256":"%s","size":10}
{"project":"Corp_Secret","filename":"corp_secret-1.0.tar.gz","sha256":"%s","size":20}
`, public, private)
	writeTextFile(t, filepath.Join(dir, "records.jsonl"), records)
	store := filepath.Join(dir, "log")
	mustRun(t, 0, "sequence", "-q", "--store", store, "--key", key, "--from-jsonl", filepath.Join(dir, "records.jsonl"))
	st, err := publish.OpenDir(store)
	if err != nil {
		t.Fatal(err)
	}
	logSrv := newCountingServer(t, "corp", publish.Handler(st, nil))
	lock := filepath.Join(dir, "requirements.txt")
	writeTextFile(t, lock, fmt.Sprintf("requests==2.0 --hash=sha256:%s\ncorp-secret==1.0 --hash=sha256:%s\n", public, private))

	t.Setenv(envLogs, vkey+" "+logSrv.URL+"/")
	t.Setenv(envExclude, "internal-*,corp-*")
	stdout, _ = mustRun(t, 0, "verify", lock, "--cache-dir", cache)
	for _, want := range []string{
		`SKIPPED corp-secret 1.0 at ` + lock + `:2: private (matches PYSUMDB_EXCLUDE pattern "corp-*")`,
		"1 verified, 0 mismatch, 0 not in log, 1 skipped",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify's report lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _ = mustRun(t, 0, "verify", lock, "--cache-dir", cache, "--json")
	if want := `"skip": "private (matches PYSUMDB_EXCLUDE pattern \"corp-*\")"`; !strings.Contains(stdout, want) {
		t.Errorf("verify --json lacks %s:\n%s", want, stdout)
	}
	if all, hits := logSrv.counts(); all == 0 || len(hits) > 0 {
		t.Errorf("the log had %d requests, %d naming the private project: %v", all, len(hits), hits)
	}

	pypi := fakepypi.NewServer()
	t.Cleanup(pypi.Close)
	for _, f := range []struct{ project, filename, sha256 string }{{"requests", "requests-2.0.tar.gz", public}, {"corp-secret", "corp_secret-1.0.tar.gz", private}} {
		if _, err := pypi.AddFile(f.project, fakepypi.File{Filename: f.filename, Version: "1", SHA256: f.sha256, Size: 10}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := url.Parse(pypi.URL)
	if err != nil {
		t.Fatal(err)
	}
	pypiSrv := newCountingServer(t, "corp", httputil.NewSingleHostReverseProxy(u))
	_, stderr := mustRun(t, 2, "check-pypi", "Corp.Secret", "--pypi", pypiSrv.URL, "--cache-dir", cache)
	if want := `corp-secret is private (matches PYSUMDB_EXCLUDE pattern "corp-*"): check-pypi asks neither PyPI nor a log about it`; !strings.Contains(stderr, want) {
		t.Errorf("check-pypi of a private project: %q, want %q", stderr, want)
	}
	mustRun(t, 0, "check-pypi", "requests", "--pypi", pypiSrv.URL, "--cache-dir", cache)
	if all, hits := pypiSrv.counts(); all == 0 || len(hits) > 0 {
		t.Errorf("PyPI had %d requests, %d naming the private project: %v", all, len(hits), hits)
	}
	_, stderr = mustRun(t, 2, "lookup", "corp-secret", "--cache-dir", cache)
	if want := `corp-secret is private (matches PYSUMDB_EXCLUDE pattern "corp-*"): lookup asks no log about it`; !strings.Contains(stderr, want) {
		t.Errorf("lookup of a private project: %q, want %q", stderr, want)
	}
	if _, hits := logSrv.counts(); len(hits) > 0 {
		t.Errorf("the log had requests naming the private project: %v", hits)
	}
}

func writeTextFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
