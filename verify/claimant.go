package verify

import (
	"github.com/pysumdb/pysumdb/tiles"
)

// Claimant returns a claimant the logs that verified the artifact record
// in its index line: who claimed these bytes of the file (package claim)
// at that log's intake before the log found it on PyPI. It is the first
// such log's that records one; nil when none does. Logs may differ and
// that is no failure: each records the claims its own intake received,
// and a maintainer may claim at one intake only, or under another
// identity at each (each intake registers its own).
func (r *Result) Claimant() *tiles.Claimant {
	for _, l := range r.Logs {
		if l.Status == StatusVerified && l.Claimant != nil {
			return l.Claimant
		}
	}
	return nil
}

// ClaimRequirement is what CheckClaims requires of every verified
// artifact.
type ClaimRequirement int

const (
	// ClaimOptional requires no claimant.
	ClaimOptional ClaimRequirement = iota
	// RequireClaimOrPublisher requires a claimant or a verified PEP 740
	// publisher (--require-claim-or-publisher).
	RequireClaimOrPublisher
	// RequireClaim requires a claimant (--require-claim).
	RequireClaim
)

// Flag returns the verify command's flag of the requirement ("" for
// ClaimOptional).
func (req ClaimRequirement) Flag() string {
	switch req {
	case RequireClaim:
		return "--require-claim"
	case RequireClaimOrPublisher:
		return "--require-claim-or-publisher"
	}
	return ""
}

// CheckClaims checks that each verified artifact has the claimant req
// requires (RequireClaim: a log that verified it records one;
// RequireClaimOrPublisher: that, or a verified publisher, see
// Result.Publisher). It sets ClaimProblem and returns
// how many artifacts failed. The claimant is the index's word, signed by
// the log, not part of the entry the inclusion proof proves: a log
// records it when the claim its intake received matched what PyPI served
// (the claims are published beside the log, under claims/).
func (r *Report) CheckClaims(req ClaimRequirement) int {
	r.claims = req
	failed := 0
	for i := range r.Results {
		res := &r.Results[i]
		if res.Status != StatusVerified {
			continue
		}
		res.ClaimProblem = claimProblem(res, req)
		if res.ClaimProblem != "" {
			failed++
		}
	}
	return failed
}

// ClaimsRequired returns what the last CheckClaims required
// (ClaimOptional if it wasn't called).
func (r *Report) ClaimsRequired() ClaimRequirement { return r.claims }

func claimProblem(res *Result, req ClaimRequirement) string {
	switch {
	case res.Claimant() != nil:
		return ""
	case req == RequireClaim:
		return "no claimant in the log (--require-claim)"
	case req == RequireClaimOrPublisher && res.Publisher() == nil:
		return "neither a claimant nor a verified publisher in the log (--require-claim-or-publisher)"
	}
	return ""
}

// claimProblems returns how many results lack the claimant the
// requirement asks for.
func (r *Report) claimProblems() int {
	n := 0
	for _, res := range r.Results {
		if res.ClaimProblem != "" {
			n++
		}
	}
	return n
}
