package pypi

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/tiles"
)

const (
	simpleJSONType = "application/vnd.pypi.simple.v1+json"
	integrityType  = "application/vnd.pypi.integrity.v1+json"
	serialHeader   = "X-PyPI-Last-Serial"
)

// File is one distribution file as the Simple API lists it, validated.
type File struct {
	// Project is the normalized project name (PEP 503).
	Project string
	// Filename is the distribution filename; it passes tiles.CheckFilename.
	Filename string
	// SHA256 is the file's digest as PyPI states it.
	SHA256 [32]byte
	// Size is the file size in bytes.
	Size int64
	// UploadTime is RFC 3339 in UTC ("Z"), as PyPI gives it, or
	// tiles.NoUploadTime ("-") when PyPI has none.
	UploadTime string
	// ProvenanceURL is the absolute URL of the file's PEP 740 provenance
	// object, or "" when it has none.
	ProvenanceURL string
}

// ProjectPage is a project's Simple API page.
type ProjectPage struct {
	// Name is the normalized project name.
	Name string
	// Serial is the page's _last-serial: the page shows the project as of
	// that changelog serial.
	Serial int64
	// Files are the project's current files, in PyPI's order, with unique
	// filenames.
	Files []File
}

// ProjectList is the Simple API's list of every project.
type ProjectList struct {
	// Serial is the list's _last-serial: it shows every project as of
	// that changelog serial.
	Serial int64
	// Projects are sorted by Name, without duplicates.
	Projects []ListedProject
}

// ListedProject is one entry of the project list.
type ListedProject struct {
	// Name is the normalized project name.
	Name string
	// Serial is the serial of the project's last change.
	Serial int64
}

// ProjectList fetches the list of every project (GET /simple/).
func (c *Client) ProjectList(ctx context.Context) (*ProjectList, error) {
	return getSimple(ctx, c, c.cfg.BaseURL+"/simple/", func(resp *http.Response, body []byte) (*ProjectList, error) {
		return parseProjectList(body, resp.Header)
	})
}

// Project fetches a project's page (GET /simple/<name>/). The name is
// requested as given and PyPI's redirect to the normalized URL is
// followed: pass normalized names to save that request. A project that
// doesn't exist, or no longer, gives an error matching ErrNotFound.
func (c *Client) Project(ctx context.Context, name string) (*ProjectPage, error) {
	normalized, err := tiles.NormalizeProject(name)
	if err != nil {
		return nil, err
	}
	return getSimple(ctx, c, c.cfg.BaseURL+"/simple/"+name+"/", func(resp *http.Response, body []byte) (*ProjectPage, error) {
		return parseProjectPage(body, resp.Header, normalized, resp.Request.URL)
	})
}

// Provenance fetches a file's PEP 740 provenance object from its
// File.ProvenanceURL and returns its bytes, checked to be JSON only.
func (c *Client) Provenance(ctx context.Context, provenanceURL string) ([]byte, error) {
	header := http.Header{"Accept": {integrityType}}
	return do(ctx, c, request{method: http.MethodGet, url: provenanceURL, header: header}, func(resp *http.Response, body []byte) ([]byte, error) {
		if resp.StatusCode != http.StatusOK {
			return nil, malformed("%s: unexpected %s", provenanceURL, resp.Status)
		}
		if !json.Valid(body) {
			return nil, malformed("%s: provenance is not JSON", provenanceURL)
		}
		return body, nil
	})
}

// getSimple fetches a Simple API JSON page, revalidating a cached answer
// with If-None-Match, and parses and caches a new one.
func getSimple[T any](ctx context.Context, c *Client, pageURL string, parse func(*http.Response, []byte) (T, error)) (T, error) {
	etag, cached, haveCached := c.cache.get(pageURL)
	header := http.Header{"Accept": {simpleJSONType}}
	if haveCached {
		header.Set("If-None-Match", etag)
	}
	return do(ctx, c, request{method: http.MethodGet, url: pageURL, header: header}, func(resp *http.Response, body []byte) (T, error) {
		var zero T
		if resp.StatusCode == http.StatusNotModified {
			v, ok := cached.(T)
			if !ok {
				return zero, malformed("%s: 304 Not Modified to a request without If-None-Match", pageURL)
			}
			return v, nil
		}
		if mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mediaType != simpleJSONType {
			return zero, malformed("%s: served %q, not the JSON Simple API", pageURL, resp.Header.Get("Content-Type"))
		}
		v, err := parse(resp, body)
		if err != nil {
			return zero, fmt.Errorf("%s: %w", pageURL, err)
		}
		if newETag := resp.Header.Get("ETag"); newETag != "" {
			c.cache.put(pageURL, newETag, v)
		}
		return v, nil
	})
}

// jsonMeta is the meta object of PEP 691 answers.
type jsonMeta struct {
	APIVersion *string `json:"api-version"`
	LastSerial *int64  `json:"_last-serial"`
}

// serial checks the API version and returns the page's serial: the meta
// field, or else the X-PyPI-Last-Serial header. One of them is required
// since following PyPI depends on it.
func (m jsonMeta) serial(header http.Header) (int64, error) {
	if m.APIVersion == nil {
		return 0, malformed("no meta.api-version")
	}
	if major, _, _ := strings.Cut(*m.APIVersion, "."); major != "1" {
		return 0, malformed("api-version %q, want 1.x", *m.APIVersion)
	}
	serial := int64(-1)
	if m.LastSerial != nil {
		serial = *m.LastSerial
	} else if h := header.Get(serialHeader); h != "" {
		if n, err := strconv.ParseInt(h, 10, 64); err == nil {
			serial = n
		}
	}
	if serial < 0 {
		return 0, malformed("no valid _last-serial in meta or %s", serialHeader)
	}
	return serial, nil
}

type jsonProjectList struct {
	Meta     jsonMeta `json:"meta"`
	Projects *[]struct {
		Name       *string `json:"name"`
		LastSerial *int64  `json:"_last-serial"`
	} `json:"projects"`
}

func parseProjectList(body []byte, header http.Header) (*ProjectList, error) {
	var raw jsonProjectList
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, malformed("project list: %v", err)
	}
	serial, err := raw.Meta.serial(header)
	if err != nil {
		return nil, fmt.Errorf("project list: %w", err)
	}
	if raw.Projects == nil {
		return nil, malformed("project list without projects")
	}
	list := &ProjectList{Serial: serial, Projects: make([]ListedProject, 0, len(*raw.Projects))}
	for i, p := range *raw.Projects {
		if p.Name == nil || p.LastSerial == nil || *p.LastSerial < 0 {
			return nil, malformed("project list entry %d lacks a name or a valid _last-serial", i)
		}
		name, err := tiles.NormalizeProject(*p.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: project list: %w", ErrMalformed, err)
		}
		list.Projects = append(list.Projects, ListedProject{Name: name, Serial: *p.LastSerial})
	}
	slices.SortFunc(list.Projects, func(a, b ListedProject) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(list.Projects); i++ {
		if list.Projects[i].Name == list.Projects[i-1].Name {
			return nil, malformed("project list names %q twice", list.Projects[i].Name)
		}
	}
	return list, nil
}

type jsonProjectPage struct {
	Meta  jsonMeta    `json:"meta"`
	Name  *string     `json:"name"`
	Files *[]jsonFile `json:"files"`
}

type jsonFile struct {
	Filename   *string           `json:"filename"`
	Hashes     map[string]string `json:"hashes"`
	Size       *int64            `json:"size"`
	UploadTime *string           `json:"upload-time"`
	Provenance *string           `json:"provenance"`
}

// parseProjectPage parses and validates the page of project (normalized),
// served at pageURL (relative URLs in it are resolved against it).
func parseProjectPage(body []byte, header http.Header, project string, pageURL *url.URL) (*ProjectPage, error) {
	var raw jsonProjectPage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, malformed("project %s: %v", project, err)
	}
	serial, err := raw.Meta.serial(header)
	if err != nil {
		return nil, fmt.Errorf("project %s: %w", project, err)
	}
	if raw.Name == nil {
		return nil, malformed("project %s: page without a name", project)
	}
	if name, err := tiles.NormalizeProject(*raw.Name); err != nil || name != project {
		return nil, malformed("project %s: page names project %q", project, *raw.Name)
	}
	if raw.Files == nil {
		return nil, malformed("project %s: page without files", project)
	}
	page := &ProjectPage{Name: project, Serial: serial, Files: make([]File, 0, len(*raw.Files))}
	seen := make(map[string]bool, len(*raw.Files))
	for i, jf := range *raw.Files {
		f, err := parseFile(project, jf, pageURL)
		if err != nil {
			return nil, fmt.Errorf("project %s: file %d: %w", project, i, err)
		}
		if seen[f.Filename] {
			return nil, malformed("project %s: file %s listed twice", project, f.Filename)
		}
		seen[f.Filename] = true
		page.Files = append(page.Files, f)
	}
	return page, nil
}

func parseFile(project string, jf jsonFile, pageURL *url.URL) (File, error) {
	f := File{Project: project}
	if jf.Filename == nil {
		return f, malformed("no filename")
	}
	if err := tiles.CheckFilename(*jf.Filename); err != nil {
		return f, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	f.Filename = *jf.Filename
	hexDigest, ok := jf.Hashes["sha256"]
	if !ok {
		return f, malformed("%s has no sha256", f.Filename)
	}
	digest, err := tiles.ParseHexDigest(strings.ToLower(hexDigest))
	if err != nil {
		return f, fmt.Errorf("%w: %s: %w", ErrMalformed, f.Filename, err)
	}
	f.SHA256 = digest
	if jf.Size == nil || *jf.Size < 0 {
		return f, malformed("%s has no valid size", f.Filename)
	}
	f.Size = *jf.Size
	f.UploadTime = tiles.NoUploadTime
	if jf.UploadTime != nil {
		if f.UploadTime, err = utcUploadTime(*jf.UploadTime); err != nil {
			return f, fmt.Errorf("%w: %s: %w", ErrMalformed, f.Filename, err)
		}
	}
	if jf.Provenance != nil {
		u, err := pageURL.Parse(*jf.Provenance)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return f, malformed("%s: provenance URL %q", f.Filename, *jf.Provenance)
		}
		f.ProvenanceURL = u.String()
	}
	return f, nil
}

// utcUploadTime returns an RFC 3339 upload time in UTC with "Z": as given
// when it already is (PyPI writes "2024-01-02T03:04:05.123456Z"), else
// converted from its offset.
func utcUploadTime(s string) (string, error) {
	if tiles.CheckUploadTime(s) == nil && s != tiles.NoUploadTime {
		return s, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", fmt.Errorf("upload-time %q is not RFC 3339", s)
	}
	utc := t.UTC().Format(time.RFC3339Nano)
	if err := tiles.CheckUploadTime(utc); err != nil {
		return "", err
	}
	return utc, nil
}
