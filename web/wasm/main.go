//go:build js && wasm

// Command wasm is the web page's verifier: package client and package
// verify compiled to WebAssembly (web/static/pysumdb.wasm, built by go
// generate ./web), so that the page checks a log with the very code the
// pysumdb command runs. It sets a global object pysumdb whose functions
// answer with Promises:
//
//	pysumdb.open(vkey, logURL)         {origin, vkey}
//	pysumdb.checkpoint()               {origin, size, root_hash, text, cosignatures, last_modified}
//	pysumdb.lookup(project)            {project, tree_size, files}
//	pysumdb.verifyLockfile(name, text) {format, artifacts, counts, checkpoint_size}
//
// then calls globalThis.pysumdbReady, if the page defined it. A Promise is
// rejected with an Error whose message starts with "SECURITY ERROR: "
// when the log misbehaves (client.IsSecurityError), with a plain message
// otherwise (unreachable, not found, bad input).
//
// The page has no disk: the Log opened keeps the tiles it verified and its
// last verified checkpoint in memory (client.Log without a Cache), so that
// every later checkpoint is proven consistent with it while the page is
// open, as a client.Cache does across runs of the command.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

func main() {
	api := js.Global().Get("Object").New()
	export(api, "open", 2, open)
	export(api, "checkpoint", 0, func([]string) (any, error) { return withSession(checkpoint) })
	export(api, "lookup", 1, func(args []string) (any, error) {
		return withSession(func(s *session) (any, error) { return lookup(s, args[0]) })
	})
	export(api, "verifyLockfile", 2, func(args []string) (any, error) {
		return withSession(func(s *session) (any, error) { return verifyLockfile(s, args[0], args[1]) })
	})
	js.Global().Set("pysumdb", api)
	if ready := js.Global().Get("pysumdbReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	// The functions are called from JavaScript for as long as the page
	// lives.
	select {}
}

// export sets obj[name] to a function of n string arguments that returns a
// Promise of run's result, run in a goroutine: the JavaScript event loop
// must stay free while it runs, for the promises of fetch() to settle.
func export(obj js.Value, name string, n int, run func(args []string) (any, error)) {
	obj.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any {
		executor := js.FuncOf(func(_ js.Value, settle []js.Value) any {
			resolve, reject := settle[0], settle[1]
			go func() {
				// A panic would end the program, and with it every
				// later call: it fails this call only.
				defer func() {
					if p := recover(); p != nil {
						reject.Invoke(jsError(fmt.Errorf("internal error in pysumdb.%s: %v", name, p)))
					}
				}()
				strs, err := stringArgs(name, n, args)
				var result any
				if err == nil {
					result, err = run(strs)
				}
				if err != nil {
					reject.Invoke(jsError(err))
					return
				}
				resolve.Invoke(toJS(result))
			}()
			return nil
		})
		// The Promise constructor calls the executor at once.
		defer executor.Release()
		return js.Global().Get("Promise").New(executor)
	}))
}

// stringArgs checks that the function name was called with n strings.
func stringArgs(name string, n int, args []js.Value) ([]string, error) {
	if len(args) != n {
		return nil, fmt.Errorf("pysumdb.%s takes %d arguments, not %d", name, n, len(args))
	}
	strs := make([]string, n)
	for i, a := range args {
		if a.Type() != js.TypeString {
			return nil, fmt.Errorf("pysumdb.%s: argument %d is a %s, not a string", name, i+1, a.Type())
		}
		strs[i] = a.String()
	}
	return strs, nil
}

// jsError is err as a JavaScript Error, its message marked when err is
// evidence that the log misbehaves.
func jsError(err error) js.Value {
	msg := err.Error()
	if client.IsSecurityError(err) {
		msg = "SECURITY ERROR: " + msg
	}
	return js.Global().Get("Error").New(msg)
}

// toJS converts v to a plain JavaScript object through JSON, so that the
// page sees the field names of the json tags.
func toJS(v any) js.Value {
	data, err := json.Marshal(v)
	if err != nil {
		// Only the result types below are converted, all of them
		// marshalable.
		panic(fmt.Sprintf("couldn't encode a result: %v", err))
	}
	return js.Global().Get("JSON").Call("parse", string(data))
}

// session is a log opened by pysumdb.open. Its client.Log keeps, in
// memory, what the page verified of the log: the tiles, and the last
// checkpoint, with which every later one is proven consistent (a rollback
// or a fork within the page's life is a *client.ForkError).
type session struct {
	log *client.Log
	// verifier is the log's key, to tell its signature of a checkpoint
	// from the cosignatures.
	verifier note.Verifier
	url      string
}

var (
	currentMu sync.Mutex
	current   *session
)

// withSession runs f with the log opened last: each call keeps the
// session it started with, even if the page opens another log meanwhile.
func withSession(f func(*session) (any, error)) (any, error) {
	currentMu.Lock()
	s := current
	currentMu.Unlock()
	if s == nil {
		return nil, errors.New("no log opened: call pysumdb.open(vkey, logURL) first")
	}
	return f(s)
}

// openResult is what pysumdb.open resolves to.
type openResult struct {
	Origin string `json:"origin"`
	VKey   string `json:"vkey"`
}

// open implements pysumdb.open(vkey, logURL). Opening again the log
// already open keeps its session, and so what it verified.
func open(args []string) (any, error) {
	vkey, logURL := strings.TrimSpace(args[0]), strings.TrimSpace(args[1])
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("not a verifier key: %w", err)
	}
	if u, err := url.Parse(logURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the log's location %q is not an absolute http(s) URL", logURL)
	}
	currentMu.Lock()
	defer currentMu.Unlock()
	if current != nil && current.log.VerifierKey() == vkey && current.url == logURL {
		return openResult{Origin: current.log.Origin(), VKey: vkey}, nil
	}
	l, err := client.NewLog(newFetcher(logURL), vkey)
	if err != nil {
		return nil, fmt.Errorf("not a verifier key of a log: %w", err)
	}
	current = &session{log: l, verifier: verifier, url: logURL}
	return openResult{Origin: l.Origin(), VKey: vkey}, nil
}

// checkpointResult is what pysumdb.checkpoint resolves to.
type checkpointResult struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	// RootHash is in base64, as in the note.
	RootHash string `json:"root_hash"`
	// Text is the signed note.
	Text         string        `json:"text"`
	Cosignatures []cosignature `json:"cosignatures"`
	// LastModified is always "": the fetchers of package client return
	// an object's bytes, not its HTTP headers.
	LastModified string `json:"last_modified"`
}

// cosignature is a signature of the checkpoint by another key than the
// log's: a witness's, listed but not verified (the page has no witness
// keys).
type cosignature struct {
	Name string `json:"name"`
	// KeyHash is the 4-byte key hash in hex.
	KeyHash string `json:"key_hash"`
	// Time is when a cosignature/v1 witness signed, RFC 3339; "" for a
	// signature of another kind.
	Time     string `json:"time"`
	Verified bool   `json:"verified"`
}

// checkpoint implements pysumdb.checkpoint().
func checkpoint(s *session) (any, error) {
	cp, signed, err := s.log.VerifiedCheckpointNote(context.Background())
	if err != nil {
		return nil, err
	}
	// Verified already: opened again for its other signatures.
	n, err := note.Open(signed, note.VerifierList(s.verifier))
	if err != nil {
		return nil, fmt.Errorf("couldn't read the signatures of the checkpoint: %w", err)
	}
	cosigs := []cosignature{}
	for _, sig := range append(n.Sigs, n.UnverifiedSigs...) {
		if sig.Name == cp.Origin {
			continue
		}
		c := cosignature{Name: sig.Name, KeyHash: fmt.Sprintf("%08x", sig.Hash)}
		if t, err := tiles.CosignatureTime(sig); err == nil {
			c.Time = time.Unix(t, 0).UTC().Format(time.RFC3339)
		}
		cosigs = append(cosigs, c)
	}
	return checkpointResult{
		Origin:       cp.Origin,
		Size:         cp.N,
		RootHash:     base64.StdEncoding.EncodeToString(cp.Hash[:]),
		Text:         string(signed),
		Cosignatures: cosigs,
	}, nil
}

// lookupResult is what pysumdb.lookup resolves to.
type lookupResult struct {
	Project  string       `json:"project"`
	TreeSize int64        `json:"tree_size"`
	Files    []loggedFile `json:"files"`
}

// loggedFile is one file of a project's index.
type loggedFile struct {
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	// UploadTime is RFC 3339, "" when the log doesn't know it.
	UploadTime string `json:"upload_time"`
	Leaf       int64  `json:"leaf"`
	// Publisher is the verified PEP 740 publisher the entry records,
	// "<kind> <certificate SAN>", or "".
	Publisher string `json:"publisher"`
	// Verified says the entry is proven included in the checkpoint;
	// Note says why not otherwise.
	Verified bool   `json:"verified"`
	Note     string `json:"note"`
}

// lookup implements pysumdb.lookup(project).
func lookup(s *session, name string) (any, error) {
	project, err := tiles.NormalizeProject(strings.TrimSpace(name))
	if err != nil {
		return nil, fmt.Errorf("not a project name: %q", name)
	}
	ctx := context.Background()
	cp, err := s.log.VerifiedCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	files, err := s.log.Lookup(ctx, cp.Tree, project, "")
	if err != nil {
		return nil, err
	}
	res := lookupResult{Project: project, TreeSize: cp.N, Files: []loggedFile{}}
	for _, f := range files {
		lf := loggedFile{
			Filename:   f.Filename,
			SHA256:     strings.TrimPrefix(tiles.FormatSHA256(f.SHA256), "sha256:"),
			Size:       f.Size,
			UploadTime: f.UploadTime,
			Leaf:       f.Leaf,
			Publisher:  publisherText(f.Publisher),
			Verified:   f.Proven,
		}
		if lf.UploadTime == tiles.NoUploadTime {
			lf.UploadTime = ""
		}
		if !f.Proven {
			// Lookup fails on any other line it couldn't prove.
			lf.Note = fmt.Sprintf("not yet provable: leaf %d is beyond the verified checkpoint (size %d)", f.Leaf, cp.N)
		}
		res.Files = append(res.Files, lf)
	}
	return res, nil
}

// publisherText is a publisher as the pysumdb command prints it.
func publisherText(p *tiles.Publisher) string {
	if p == nil {
		return ""
	}
	return p.Kind + " " + p.SAN
}

// verifyResult is what pysumdb.verifyLockfile resolves to.
type verifyResult struct {
	Format    string     `json:"format"`
	Artifacts []artifact `json:"artifacts"`
	// Counts has the number of artifacts of each status.
	Counts         map[verify.Status]int `json:"counts"`
	CheckpointSize int64                 `json:"checkpoint_size"`
}

// artifact is the verdict on one artifact of a lockfile.
type artifact struct {
	Project  string `json:"project"`
	Version  string `json:"version"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	Line     int    `json:"line"`
	// Status is one of verify's statuses; Detail says why, as the
	// pysumdb command does.
	Status verify.Status `json:"status"`
	Detail string        `json:"detail"`
	// Warning is a doubt about the artifact that did not stop its check
	// (lockfile.Artifact.Warning).
	Warning string `json:"warning"`
	// Publisher is the verified PEP 740 publisher the log records, as
	// lookup gives it; PublisherProblem says why the lockfile's
	// attestation identities don't accept it (verify.Report.CheckPublishers).
	Publisher        string `json:"publisher"`
	PublisherProblem string `json:"publisher_problem"`
}

// verifyLockfile implements pysumdb.verifyLockfile(name, text): the
// lockfile read as `pysumdb verify` reads it (its format from the name,
// else the content), and verified against the log alone.
func verifyLockfile(s *session, name, text string) (any, error) {
	if name == "" {
		name = "lockfile"
	}
	data := []byte(text)
	// As lockfile.Parse detects it, for the result: left "" when neither
	// the name nor the content tells, for Parse to say so.
	format, err := lockfile.DetectFormat(name)
	if err != nil {
		format, _ = lockfile.DetectContentFormat(data)
	}
	artifacts, err := lockfile.Parse(name, data, format)
	if err != nil {
		return nil, err
	}
	v := verify.Verifier{Logs: []*client.Log{s.log}, Quorum: 1}
	rep, err := v.Verify(context.Background(), artifacts)
	if err != nil {
		return nil, fmt.Errorf("couldn't verify %s: %w", name, err)
	}
	rep.CheckPublishers(false)
	logStatus := rep.Logs[0]
	if logStatus.Err != nil {
		return nil, logStatus.Err
	}
	if errs := rep.SecurityErrors(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	res := verifyResult{
		Format:         string(format),
		Artifacts:      make([]artifact, len(rep.Results)),
		Counts:         map[verify.Status]int{},
		CheckpointSize: logStatus.Checkpoint.N,
	}
	for _, st := range []verify.Status{verify.StatusVerified, verify.StatusMismatch, verify.StatusNotInLog, verify.StatusSkipped, verify.StatusError} {
		res.Counts[st] = rep.Count(st)
	}
	for i, r := range rep.Results {
		a := r.Artifact
		res.Artifacts[i] = artifact{
			Project: a.Project, Version: a.Version, Filename: a.Filename, SHA256: a.SHA256, Line: a.Line,
			Status: r.Status, Detail: detail(r), Warning: a.Warning,
			Publisher: publisherText(r.Publisher()), PublisherProblem: r.PublisherProblem,
		}
	}
	return res, nil
}

// detail explains a result of the one log as the pysumdb command's
// report does: why it was skipped, or what the log says and why it
// couldn't answer.
func detail(r verify.Result) string {
	if r.Status == verify.StatusSkipped {
		return r.Artifact.Skip
	}
	lr := r.Logs[0]
	if lr.Err != nil {
		return lr.Detail + ": " + lr.Err.Error()
	}
	return lr.Detail
}

// fetcher reads a log through the Fetch API of the browser (or of
// Node.js), not client.HTTPFetcher: net/http's client would bring its own
// HTTP/1, HTTP/2 and TLS stack into the wasm (5 MB of 13) only to hand
// every request to fetch() anyway. It keeps HTTPFetcher's policy: each
// object read through the bound of its kind (tiles.MaxObjectSize), what a
// server gzipped decompressed by the browser and bounded all the same;
// 404 is client.ErrNotFound; 408, 429, 5xx, failures to connect, stalls
// and cut bodies are tried again with backoff, honouring Retry-After,
// within client.DefaultObjectTimeout; FetchFresh asks the caches on the
// way for the current version.
type fetcher struct {
	base string
}

var _ client.FreshFetcher = fetcher{}

// maxRetryBackoff bounds the wait between two retries, as HTTPFetcher's.
const maxRetryBackoff = 8 * time.Second

var errStalled = errors.New("stalled")

func newFetcher(base string) fetcher {
	return fetcher{base: strings.TrimSuffix(base, "/") + "/"}
}

// Fetch implements client.Fetcher, through the browser's HTTP cache.
func (f fetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	return f.fetch(ctx, key, "default")
}

// FetchFresh implements client.FreshFetcher: the Fetch API's no-cache
// mode has the browser's cache and those on the way (with Cache-Control:
// max-age=0) check with the server, as HTTPFetcher's Cache-Control:
// no-cache does, without a header that a log on another origin would have
// to allow (CORS).
func (f fetcher) FetchFresh(ctx context.Context, key string) ([]byte, error) {
	return f.fetch(ctx, key, "no-cache")
}

// fetch reads key with the Fetch API's cache mode, retrying as
// HTTPFetcher does.
func (f fetcher) fetch(ctx context.Context, key, cacheMode string) ([]byte, error) {
	if err := tiles.CheckKey(key); err != nil {
		return nil, err
	}
	addr := f.base + key
	ctx, cancel := context.WithTimeout(ctx, client.DefaultObjectTimeout)
	defer cancel()
	tries := 0
	data, err := backoff.Retry(ctx, func() ([]byte, error) {
		tries++
		return attempt(ctx, key, addr, cacheMode)
	},
		backoff.WithBackOff(&backoff.ExponentialBackOff{
			InitialInterval:     client.DefaultRetryBackoff,
			RandomizationFactor: 0.5,
			Multiplier:          2,
			MaxInterval:         maxRetryBackoff,
		}),
		backoff.WithMaxTries(client.DefaultTries),
		backoff.WithMaxElapsedTime(client.DefaultObjectTimeout))
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, client.ErrNotFound):
		return nil, err
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("not complete after %v", client.DefaultObjectTimeout)
	}
	if tries > 1 {
		return nil, fmt.Errorf("couldn't fetch %s (%d tries): %w", addr, tries, err)
	}
	return nil, fmt.Errorf("couldn't fetch %s: %w", addr, err)
}

// attempt requests the object once. Its error is permanent (see
// backoff.Permanent) unless another attempt may succeed.
func attempt(ctx context.Context, key, addr, cacheMode string) ([]byte, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Restarted by every chunk received.
	stall := time.AfterFunc(client.DefaultStallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	// Aborting the request ends its pending promises, so that await
	// returns: the attempt's end (or the caller's) stops it.
	abort := js.Global().Get("AbortController").New()
	defer context.AfterFunc(actx, func() { abort.Call("abort") })()

	resp, err := await(js.Global().Call("fetch", addr, map[string]any{
		"cache":       cacheMode,
		"credentials": "omit", // a log is public: no cookies
		"signal":      abort.Get("signal"),
	}))
	if err != nil {
		return nil, failure(ctx, actx, err)
	}
	stall.Reset(client.DefaultStallTimeout)
	// The body is read through a reader, which also lets go of what is
	// left unread (of an error, or an object too large). It is null for
	// a status without one (204).
	var reader js.Value
	if body := resp.Get("body"); body.Type() == js.TypeObject {
		reader = body.Call("getReader")
		defer func() { ignoreRejection(reader.Call("cancel")) }()
	}
	switch code := resp.Get("status").Int(); {
	case code == http.StatusOK:
	case code == http.StatusNotFound:
		return nil, backoff.Permanent(fmt.Errorf("%s: %w", addr, client.ErrNotFound))
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		statusErr := fmt.Errorf("%d %s", code, http.StatusText(code))
		// Null unless the log is on the page's origin or exposes it
		// (CORS).
		if wait, ok := retryAfter(resp.Get("headers").Call("get", "Retry-After")); ok {
			return nil, fmt.Errorf("%w; %w", statusErr, &backoff.RetryAfterError{Duration: wait})
		}
		return nil, statusErr
	default:
		return nil, backoff.Permanent(fmt.Errorf("%d %s", code, http.StatusText(code)))
	}
	if reader.IsUndefined() {
		return nil, backoff.Permanent(errors.New("an answer without a body"))
	}
	limit := tiles.MaxObjectSize(key)
	// Content-Length is the size on the wire, compressed or not: only a
	// hint (bounded.Read ignores one beyond the limit).
	hint, _ := strconv.ParseInt(resp.Get("headers").Call("get", "Content-Length").String(), 10, 64)
	data, err := bounded.Read(&streamReader{reader: reader, stall: stall}, key, limit, hint)
	if err != nil {
		return nil, failure(ctx, actx, err)
	}
	return data, nil
}

// failure classifies the error of an attempt: permanent, or worth another
// try.
func failure(ctx, actx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		// The caller gave up, or the object's deadline passed.
		return backoff.Permanent(context.Cause(ctx))
	case errors.Is(context.Cause(actx), errStalled):
		return fmt.Errorf("nothing received for %v", client.DefaultStallTimeout)
	case errors.Is(err, client.ErrTooLarge):
		return backoff.Permanent(err)
	}
	// A failure to connect (the Fetch API doesn't tell which), a body cut
	// short.
	return err
}

// retryAfter parses a Retry-After header (a JavaScript string, or null),
// seconds or an HTTP date, capped at client.DefaultMaxRetryAfter.
func retryAfter(header js.Value) (time.Duration, bool) {
	if header.Type() != js.TypeString {
		return 0, false
	}
	limit := client.DefaultMaxRetryAfter
	if secs, err := strconv.ParseUint(header.String(), 10, 64); err == nil {
		return min(time.Duration(min(secs, uint64(limit/time.Second)))*time.Second, limit), true
	}
	if t, err := http.ParseTime(header.String()); err == nil {
		return min(max(time.Until(t), 0), limit), true
	}
	return 0, false
}

// streamReader reads a response's body, a ReadableStream, through its
// reader, restarting the stall timer on every chunk.
type streamReader struct {
	reader  js.Value
	stall   *time.Timer
	pending []byte
	done    bool
}

func (r *streamReader) Read(b []byte) (int, error) {
	if len(r.pending) == 0 {
		if r.done {
			return 0, io.EOF
		}
		chunk, err := await(r.reader.Call("read"))
		if err != nil {
			return 0, err
		}
		if chunk.Get("done").Bool() {
			r.done = true
			return 0, io.EOF
		}
		r.stall.Reset(client.DefaultStallTimeout)
		value := chunk.Get("value")
		r.pending = make([]byte, value.Get("byteLength").Int())
		js.CopyBytesToGo(r.pending, value)
	}
	n := copy(b, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// ignoreRejection marks a promise whose outcome doesn't matter as
// handled: Node.js ends the program on a rejection nothing handles, and
// browsers log it.
func ignoreRejection(promise js.Value) {
	promise.Call("catch", ignore)
}

// ignore is a JavaScript function that does nothing.
var ignore = js.FuncOf(func(js.Value, []js.Value) any { return nil })

// await waits for a JavaScript promise to settle, from a goroutine (never
// the event loop's, which must run for it to settle).
func await(promise js.Value) (js.Value, error) {
	type settled struct {
		value js.Value
		err   error
	}
	ch := make(chan settled, 1)
	onResolve := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{value: args[0]}
		return nil
	})
	defer onResolve.Release()
	onReject := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{err: jsErrorOf(args[0])}
		return nil
	})
	defer onReject.Release()
	promise.Call("then", onResolve, onReject)
	s := <-ch
	return s.value, s.err
}

// jsErrorOf is a JavaScript exception as a Go error: its text, and its
// cause's (Node.js's fetch tells there why it failed).
func jsErrorOf(v js.Value) error {
	if v.Type() != js.TypeObject {
		return fmt.Errorf("%v", v)
	}
	msg := v.Call("toString").String()
	if cause := v.Get("cause"); cause.Type() == js.TypeObject {
		msg += ": " + cause.Call("toString").String()
	}
	return errors.New(msg)
}
