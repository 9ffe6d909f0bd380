package proxy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"testing/iotest"
)

// TestStreamHoldsBackTheEnd checks, for sizes around the buffer's, that
// a refused file never reaches the client whole (at least holdBack bytes,
// or all of a smaller file, stay back), and that an accepted one arrives
// whole, with its copy.
func TestStreamHoldsBackTheEnd(t *testing.T) {
	for _, size := range []int{0, 1, holdBack - 1, holdBack, streamChunk, streamChunk + holdBack, streamChunk + holdBack + 1, 2 * streamChunk, 3*streamChunk + holdBack, 5*streamChunk + 7} {
		data := bytes.Repeat([]byte{0x5a}, size)
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			refused := errors.New("refused")
			var sent bytes.Buffer
			_, n, nsent, _, err := stream(&sent, iotest.HalfReader(bytes.NewReader(data)), nil, 1<<40, func([32]byte, int64) error { return refused }, nil)
			if !errors.Is(err, refused) || n != int64(size) || nsent != int64(sent.Len()) {
				t.Fatalf("err %v, read %d, sent %d (%d written)", err, n, nsent, sent.Len())
			}
			if held := size - sent.Len(); held < min(size, holdBack) || size > 0 && held == 0 {
				t.Errorf("refused: %d of %d bytes sent, %d held back", sent.Len(), size, held)
			}

			sent.Reset()
			var copied bytes.Buffer
			sentWhenAccepted := -1
			sum, n, nsent, whole, err := stream(&sent, bytes.NewReader(data), &copied, 1<<40, func(s [32]byte, n int64) error {
				if s != sha256.Sum256(data) || n != int64(size) {
					return errors.New("wrong sum or size")
				}
				return nil
			}, func(_ [32]byte, _ int64, copyWhole bool) {
				if copyWhole && copied.Len() == size {
					sentWhenAccepted = sent.Len()
				}
			})
			// Accepted (and the copy whole) before the client has it all.
			if sentWhenAccepted < 0 || size > 0 && sentWhenAccepted == size {
				t.Errorf("accepted after %d of %d bytes were sent", sentWhenAccepted, size)
			}
			if err != nil || sum != sha256.Sum256(data) || n != int64(size) || nsent != int64(size) || !whole ||
				!bytes.Equal(sent.Bytes(), data) || !bytes.Equal(copied.Bytes(), data) {
				t.Errorf("accepted: err %v, read %d, sent %d, copy whole %v", err, n, nsent, whole)
			}
		})
	}
}

func TestStreamLimit(t *testing.T) {
	var sent bytes.Buffer
	_, _, _, _, err := stream(&sent, bytes.NewReader(make([]byte, 1000)), nil, 999, func([32]byte, int64) error { return nil }, nil)
	if err == nil || sent.Len() >= 1000 {
		t.Errorf("over the limit: err %v, %d bytes sent", err, sent.Len())
	}
}
