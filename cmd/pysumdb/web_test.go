package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/syncbuf"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/verify"
)

var updateScreenshot = flag.Bool("update-web-screenshot", false, "write the web page's screenshot for the README (web/screenshot.png)")

// chromiumPath returns Debian's Chromium, or skips t: .ci/run installs it
// (apt-get install -y chromium).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH: apt-get install -y chromium")
	return ""
}

// webLog is a log built from a real uv.lock with one file logged with
// another hash and one project left out, its web page published, served
// by `pysumdb serve`.
type webLog struct {
	store, url, lockPath string
	vkey                 string
	tampered, dropped    string // a filename logged with another hash; a project not logged
}

func newWebLog(t *testing.T) *webLog {
	t.Helper()
	w := &webLog{store: filepath.Join(t.TempDir(), "log"), lockPath: filepath.Join("testdata", "lockfiles", "spectree", "uv.lock")}
	records, err := lockfileRecords(w.lockPath, "")
	if err != nil {
		t.Fatal(err)
	}
	w.tampered = records[3].Filename
	records[3].SHA256 = otherDigest(records[3].SHA256)
	w.dropped = records[len(records)-1].Project
	kept := records[:0]
	for _, r := range records {
		if r.Project != w.dropped {
			kept = append(kept, r)
		}
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "pysumdb.test/web")
	if err != nil {
		t.Fatal(err)
	}
	w.vkey = vkey
	store, err := publish.OpenDir(w.store)
	if err != nil {
		t.Fatal(err)
	}
	// Two batches, so that the statistics have something to add up.
	half := len(kept) / 2
	for _, batch := range [][]sequencer.Record{kept[:half], kept[half:]} {
		if _, err := seqtest.Append(context.Background(), store, skey, batch, ""); err != nil {
			t.Fatal(err)
		}
	}
	vkeyFile := filepath.Join(t.TempDir(), "vkey")
	if err := os.WriteFile(vkeyFile, []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncbuf.Buffer
	if status := runContext(context.Background(), []string{"publish-web", "--store", w.store, "--vkey", vkeyFile}, &stdout, &stderr); status != 0 {
		t.Fatalf("publish-web: status %d\n%s%s", status, &stdout, &stderr)
	}

	ctx, stop := context.WithCancel(context.Background())
	served := make(chan int, 1)
	var out syncbuf.Buffer
	go func() {
		served <- runContext(ctx, []string{"serve", "--store", w.store, "--listen", "127.0.0.1:0"}, &out, &out)
	}()
	t.Cleanup(func() {
		stop()
		<-served
	})
	listening := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+/)`)
	for w.url == "" {
		select {
		case status := <-served:
			t.Fatalf("serve exited %d:\n%s", status, &out)
		case <-time.After(20 * time.Millisecond):
		}
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			w.url = m[1]
		}
	}
	return w
}

// browser starts a headless Chromium of its own for t (a new profile, so
// an empty HTTP cache: the tests change objects the server calls
// immutable) and returns a context for a new tab of it.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// Without these, Chromium keeps trying hosts this machine can't
		// reach (the network is loopback only).
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1200, 1600),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// pageError returns the text of the page's error panel and JS error banner.
func pageError(ctx context.Context) (string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("error").textContent + " " + document.getElementById("js-error").textContent).trim()`))
}

// flipLastByte changes the last byte of a file of the store, and puts it
// back when t ends.
func flipLastByte(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	orig := append([]byte(nil), data...)
	data[len(data)-2] ^= 0x01 // before a final newline
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(path, orig, 0o644) })
}

type row struct{ Filename, Status string }

// rowsOf is the JavaScript that lists the rows sel selects, as rows.
func rowsOf(sel string) string {
	return `[...document.querySelectorAll(` + "`" + sel + "`" + `)].map(r => ({Filename: r.dataset.filename, Status: r.querySelector("td.status").textContent.trim()}))`
}

// TestWebPage checks the published web page in headless Chromium against
// `pysumdb serve`: a lookup shows verified rows; a tampered tile, a
// tampered index and a bad checkpoint signature each show the error; a
// lockfile checked in the page gets the CLI's verdicts; a phone-width
// screen has no horizontal scroll; a JavaScript error is shown.
func TestWebPage(t *testing.T) {
	chromiumPath(t)
	w := newWebLog(t)
	page := w.url + "web/"

	t.Run("lookup", func(t *testing.T) {
		ctx := browser(t)
		err := chromedp.Do(ctx,
			chromedp.Navigate(page+"#/project/pydantic"),
			chromedp.WaitVisible(`body[data-ready="1"]`),
			chromedp.WaitVisible(`#files tr.file`),
			chromedp.WaitNotPresent(`body[data-busy]`),
		)
		if err != nil {
			msg, _ := pageError(ctx)
			t.Fatalf("%v (page error: %q)", err, msg)
		}
		origin, err1 := chromedp.Run(ctx, chromedp.Text(`#origin`))
		size, err2 := chromedp.Run(ctx, chromedp.Text(`#tree-size`))
		rows, err3 := chromedp.Run(ctx, chromedp.Evaluate[[]row](rowsOf("#files tr.file")))
		// stats.json arrives on its own: waited for, not raced.
		age, err4 := chromedp.Run(ctx, chromedp.Poll[string](`(t => t.includes("stats.json") && t)(document.getElementById("checkpoint-age").textContent)`))
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(age, "not signed") {
			t.Errorf("checkpoint age %q", age)
		}
		if origin != "pysumdb.test/web" || size == "" {
			t.Errorf("origin %q, tree size %q", origin, size)
		}
		if len(rows) == 0 {
			t.Fatal("no rows")
		}
		for _, r := range rows {
			if r.Status != "verified" {
				t.Errorf("%s: %q", r.Filename, r.Status)
			}
		}
		if msg, err := pageError(ctx); err != nil || msg != "" {
			t.Errorf("error shown on a good log: %q %v", msg, err)
		}
		if *updateScreenshot {
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("..", "..", "web", "screenshot.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("lockfile", func(t *testing.T) {
		artifacts, err := lockfile.ParseFile(w.lockPath, "")
		if err != nil {
			t.Fatal(err)
		}
		l, err := client.NewLog(client.DirFetcher(w.store), w.vkey)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := (&verify.Verifier{Logs: []*client.Log{l}, Quorum: 1}).Verify(context.Background(), artifacts)
		if err != nil {
			t.Fatal(err)
		}
		words := map[verify.Status]string{verify.StatusVerified: "verified", verify.StatusMismatch: "MISMATCH",
			verify.StatusNotInLog: "NOT IN LOG", verify.StatusSkipped: "SKIPPED", verify.StatusError: "error"}
		var want []row
		for _, r := range rep.Results {
			want = append(want, row{r.Artifact.Filename, words[r.Status]})
		}
		abs, err := filepath.Abs(w.lockPath)
		if err != nil {
			t.Fatal(err)
		}
		ctx := browser(t)
		// Chosen with the file input, as a drop is read: the name
		// (uv.lock) gives the format.
		err = chromedp.Do(ctx,
			chromedp.Navigate(page),
			chromedp.WaitVisible(`body[data-ready="1"]`),
			chromedp.SetUploadFiles(`#lockfile-file`, []string{abs}),
			chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
				// The file is read asynchronously into the form.
				_, err := chromedp.Poll[bool](`document.getElementById("lockfile-name").value === "uv.lock" && document.getElementById("lockfile-text").value.length > 0`)(ctx, target)
				return err
			}),
			chromedp.Click(`#lockfile-check`),
			chromedp.WaitVisible(`#lockfile-results tr.artifact`),
			chromedp.WaitNotPresent(`body[data-busy]`),
		)
		var got []row
		if err == nil {
			got, err = chromedp.Run(ctx, chromedp.Evaluate[[]row](rowsOf("#lockfile-results tr.artifact")))
		}
		if err != nil {
			msg, _ := pageError(ctx)
			t.Fatalf("%v (page error: %q)", err, msg)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("page's verdicts differ from the CLI's:\npage %v\nCLI  %v", got, want)
		}
		var mismatch, notInLog bool
		for _, r := range got {
			mismatch = mismatch || r.Filename == w.tampered && r.Status == "MISMATCH"
			notInLog = notInLog || r.Status == "NOT IN LOG"
		}
		if !mismatch || !notInLog {
			t.Errorf("the page shows no MISMATCH for %s or no NOT IN LOG for %s: %v", w.tampered, w.dropped, got)
		}
	})

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T)
		want   string
	}{
		{"tampered tile", func(t *testing.T) {
			tiles, _ := filepath.Glob(filepath.Join(w.store, "tile", "0", "*"))
			for _, p := range tiles {
				if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() {
					flipLastByte(t, p)
				}
			}
			partials, _ := filepath.Glob(filepath.Join(w.store, "tile", "0", "*.p", "*"))
			for _, p := range partials {
				flipLastByte(t, p)
			}
		}, "SECURITY ERROR"},
		{"tampered index", func(t *testing.T) {
			flipLastByte(t, filepath.Join(w.store, "index", "pydantic"))
		}, "SECURITY ERROR"},
		{"bad checkpoint signature", func(t *testing.T) {
			flipLastByte(t, filepath.Join(w.store, "checkpoint"))
		}, "SECURITY ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.tamper(t)
			ctx := browser(t)
			err := chromedp.Do(ctx,
				chromedp.Navigate(page+"#/project/pydantic"),
				chromedp.WaitVisible(`#error:not(:empty)`),
				chromedp.WaitNotPresent(`body[data-busy]`),
			)
			msg, _ := pageError(ctx)
			if err != nil || !strings.Contains(msg, tc.want) {
				t.Fatalf("error shown %q, want %q (%v)", msg, tc.want, err)
			}
			verified, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#files tr.file td.status")].filter(c => c.textContent.trim() === "verified").length`))
			if err != nil || verified != 0 {
				t.Errorf("%d rows marked verified (%v)", verified, err)
			}
		})
	}

	t.Run("phone width and JavaScript errors", func(t *testing.T) {
		ctx := browser(t)
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile),
			chromedp.Navigate(page+"#/project/pydantic"),
			chromedp.WaitVisible(`#files tr.file`),
		)
		if err != nil {
			t.Fatal(err)
		}
		scroll, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`setTimeout(() => { throw new Error("boom from the test") }, 0); 1`)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(`#js-error`)); err != nil {
			t.Fatal(err)
		}
		banner, err := chromedp.Run(ctx, chromedp.Text(`#js-error`))
		if err != nil {
			t.Fatal(err)
		}
		if scroll > 375 {
			t.Errorf("the page is %d px wide on a 375 px screen", scroll)
		}
		if !strings.Contains(banner, "boom from the test") {
			t.Errorf("JavaScript error banner %q", banner)
		}
	})
}
