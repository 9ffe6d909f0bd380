package proxy

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/atomicfile"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/tiles"
)

// upstreamAccept is what the proxy asks the upstream for: JSON, which
// carries the most (PEP 700 sizes and times), HTML from an index that
// has no JSON.
const upstreamAccept = MediaTypeJSON + ", " + MediaTypeHTML + ";q=0.2, text/html;q=0.01"

// errUpstreamNotFound is the upstream's 404 for a project.
var errUpstreamNotFound = errors.New("not found upstream")

// serveProjectList streams the upstream's list of projects through as it
// is: it names no file, so there is nothing to verify or rewrite.
func (p *Proxy) serveProjectList(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/simple/" {
		http.Redirect(w, r, "/simple/", http.StatusMovedPermanently)
		return
	}
	ctx, progress, stop := contextWithStall(r.Context(), p.cfg.StallTimeout)
	defer stop()
	u := *p.upstream
	u.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		http.Error(w, "pysumdb proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	req.Header.Set("Accept", r.Header.Get("Accept"))
	req.Header.Set("User-Agent", client.UserAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, "pysumdb proxy: couldn't reach the upstream: "+upstreamError(ctx, err), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		http.Error(w, "pysumdb proxy: the upstream answered "+resp.Status, http.StatusBadGateway)
		return
	}
	for _, h := range []string{"Content-Type", "Content-Length", "Vary", "ETag", "Last-Modified"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	progress()
	io.Copy(w, &progressReader{r: resp.Body, progress: progress})
}

// serveProjectPage serves /simple/<project>/ in the format the client
// asked for, with the files' URLs rewritten to the proxy.
func (p *Proxy) serveProjectPage(w http.ResponseWriter, r *http.Request, rest string) {
	name, _ := strings.CutSuffix(rest, "/")
	project, normalized := normalizedProject(name)
	switch {
	case project == "" || strings.Contains(name, "/"):
		http.Error(w, "pysumdb proxy: not a project name: "+name, http.StatusNotFound)
		return
	case !normalized || !strings.HasSuffix(rest, "/"):
		to := "/simple/" + project + "/"
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, to, http.StatusMovedPermanently)
		return
	}
	mediaType, ok := Negotiate(strings.Join(r.Header.Values("Accept"), ", "), r.URL.Query().Get("format"))
	w.Header().Set("Vary", "Accept")
	if !ok {
		http.Error(w, "pysumdb proxy: none of the media types in Accept is served: ask for "+MediaTypeJSON+" or "+MediaTypeHTML, http.StatusNotAcceptable)
		return
	}
	// The logs' indexes are read while the upstream's page is fetched.
	var logged map[string][32]byte
	indexesRead := make(chan struct{})
	excluded := p.excluded(project)
	if excluded {
		close(indexesRead)
	} else {
		go func() {
			defer close(indexesRead)
			logged = p.loggedHashes(r.Context(), project)
		}()
	}
	entry, staleReason, err := p.page(r.Context(), project)
	<-indexesRead
	switch {
	case errors.Is(err, errUpstreamNotFound):
		http.Error(w, "pysumdb proxy: "+project+" is not on the upstream index", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "pysumdb proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	if staleReason != "" {
		w.Header().Set(HeaderStale, staleReason)
	}
	page := entry.page
	if page.Name == "" {
		page.Name = project // an HTML page that doesn't say
	}
	page.Files = make([]File, len(entry.page.Files))
	if excluded {
		w.Header().Set(HeaderVerdict, "excluded")
	}
	for i, f := range entry.page.Files {
		f.URL = "../../files/" + project + "/" + url.PathEscape(f.Filename)
		if d, ok := logged[f.Filename]; ok {
			// The log's word, which the download is checked against:
			// pip's own check of the fragment then agrees with it.
			f.Hashes = map[string]string{"sha256": hex.EncodeToString(d[:])}
		}
		page.Files[i] = f
	}
	var body []byte
	if mediaType == MediaTypeJSON {
		body = page.RenderJSON()
	} else {
		body = page.RenderHTML()
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Cache-Control", "max-age=0, must-revalidate")
	w.Write(body)
}

// page returns project's page from the upstream or, if the upstream can't
// be reached, the last one fetched, with the reason it is stale.
func (p *Proxy) page(ctx context.Context, project string) (*pageEntry, string, error) {
	e, err := p.fetchPage(ctx, project)
	if err == nil {
		old, known := p.pages.get(project)
		p.pages.put(project, e)
		if !known || !reflect.DeepEqual(old.page, e.page) {
			// Written when it changed: not at every request, which
			// would cost the page's first byte a disk write.
			p.savePage(project, e)
		}
		return e, "", nil
	}
	if errors.Is(err, errUpstreamNotFound) || ctx.Err() != nil {
		return nil, "", err
	}
	if old, ok := p.lastPage(project); ok {
		reason := fmt.Sprintf("upstream unreachable (%v); the page as of %s", err, old.fetched.UTC().Format(time.RFC3339))
		p.logger.Warn("serving a cached project page", "project", project, "err", err, "fetched", old.fetched)
		return old, reason, nil
	}
	return nil, "", err
}

// fetchPage fetches and parses project's page from the upstream.
func (p *Proxy) fetchPage(ctx context.Context, project string) (*pageEntry, error) {
	ctx, progress, stop := contextWithStall(ctx, p.cfg.StallTimeout)
	defer stop()
	u := p.upstream.JoinPath(project) // JoinPath drops the trailing slash
	u.Path += "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", upstreamAccept)
	req.Header.Set("User-Agent", client.UserAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch the page of %s from the upstream: %s", project, upstreamError(ctx, err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone:
		return nil, errUpstreamNotFound
	default:
		return nil, fmt.Errorf("the upstream answered %s for the page of %s", resp.Status, project)
	}
	progress()
	body, err := bounded.Read(&progressReader{r: resp.Body, progress: progress}, "the page of "+project, maxPageSize, resp.ContentLength)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the page of %s from the upstream: %w", project, err)
	}
	page, err := ParseProjectPage(resp.Header.Get("Content-Type"), body, resp.Request.URL)
	if err != nil {
		return nil, fmt.Errorf("the upstream's page of %s: %w", project, err)
	}
	return &pageEntry{page: page, fetched: time.Now()}, nil
}

// pagePath is where project's last page is kept on disk.
func (p *Proxy) pagePath(project string) string {
	return filepath.Join(p.pages.dir, "pages", project+".json")
}

// savePage keeps project's page on disk, for when the upstream is down.
// A failure costs only that.
func (p *Proxy) savePage(project string, e *pageEntry) {
	if p.pages.dir == "" {
		return
	}
	path := p.pagePath(project)
	err := os.MkdirAll(filepath.Dir(path), 0o755)
	if err == nil {
		err = atomicfile.Replace(path, e.page.RenderJSON(), false)
	}
	if err == nil {
		err = os.Chtimes(path, e.fetched, e.fetched)
	}
	if err != nil {
		p.logger.Warn("couldn't keep the project page", "project", project, "err", err)
	}
}

// lastPage returns the last page of project fetched: in memory, or on
// disk from an earlier run.
func (p *Proxy) lastPage(project string) (*pageEntry, bool) {
	if e, ok := p.pages.get(project); ok {
		return e, true
	}
	if p.pages.dir == "" {
		return nil, false
	}
	path := p.pagePath(project)
	data, info, err := bounded.ReadFile(path, maxPageSize)
	if err != nil {
		return nil, false
	}
	page, err := ParseProjectPage(MediaTypeJSON, data, p.upstream.JoinPath(project))
	if err != nil {
		p.logger.Warn("a cached project page doesn't parse", "path", path, "err", err)
		return nil, false
	}
	return &pageEntry{page: page, fetched: info.ModTime()}, true
}

// loggedHashes returns the sha256 the logs' project indexes give each
// filename of project (the first log's that lists it): what the page's
// URL fragments carry. It is the logs' signed word, not yet proven; the
// download is. A log that can't answer is left out.
func (p *Proxy) loggedHashes(ctx context.Context, project string) map[string][32]byte {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.VerifyTimeout)
	defer cancel()
	logs := p.cfg.Verifier.Logs
	indexes := make([]tiles.Index, len(logs))
	var wg sync.WaitGroup
	for i, l := range logs {
		wg.Go(func() {
			x, err := l.Index(ctx, project)
			if err != nil {
				if !errors.Is(err, client.ErrNotFound) || client.IsSecurityError(err) {
					p.logger.Warn("couldn't read the log's project index", "log", l.Origin(), "project", project, "err", err)
				}
				return
			}
			indexes[i] = x
		})
	}
	wg.Wait()
	hashes := map[string][32]byte{}
	for _, x := range indexes {
		for _, line := range x.Lines {
			if _, ok := hashes[line.Filename]; !ok {
				hashes[line.Filename] = line.SHA256
			}
		}
	}
	return hashes
}

// progressReader calls progress on every byte received.
type progressReader struct {
	r        io.Reader
	progress func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

// upstreamError is err of a request made with ctx: the stall's cause if
// that ended it, and without net/http's "Get <URL>:" prefix, which the
// messages replace with what was fetched.
func upstreamError(ctx context.Context, err error) string {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause.Error()
	}
	if uerr, ok := errors.AsType[*url.Error](err); ok {
		err = uerr.Err
	}
	return err.Error()
}
