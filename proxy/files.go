package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/verify"
)

// Streaming: a file is copied in chunks of streamChunk bytes, and its last
// holdBack bytes are sent only once its sha256 is known to match.
const (
	streamChunk = 256 << 10
	holdBack    = 64 << 10
)

// streamBuffers are the buffers of the transfers in progress: one each,
// whatever the file's size, so that memory is bounded by the number of
// transfers.
var streamBuffers = sync.Pool{New: func() any { b := make([]byte, streamChunk+holdBack); return &b }}

// errNoSuchFile is a file the upstream's page of its project doesn't list.
var errNoSuchFile = errors.New("no such file upstream")

// verdict is what the logs say about a file's hash.
type verdict struct {
	status verify.Status
	// detail says it in one line, naming hashes and leaves.
	detail string
	// logged is the hash a log proves for the filename (mismatch), and
	// leaf and origin where.
	logged [32]byte
	leaf   int64
	origin string
}

// serveFile serves /files/<project>/<filename>: the upstream's file, if
// the logs prove its hash (or as the not-in-log policy says).
func (p *Proxy) serveFile(w http.ResponseWriter, r *http.Request, rest string) {
	name, filename, _ := strings.Cut(rest, "/")
	project, normalized := normalizedProject(name)
	if project == "" || !normalized || filename == "" || strings.Contains(filename, "/") {
		http.Error(w, "pysumdb proxy: not a file path: /files/"+rest, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet {
		// A HEAD would cost the whole download and its verification.
		w.Header().Set("Allow", "GET")
		http.Error(w, "pysumdb proxy: files are served to GET only", http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	f, err := p.upstreamFile(ctx, project, filename)
	switch {
	case errors.Is(err, errNoSuchFile), errors.Is(err, errUpstreamNotFound):
		http.Error(w, fmt.Sprintf("pysumdb proxy: %s is not a file of %s on the upstream index", filename, project), http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "pysumdb proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	if p.excluded(project) {
		p.passThrough(w, r, f)
		return
	}
	listed, hasHash := listedSHA256(f)
	if hasHash && p.cache != nil && p.serveCached(w, project, filename, listed) {
		return
	}

	// The logs are asked while the upstream is opened; nothing is sent
	// before they answer.
	var v verdict
	asked := make(chan struct{})
	if hasHash {
		go func() {
			defer close(asked)
			v = p.decide(ctx, project, filename, listed, "lists")
		}()
	} else {
		close(asked)
	}
	resp, openErr := p.openUpstream(ctx, f)
	<-asked
	if openErr == nil {
		defer resp.body.Close()
		defer resp.stop()
	}
	if hasHash {
		if p.refused(w, r, project, f, listed, v) {
			return
		}
	}
	if openErr != nil {
		http.Error(w, "pysumdb proxy: "+openErr.Error(), http.StatusBadGateway)
		return
	}
	if resp.size > p.cfg.MaxFileSize {
		refuse(w, r, http.StatusBadGateway, fmt.Sprintf("%s is %d bytes, more than the proxy's limit of %d", filename, resp.size, p.cfg.MaxFileSize))
		return
	}
	p.streamFile(w, r, project, f, listed, hasHash, v, resp)
}

// listedSHA256 returns the sha256 the upstream's page lists for f.
func listedSHA256(f File) ([32]byte, bool) {
	var d [32]byte
	s, ok := f.Hashes["sha256"]
	if !ok || len(s) != 64 {
		return d, false
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, false
	}
	return d, true
}

// upstreamFile returns filename of project's page upstream: from the page
// last served, or fetched again if that doesn't list it.
func (p *Proxy) upstreamFile(ctx context.Context, project, filename string) (File, error) {
	find := func(e *pageEntry) (File, bool) {
		for _, f := range e.page.Files {
			if f.Filename == filename {
				return f, true
			}
		}
		return File{}, false
	}
	if e, ok := p.pages.get(project); ok {
		if f, ok := find(e); ok {
			return f, nil
		}
	}
	e, _, err := p.page(ctx, project)
	if err != nil {
		return File{}, err
	}
	if f, ok := find(e); ok {
		return f, nil
	}
	return File{}, errNoSuchFile
}

// decide asks the logs whether they prove digest for filename.
//
// The upstream "lists" or "served" digest, says the mismatch's detail.
func (p *Proxy) decide(ctx context.Context, project, filename string, digest [32]byte, upstream string) verdict {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.VerifyTimeout)
	defer cancel()
	rep, err := p.cfg.Verifier.Verify(ctx, []lockfile.Artifact{{Project: project, Filename: filename, SHA256: hex.EncodeToString(digest[:])}})
	if err != nil {
		return verdict{status: verify.StatusError, detail: "couldn't ask the logs: " + err.Error()}
	}
	for _, err := range rep.SecurityErrors() {
		p.logger.Error("SECURITY ERROR: a log misbehaves", "project", project, "filename", filename, "err", err)
	}
	res := rep.Results[0]
	v := verdict{status: res.Status, leaf: -1}
	var details []string
	for i, lr := range res.Logs {
		origin := rep.Logs[i].Origin
		switch {
		case lr.Status == verify.StatusMismatch && v.origin == "":
			v.logged, v.leaf, v.origin = lr.SHA256, lr.Leaf, origin
		case lr.Status == verify.StatusError:
			// A log that couldn't be used at all says so here too
			// (LogResult.Err is its LogStatus.Err).
			details = append(details, fmt.Sprintf("%s: %v", origin, lr.Err))
			continue
		}
		if lr.Detail != "" {
			details = append(details, origin+": "+lr.Detail)
		}
	}
	switch res.Status {
	case verify.StatusVerified:
		proven := 0
		for _, lr := range res.Logs {
			if lr.Status == verify.StatusVerified {
				proven++
			}
		}
		v.detail = fmt.Sprintf("sha256 %s proven by %d of the %d logs (quorum %d)", hex.EncodeToString(digest[:]), proven, len(res.Logs), rep.Quorum)
	case verify.StatusMismatch:
		v.detail = fmt.Sprintf("%s: the upstream %s sha256 %s, but the log %s proves sha256 %s for it (leaf %d)",
			filename, upstream, hex.EncodeToString(digest[:]), v.origin, hex.EncodeToString(v.logged[:]), v.leaf)
	default:
		v.detail = strings.Join(details, "; ")
	}
	return v
}

// refused answers the request if the verdict refuses the file, and
// reports whether it did.
func (p *Proxy) refused(w http.ResponseWriter, r *http.Request, project string, f File, listed [32]byte, v verdict) bool {
	switch v.status {
	case verify.StatusVerified:
		return false
	case verify.StatusMismatch:
		p.alarm(Alarm{Project: project, Filename: f.Filename, URL: f.URL, ServedSHA256: hex.EncodeToString(listed[:]),
			LoggedSHA256: hex.EncodeToString(v.logged[:]), Leaf: v.leaf, Log: v.origin,
			Reason: "the upstream lists another sha256 for the file than the log proves", Detail: v.detail})
		refuse(w, r, http.StatusForbidden, "refused, SECURITY ERROR: "+v.detail)
		return true
	case verify.StatusNotInLog:
		switch p.cfg.NotInLog {
		case NotInLogDeny:
			refuse(w, r, http.StatusForbidden, fmt.Sprintf("refused: %s is not in the log (--not-in-log deny): %s", f.Filename, v.detail))
			return true
		case NotInLogWarn:
			p.logger.Warn("serving a file that is not in the log", "project", project, "filename", f.Filename, "detail", v.detail)
		}
		return false
	default:
		refuse(w, r, http.StatusBadGateway, fmt.Sprintf("couldn't verify %s: %s", f.Filename, v.detail))
		return true
	}
}

// upstreamBody is an open download from the upstream.
type upstreamBody struct {
	body io.ReadCloser
	size int64 // -1 if the upstream didn't say
	stop func()
}

// openUpstream starts the download of f.
func (p *Proxy) openUpstream(ctx context.Context, f File) (*upstreamBody, error) {
	ctx, progress, stop := contextWithStall(ctx, p.cfg.StallTimeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		stop()
		return nil, fmt.Errorf("the upstream's URL of %s: %w", f.Filename, err)
	}
	req.Header.Set("User-Agent", client.UserAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		stop()
		return nil, fmt.Errorf("couldn't download %s from the upstream: %s", f.Filename, upstreamError(ctx, err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		stop()
		return nil, fmt.Errorf("the upstream answered %s for %s", resp.Status, f.Filename)
	}
	progress()
	body := readCloser{&progressReader{r: resp.Body, progress: progress}, resp.Body}
	return &upstreamBody{body: body, size: resp.ContentLength, stop: stop}, nil
}

// readCloser reads through one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// streamFile sends the upstream's file, hashing it and keeping a copy for
// the cache; the last bytes go only once the hash is the one verified
// (the listed one the logs prove, or, with no hash listed, one the logs
// are asked about now). A file whose bytes differ is cut short: the
// connection is dropped before its end, so the client has no whole file.
func (p *Proxy) streamFile(w http.ResponseWriter, r *http.Request, project string, f File, listed [32]byte, hasHash bool, v verdict, up *upstreamBody) {
	var tmp *os.File
	if p.cache != nil && hasHash && v.status == verify.StatusVerified && up.size <= p.cache.max {
		var err error
		if tmp, err = p.cache.create(); err != nil {
			p.logger.Warn("couldn't cache a file", "filename", f.Filename, "err", err)
		}
	}
	committed := false
	defer func() {
		if tmp != nil && !committed {
			p.cache.discard(tmp)
		}
	}()

	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if up.size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(up.size, 10))
	}
	if hasHash {
		switch v.status {
		case verify.StatusVerified:
			h.Set(HeaderVerdict, "verified")
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		default:
			h.Set(HeaderVerdict, "not-in-log")
		}
		h.Set(HeaderDetail, headerValue(v.detail))
	} else {
		h.Set(HeaderDetail, "the upstream lists no sha256: the bytes are checked against the logs before their end")
	}
	// No WriteHeader: the answer starts with the first bytes sent, so
	// that a file refused before then (one smaller than what is held
	// back) gets a refusal, not a cut transfer.

	check := func(sum [32]byte, n int64) error {
		if up.size >= 0 && n != up.size {
			return fmt.Errorf("the upstream sent %d bytes of %s, not the %d it announced", n, f.Filename, up.size)
		}
		if !hasHash {
			return p.checkUnlisted(r.Context(), project, f, sum, n)
		}
		if sum == listed {
			return nil
		}
		if v.status == verify.StatusVerified {
			p.alarm(Alarm{Project: project, Filename: f.Filename, URL: f.URL, ServedSHA256: hex.EncodeToString(sum[:]), ServedSize: n,
				LoggedSHA256: hex.EncodeToString(listed[:]), Leaf: -1,
				Reason: "the upstream served other bytes than the sha256 it lists, which the logs prove",
				Detail: v.detail})
		}
		reason := fmt.Sprintf("the upstream served %s with sha256 %s, not the %s it lists", f.Filename, hex.EncodeToString(sum[:]), hex.EncodeToString(listed[:]))
		if v.status == verify.StatusVerified {
			return &refusal{http.StatusForbidden, "refused, SECURITY ERROR: " + reason + ", which the logs prove"}
		}
		return &refusal{http.StatusBadGateway, "refused: " + reason}
	}
	var cacheCopy io.Writer
	if tmp != nil {
		cacheCopy = tmp
	}
	// Stored before the last bytes are sent: a client that has the whole
	// file finds it in the cache.
	store := func(sum [32]byte, n int64, copied bool) {
		if tmp != nil && copied {
			committed = true
			p.cache.commit(tmp, sum, f.Filename, n)
		}
	}
	_, n, sent, _, err := stream(w, up.body, cacheCopy, p.cfg.MaxFileSize, check, store)
	if err != nil && sent == 0 {
		p.logger.Error("download refused", "project", project, "filename", f.Filename, "bytes", n, "err", err)
		var rf *refusal
		if !errors.As(err, &rf) {
			rf = &refusal{http.StatusBadGateway, fmt.Sprintf("couldn't download %s: %v", f.Filename, err)}
		}
		for _, h := range []string{"Content-Length", "Cache-Control", HeaderDetail} {
			w.Header().Del(h)
		}
		refuse(w, r, rf.status, rf.reason)
		return
	}
	if err != nil {
		p.logger.Error("download cut short", "project", project, "filename", f.Filename, "bytes", n, "sent", sent, "err", err)
		// Drops the connection: with or without Content-Length, the
		// client sees a transfer that did not end.
		panic(http.ErrAbortHandler)
	}
}

// checkUnlisted decides, once its bytes are hashed, about a file the
// upstream lists no sha256 for.
func (p *Proxy) checkUnlisted(ctx context.Context, project string, f File, sum [32]byte, n int64) error {
	v := p.decide(ctx, project, f.Filename, sum, "served")
	switch {
	case v.status == verify.StatusVerified:
		return nil
	case v.status == verify.StatusMismatch:
		p.alarm(Alarm{Project: project, Filename: f.Filename, URL: f.URL, ServedSHA256: hex.EncodeToString(sum[:]), ServedSize: n,
			LoggedSHA256: hex.EncodeToString(v.logged[:]), Leaf: v.leaf, Log: v.origin,
			Reason: "the upstream served other bytes than the log proves for the file", Detail: v.detail})
		return &refusal{http.StatusForbidden, "refused, SECURITY ERROR: " + v.detail}
	case v.status == verify.StatusNotInLog && p.cfg.NotInLog != NotInLogDeny:
		if p.cfg.NotInLog == NotInLogWarn {
			p.logger.Warn("served a file that is not in the log", "project", project, "filename", f.Filename, "detail", v.detail)
		}
		return nil
	}
	if v.status == verify.StatusNotInLog {
		return &refusal{http.StatusForbidden, fmt.Sprintf("refused: %s is not in the log (--not-in-log deny): %s", f.Filename, v.detail)}
	}
	return &refusal{http.StatusBadGateway, fmt.Sprintf("couldn't verify %s: %s", f.Filename, v.detail)}
}

// refusal is a check's verdict against a file, with the status to answer
// if nothing was sent yet.
type refusal struct {
	status int
	reason string
}

func (r *refusal) Error() string { return r.reason }

// stream copies src to w (and to also, if not nil: copied says whether
// that copy is whole), hashing it, and writes its last holdBack bytes only
// once check accepts its sha256 and size; sent is what was written to w
// (none, for a file that fits the buffer, until check accepts it). More
// than limit bytes is an error.
//
// If accepted is not nil, it is called once check accepts, before the last
// bytes are sent (whose arrival a client may take for the end of the
// transfer), with whether also's copy is whole.
func stream(w io.Writer, src io.Reader, also io.Writer, limit int64, check func(sum [32]byte, n int64) error, accepted func(sum [32]byte, n int64, copied bool)) (sum [32]byte, n, sent int64, copied bool, err error) {
	bufp := streamBuffers.Get().(*[]byte)
	defer streamBuffers.Put(bufp)
	buf := *bufp
	h := sha256.New()
	pending := 0 // bytes of buf received but not yet sent
	for {
		m, err := src.Read(buf[pending:])
		if m > 0 {
			got := buf[pending : pending+m]
			h.Write(got)
			if also != nil {
				if _, werr := also.Write(got); werr != nil {
					also = nil // the cache copy is lost, not the transfer
				}
			}
			n += int64(m)
			pending += m
			if n > limit {
				return sum, n, sent, false, fmt.Errorf("more than %d bytes", limit)
			}
			if pending == len(buf) {
				send := pending - holdBack
				m, err := w.Write(buf[:send])
				sent += int64(m)
				if err != nil {
					return sum, n, sent, false, fmt.Errorf("couldn't send: %w", err)
				}
				pending = copy(buf, buf[send:pending])
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, n, sent, false, fmt.Errorf("couldn't receive: %w", err)
		}
	}
	h.Sum(sum[:0])
	if err := check(sum, n); err != nil {
		return sum, n, sent, false, err
	}
	if accepted != nil {
		accepted(sum, n, also != nil)
	}
	m, err := w.Write(buf[:pending])
	sent += int64(m)
	if err != nil {
		return sum, n, sent, false, fmt.Errorf("couldn't send: %w", err)
	}
	return sum, n, sent, also != nil, nil
}
