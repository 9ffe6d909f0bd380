package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/internal/syncbuf"
	"github.com/pysumdb/pysumdb/mirror"
	"github.com/pysumdb/pysumdb/proxy"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/verify"
)

// TestProxyShutdownFinishesTransfers stops the proxy (as the first SIGINT
// does) while a download is half sent: new connections are refused, the
// download finishes whole, and serveProxy returns without error.
func TestProxyShutdownFinishesTransfers(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	sum := sha256.Sum256(data)
	const filename = "demo-1.0.tar.gz"
	log := clienttest.NewLog(t, "pysumdb.test/log", []sequencer.Record{{Project: "demo", Filename: filename, SHA256: sum, Size: int64(len(data)), UploadTime: "-"}})

	halfSent, gate := make(chan struct{}), make(chan struct{})
	var upstream *httptest.Server
	upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/simple/demo/":
			w.Header().Set("Content-Type", proxy.MediaTypeJSON)
			fmt.Fprintf(w, `{"meta":{"api-version":"1.0"},"name":"demo","files":[{"filename":%q,"url":%q,"hashes":{"sha256":%q}}]}`,
				filename, upstream.URL+"/packages/"+filename, hex.EncodeToString(sum[:]))
		case "/packages/" + filename:
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			half := len(data) / 2
			w.Write(data[:half])
			w.(http.Flusher).Flush()
			close(halfSent)
			<-gate
			w.Write(data[half:])
		default:
			http.NotFound(w, r)
		}
	}))
	defer upstream.Close()

	l, err := client.NewLog(mirror.StoreFetcher{Store: log.Store}, log.VKey)
	if err != nil {
		t.Fatal(err)
	}
	up, err := proxy.UpstreamURL(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	p, err := proxy.New(proxy.Config{Upstream: up, Verifier: &verify.Verifier{Logs: []*client.Log{l}, Quorum: 1}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- serveProxy(ctx, ln, p, logger) }()

	type download struct {
		body []byte
		err  error
	}
	downloaded := make(chan download, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/files/demo/" + filename)
		if err != nil {
			downloaded <- download{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		downloaded <- download{body, err}
	}()
	<-halfSent
	stop() // the first signal
	for {
		// Polled: Shutdown closes the listener, soon but not at once.
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("serveProxy returned %v with a transfer in progress", err)
	default:
	}
	close(gate)
	d := <-downloaded
	if d.err != nil || !bytes.Equal(d.body, data) {
		t.Fatalf("download during shutdown: %v, %d of %d bytes", d.err, len(d.body), len(data))
	}
	if err := <-served; err != nil {
		t.Fatalf("serveProxy: %v", err)
	}
	if !bytes.Contains([]byte(logs.String()), []byte("finishing the transfers in progress")) {
		t.Errorf("log:\n%s", logs)
	}
}
