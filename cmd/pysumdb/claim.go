package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/claim"
	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/tiles"
)

// The claim command is in both builds: it needs package claim only (the
// standard library, x/mod and tiles), not the intake's.

// Limits of the claim command's exchanges.
const (
	// claimAttempts is how many times a claim is sent to an intake that
	// fails (a 5xx or no answer); a 4xx is final.
	claimAttempts = 3
	// claimAttemptTimeout bounds one request to an intake.
	claimAttemptTimeout = 30 * time.Second
	// maxIntakeAnswer bounds what is read of an intake's answer.
	maxIntakeAnswer = 64 << 10
	// maxTokenAnswer bounds GitHub's answer with a token.
	maxTokenAnswer = 64 << 10
	// maxClaimKeySize bounds a claim key file (a line of some 100 bytes).
	maxClaimKeySize = 64 << 10
	// defaultClaimKeyName names keys made by claim keygen.
	defaultClaimKeyName = "pysumdb-claim"
	// claimKeyHeader is intake.KeyHeader (that package is the server's).
	claimKeyHeader = "Pysumdb-Claim-Key"
	// defaultClaimAudience is intake.DefaultAudience.
	defaultClaimAudience = "pysumdb"
)

const claimIdentityHelp = `A project's claim identity is who may claim its files: an Ed25519 key
(made by 'pysumdb claim keygen'; keep the private key as a CI secret) or a
CI workflow proven by an OIDC token, the identities PEP 740 uses:

  --key KEYFILE  sign the claim with the key
  --oidc         send an OIDC token of the running job: on GitHub Actions
                 (permissions: id-token: write) it is requested for the
                 audience "pysumdb"; elsewhere (GitLab CI: id_tokens with
                 aud: pysumdb) it is read from $PYSUMDB_ID_TOKEN. The
                 identity is the workflow without its ref, e.g.
                 github https://github.com/OWNER/REPO/.github/workflows/release.yml

The first claim an intake accepts for a project registers its identity
(trust on first use); later claims must come from it, and only a change
made by it ('pysumdb claim identity') replaces it. Registrations, changes
and claims are published under claims/ beside the log.`

// claimFlags are the flags of claim and claim identity.
type claimFlags struct {
	keyFile  string
	oidc     bool
	intakes  []string
	audience string
}

func (f *claimFlags) register(c *cobra.Command, keyHelp string) {
	c.Flags().StringVar(&f.keyFile, "key", "", keyHelp)
	c.Flags().BoolVar(&f.oidc, "oidc", false, "prove the identity with an OIDC token of the CI job (GitHub Actions, or $PYSUMDB_ID_TOKEN)")
	c.Flags().StringArrayVar(&f.intakes, "intake", nil, "an intake's URL (repeated; default: $PYSUMDB_INTAKES, comma-separated)")
	c.Flags().StringVar(&f.audience, "audience", defaultClaimAudience, "the audience of the OIDC token the intakes require")
}

// check reads the flags shared by claim and claim identity: one of --key
// and --oidc, and the intakes.
func (f *claimFlags) check(c *cobra.Command) ([]string, error) {
	if f.oidc == (f.keyFile != "") {
		return nil, usagef("%s needs one of --key KEYFILE and --oidc (see '%s --help')", c.Name(), c.CommandPath())
	}
	intakes := f.intakes
	if len(intakes) == 0 {
		for _, u := range strings.Split(os.Getenv("PYSUMDB_INTAKES"), ",") {
			if u = strings.TrimSpace(u); u != "" {
				intakes = append(intakes, u)
			}
		}
	}
	if len(intakes) == 0 {
		return nil, usagef("%s needs --intake URL (or $PYSUMDB_INTAKES): the intakes of the logs to send the claim to", c.Name())
	}
	var out []string
	for _, u := range intakes {
		base, err := intakeURL(u)
		if err != nil {
			return nil, usageError{err}
		}
		if !slices.Contains(out, base) {
			out = append(out, base)
		}
	}
	return out, nil
}

// intakeURL checks an intake's URL: https, or http on a loopback address
// (a token must not travel in the clear). It returns it without a final
// slash.
func intakeURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("intake %q is not a URL such as https://intake.example.org", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			return "", fmt.Errorf("intake %s: http:// only on a loopback address; use https://", s)
		}
	default:
		return "", fmt.Errorf("intake %s: not an https:// URL", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func newClaimCommand(g *globals) *cobra.Command {
	var f claimFlags
	var project string
	c := &cobra.Command{
		Use:   "claim [--key KEYFILE | --oidc] --intake URL [--intake URL...] FILE...",
		Short: "Claim the sha256 of a release's files at the logs' intakes",
		Long: `claim hashes FILE..., the files of one release of a project (wheels and
sdists, as uploaded to PyPI: run it beside or before 'twine upload'), and
sends each intake the signed claim: project, filenames, sha256, sizes and
time. A log compares what PyPI serves with the claims when it logs a file:
a file whose bytes differ from its maintainer's claim is an alarm.

The project is the one every filename belongs to (--project if the
filenames are ambiguous). A filename is claimed once: a claim of other
bytes for it is refused.

` + claimIdentityHelp + `

Each intake answers on a line: accepted, or refused with the reason. An
intake that fails (5xx) or does not answer is tried again twice.

claim exits 1 if any intake did not accept the claim.

` + exitStatusHelp,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("claim needs the files to claim (see '%s --help')", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			intakes, err := f.check(c)
			if err != nil {
				return err
			}
			cl, err := claimFiles(args, project)
			if err != nil {
				return err
			}
			body, header, err := f.authenticate(c.Context(), g.stderr, func(signers []note.Signer) ([]byte, error) {
				if signers == nil {
					return claim.Format(cl)
				}
				return claim.Sign(cl, signers...)
			})
			if err != nil {
				return err
			}
			g.logger().Debug("claiming", "project", cl.Project, "files", len(cl.Files), "intakes", len(intakes))
			return postAll(c.Context(), g, intakes, "/v1/claim", body, header)
		},
	}
	f.register(c, "sign the claim with this key file (made by 'pysumdb claim keygen')")
	c.Flags().StringVar(&project, "project", "", "the files' project, if their names are ambiguous")
	c.AddCommand(newClaimKeygenCommand(g), newClaimIdentityCommand(g))
	return c
}

// claimFiles hashes the files and returns their claim, made now.
func claimFiles(paths []string, project string) (claim.Claim, error) {
	c := claim.Claim{Time: time.Now().UTC().Truncate(time.Second)}
	var names []string
	for _, p := range paths {
		file, err := hashFile(p)
		if err != nil {
			return c, err
		}
		if slices.Contains(names, file.Filename) {
			return c, usagef("%s is given twice", file.Filename)
		}
		names = append(names, file.Filename)
		c.Files = append(c.Files, file)
	}
	if len(c.Files) > claim.MaxFiles {
		return c, usagef("%d files: a claim names at most %d; claim them in several runs", len(c.Files), claim.MaxFiles)
	}
	slices.SortFunc(c.Files, func(a, b claim.File) int { return strings.Compare(a.Filename, b.Filename) })
	var err error
	if project != "" {
		c.Project, err = tiles.NormalizeProject(project)
		if err != nil {
			return c, usagef("--project: %v", err)
		}
		for _, f := range c.Files {
			if err := claim.CheckFile(c.Project, f.Filename); err != nil {
				return c, usageError{err}
			}
		}
	} else if c.Project, err = claim.ProjectOf(names); err != nil {
		return c, usagef("%v (name it with --project)", err)
	}
	if _, err := claim.Format(c); err != nil {
		return c, usageError{err}
	}
	return c, nil
}

// hashFile returns the sha256 and size of a regular file, read as a
// stream.
func hashFile(path string) (claim.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return claim.File{}, usagef("couldn't read %v", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return claim.File{}, usagef("couldn't read %v", err)
	}
	if !info.Mode().IsRegular() {
		return claim.File{}, usagef("%s is not a regular file", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return claim.File{}, usagef("couldn't read %s: %v", path, err)
	}
	if n == 0 {
		return claim.File{}, usagef("%s is empty", path)
	}
	file := claim.File{Filename: filepath.Base(path), Size: n}
	copy(file.SHA256[:], h.Sum(nil))
	return file, nil
}

// authenticate builds the request's body with format (given the signers
// of --key, or nil for --oidc) and the header that proves it: the key's
// verifier key, or the OIDC token.
func (f *claimFlags) authenticate(ctx context.Context, stderr io.Writer, format func([]note.Signer) ([]byte, error)) ([]byte, http.Header, error) {
	header := http.Header{}
	if f.keyFile != "" {
		signer, vkey, err := readClaimKey(f.keyFile, stderr)
		if err != nil {
			return nil, nil, err
		}
		body, err := format([]note.Signer{signer})
		if err != nil {
			return nil, nil, usageError{err}
		}
		header.Set(claimKeyHeader, vkey)
		return body, header, nil
	}
	token, err := oidcToken(ctx, f.audience)
	if err != nil {
		return nil, nil, err
	}
	body, err := format(nil)
	if err != nil {
		return nil, nil, usageError{err}
	}
	header.Set("Authorization", "Bearer "+token)
	return body, header, nil
}

// readClaimKey reads a private note key file and returns its signer and
// verifier key.
func readClaimKey(path string, stderr io.Writer) (note.Signer, string, error) {
	data, info, err := bounded.ReadFile(path, maxClaimKeySize)
	switch {
	case errors.Is(err, bounded.ErrNotRegular):
		return nil, "", usagef("key file %s is not a regular file", path)
	case err != nil:
		return nil, "", usagef("couldn't read key file: %v", err)
	}
	skey := strings.TrimSpace(string(data))
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", usagef("%s is not a private note key (made by 'pysumdb claim keygen'): %v", path, err)
	}
	vkey, err := tiles.VerifierKey(skey)
	if err != nil {
		return nil, "", usagef("%s: %v", path, err)
	}
	if _, err := claim.KeyIdentity(vkey); err != nil {
		return nil, "", usagef("%s: %v", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "pysumdb: WARNING: private key file %s has mode %04o: others on this machine may read it (chmod 600 it)\n",
			path, info.Mode().Perm())
	}
	return signer, vkey, nil
}

// oidcToken returns an OIDC token of the CI job for audience: from GitHub
// Actions' token service if the job may ask for one, else from
// $PYSUMDB_ID_TOKEN.
func oidcToken(ctx context.Context, audience string) (string, error) {
	reqURL, reqToken := os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL != "" && reqToken != "" {
		return githubToken(ctx, reqURL, reqToken, audience)
	}
	if token := strings.TrimSpace(os.Getenv("PYSUMDB_ID_TOKEN")); token != "" {
		return token, nil
	}
	return "", usagef("--oidc needs an OIDC token: on GitHub Actions give the job 'permissions: id-token: write'; on GitLab CI add 'id_tokens: PYSUMDB_ID_TOKEN: aud: %s' to the job", audience)
}

// githubToken asks GitHub Actions' token service for a token.
func githubToken(ctx context.Context, reqURL, reqToken, audience string) (string, error) {
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", usagef("ACTIONS_ID_TOKEN_REQUEST_URL: %v", err)
	}
	q := u.Query()
	q.Set("audience", audience)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, claimAttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "bearer "+reqToken)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("couldn't get an OIDC token from GitHub Actions: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer))
	if err != nil {
		return "", fmt.Errorf("couldn't get an OIDC token from GitHub Actions: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("couldn't get an OIDC token from GitHub Actions: %s", resp.Status)
	}
	var answer struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(data, &answer); err != nil || answer.Value == "" {
		return "", fmt.Errorf("GitHub Actions' token service answered without a token")
	}
	return answer.Value, nil
}

// claimRetryDelay is the wait before the second attempt to send to an
// intake, doubled for each next one (a variable for tests).
var claimRetryDelay = time.Second

// intakeResult is one intake's answer.
type intakeResult struct {
	ok   bool
	line string
}

// postAll sends body to path at every intake at once and prints each
// answer, in the order of intakes. It fails if any did not accept.
func postAll(ctx context.Context, g *globals, intakes []string, path string, body []byte, header http.Header) error {
	client := &http.Client{
		Timeout: claimAttemptTimeout,
		// A POST redirected is a GET: never what the intake meant.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	results := make([]intakeResult, len(intakes))
	var wg sync.WaitGroup
	for i, base := range intakes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = postIntake(ctx, g, client, base+path, body, header)
		}()
	}
	wg.Wait()
	failed := 0
	for i, r := range results {
		fmt.Fprintf(g.stdout, "%s: %s\n", intakes[i], r.line)
		if !r.ok {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d intakes did not accept it", failed, len(intakes))
	}
	return nil
}

// postIntake sends body to one intake, again on a 5xx or no answer.
func postIntake(ctx context.Context, g *globals, client *http.Client, u string, body []byte, header http.Header) intakeResult {
	delay := claimRetryDelay
	var last intakeResult
	for attempt := 1; ; attempt++ {
		status, msg, err := postOnce(ctx, client, u, body, header)
		switch {
		case err != nil:
			last = intakeResult{line: "unreachable: " + err.Error()}
		case status == http.StatusOK:
			return intakeResult{ok: true, line: msg}
		case status < 500:
			return intakeResult{line: fmt.Sprintf("refused (HTTP %d): %s", status, msg)}
		default:
			last = intakeResult{line: fmt.Sprintf("failed (HTTP %d): %s", status, msg)}
		}
		if attempt == claimAttempts || ctx.Err() != nil {
			return last
		}
		g.logger().Warn("intake failed, retrying", "url", u, "attempt", attempt, "result", last.line, "in", delay)
		select {
		case <-ctx.Done():
			return last
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func postOnce(ctx context.Context, client *http.Client, u string, body []byte, header http.Header) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxIntakeAnswer))
	if err != nil {
		return 0, "", err
	}
	msg := strings.TrimSpace(strings.ToValidUTF8(string(data), "?"))
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if msg == "" {
		msg = resp.Status
	}
	return resp.StatusCode, msg, nil
}

func newClaimKeygenCommand(g *globals) *cobra.Command {
	var name, out string
	c := &cobra.Command{
		Use:   "keygen [--name NAME] --out KEYFILE",
		Short: "Create a maintainer's claim key and print its verifier key",
		Long: `keygen creates an Ed25519 note key to sign claims with ('pysumdb claim
--key KEYFILE'). The private key is written to KEYFILE with mode 0600 (an
existing file is never overwritten): keep it secret, e.g. as a CI secret.
The verifier key is printed; the first claim registers it as the project's
claim identity at each intake.`,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "out"); err != nil {
				return err
			}
			skey, vkey, err := note.GenerateKey(rand.Reader, name)
			if err != nil {
				return usagef("--name %q: %v", name, err)
			}
			if _, err := claim.KeyIdentity(vkey); err != nil {
				return usagef("--name %q: %v", name, err)
			}
			if err := writeKeyFile(out, skey); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, vkey)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", defaultClaimKeyName, "the key's name (printable ASCII, no spaces or +)")
	c.Flags().StringVar(&out, "out", "", "file to write the private key to (mode 0600)")
	return c
}

func newClaimIdentityCommand(g *globals) *cobra.Command {
	var f claimFlags
	var project, newKeyFile, newIdentity, oldIdentity string
	c := &cobra.Command{
		Use:   "identity --project PROJECT (--key KEYFILE | --oidc --old-identity ID) (--new-key KEYFILE | --new-identity ID) --intake URL...",
		Short: "Change a project's claim identity at the intakes",
		Long: `identity replaces PROJECT's claim identity at each intake. The change is
made by the current identity: signed with its key (--key), or sent with an
OIDC token of its workflow (--oidc, naming it with --old-identity, e.g.
"github https://github.com/OWNER/REPO/.github/workflows/release.yml"). The
new identity is a key (--new-key KEYFILE: it signs the change too, proving
it is held) or a workflow (--new-identity "github https://..." or "gitlab
https://..."). Every change is published beside the log.

` + claimIdentityHelp + `

` + exitStatusHelp,
		Args: argsBetween(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireFlags(c, "project"); err != nil {
				return err
			}
			intakes, err := f.check(c)
			if err != nil {
				return err
			}
			// Dated at the next whole second: later than every claim
			// made before it (dated at the second they were made), as
			// a change must be.
			ch := claim.Change{Time: time.Now().UTC().Truncate(time.Second).Add(time.Second)}
			if ch.Project, err = tiles.NormalizeProject(project); err != nil {
				return usagef("--project: %v", err)
			}
			var newSigner note.Signer
			switch {
			case (newKeyFile != "") == (newIdentity != ""):
				return usagef("identity needs one of --new-key KEYFILE and --new-identity ID")
			case newKeyFile != "":
				var vkey string
				if newSigner, vkey, err = readClaimKey(newKeyFile, g.stderr); err != nil {
					return err
				}
				ch.New = claim.Identity{Kind: claim.KindKey, Value: vkey}
			default:
				if ch.New, err = tiles.ParseClaimant(newIdentity); err != nil {
					return usagef("--new-identity: %v", err)
				}
			}
			switch {
			case f.keyFile != "" && oldIdentity != "":
				return usagef("--old-identity goes with --oidc; with --key the old identity is the key")
			case f.keyFile != "":
				_, vkey, err := readClaimKey(f.keyFile, g.stderr)
				if err != nil {
					return err
				}
				ch.Old = claim.Identity{Kind: claim.KindKey, Value: vkey}
			case oldIdentity == "":
				return usagef("--oidc needs --old-identity: the workflow that is the project's identity now")
			default:
				if ch.Old, err = tiles.ParseClaimant(oldIdentity); err != nil || !ch.Old.IsOIDC() {
					return usagef("--old-identity %q: want \"github https://github.com/OWNER/REPO/.github/workflows/FILE\" or \"gitlab https://...\"", oldIdentity)
				}
			}
			text, err := claim.FormatChange(ch)
			if err != nil {
				return usageError{err}
			}
			body, header, err := f.authenticate(c.Context(), g.stderr, func(signers []note.Signer) ([]byte, error) {
				if newSigner != nil {
					signers = append(signers, newSigner)
				}
				if len(signers) == 0 {
					return text, nil
				}
				return note.Sign(&note.Note{Text: string(text)}, signers...)
			})
			if err != nil {
				return err
			}
			return postAll(c.Context(), g, intakes, "/v1/identity", body, header)
		},
	}
	f.register(c, "the current identity's key file")
	c.Flags().StringVar(&project, "project", "", "the project whose claim identity changes")
	c.Flags().StringVar(&oldIdentity, "old-identity", "", "with --oidc: the current identity, \"github https://github.com/...\"")
	c.Flags().StringVar(&newKeyFile, "new-key", "", "the new identity's key file (made by 'pysumdb claim keygen')")
	c.Flags().StringVar(&newIdentity, "new-identity", "", "the new identity, a workflow: \"github https://github.com/OWNER/REPO/.github/workflows/FILE\"")
	return c
}
