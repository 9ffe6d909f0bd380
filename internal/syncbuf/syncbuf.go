// Package syncbuf is a bytes.Buffer that concurrent writers can share:
// what tests give a logger, or a command's output, while servers write to
// it from their own goroutines.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer collects writes from any goroutine; its zero value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
