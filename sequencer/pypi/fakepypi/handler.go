package fakepypi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	simpleJSONType = "application/vnd.pypi.simple.v1+json"
	htmlType       = "text/html; charset=utf-8"
	integrityType  = "application/vnd.pypi.integrity.v1+json"
	apiVersion     = "1.1"
)

// response is an answer before faults that mangle the body are applied.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	ep, projectName := classify(r.URL.Path)
	s.mu.Lock()
	s.requests[ep]++
	fault := s.takeFaultLocked(ep, projectName)
	s.mu.Unlock()

	stale := false
	if fault != nil {
		switch fault.Kind {
		case FaultStatus:
			if fault.RetryAfter != "" {
				w.Header().Set("Retry-After", fault.RetryAfter)
			}
			w.WriteHeader(fault.Status)
			return
		case FaultDelay:
			timer := time.NewTimer(fault.Delay)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			case <-s.closing:
				panic(http.ErrAbortHandler) // drops the connection without an answer
			}
		case FaultStale:
			stale = true
		case FaultXMLRPC:
			writeResponse(w, xmlrpcFault(fault.Message))
			return
		}
	}

	var resp response
	switch ep {
	case EndpointIndex:
		resp = s.serveIndex(r)
	case EndpointProject:
		resp = s.serveProject(r, stale)
	case EndpointXMLRPC:
		resp = s.serveXMLRPC(r)
	case EndpointProvenance:
		resp = s.serveProvenance(r)
	case EndpointFile:
		resp = s.serveFile(r)
	default:
		resp = notFound()
	}

	if fault != nil && resp.status == http.StatusOK {
		switch fault.Kind {
		case FaultTruncate:
			resp.header.Set("Content-Length", strconv.Itoa(len(resp.body)))
			for k, v := range resp.header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.status)
			w.Write(resp.body[:len(resp.body)/2])
			w.(http.Flusher).Flush()
			// Drops the connection: the client sees fewer bytes than
			// announced.
			panic(http.ErrAbortHandler)
		case FaultMalformed:
			resp.body = resp.body[:len(resp.body)/2]
		}
	}
	writeResponse(w, resp)
}

func writeResponse(w http.ResponseWriter, resp response) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	w.Write(resp.body)
}

// classify returns the endpoint of a path and, for project pages,
// provenance and files, the normalized project name.
func classify(path string) (Endpoint, string) {
	switch {
	case path == "/simple" || path == "/simple/":
		return EndpointIndex, ""
	case strings.HasPrefix(path, "/simple/"):
		return EndpointProject, normalize(strings.TrimSuffix(strings.TrimPrefix(path, "/simple/"), "/"))
	case path == "/pypi":
		return EndpointXMLRPC, ""
	case strings.HasPrefix(path, "/integrity/"):
		projectName, _, _ := strings.Cut(strings.TrimPrefix(path, "/integrity/"), "/")
		return EndpointProvenance, normalize(projectName)
	case strings.HasPrefix(path, "/packages/"):
		projectName, _, _ := strings.Cut(strings.TrimPrefix(path, "/packages/"), "/")
		return EndpointFile, normalize(projectName)
	}
	return EndpointOther, ""
}

func notFound() response {
	return response{
		status: http.StatusNotFound,
		header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		body:   []byte("404 Not Found\n"),
	}
}

func redirect(to string) response {
	return response{status: http.StatusMovedPermanently, header: http.Header{"Location": {to}}}
}

// wantsJSON reports whether an Accept header lists the PEP 691 JSON type
// with a non-zero quality.
func wantsJSON(accept string) bool {
	for _, mediaRange := range strings.Split(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(mediaRange))
		if err != nil || mediaType != simpleJSONType {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				continue
			}
		}
		return true
	}
	return false
}

// simplePage answers a Simple API request with JSON or HTML as the client
// asked, with an ETag, honouring If-None-Match.
func simplePage(r *http.Request, serial int64, jsonBody any, htmlBody string) response {
	header := http.Header{
		"X-Pypi-Last-Serial": {strconv.FormatInt(serial, 10)},
		"Vary":               {"Accept"},
	}
	var body []byte
	if wantsJSON(r.Header.Get("Accept")) {
		b, err := json.Marshal(jsonBody)
		if err != nil {
			panic(err) // the server's own types always marshal
		}
		body = b
		header.Set("Content-Type", simpleJSONType)
	} else {
		body = []byte(htmlBody)
		header.Set("Content-Type", htmlType)
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	header.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		return response{status: http.StatusNotModified, header: header}
	}
	return response{status: http.StatusOK, header: header, body: body}
}

// etagMatches implements If-None-Match's weak comparison.
func etagMatches(ifNoneMatch, etag string) bool {
	for _, candidate := range strings.Split(ifNoneMatch, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == "*" || candidate == etag {
			return true
		}
	}
	return false
}

type jsonMeta struct {
	APIVersion string `json:"api-version"`
	LastSerial int64  `json:"_last-serial"`
}

type jsonIndex struct {
	Meta     jsonMeta           `json:"meta"`
	Projects []jsonIndexProject `json:"projects"`
}

type jsonIndexProject struct {
	Name       string `json:"name"`
	LastSerial int64  `json:"_last-serial"`
}

type jsonPage struct {
	Meta     jsonMeta   `json:"meta"`
	Name     string     `json:"name"`
	Files    []jsonFile `json:"files"`
	Versions []string   `json:"versions"`
}

type jsonFile struct {
	Filename   string            `json:"filename"`
	URL        string            `json:"url"`
	Hashes     map[string]string `json:"hashes"`
	Size       int64             `json:"size"`
	UploadTime *string           `json:"upload-time"`
	Provenance *string           `json:"provenance"`
	Yanked     bool              `json:"yanked"`
}

func (s *Server) serveIndex(r *http.Request) response {
	if r.URL.Path != "/simple/" {
		return redirect("/simple/")
	}
	s.mu.Lock()
	index := jsonIndex{Meta: jsonMeta{APIVersion: apiVersion, LastSerial: s.serial}, Projects: []jsonIndexProject{}}
	for _, p := range s.projects {
		index.Projects = append(index.Projects, jsonIndexProject{Name: p.displayName, LastSerial: p.serial})
	}
	s.mu.Unlock()
	slices.SortFunc(index.Projects, func(a, b jsonIndexProject) int {
		return strings.Compare(normalize(a.Name), normalize(b.Name))
	})

	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"" + apiVersion + "\"><title>Simple index</title></head><body>\n")
	for _, p := range index.Projects {
		fmt.Fprintf(&b, "<a href=\"/simple/%s/\">%s</a><br/>\n", html.EscapeString(normalize(p.Name)), html.EscapeString(p.Name))
	}
	b.WriteString("</body></html>\n")
	return simplePage(r, index.Meta.LastSerial, index, b.String())
}

func (s *Server) serveProject(r *http.Request, stale bool) response {
	_, name := classify(r.URL.Path)
	if r.URL.Path != "/simple/"+name+"/" {
		return redirect("/simple/" + name + "/")
	}
	s.mu.Lock()
	p, ok := s.projects[name]
	var snap snapshot
	if ok {
		snap = snapshot{files: p.files, serial: p.serial}
		if stale {
			snap = p.prev
		}
	}
	s.mu.Unlock()
	if !ok {
		return notFound()
	}

	page := jsonPage{Meta: jsonMeta{APIVersion: apiVersion, LastSerial: snap.serial}, Name: name, Files: []jsonFile{}, Versions: []string{}}
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"%s\"><title>Links for %s</title></head><body>\n<h1>Links for %s</h1>\n", apiVersion, name, name)
	for _, f := range snap.files {
		jf := jsonFile{
			Filename: f.Filename,
			URL:      s.URL + "/packages/" + name + "/" + url.PathEscape(f.Filename),
			Hashes:   map[string]string{},
			Size:     f.Size,
		}
		fragment := ""
		if f.SHA256 != "" {
			jf.Hashes["sha256"] = f.SHA256
			fragment = "#sha256=" + f.SHA256
		}
		if f.UploadTime != "" {
			jf.UploadTime = &f.UploadTime
		}
		if f.Provenance != nil {
			u := s.provenanceURL(name, f)
			jf.Provenance = &u
		}
		page.Files = append(page.Files, jf)
		if !slices.Contains(page.Versions, f.Version) {
			page.Versions = append(page.Versions, f.Version)
		}
		fmt.Fprintf(&b, "<a href=\"%s\">%s</a><br/>\n", html.EscapeString(jf.URL+fragment), html.EscapeString(f.Filename))
	}
	b.WriteString("</body></html>\n")
	return simplePage(r, snap.serial, page, b.String())
}

func (s *Server) provenanceURL(projectName string, f File) string {
	return s.URL + "/integrity/" + projectName + "/" + url.PathEscape(f.Version) + "/" + url.PathEscape(f.Filename) + "/provenance"
}

// serveProvenance serves /integrity/<project>/<version>/<filename>/provenance.
func (s *Server) serveProvenance(r *http.Request) response {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/integrity/"), "/")
	if len(parts) != 4 || parts[3] != "provenance" {
		return notFound()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[normalize(parts[0])]
	if !ok {
		return notFound()
	}
	for _, f := range p.files {
		if f.Filename == parts[2] && f.Version == parts[1] && f.Provenance != nil {
			return response{
				status: http.StatusOK,
				header: http.Header{"Content-Type": {integrityType}},
				body:   slices.Clone(f.Provenance),
			}
		}
	}
	return notFound()
}

// serveFile serves /packages/<project>/<filename>, the URL the Simple API
// gives for a file, with the file's Content. The body shares Content's
// array: nothing is copied, however large.
func (s *Server) serveFile(r *http.Request) response {
	projectName, filename, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/packages/"), "/")
	if !ok {
		return notFound()
	}
	var f File
	s.mu.Lock()
	if p, found := s.projects[normalize(projectName)]; found {
		if i := slices.IndexFunc(p.files, func(g File) bool { return g.Filename == filename }); i >= 0 {
			f = p.files[i]
		}
	}
	s.mu.Unlock()
	if f.Content == nil {
		return notFound()
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return response{
			status: http.StatusMethodNotAllowed,
			header: http.Header{"Allow": {"GET, HEAD"}, "Content-Type": {"text/plain; charset=utf-8"}},
			body:   []byte("405 Method Not Allowed\n"),
		}
	}
	header := http.Header{"Content-Type": {"application/octet-stream"}, "Etag": {f.contentETag}}
	if etagMatches(r.Header.Get("If-None-Match"), f.contentETag) {
		return response{status: http.StatusNotModified, header: header}
	}
	return response{status: http.StatusOK, header: header, body: f.Content}
}
