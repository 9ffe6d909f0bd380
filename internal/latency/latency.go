// Package latency is a loopback HTTP proxy for measuring clients as a
// real network would make them behave: it delays every request by a fixed
// round trip before forwarding it, and records when each request started
// and ended, so that a test or benchmark can count requests and bytes and
// find the round-trip depth, the longest chain of requests each of which
// started only after the one before it had ended.
package latency

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/pysumdb/pysumdb/internal/httprec"
)

// Request is one request the proxy forwarded.
type Request struct {
	// Path is the URL path requested.
	Path string
	// Start is when the request arrived; End when its response was
	// written.
	Start, End time.Time
	// Status is the response's status; Bytes the size of its body.
	Status int
	Bytes  int64
}

// Proxy is a delaying, recording HTTP proxy on 127.0.0.1.
type Proxy struct {
	*httptest.Server
	delay time.Duration

	mu       sync.Mutex
	requests []Request
}

// New starts a proxy in front of upstream that delays each request by
// delay (one round trip) before forwarding it. Close it when done.
func New(upstream http.Handler, delay time.Duration) *Proxy {
	p := &Proxy{delay: delay}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		rec := httprec.New(w)
		upstream.ServeHTTP(rec, r)
		p.mu.Lock()
		p.requests = append(p.requests, Request{Path: r.URL.Path, Start: start, End: time.Now(), Status: rec.Status, Bytes: rec.Bytes})
		p.mu.Unlock()
	}))
	return p
}

// Requests returns the requests forwarded since the last Reset, in the
// order they ended.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// Reset forgets the requests recorded.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = nil
}

// Stats summarizes requests.
type Stats struct {
	// Requests and Bytes count the requests and their response bodies.
	Requests int
	Bytes    int64
	// Depth is the round-trip depth: the longest chain of requests each
	// of which started after the one before it ended.
	Depth int
	// Chain is one such longest chain, in order.
	Chain []Request
}

// Summarize returns the stats of requests.
func Summarize(requests []Request) Stats {
	s := Stats{Requests: len(requests)}
	n := len(requests)
	byStart, byEnd := make([]int, n), make([]int, n)
	for i := range requests {
		byStart[i], byEnd[i] = i, i
		s.Bytes += requests[i].Bytes
	}
	slices.SortStableFunc(byStart, func(a, b int) int { return requests[a].Start.Compare(requests[b].Start) })
	slices.SortStableFunc(byEnd, func(a, b int) int { return requests[a].End.Compare(requests[b].End) })
	// depth[i] is the longest chain ending with request i, prev[i] the
	// request before it in that chain (-1: none). A request that ended
	// before r started also started before it, so its depth is known
	// when r's is computed.
	depth, prev := make([]int, n), make([]int, n)
	best, bestAt, ended := 0, -1, 0
	for _, i := range byStart {
		for ended < n && !requests[byEnd[ended]].End.After(requests[i].Start) {
			if k := byEnd[ended]; depth[k] > best {
				best, bestAt = depth[k], k
			}
			ended++
		}
		depth[i], prev[i] = best+1, bestAt
	}
	last := -1
	for i := range depth {
		if last < 0 || depth[i] > depth[last] {
			last = i
		}
	}
	if last < 0 {
		return s
	}
	s.Depth = depth[last]
	for k := last; k >= 0; k = prev[k] {
		s.Chain = append(s.Chain, requests[k])
	}
	slices.Reverse(s.Chain)
	return s
}
