// Package fakepypi runs an in-memory PyPI on 127.0.0.1 for tests and
// demos, in the manner of net/http/httptest.
//
// It speaks the parts of the PyPI protocols that pysumdb's ingest uses:
//
//   - the Simple API (PEP 503 HTML, PEP 691 JSON, PEP 700 fields) at
//     /simple/ and /simple/<project>/. JSON is served when the Accept header
//     lists application/vnd.pypi.simple.v1+json with a non-zero q; otherwise
//     HTML is served, as PyPI does, so a client that forgets the header gets
//     an answer it must reject rather than an error that hides the mistake.
//     Project URLs that are not in normalized form (or lack the trailing
//     slash) are redirected with 301 to the normalized URL, like PyPI.
//     Pages carry a strong ETag and honour If-None-Match with 304, and the
//     X-PyPI-Last-Serial header.
//   - XML-RPC at /pypi (POST): changelog_last_serial() and
//     changelog_since_serial(since), the latter capped at a configurable
//     number of rows per answer, as PyPI caps it.
//   - provenance objects (PEP 740 Integrity API) at
//     /integrity/<project>/<version>/<filename>/provenance, serving the bytes a
//     test set; the Simple API's provenance field points there.
//   - distribution files at /packages/<project>/<filename>, the URL the
//     Simple API gives for each file: the bytes a test set as
//     [File.Content] (see [Server.AddDist]), as application/octet-stream
//     with a strong ETag, honouring If-None-Match with 304 (but not Range:
//     the whole file is always sent); a file without content answers 404.
//
// The index can be changed while the server runs (files and projects added
// or removed, a file's digest changed behind PyPI's back with
// [Server.TamperFile], its bytes changed behind the index's back with
// [Server.ReplaceContent]) and faults can be injected per endpoint and
// project (see [Fault]). Every request is counted per endpoint.
package fakepypi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultChangelogLimit is the number of rows changelog_since_serial
// returns at most per call, unless changed by SetChangelogLimit. PyPI's own
// cap is 50000.
const DefaultChangelogLimit = 50000

// File is a distribution file as the server publishes it. The server serves
// whatever it is given, valid or not, so that tests can feed a client bad
// data; it only refuses to reuse a filename, which PyPI never does either.
type File struct {
	// Filename is the distribution filename.
	Filename string
	// Version is the release the file belongs to; "0" when empty.
	Version string
	// SHA256 is served verbatim as hashes.sha256; empty omits the hash.
	SHA256 string
	// Size is served verbatim as size.
	Size int64
	// UploadTime is served verbatim as upload-time; empty serves null.
	UploadTime string
	// Provenance, when non-nil, is served at the file's provenance URL,
	// which the Simple API then names; nil serves "provenance": null.
	Provenance []byte
	// Content, when non-nil, is served at the file's URL; nil answers 404
	// there. It is served as given, whatever SHA256 and Size say, and not
	// copied: the caller must not change it afterwards (one large slice may
	// back many files).
	Content []byte

	// contentETag is the ETag of Content, computed once when the file is
	// added or its content replaced.
	contentETag string
}

// Endpoint is a kind of request path, for faults and request counts.
type Endpoint string

// The endpoints the server tells apart.
const (
	// EndpointIndex is the project list, /simple/.
	EndpointIndex Endpoint = "index"
	// EndpointProject is a project page, /simple/<project>/, including
	// requests that are redirected.
	EndpointProject Endpoint = "project"
	// EndpointXMLRPC is the XML-RPC API, /pypi.
	EndpointXMLRPC Endpoint = "xmlrpc"
	// EndpointProvenance is a provenance object, /integrity/....
	EndpointProvenance Endpoint = "provenance"
	// EndpointFile is a distribution file, /packages/<project>/<filename>.
	EndpointFile Endpoint = "file"
	// EndpointOther is any other path (always 404).
	EndpointOther Endpoint = "other"
)

// Server is an in-memory PyPI listening on 127.0.0.1. Its methods are safe
// for concurrent use, also while requests are being served.
type Server struct {
	// URL is the base URL, http://127.0.0.1:<port>, without a trailing
	// slash: the Simple API is at URL + "/simple/".
	URL string

	srv       *httptest.Server
	closing   chan struct{}
	closeOnce sync.Once

	mu             sync.Mutex
	serial         int64
	projects       map[string]*project // by normalized name
	usedFilenames  map[string]bool     // every filename ever published
	changelog      []changelogRow
	changelogLimit int
	faults         []*Fault
	requests       map[Endpoint]int64
	// now stamps changelog rows (time.Now unless SetClock).
	now func() time.Time
}

type project struct {
	displayName string
	files       []File // replaced, never modified in place: prev may share it
	serial      int64
	// prev is the page as it was before the last change, served by the
	// FaultStale fault as a lagging CDN would.
	prev snapshot
}

type snapshot struct {
	files  []File
	serial int64
}

type changelogRow struct {
	name    string
	version string // "" is sent as nil
	time    int64
	action  string
	serial  int64
}

// NewServer starts a server with an empty index on 127.0.0.1. Call Close
// when done.
func NewServer() *Server {
	s := &Server{
		closing:        make(chan struct{}),
		projects:       make(map[string]*project),
		usedFilenames:  make(map[string]bool),
		changelogLimit: DefaultChangelogLimit,
		requests:       make(map[Endpoint]int64),
		now:            time.Now,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Close stops the server, ending delayed responses early, and waits for
// outstanding requests. Closing again does nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.Close()
	})
}

var separatorRun = regexp.MustCompile(`[-_.]+`)

// normalize is PEP 503 normalization without validation: the server
// accepts invalid names so that tests can check a client refuses them.
func normalize(name string) string {
	return strings.ToLower(separatorRun.ReplaceAllString(name, "-"))
}

// nextSerialLocked appends a changelog row and returns its serial.
func (s *Server) nextSerialLocked(name, version, action string) int64 {
	s.serial++
	s.changelog = append(s.changelog, changelogRow{
		name: name, version: version, time: s.now().Unix(), action: action, serial: s.serial,
	})
	return s.serial
}

// changeLocked records a change of p at serial: the current page becomes
// the one a stale CDN would serve.
func (p *project) changeLocked(files []File, serial int64) {
	p.prev = snapshot{files: p.files, serial: p.serial}
	p.files = files
	p.serial = serial
}

// ListedFile is a file as Files lists it.
type ListedFile struct {
	// Project is the project's display name.
	Project string
	File
}

// Files returns every file the index lists now, by normalized project
// name, then in the order they were added.
func (s *Server) Files() []ListedFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.projects))
	for name := range s.projects {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []ListedFile
	for _, name := range names {
		p := s.projects[name]
		for _, f := range p.files {
			out = append(out, ListedFile{Project: p.displayName, File: f})
		}
	}
	return out
}

// SetClock makes now stamp the changelog rows of the changes that follow,
// instead of the time of day: a test can date a change (e.g. one that a
// BigQuery export it writes predates).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Serial returns the last serial, the one the newest changelog row has.
func (s *Server) Serial() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serial
}

// AddProject creates a project without files (changelog action "create")
// and returns the new serial. The name is the display name; it is not
// validated.
func (s *Server) AddProject(name string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[normalize(name)]; ok {
		return 0, fmt.Errorf("project %q already exists", name)
	}
	s.createLocked(name)
	return s.serial, nil
}

func (s *Server) createLocked(name string) *project {
	serial := s.nextSerialLocked(name, "", "create")
	p := &project{displayName: name, serial: serial, prev: snapshot{serial: serial}}
	s.projects[normalize(name)] = p
	return p
}

// AddFile publishes f in project, creating the project (display name
// project) if needed, and returns the new serial. The changelog gets the
// rows PyPI writes: "create" for a new project, "new release" for a new
// version, then "add <python tag> file <filename>".
func (s *Server) AddFile(projectName string, f File) (int64, error) {
	f.contentETag = contentETag(f.Content)
	return s.addFile(projectName, f)
}

// addFile is AddFile for a file whose contentETag is set.
func (s *Server) addFile(projectName string, f File) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usedFilenames[f.Filename] {
		return 0, fmt.Errorf("filename %q was already used", f.Filename)
	}
	if f.Version == "" {
		f.Version = "0"
	}
	p, ok := s.projects[normalize(projectName)]
	if !ok {
		p = s.createLocked(projectName)
	}
	if !slices.ContainsFunc(p.files, func(g File) bool { return g.Version == f.Version }) {
		s.nextSerialLocked(p.displayName, f.Version, "new release")
	}
	serial := s.nextSerialLocked(p.displayName, f.Version, "add "+pythonTag(f.Filename)+" file "+f.Filename)
	s.usedFilenames[f.Filename] = true
	p.changeLocked(append(slices.Clip(p.files), f), serial)
	return serial, nil
}

// AddDist publishes content as filename, a file of version of project, with
// the SHA256 and Size of content and the current time as upload time, and
// returns the new serial: AddFile for a file whose bytes are served. Like
// File.Content, content is not copied.
func (s *Server) AddDist(projectName, version, filename string, content []byte) (int64, error) {
	if content == nil {
		content = []byte{} // served, although empty
	}
	sum := sha256.Sum256(content)
	return s.addFile(projectName, File{
		Filename:    filename,
		Version:     version,
		SHA256:      hex.EncodeToString(sum[:]),
		Size:        int64(len(content)),
		UploadTime:  time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		Content:     content,
		contentETag: etagOf(sum),
	})
}

// contentETag is the strong ETag of a file's content, "" for none.
func contentETag(content []byte) string {
	if content == nil {
		return ""
	}
	return etagOf(sha256.Sum256(content))
}

func etagOf(sum [sha256.Size]byte) string {
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// pythonTag is the word PyPI's changelog puts in "add <tag> file": the
// wheel's Python tag, or "source" for anything else.
func pythonTag(filename string) string {
	if stem, ok := strings.CutSuffix(filename, ".whl"); ok {
		parts := strings.Split(stem, "-")
		if len(parts) >= 5 {
			return parts[len(parts)-3]
		}
	}
	return "source"
}

// RemoveFile deletes a file (changelog action "remove file <filename>")
// and returns the new serial. The filename stays used.
func (s *Server) RemoveFile(projectName, filename string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, i, err := s.findFileLocked(projectName, filename)
	if err != nil {
		return 0, err
	}
	serial := s.nextSerialLocked(p.displayName, p.files[i].Version, "remove file "+filename)
	p.changeLocked(slices.Delete(slices.Clone(p.files), i, i+1), serial)
	return serial, nil
}

// RemoveProject deletes a project and its files (changelog action "remove
// project") and returns the new serial. Its pages then answer 404.
func (s *Server) RemoveProject(projectName string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[normalize(projectName)]
	if !ok {
		return 0, fmt.Errorf("no project %q", projectName)
	}
	delete(s.projects, normalize(projectName))
	return s.nextSerialLocked(p.displayName, "", "remove project"), nil
}

// TamperFile changes the digest and size served for a file without a new
// serial or changelog row, as a compromised PyPI or CDN would: only a
// client that fetches the page again sees it. To make a follower fetch it,
// change the project afterwards (for example AddFile).
func (s *Server) TamperFile(projectName, filename, sha256 string, size int64) error {
	return s.changeFile(projectName, filename, func(f *File) {
		f.SHA256 = sha256
		f.Size = size
	})
}

// ReplaceContent changes the bytes served at a file's URL without changing
// the digest and size the Simple API lists for it, nor the serial, as a
// compromised storage or CDN would; nil content makes the URL answer 404.
// With TamperFile as well, the index lists the digest of the new bytes
// instead, as a compromised PyPI would. Like Content, content is not copied.
func (s *Server) ReplaceContent(projectName, filename string, content []byte) error {
	etag := contentETag(content)
	return s.changeFile(projectName, filename, func(f *File) {
		f.Content = content
		f.contentETag = etag
	})
}

// changeFile changes a file in place of the page, without a new serial:
// behind PyPI's back. The page's file list is replaced, not modified,
// since the page a stale CDN serves may share it.
func (s *Server) changeFile(projectName, filename string, change func(*File)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, i, err := s.findFileLocked(projectName, filename)
	if err != nil {
		return err
	}
	files := slices.Clone(p.files)
	change(&files[i])
	p.files = files
	return nil
}

func (s *Server) findFileLocked(projectName, filename string) (*project, int, error) {
	p, ok := s.projects[normalize(projectName)]
	if !ok {
		return nil, 0, fmt.Errorf("no project %q", projectName)
	}
	i := slices.IndexFunc(p.files, func(f File) bool { return f.Filename == filename })
	if i < 0 {
		return nil, 0, fmt.Errorf("no file %q in project %q", filename, projectName)
	}
	return p, i, nil
}

// SetChangelogLimit sets the number of rows changelog_since_serial returns
// at most per call.
func (s *Server) SetChangelogLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changelogLimit = n
}

// Requests is a count of requests served.
type Requests struct {
	// Total counts every request.
	Total int64
	// ByEndpoint counts requests per endpoint; faulted and redirected
	// requests count too.
	ByEndpoint map[Endpoint]int64
}

// Requests returns the number of requests received so far.
func (s *Server) Requests() Requests {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Requests{ByEndpoint: make(map[Endpoint]int64, len(s.requests))}
	for ep, n := range s.requests {
		r.ByEndpoint[ep] = n
		r.Total += n
	}
	return r
}
