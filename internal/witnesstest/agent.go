package witnesstest

import (
	"crypto/ed25519"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh/agent"
)

// maxSocketPath bounds a unix socket's path: sun_path is 108 bytes on
// Linux, 104 on the BSDs and macOS, the terminating NUL included.
const maxSocketPath = 100

// startAgent serves an ssh-agent holding key (and nothing else) on a unix
// socket until the end of the test, and returns the socket's path. It is
// litewitness's signer: litewitness asks it for every cosignature.
func startAgent(t testing.TB, key ed25519.PrivateKey) string {
	t.Helper()
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key, Comment: "witnesstest litewitness key"}); err != nil {
		t.Fatalf("witnesstest: ssh-agent: adding the key: %v", err)
	}
	dir := t.TempDir()
	// A long test name or TMPDIR makes t.TempDir too deep for a socket's
	// path: then a short directory in TMPDIR, or in /tmp.
	for _, base := range []string{os.TempDir(), "/tmp"} {
		if len(filepath.Join(dir, "agent.sock")) <= maxSocketPath {
			break
		}
		d, err := os.MkdirTemp(base, "wta")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("witnesstest: ssh-agent: %v", err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed at cleanup
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				agent.ServeAgent(keyring, c) // until the client hangs up
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return sock
}
