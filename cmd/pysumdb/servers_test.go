package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/internal/syncbuf"
)

// runningServer is a serving command (witness, intake) running in the
// test's process.
type runningServer struct {
	// url is where it listens, from its log line.
	url    string
	stderr *syncbuf.Buffer
	stop   func()
	status chan int
}

// startServer runs the command args in the test's process until the test
// ends, and waits for the log line urlPattern finds its URL in (or its
// early exit, which fails t). name names it in the failures.
func startServer(t *testing.T, name string, urlPattern *regexp.Regexp, args []string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningServer{stderr: &syncbuf.Buffer{}, stop: cancel, status: make(chan int, 1)}
	go func() { r.status <- runContext(ctx, args, &bytes.Buffer{}, r.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-r.status
	})
	for range 600 {
		if m := urlPattern.FindStringSubmatch(r.stderr.String()); m != nil {
			r.url = m[1]
			return r
		}
		select {
		case status := <-r.status:
			r.status <- status
			t.Fatalf("%s exited %d: %s", name, status, r.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not start: %s", name, r.stderr)
	return nil
}

// shutdown stops the server as the first signal does and returns its
// exit status.
func (r *runningServer) shutdown() int {
	r.stop()
	status := <-r.status
	r.status <- status // for the cleanup
	return status
}
