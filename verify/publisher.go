package verify

import (
	"fmt"
	"strings"

	"github.com/pysumdb/pysumdb/lockfile"
	"github.com/pysumdb/pysumdb/tiles"
)

// Publisher returns the publisher the logs that verified the artifact
// record (the first such log's; CheckPublishers reports logs that differ).
func (r *Result) Publisher() *tiles.Publisher {
	for _, l := range r.Logs {
		if l.Status == StatusVerified {
			return l.Publisher
		}
	}
	return nil
}

// CheckPublishers checks the publisher each verified artifact's entry
// records against what the lockfile asks: the PEP 751
// attestation-identities of a pylock.toml package must name it, and with
// require every verified artifact must have one. It sets PublisherProblem
// and returns how many artifacts failed.
func (r *Report) CheckPublishers(require bool) int {
	failed := 0
	for i := range r.Results {
		res := &r.Results[i]
		if res.Status != StatusVerified {
			continue
		}
		res.PublisherProblem = publisherProblem(res, require)
		if res.PublisherProblem != "" {
			failed++
		}
	}
	return failed
}

func publisherProblem(res *Result, require bool) string {
	got := res.Publisher()
	for _, l := range res.Logs {
		if l.Status == StatusVerified && !samePublisher(l.Publisher, got) {
			return fmt.Sprintf("the logs record different publishers (%s and %s)", publisherString(got), publisherString(l.Publisher))
		}
	}
	ids := res.Artifact.AttestationIdentities
	switch {
	case len(ids) > 0 && got == nil:
		return fmt.Sprintf("the lockfile expects a file attested by %s; the log records no publisher", identitiesString(ids))
	case len(ids) > 0:
		for _, id := range ids {
			if identityMatches(id, *got) {
				return ""
			}
		}
		return fmt.Sprintf("the lockfile expects a file attested by %s; the log records %s", identitiesString(ids), publisherString(got))
	case require && got == nil:
		return "no verified publisher in the log (--require-publisher)"
	}
	return ""
}

func samePublisher(a, b *tiles.Publisher) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func publisherString(p *tiles.Publisher) string {
	if p == nil {
		return "no publisher"
	}
	return p.Kind + " " + p.SAN
}

func identitiesString(ids []lockfile.Identity) string {
	var parts []string
	for _, id := range ids {
		var fields []string
		for _, k := range []string{"repository", "workflow", "workflow_filepath", "environment", "email"} {
			if v, ok := id.Fields[k].(string); ok && v != "" {
				fields = append(fields, k+"="+v)
			}
		}
		parts = append(parts, id.Kind+"("+strings.Join(fields, ", ")+")")
	}
	return strings.Join(parts, " or ")
}

// identityMatches reports whether a PEP 751 attestation identity (PyPI's
// Trusted Publisher fields) names the certificate identity p, with the
// rules PyPI's attestations follow: a GitHub workflow SAN
// https://github.com/<repository>/.github/workflows/<workflow>@<ref>, a
// GitLab one https://gitlab.com/<repository>//<workflow_filepath>@<ref>, a
// Google service account's email.
func identityMatches(id lockfile.Identity, p tiles.Publisher) bool {
	field := func(k string) string {
		v, _ := id.Fields[k].(string)
		return v
	}
	switch strings.ToLower(id.Kind) {
	case tiles.PublisherGitHub:
		repo, workflow := field("repository"), field("workflow")
		return p.Kind == tiles.PublisherGitHub && repo != "" && workflow != "" &&
			strings.HasPrefix(strings.ToLower(p.SAN), strings.ToLower("https://github.com/"+repo+"/.github/workflows/"+workflow+"@"))
	case tiles.PublisherGitLab:
		repo, path := field("repository"), field("workflow_filepath")
		return p.Kind == tiles.PublisherGitLab && repo != "" && path != "" &&
			strings.HasPrefix(p.SAN, "https://gitlab.com/"+repo+"//"+path+"@")
	case tiles.PublisherGoogle:
		return p.Kind == tiles.PublisherGoogle && field("email") != "" && p.SAN == field("email")
	}
	return false
}
