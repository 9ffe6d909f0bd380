package proxy

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/internal/atomicfile"
	"github.com/pysumdb/pysumdb/internal/httprec"
)

// maxReasonLen bounds the reason phrase of a refusal: one line in pip's
// output.
const maxReasonLen = 400

// refuse answers with status and a reason phrase of its own: pip prints
// an error's reason phrase ("403 Client Error: <reason> for url: ..."),
// not its body, and net/http writes only the standard phrases, so the
// answer is written on the connection itself when it can be (HTTP/1.x).
// The body says it too, for curl and uv, and for HTTP/2.
func refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	reason = "pysumdb: " + reason
	phrase := headerValue(reason)
	if len(phrase) > maxReasonLen {
		phrase = phrase[:maxReasonLen-3] + "..."
	}
	body := reason + "\n"
	if rec, ok := w.(*httprec.Recorder); ok {
		rec.Status = status
		rec.Bytes = int64(len(body))
	}
	if r.ProtoMajor == 1 {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err == nil {
			defer conn.Close()
			conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(buf, "HTTP/1.1 %03d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n%s: refused\r\nConnection: close\r\n\r\n%s",
				status, phrase, len(body), HeaderVerdict, body)
			buf.Flush()
			return
		}
	}
	w.Header().Set(HeaderVerdict, "refused")
	http.Error(w, body, status)
}

// headerValue is s made safe for a header value or a reason phrase:
// printable ASCII, on one line.
func headerValue(s string) string {
	return strings.Map(func(c rune) rune {
		if c < ' ' || c > '~' {
			return '?'
		}
		return c
	}, s)
}

// Alarm is a file refused because its bytes are not what the logs prove:
// the evidence, logged as a SECURITY ERROR and kept as JSON in the cache
// directory's alarms/.
type Alarm struct {
	// Time is when it was detected (RFC 3339).
	Time string `json:"time"`
	// Project and Filename name the file.
	Project  string `json:"project"`
	Filename string `json:"filename"`
	// URL is where the upstream serves it.
	URL string `json:"url"`
	// ServedSHA256 is the hash of what the upstream served (or lists), and
	// ServedSize its size when the bytes were received.
	ServedSHA256 string `json:"served_sha256"`
	ServedSize   int64  `json:"served_size,omitempty"`
	// LoggedSHA256 is the hash the log proves for the filename, Leaf the
	// entry (-1 if unknown) and Log the log's origin.
	LoggedSHA256 string `json:"logged_sha256"`
	Leaf         int64  `json:"leaf"`
	Log          string `json:"log,omitempty"`
	// Reason says what happened, Detail what the logs said.
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// alarm records a.
func (p *Proxy) alarm(a Alarm) {
	now := time.Now().UTC()
	a.Time = now.Format(time.RFC3339Nano)
	p.alarms.Add(1)
	attrs := []any{"project", a.Project, "filename", a.Filename, "url", a.URL, "served_sha256", a.ServedSHA256,
		"logged_sha256", a.LoggedSHA256, "leaf", a.Leaf, "log", a.Log, "detail", a.Detail}
	if p.cfg.CacheDir != "" {
		path := filepath.Join(p.cfg.CacheDir, "alarms", now.Format("20060102T150405.000000000Z")+"-"+safeName(a.Filename)+".json")
		data, _ := json.MarshalIndent(a, "", "  ")
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		if err == nil {
			err = atomicfile.Replace(path, append(data, '\n'), true)
		}
		if err != nil {
			p.logger.Error("couldn't keep the evidence of an alarm", "path", path, "err", err)
		} else {
			attrs = append(attrs, "evidence", path)
		}
	}
	p.logger.Error("SECURITY ERROR: "+a.Reason, attrs...)
}

// safeName is filename if it can name a file in a directory of ours,
// else a placeholder.
func safeName(filename string) string {
	if validCacheName(filename) {
		return filename
	}
	return "file"
}

// serveCached serves filename from the cache if it holds it with digest
// (proven in the logs when it was stored), hashing it again as it goes,
// and reports whether it did. A copy that no longer hashes to digest is
// removed: if it was found out before a byte was sent (a file that fits
// the stream's buffer), the caller fetches the file again; otherwise the
// transfer is cut short.
func (p *Proxy) serveCached(w http.ResponseWriter, project, filename string, digest [32]byte) bool {
	f, size, ok := p.cache.open(digest, filename)
	if !ok {
		return false
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set(HeaderVerdict, "verified")
	h.Set(HeaderDetail, "from the cache: proven in the logs when stored, hashed again now")
	check := func(sum [32]byte, n int64) error {
		if sum != digest || n != size {
			return fmt.Errorf("the cached copy of %s no longer has sha256 %s", filename, hex.EncodeToString(digest[:]))
		}
		return nil
	}
	_, _, sent, _, err := stream(w, f, nil, size, check, nil)
	if err == nil {
		return true
	}
	p.logger.Warn("a cached file no longer has its hash: removed", "project", project, "filename", filename, "sent", sent, "err", err)
	p.cache.remove(cacheKey(digest, filename))
	if sent > 0 {
		panic(http.ErrAbortHandler)
	}
	for k := range h {
		delete(h, k)
	}
	return false
}

// passThrough serves a file of an excluded project as the upstream sends
// it: no log is asked, nothing is cached.
func (p *Proxy) passThrough(w http.ResponseWriter, r *http.Request, f File) {
	up, err := p.openUpstream(r.Context(), f)
	if err != nil {
		http.Error(w, "pysumdb proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer up.body.Close()
	defer up.stop()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if up.size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(up.size, 10))
	}
	h.Set(HeaderVerdict, "excluded")
	h.Set(HeaderDetail, "a private project (excluded): no log was asked")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, io.LimitReader(up.body, p.cfg.MaxFileSize)); err != nil {
		p.logger.Debug("a pass-through download ended early", "filename", f.Filename, "err", err)
		panic(http.ErrAbortHandler)
	}
}
