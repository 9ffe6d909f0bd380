package pypi

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{"99999999999999999999", 0, false},
		{"86400", maxRetryAfter, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), maxRetryAfter, true},
		{"-3", 0, false},
		{"soon", 0, false},
	} {
		got, ok := parseRetryAfter(tc.value, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.ok)
		}
	}
}

func TestUTCUploadTime(t *testing.T) {
	for in, want := range map[string]string{
		"2024-01-02T03:04:05.123456Z":      "2024-01-02T03:04:05.123456Z",
		"2024-01-02T03:04:05Z":             "2024-01-02T03:04:05Z",
		"2024-01-02T05:04:05.5+02:00":      "2024-01-02T03:04:05.5Z",
		"2024-01-01T23:04:05-04:00":        "2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05.000000+00:00": "2024-01-02T03:04:05Z",
		"-":                                "",
		"2024-01-02 03:04:05":              "",
		"1969-12-31T23:59:59Z":             "",
		"1970-01-01T01:00:00+02:00":        "",
	} {
		got, err := utcUploadTime(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("utcUploadTime(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestETagCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newETagCache(2)
	c.put("a", `"1"`, 1)
	c.put("b", `"2"`, 2)
	c.get("a")
	c.put("c", `"3"`, 3)
	if _, _, ok := c.get("b"); ok {
		t.Error("b, the least recently used, was kept")
	}
	for url, want := range map[string]int{"a": 1, "c": 3} {
		if _, v, ok := c.get(url); !ok || v != want {
			t.Errorf("get(%q) = %v, %v", url, v, ok)
		}
	}
	c.put("a", `"4"`, 4)
	if etag, v, _ := c.get("a"); etag != `"4"` || v != 4 {
		t.Errorf("replaced entry: %s %v", etag, v)
	}
}

func TestRelativeProvenanceURL(t *testing.T) {
	body := []byte(`{"meta":{"api-version":"1.1","_last-serial":3},"name":"foo","files":[{"filename":"foo-1.tar.gz","hashes":{"sha256":"` + fuzzDigest + `"},"size":1,"provenance":"../../integrity/foo/1/foo-1.tar.gz/provenance"}]}`)
	page, err := parseProjectPage(body, http.Header{}, "foo", fuzzPageURL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := page.Files[0].ProvenanceURL, "https://pypi.org/integrity/foo/1/foo-1.tar.gz/provenance"; got != want {
		t.Errorf("provenance URL %q, want %q", got, want)
	}
	body = []byte(`{"meta":{"api-version":"1.1","_last-serial":3},"name":"foo","files":[{"filename":"foo-1.tar.gz","hashes":{"sha256":"` + fuzzDigest + `"},"size":1,"provenance":"file:///etc/passwd"}]}`)
	if _, err := parseProjectPage(body, http.Header{}, "foo", fuzzPageURL); err == nil {
		t.Error("file: provenance URL accepted")
	}
}
