package latency

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

func at(start, end int) Request {
	base := time.Unix(0, 0)
	return Request{Start: base.Add(time.Duration(start) * time.Millisecond), End: base.Add(time.Duration(end) * time.Millisecond), Bytes: 10}
}

func TestSummarize(t *testing.T) {
	for _, tt := range []struct {
		name     string
		requests []Request
		depth    int
	}{
		{"none", nil, 0},
		{"one", []Request{at(0, 40)}, 1},
		{"parallel", []Request{at(0, 40), at(1, 41), at(2, 42)}, 1},
		{"chain", []Request{at(0, 40), at(40, 80), at(81, 120)}, 3},
		{"overlapping chain", []Request{at(0, 40), at(39, 80), at(41, 80), at(80, 120)}, 3},
		{"two chains joined", []Request{at(0, 40), at(41, 90), at(0, 10), at(11, 20), at(21, 30), at(31, 35)}, 5},
		{"two chains", []Request{at(0, 40), at(41, 90), at(0, 10), at(11, 20), at(21, 30), at(31, 45)}, 4},
	} {
		s := Summarize(tt.requests)
		if s.Depth != tt.depth || s.Requests != len(tt.requests) || s.Bytes != int64(10*len(tt.requests)) {
			t.Errorf("%s: %+v, want depth %d", tt.name, s, tt.depth)
		}
		if len(s.Chain) != s.Depth {
			t.Errorf("%s: chain of %d, depth %d", tt.name, len(s.Chain), s.Depth)
		}
		for i := 1; i < len(s.Chain); i++ {
			if s.Chain[i].Start.Before(s.Chain[i-1].End) {
				t.Errorf("%s: chain %d starts before %d ends", tt.name, i, i-1)
			}
		}
	}
}

func TestProxy(t *testing.T) {
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	p := New(upstream, 5*time.Millisecond)
	defer p.Close()
	get := func(path string) {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get("/a")
	get("/bb")
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { get("/c") })
	}
	wg.Wait()
	s := Summarize(p.Requests())
	if s.Requests != 5 || s.Bytes != 2+3+3*2 || s.Depth != 3 {
		t.Fatalf("%+v, want 5 requests, 11 bytes, depth 3", s)
	}
	p.Reset()
	if len(p.Requests()) != 0 {
		t.Fatal("Reset kept requests")
	}
}
