package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
	"github.com/pysumdb/pysumdb/verify"
)

// The reports of verify, as text and as JSON. The words are the same in
// both: a status is named in the text as in the JSON ("verified", "NOT IN
// LOG" for "not-in-log"), and the JSON's fields are described in the
// README, "JSON output".

// jsonSchemaVersion is the version of the JSON reports of verify, lookup,
// audit and check-pypi: it changes when a field changes meaning or goes
// away (new fields may be added within a version).
const jsonSchemaVersion = 1

// statusLabels are how the text report names each status: the JSON's
// words, a failure or warning in capitals.
var statusLabels = map[verify.Status]string{
	verify.StatusVerified: "verified",
	verify.StatusMismatch: "MISMATCH",
	verify.StatusNotInLog: "NOT IN LOG",
	verify.StatusSkipped:  "SKIPPED",
	verify.StatusError:    "ERROR",
}

// disagreementLabel is the label of a result on which logs disagree.
func disagreementLabel(status verify.Status, label string) string {
	if status == verify.StatusVerified {
		return "DISAGREEMENT (verified)"
	}
	return label + " (logs disagree)"
}

// artifactName names an artifact: its filename, or project and version.
func artifactName(a lockfile.Artifact) string {
	switch {
	case a.Filename != "":
		return fmt.Sprintf("%s (%s %s)", a.Filename, a.Project, a.Version)
	case a.Project == "":
		return "requirement"
	case a.Version == "":
		return a.Project
	}
	return a.Project + " " + a.Version
}

func location(a lockfile.Artifact) string {
	if a.Line > 0 {
		return fmt.Sprintf("%s:%d", a.File, a.Line)
	}
	return a.File
}

// writeLogLines writes what each log says of a result.
func writeLogLines(w io.Writer, rep *verify.Report, res verify.Result) {
	for i, lr := range res.Logs {
		text := lr.Detail
		if lr.Err != nil && rep.Logs[i].Err == nil {
			text += ": " + lr.Err.Error()
		} else if lr.Err != nil {
			text = "unusable: " + lr.Err.Error()
		}
		fmt.Fprintf(w, "    %s: %s\n", rep.Logs[i].Origin, text)
	}
}

// onlyUnusableLogs reports whether the logs that couldn't answer for an
// artifact are logs that couldn't be used at all (said once, not per
// artifact).
func onlyUnusableLogs(rep *verify.Report, res verify.Result) bool {
	for i, lr := range res.Logs {
		if lr.Status == verify.StatusError && rep.Logs[i].Err == nil {
			return false
		}
	}
	return true
}

// isFailure reports whether a result fails the run (see
// verify.Report.Failures), to be shown even with -q.
func (r *verifyRun) isFailure(res verify.Result) bool {
	switch {
	case res.Status == verify.StatusMismatch, res.Status == verify.StatusError, res.PublisherProblem != "", res.ClaimProblem != "":
		return true
	case r.strict:
		return res.Status == verify.StatusNotInLog || res.Disagreement
	}
	return false
}

// writeText writes the report as text: the lockfiles found, each artifact
// skipped or failed (and verified, with -v), the projects not in the log,
// notes, the logs, and a summary per lockfile. With -q, only the failures
// and the summary.
func (r *verifyRun) writeText(w io.Writer) {
	rep := r.rep
	if r.found && !r.quiet {
		names := make([]string, len(r.lockfiles))
		for i, lf := range r.lockfiles {
			names[i] = lf.path
		}
		fmt.Fprintf(w, "found %d %s in the current directory: %s", len(names), plural(len(names), "lockfile", "lockfiles"), strings.Join(names, ", "))
		for _, inc := range r.included {
			fmt.Fprintf(w, "; %s is included by %s", inc[0], inc[1])
		}
		fmt.Fprintln(w)
	}
	if !r.quiet {
		for _, lf := range r.lockfiles {
			if lf.from == lockfile.FromContent {
				fmt.Fprintf(w, "note: %s is read as a %s (from its content)\n", lf.path, formatName(lf.format))
			}
		}
	}
	warnings := map[string]int{}
	var warningOrder []string
	unusable := 0
	for _, res := range rep.Results {
		a := res.Artifact
		if a.Warning != "" {
			if warnings[a.Warning] == 0 {
				warningOrder = append(warningOrder, a.Warning)
			}
			warnings[a.Warning]++
		}
		label := statusLabels[res.Status]
		switch {
		case res.Status == verify.StatusError && onlyUnusableLogs(rep, res):
			unusable++
			continue
		case res.Status == verify.StatusNotInLog:
			continue // summarized by project below
		case r.quiet && !r.isFailure(res):
			continue
		case res.Status == verify.StatusSkipped:
			fmt.Fprintf(w, "%s %s at %s: %s\n", label, artifactName(a), location(a), a.Skip)
			continue
		case res.Disagreement:
			label = disagreementLabel(res.Status, label)
		case res.Status == verify.StatusVerified && !r.verbose && res.PublisherProblem == "" && res.ClaimProblem == "":
			continue
		}
		if res.PublisherProblem != "" {
			fmt.Fprintf(w, "PUBLISHER MISMATCH %s at %s: %s\n", artifactName(a), location(a), res.PublisherProblem)
		}
		if res.ClaimProblem != "" {
			fmt.Fprintf(w, "%s %s at %s: %s\n", "UNCLAIMED", artifactName(a), location(a), res.ClaimProblem)
		}
		writeArtifactLine(w, label, rep, res)
		if res.IsTampered() {
			fmt.Fprintln(w, "  SECURITY ERROR: a file is published once under its name, and the logs recorded other bytes for this one: the index served other bytes when the lockfile was made, or the lockfile was edited since.")
		}
		if next := nextStep(res, rep.ClaimsRequired()); next != "" {
			fmt.Fprintf(w, "  next: %s\n", next)
		}
	}
	missing := rep.NotInLog()
	if !r.quiet || r.strict {
		r.writeNotInLog(w, missing)
	}
	if unusable > 0 {
		fmt.Fprintf(w, "ERROR %d artifacts: too few usable logs to reach the quorum\n", unusable)
	}
	if !r.quiet {
		for _, warning := range warningOrder {
			fmt.Fprintf(w, "note: %d artifacts: %s\n", warnings[warning], warning)
		}
		if len(missing) > 0 {
			writeNotInLogNote(w, rep, missing, r.strict, r.now)
		}
		writeLaterFiles(w, rep.LaterFiles())
		for i, ls := range rep.Logs {
			st := r.logs.stats(i)
			state := fmt.Sprintf("checkpoint size %d", ls.Checkpoint.N)
			if ls.Err != nil {
				state = "UNUSABLE: " + ls.Err.Error()
			}
			fmt.Fprintf(w, "log %s (%s): %s; %d requests, %d bytes, %d tiles from cache\n",
				ls.Origin, r.logs.locations[i], state, st.Requests, st.Bytes, st.TilesFromCache)
		}
	}
	run := fmt.Sprintf("quorum %d of %d logs; %s", rep.Quorum, len(rep.Logs), r.elapsed.Round(time.Millisecond))
	if len(r.lockfiles) == 1 {
		fmt.Fprintf(w, "%s: %s (%d artifacts; %s)\n", r.lockfiles[0].path, countsText(rep.Results), len(rep.Results), run)
		return
	}
	for _, lf := range r.lockfiles {
		fmt.Fprintf(w, "%s: %s (%d artifacts)\n", lf.path, countsText(rep.Results[lf.start:lf.end]), lf.end-lf.start)
	}
	fmt.Fprintf(w, "total: %s (%d artifacts in %d lockfiles; %s)\n", countsText(rep.Results), len(rep.Results), len(r.lockfiles), run)
}

// writeArtifactLine writes one artifact's line, with what each log says.
func writeArtifactLine(w io.Writer, label string, rep *verify.Report, res verify.Result) {
	a := res.Artifact
	fmt.Fprintf(w, "%s %s at %s: lockfile sha256:%s", label, artifactName(a), location(a), a.SHA256)
	if p := res.Publisher(); p != nil {
		fmt.Fprintf(w, " publisher %s %s", p.Kind, p.SAN)
	}
	if c := res.Claimant(); c != nil {
		fmt.Fprintf(w, " claimed by %s %s", c.Kind, c.Value)
	}
	fmt.Fprintln(w)
	writeLogLines(w, rep, res)
}

// nextStep is the one thing to do about a failed result, "" for none:
// each kind of failure has its own. claims is what the claims were
// checked against (verify.Report.ClaimsRequired).
func nextStep(res verify.Result, claims verify.ClaimRequirement) string {
	a := res.Artifact
	release := a.Project
	if a.Version != "" {
		release += "==" + a.Version
	}
	switch {
	case res.Status == verify.StatusVerified && res.ClaimProblem != "" && claims == verify.RequireClaimOrPublisher:
		return fmt.Sprintf("ask the maintainers of %s to claim their uploads (pysumdb claim) or to publish them with attestations (a PyPI Trusted Publisher), or drop %s.", a.Project, claims.Flag())
	case res.Status == verify.StatusVerified && res.ClaimProblem != "":
		return fmt.Sprintf("ask the maintainers of %s to claim their uploads (pysumdb claim), or drop %s.", a.Project, claims.Flag())
	case res.Status != verify.StatusMismatch:
		return ""
	case res.IsTampered():
		lockfile := a.File
		return fmt.Sprintf("don't install it; look at the lockfile's history (e.g. git log -p %s), then report it to the project and to PyPI (https://pypi.org/security/), with this output.", lockfile)
	case res.Disagreement:
		return fmt.Sprintf("the logs disagree about this file: report it to their operators with this output, and see what PyPI serves now with `pysumdb check-pypi %s`.", release)
	}
	return fmt.Sprintf("if %s comes from another index than PyPI, list it in PYSUMDB_EXCLUDE; otherwise lock it again from PyPI and compare with `pysumdb check-pypi %s`.", a.Project, release)
}

// maxLaterListed bounds the files a note on later files names.
const maxLaterListed = 3

// writeLaterFiles writes a note per release the lockfiles pin of which
// the log holds files uploaded after the pinned ones: harmless, said so
// that a new wheel on PyPI isn't mistaken for a change of the lock's.
func writeLaterFiles(w io.Writer, later []verify.LaterFiles) {
	for _, l := range later {
		var names []string
		for _, line := range l.Files[:min(len(l.Files), maxLaterListed)] {
			names = append(names, fmt.Sprintf("%s at leaf %d", line.Filename, line.Leaf))
		}
		if more := len(l.Files) - maxLaterListed; more > 0 {
			names = append(names, fmt.Sprintf("and %d more", more))
		}
		n := len(l.Files)
		fmt.Fprintf(w, "note: %s %s has %d %s uploaded after those the lockfile pins (%s): %s added to PyPI after the lock, harmless, the pinned files are unchanged; lock again to use %s.\n",
			l.Project, l.Version, n, plural(n, "file", "files"), strings.Join(names, ", "), plural(n, "a new file", "new files"), plural(n, "it", "them"))
	}
}

// countsText counts results by status, in the summary's words.
func countsText(results []verify.Result) string {
	count := func(s verify.Status) int {
		n := 0
		for _, res := range results {
			if res.Status == s {
				n++
			}
		}
		return n
	}
	return fmt.Sprintf("%d verified, %d mismatch, %d not in log, %d skipped, %d errors",
		count(verify.StatusVerified), count(verify.StatusMismatch), count(verify.StatusNotInLog), count(verify.StatusSkipped), count(verify.StatusError))
}

// formatName names a lockfile format as its file is named.
func formatName(f lockfile.Format) string {
	switch f {
	case lockfile.Pylock:
		return "pylock.toml"
	case lockfile.UV:
		return "uv.lock"
	case lockfile.Poetry:
		return "poetry.lock"
	case lockfile.Pipfile:
		return "Pipfile.lock"
	case lockfile.Requirements:
		return "requirements file"
	}
	return string(f)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// maxLocations bounds the places a summary line lists.
const maxLocations = 5

// missingLocations lists where a project's artifacts not in the log are
// pinned: file:line,line,... per file, at most maxLocations places.
func missingLocations(rep *verify.Report, m verify.MissingProject) []string {
	var files []string
	lines := map[string][]string{}
	for k, j := range m.Results {
		if k == maxLocations {
			break
		}
		a := rep.Results[j].Artifact
		if _, ok := lines[a.File]; !ok {
			files = append(files, a.File)
		}
		if a.Line > 0 {
			lines[a.File] = append(lines[a.File], strconv.Itoa(a.Line))
		} else {
			lines[a.File] = append(lines[a.File], "")
		}
	}
	var out []string
	for _, f := range files {
		place := f
		if ls := strings.Join(lines[f], ","); strings.Trim(ls, ",") != "" {
			place += ":" + ls
		}
		out = append(out, place)
	}
	if more := len(m.Results) - maxLocations; more > 0 {
		out[len(out)-1] += fmt.Sprintf(" and %d more", more)
	}
	return out
}

// missingWhat says how many artifacts of a project are not in the log:
// files, hashes for lockfiles without filenames, artifacts for both.
func missingWhat(rep *verify.Report, m verify.MissingProject) string {
	named := 0
	for _, j := range m.Results {
		if rep.Results[j].Artifact.Filename != "" {
			named++
		}
	}
	n := len(m.Results)
	switch {
	case named == n:
		return fmt.Sprintf("%d %s", n, plural(n, "file", "files"))
	case named == 0:
		return fmt.Sprintf("%d %s", n, plural(n, "hash", "hashes"))
	}
	return fmt.Sprintf("%d artifacts", n)
}

// writeNotInLog writes one line per project not in the log (with -v, each
// artifact under it, with what each log says).
func (r *verifyRun) writeNotInLog(w io.Writer, missing []verify.MissingProject) {
	for _, m := range missing {
		name := m.Project
		if len(m.Versions) > 0 {
			name += " " + strings.Join(m.Versions, ", ")
		}
		fmt.Fprintf(w, "NOT IN LOG %s: %s at %s: %s\n", name, missingWhat(r.rep, m), strings.Join(missingLocations(r.rep, m), ", "), m.Reason)
		if !r.verbose {
			continue
		}
		for _, j := range m.Results {
			res := r.rep.Results[j]
			fmt.Fprintf(w, "  %s at %s: lockfile sha256:%s\n", artifactName(res.Artifact), location(res.Artifact), res.Artifact.SHA256)
			for i, lr := range res.Logs {
				fmt.Fprintf(w, "    %s: %s\n", r.rep.Logs[i].Origin, lr.Detail)
			}
		}
	}
}

// writeNotInLogNote says why artifacts may not be in the log, how far the
// log may be behind PyPI, and what to do.
func writeNotInLogNote(w io.Writer, rep *verify.Report, missing []verify.MissingProject, strict bool, now time.Time) {
	n := 0
	for _, m := range missing {
		n += len(m.Results)
	}
	verdict := "a warning; --strict makes it a failure"
	if strict {
		verdict = "a failure with --strict"
	}
	fmt.Fprintf(w, "note: %d %s of %d %s not in the log (%s).\n", n, plural(n, "artifact", "artifacts"), len(missing), plural(len(missing), "project is", "projects are"), verdict)
	fmt.Fprintln(w, "  Why: the log may be behind PyPI (files uploaded after the log's last batch are not in it yet), or the files may come from another index than PyPI.")
	for _, fr := range rep.Freshness() {
		fmt.Fprintf(w, "  %s\n", freshnessText(fr, now))
	}
	example := missing[0].Project
	if len(missing[0].Versions) > 0 {
		example += "==" + missing[0].Versions[0]
	}
	fmt.Fprintf(w, "  What to do: compare what PyPI serves now with the log, e.g. `pysumdb check-pypi %s` with the same logs; verify again once the log has caught up", example)
	if !strict {
		fmt.Fprint(w, "; --strict to fail until it has")
	}
	fmt.Fprintln(w, ".")
}

// freshnessText says how recent a log is, honestly: from the newest upload
// among the index lines read, or that it is unknown.
func freshnessText(fr verify.Freshness, now time.Time) string {
	indexes := fmt.Sprintf("%d project %s read from %s", fr.Indexes, plural(fr.Indexes, "index", "indexes"), fr.Origin)
	if fr.Indexes == 0 {
		return fmt.Sprintf("How far %s is behind PyPI is unknown: it has none of these projects, so no upload time tells.", fr.Origin)
	}
	if fr.Newest.IsZero() {
		return fmt.Sprintf("How far %s is behind PyPI is unknown: the %s record no upload time.", fr.Origin, indexes)
	}
	return fmt.Sprintf("The newest upload in the %s is %s, %s before this run: files uploaded since may not be logged yet (the log may be more recent: this is only what these indexes show).",
		indexes, fr.Newest.UTC().Format(time.RFC3339), ago(now.Sub(fr.Newest)))
}

// ago says a duration in the largest unit that fits.
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0 minutes"
	case d < 2*time.Hour:
		m := int(d / time.Minute)
		return fmt.Sprintf("%d %s", m, plural(m, "minute", "minutes"))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
}

// The JSON report of verify.
type (
	jsonVerifyReport struct {
		SchemaVersion int                `json:"schema_version"`
		Lockfiles     []jsonLockfile     `json:"lockfiles"`
		Found         bool               `json:"found_in_current_directory"`
		Quorum        int                `json:"quorum"`
		Logs          []jsonLog          `json:"logs"`
		Artifacts     []jsonArtifact     `json:"artifacts"`
		NotInLog      []jsonMissing      `json:"not_in_log"`
		Counts        map[string]int     `json:"counts"`
		Security      []string           `json:"security_errors"`
		Failures      []string           `json:"failures"`
		ExitStatus    int                `json:"exit_status"`
		Seconds       float64            `json:"seconds"`
		Included      []jsonIncludedFile `json:"included,omitempty"`
	}
	jsonLockfile struct {
		Path       string         `json:"path"`
		Format     string         `json:"format"`
		FormatFrom string         `json:"format_from"`
		Artifacts  int            `json:"artifacts"`
		Counts     map[string]int `json:"counts"`
	}
	jsonIncludedFile struct {
		Path       string `json:"path"`
		IncludedBy string `json:"included_by"`
	}
	jsonLog struct {
		Origin   string   `json:"origin"`
		URL      string   `json:"url"`
		Size     int64    `json:"size"`
		RootHash string   `json:"root_hash,omitempty"`
		Error    string   `json:"error,omitempty"`
		Stats    logStats `json:"stats"`
		// IndexesRead and NewestUpload say how recent the log is (see
		// verify.Freshness); NewestUpload is null when unknown.
		IndexesRead  int     `json:"indexes_read"`
		NewestUpload *string `json:"newest_upload_time"`
	}
	jsonArtifact struct {
		Lockfile     string         `json:"lockfile,omitempty"`
		Project      string         `json:"project"`
		Version      string         `json:"version"`
		Filename     string         `json:"filename,omitempty"`
		SHA256       string         `json:"sha256"`
		File         string         `json:"file"`
		Line         int            `json:"line"`
		Status       verify.Status  `json:"status"`
		Skip         string         `json:"skip,omitempty"`
		Warning      string         `json:"warning,omitempty"`
		Disagreement bool           `json:"disagreement"`
		Publisher    *jsonPublisher `json:"publisher,omitempty"`
		// PublisherProblem says why the publisher is not acceptable.
		PublisherProblem string `json:"publisher_problem,omitempty"`
		// Claimant is who claimed the file, as the verifying logs'
		// indexes record it; ClaimProblem why it (or its absence) is not
		// acceptable.
		Claimant     *jsonClaimant `json:"claimant,omitempty"`
		ClaimProblem string        `json:"claim_problem,omitempty"`
		// Tampered is set for a file pinned with other bytes than the
		// logs agree on for its filename (a SECURITY ERROR).
		Tampered bool `json:"tampered,omitempty"`
		// NextStep is the one thing to do about a failure.
		NextStep string          `json:"next_step,omitempty"`
		Logs     []jsonLogResult `json:"logs,omitempty"`
	}
	jsonLogResult struct {
		Origin   string        `json:"origin"`
		Status   verify.Status `json:"status"`
		Leaf     *int64        `json:"leaf,omitempty"`
		Project  string        `json:"logged_project,omitempty"`
		Filename string        `json:"logged_filename,omitempty"`
		SHA256   string        `json:"logged_sha256,omitempty"`
		Size     *int64        `json:"logged_size,omitempty"`
		// Claimant is the claimant this log's index records (verified
		// only).
		Claimant *jsonClaimant `json:"claimant,omitempty"`
		Detail   string        `json:"detail"`
		Error    string        `json:"error,omitempty"`
	}
	jsonMissing struct {
		Project   string   `json:"project"`
		Versions  []string `json:"versions"`
		Artifacts int      `json:"artifacts"`
		Locations []string `json:"locations"`
		Reason    string   `json:"reason"`
	}
)

// jsonPublisher is a PEP 740 publisher in JSON.
type jsonPublisher struct {
	Kind string `json:"kind"`
	SAN  string `json:"san"`
}

func publisherJSON(p *tiles.Publisher) *jsonPublisher {
	if p == nil {
		return nil
	}
	return &jsonPublisher{Kind: p.Kind, SAN: p.SAN}
}

// jsonClaimant is a claimant (package claim) in JSON.
type jsonClaimant struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

func claimantJSON(c *tiles.Claimant) *jsonClaimant {
	if c == nil {
		return nil
	}
	return &jsonClaimant{Kind: c.Kind, Value: c.Value}
}

func jsonLogs(rep *verify.Report, logs *openedLogs) []jsonLog {
	fresh := map[string]verify.Freshness{}
	for _, fr := range rep.Freshness() {
		fresh[fr.Origin] = fr
	}
	out := make([]jsonLog, len(rep.Logs))
	for i, ls := range rep.Logs {
		out[i] = jsonLog{Origin: ls.Origin, URL: logs.locations[i], Size: ls.Checkpoint.N, Stats: logs.stats(i)}
		if ls.Err != nil {
			out[i].Error = ls.Err.Error()
			continue
		}
		out[i].RootHash = base64.StdEncoding.EncodeToString(ls.Checkpoint.Hash[:])
		if fr, ok := fresh[ls.Origin]; ok {
			out[i].IndexesRead = fr.Indexes
			if !fr.Newest.IsZero() {
				t := fr.Newest.UTC().Format(time.RFC3339Nano)
				out[i].NewestUpload = &t
			}
		}
	}
	return out
}

// jsonArtifacts returns the results as JSON; statusWord names a status as
// the command's text does (check-pypi calls a mismatch an alarm).
func jsonArtifacts(rep *verify.Report, statusWord func(verify.Status) verify.Status) []jsonArtifact {
	out := make([]jsonArtifact, len(rep.Results))
	for j, res := range rep.Results {
		a := res.Artifact
		ja := jsonArtifact{
			Project: a.Project, Version: a.Version, Filename: a.Filename, SHA256: a.SHA256, File: a.File, Line: a.Line,
			Status: statusWord(res.Status), Skip: a.Skip, Warning: a.Warning, Disagreement: res.Disagreement,
			Publisher: publisherJSON(res.Publisher()), PublisherProblem: res.PublisherProblem,
			Claimant: claimantJSON(res.Claimant()), ClaimProblem: res.ClaimProblem,
		}
		for i, lr := range res.Logs {
			jr := jsonLogResult{Origin: rep.Logs[i].Origin, Status: statusWord(lr.Status), Detail: lr.Detail, Claimant: claimantJSON(lr.Claimant)}
			if lr.Leaf >= 0 {
				jr.Leaf, jr.Size = &lr.Leaf, &lr.Size
				jr.Project, jr.Filename, jr.SHA256 = lr.Project, lr.Filename, hex.EncodeToString(lr.SHA256[:])
			}
			if lr.Err != nil {
				jr.Error = lr.Err.Error()
			}
			ja.Logs = append(ja.Logs, jr)
		}
		out[j] = ja
	}
	return out
}

// sameStatus names a status as verify's text does.
func sameStatus(s verify.Status) verify.Status { return s }

func jsonCounts(results []verify.Result, statusWord func(verify.Status) verify.Status) map[string]int {
	counts := map[string]int{"disagreement": 0}
	for _, s := range []verify.Status{verify.StatusVerified, verify.StatusMismatch, verify.StatusNotInLog, verify.StatusSkipped, verify.StatusError} {
		counts[string(statusWord(s))] = 0
	}
	for _, res := range results {
		counts[string(statusWord(res.Status))]++
		if res.Disagreement {
			counts["disagreement"]++
		}
	}
	return counts
}

func jsonSecurityErrors(rep *verify.Report) []string {
	out := []string{}
	for _, err := range rep.SecurityErrors() {
		out = append(out, err.Error())
	}
	return out
}

// jsonFailures lists what fails the run, in the words of its error.
func jsonFailures(f verify.Failures) []string {
	out := []string{}
	if err := f.Err(); err != nil && (len(f.Failed) == 0 || f.Tampered > 0) {
		out = append(out, err.Error())
	}
	return append(out, f.Failed...)
}

func jsonNotInLog(rep *verify.Report) []jsonMissing {
	out := []jsonMissing{}
	for _, m := range rep.NotInLog() {
		versions := m.Versions
		if versions == nil {
			versions = []string{}
		}
		out = append(out, jsonMissing{Project: m.Project, Versions: versions, Artifacts: len(m.Results), Locations: missingLocations(rep, m), Reason: m.Reason})
	}
	return out
}

func (r *verifyRun) writeJSON(w io.Writer, f verify.Failures, status int) error {
	out := jsonVerifyReport{
		SchemaVersion: jsonSchemaVersion, Found: r.found, Quorum: r.rep.Quorum,
		Logs: jsonLogs(r.rep, r.logs), Artifacts: jsonArtifacts(r.rep, sameStatus), NotInLog: jsonNotInLog(r.rep),
		Counts: jsonCounts(r.rep.Results, sameStatus), Security: jsonSecurityErrors(r.rep), Failures: jsonFailures(f),
		ExitStatus: status, Seconds: r.elapsed.Seconds(),
	}
	for _, lf := range r.lockfiles {
		out.Lockfiles = append(out.Lockfiles, jsonLockfile{
			Path: lf.path, Format: string(lf.format), FormatFrom: string(lf.from),
			Artifacts: lf.end - lf.start, Counts: jsonCounts(r.rep.Results[lf.start:lf.end], sameStatus),
		})
		for j := lf.start; j < lf.end; j++ {
			out.Artifacts[j].Lockfile = lf.path
		}
	}
	for j, res := range r.rep.Results {
		out.Artifacts[j].Tampered, out.Artifacts[j].NextStep = res.IsTampered(), nextStep(res, r.rep.ClaimsRequired())
	}
	for _, inc := range r.included {
		out.Included = append(out.Included, jsonIncludedFile{Path: inc[0], IncludedBy: inc[1]})
	}
	return writeJSON(w, out)
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
