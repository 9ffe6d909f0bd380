package client

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/tiles"
)

// ErrWitnessPolicy is wrapped by the error of a checkpoint that fewer
// witnesses cosigned than a WitnessPolicy asks. It is not a security
// failure: a witness may be down, or behind (see WitnessPolicyError).
var ErrWitnessPolicy = errors.New("checkpoint short of the witness policy")

// WitnessPolicy is "Quorum of these witnesses must have cosigned the
// checkpoint" (C2SP tlog-cosignature): a log that showed one view to you
// and another to everyone else would need that many witnesses to lie with
// it.
type WitnessPolicy struct {
	witnesses []note.Verifier
	quorum    int
}

// NewWitnessPolicy returns the policy that quorum of the witnesses of
// vkeys (cosignature/v1 verifier keys, each of a distinct witness) cosign
// every checkpoint; quorum 0 means all of them.
func NewWitnessPolicy(vkeys []string, quorum int) (*WitnessPolicy, error) {
	if len(vkeys) == 0 {
		return nil, errors.New("a witness policy needs at least one witness key")
	}
	verifiers, err := tiles.NewCosignatureVerifiers(vkeys)
	if err != nil {
		return nil, err
	}
	p := &WitnessPolicy{witnesses: verifiers, quorum: quorum}
	if p.quorum == 0 {
		p.quorum = len(vkeys)
	}
	if p.quorum < 1 || p.quorum > len(vkeys) {
		return nil, fmt.Errorf("witness quorum %d, want 1 to %d (the number of witnesses)", quorum, len(vkeys))
	}
	return p, nil
}

// Quorum returns how many witnesses must cosign.
func (p *WitnessPolicy) Quorum() int { return p.quorum }

// Witnesses returns the names of the witnesses.
func (p *WitnessPolicy) Witnesses() []string {
	names := make([]string, len(p.witnesses))
	for i, w := range p.witnesses {
		names[i] = w.Name()
	}
	return names
}

// WitnessPolicyError reports a checkpoint that fewer witnesses cosigned
// than the policy asks, naming which did and which did not.
type WitnessPolicyError struct {
	// Origin names the log; Size is the checkpoint's tree size.
	Origin string
	Size   int64
	// Quorum is how many cosignatures the policy asks.
	Quorum int
	// Cosigned and Missing name the witnesses that cosigned the checkpoint
	// and those that did not.
	Cosigned, Missing []string
}

func (e *WitnessPolicyError) Error() string {
	cosigned := "none"
	if len(e.Cosigned) > 0 {
		cosigned = strings.Join(e.Cosigned, ", ")
	}
	return fmt.Sprintf("the checkpoint of %s (size %d) has %d witness cosignatures, the witness policy needs %d: cosigned by %s; no cosignature from %s "+
		"(a witness that is down or behind cosigns at the log's next batch; until then this log can't be trusted to show everyone the same view)",
		e.Origin, e.Size, len(e.Cosigned), e.Quorum, cosigned, strings.Join(e.Missing, ", "))
}

func (e *WitnessPolicyError) Unwrap() error { return ErrWitnessPolicy }

// check reports whether the verified note n of a checkpoint of size n
// holds the policy's quorum of cosignatures. tiles.OpenCheckpoint, given
// the policy's verifiers, verified every cosignature in n.Sigs.
func (p *WitnessPolicy) check(origin string, size int64, n *note.Note) error {
	cosigned := map[string]bool{}
	for _, s := range n.Sigs {
		cosigned[s.Name+"\x00"+fmt.Sprint(s.Hash)] = true
	}
	e := &WitnessPolicyError{Origin: origin, Size: size, Quorum: p.quorum}
	for _, w := range p.witnesses {
		if cosigned[w.Name()+"\x00"+fmt.Sprint(w.KeyHash())] {
			e.Cosigned = append(e.Cosigned, w.Name())
		} else {
			e.Missing = append(e.Missing, w.Name())
		}
	}
	if len(e.Cosigned) < p.quorum {
		return e
	}
	return nil
}

// RequireWitnesses makes l accept only checkpoints that p's quorum of
// witnesses cosigned: Checkpoint (and so VerifiedCheckpoint, Audit and
// all that rests on them) then fails with a *WitnessPolicyError for one
// short of it, and with a security error (tiles.ErrVerification) for one
// holding a cosignature by one of p's witnesses that doesn't verify. Call
// it before using l.
func (l *Log) RequireWitnesses(p *WitnessPolicy) {
	l.witnesses = p
}
