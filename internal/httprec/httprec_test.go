package httprec

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRecorder(t *testing.T) {
	w := httptest.NewRecorder()
	rec := New(w)
	if rec.Status != http.StatusOK {
		t.Errorf("status before WriteHeader %d", rec.Status)
	}
	rec.WriteHeader(http.StatusTeapot)
	rec.Write([]byte("hello"))
	rec.Write([]byte(", world"))
	if rec.Status != http.StatusTeapot || rec.Bytes != 12 || w.Code != http.StatusTeapot || w.Body.String() != "hello, world" {
		t.Errorf("recorded %d %d, written %d %q", rec.Status, rec.Bytes, w.Code, w.Body)
	}
	if http.NewResponseController(rec).Flush() != nil || !w.Flushed {
		t.Error("Flush doesn't reach the wrapped writer")
	}
}
