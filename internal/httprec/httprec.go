// Package httprec records what an HTTP handler answered, its status and
// the size of its body: for an access log, or a test's record of requests.
package httprec

import "net/http"

// Recorder is an http.ResponseWriter that passes everything on to the
// one it wraps and keeps the status and the body's size.
type Recorder struct {
	http.ResponseWriter
	// Status is the status written: 200 until WriteHeader says otherwise
	// (as net/http answers a handler that only writes a body).
	Status int
	// Bytes counts the body's bytes written.
	Bytes int64
}

// New returns a Recorder of w.
func New(w http.ResponseWriter) *Recorder {
	return &Recorder{ResponseWriter: w, Status: http.StatusOK}
}

// WriteHeader records status and writes it.
func (r *Recorder) WriteHeader(status int) {
	r.Status = status
	r.ResponseWriter.WriteHeader(status)
}

// Write writes b and counts what was written.
func (r *Recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.Bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the wrapped writer (Flush,
// Hijack).
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
