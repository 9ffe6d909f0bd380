package verify_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// published returns the file as the test logs hold it, with hashOf naming
// its digest.
func published(filename, hashOf string, size int64) verify.PublishedFile {
	f := verify.PublishedFile{Filename: filename, Size: size}
	hex.Decode(f.SHA256[:], []byte(clienttest.DigestOf(hashOf)))
	return f
}

func TestComparePublished(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch, secondBatch)
	l, _ := clienttest.OpenLog(t, tl.Store.Root(), tl.VKey, nil)
	v := &verify.Verifier{Logs: []*client.Log{l}, Quorum: 1}
	sdist, wheel := tl.LeafOf(t, "foo", "foo-1.0.tar.gz"), tl.LeafOf(t, "foo", "foo-1.0-py3-none-any.whl")

	// PyPI serves the sdist of foo 1.0 with other bytes, the wheel with
	// another size, and a new file; it deleted nothing.
	c, err := v.ComparePublished(context.Background(), "foo", "1.0", []verify.PublishedFile{
		published("foo-1.0.tar.gz", "evil", int64(len("foo-1.0.tar.gz"))),
		published("foo-1.0-py3-none-any.whl", "foo-1.0-py3-none-any.whl", 5),
		published("foo-1.0-cp312-cp312-win_amd64.whl", "new", 10),
	})
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, c.Results[0], verify.StatusMismatch, fmt.Sprintf("the log holds foo-1.0.tar.gz with sha256:%s at leaf %d", clienttest.DigestOf("foo-1.0.tar.gz"), sdist))
	wantResult(t, c.Results[1], verify.StatusVerified)
	wantResult(t, c.Results[2], verify.StatusNotInLog)
	want := verify.SizeDifference{Origin: "pysumdb.test/log", Filename: "foo-1.0-py3-none-any.whl", Leaf: wheel, Logged: int64(len("foo-1.0-py3-none-any.whl")), Published: 5}
	if len(c.SizeDiffers) != 1 || c.SizeDiffers[0] != want {
		t.Errorf("size differences %+v, want %+v", c.SizeDiffers, want)
	}
	if len(c.Unpublished) != 0 {
		t.Errorf("unpublished %+v, want none", c.Unpublished)
	}

	// PyPI deleted every file of foo 1.0, and serves foo 1.1 as logged.
	c, err = v.ComparePublished(context.Background(), "foo", "1.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Unpublished) != 2 || c.Unpublished[0].Line.Leaf != sdist || c.Unpublished[1].Line.Leaf != wheel || c.Unpublished[0].Err != nil {
		t.Errorf("unpublished %+v, want the sdist and wheel of foo 1.0", c.Unpublished)
	}
	c, err = v.ComparePublished(context.Background(), "foo", "", []verify.PublishedFile{published("foo-1.1.tar.gz", "foo-1.1.tar.gz", int64(len("foo-1.1.tar.gz")))})
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, c.Results[0], verify.StatusVerified)
	if len(c.Unpublished) != 3 {
		t.Errorf("unpublished %+v, want the 3 other files of foo", c.Unpublished)
	}
}

func TestComparePublishedWithoutTheIndex(t *testing.T) {
	tl := clienttest.NewLog(t, "pysumdb.test/log", firstBatch)
	srv := clienttest.Serve(t, tl)
	l, _ := clienttest.OpenLog(t, srv.URL, tl.VKey, nil)
	v := &verify.Verifier{Logs: []*client.Log{l}, Quorum: 1}

	// PyPI serves no file of foo 1.0 any more and the log's index can't
	// be read: the logged files are unknown, which must show.
	srv.SetRewrite(func(key string, status int, body []byte) (int, []byte) {
		if key == tiles.IndexKey("foo") {
			return http.StatusInternalServerError, nil
		}
		return status, body
	})
	c, err := v.ComparePublished(context.Background(), "foo", "1.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.IndexErrors) != 1 || client.IsSecurityError(c.IndexErrors[0]) || len(c.SecurityErrors()) != 0 {
		t.Errorf("index errors %v, security errors %v", c.IndexErrors, c.SecurityErrors())
	}

	// A badly signed index is a security error, even with nothing
	// published to check.
	bad := clienttest.BreakSignature(tl.Read(t, tiles.IndexKey("foo")))
	srv.SetRewrite(clienttest.Replace(tiles.IndexKey("foo"), bad))
	c, err = v.ComparePublished(context.Background(), "foo", "1.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if errs := c.SecurityErrors(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "index of foo") {
		t.Errorf("security errors %v, want the index signature", errs)
	}
}
