package sequencer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/publish"
)

// ErrAlarm reports alarms in the store that nobody has acknowledged yet
// (the policy of CheckAlarms). The alarms themselves were logged at ERROR.
var ErrAlarm = errors.New("unacknowledged alarms")

// AlarmPrefix is where alarms are stored, one object per filename, served
// digest and reason.
const AlarmPrefix = "alarms/"

// Alarm codes: stable names of the kinds of alarm, which alarms are keyed
// and branched on (the reasons are prose, and may be reworded).
const (
	// AlarmChangedFile: a filename the log holds is served with another
	// sha256 or size.
	AlarmChangedFile = "changed-file"
	// AlarmInvalidAttestation: an attestation served for a new file does
	// not verify.
	AlarmInvalidAttestation = "invalid-attestation"
	// AlarmOtherProject: a filename the log holds under one project is
	// served under another.
	AlarmOtherProject = "filename-of-other-project"
	// AlarmClaimMismatch: PyPI serves other bytes for a file than its
	// maintainer claimed (package claim).
	AlarmClaimMismatch = "claim-mismatch"
	// AlarmClaimNotLogged: a claimed file that the log has not found on
	// PyPI Config.ClaimDeadline after its claim.
	AlarmClaimNotLogged = "claimed-not-on-pypi"
)

// Alarm reasons.
const (
	// ReasonChangedFile: a filename the log holds is served with another
	// sha256 or size. The event pysumdb exists for.
	ReasonChangedFile = "the source serves other bytes for a logged file; not appended"
	// ReasonInvalidAttestation: the index serves a PEP 740 attestation
	// for a new file that does not verify. The file is logged without a
	// publisher.
	ReasonInvalidAttestation = "the index serves an attestation that does not verify; logged without publisher"
	// ReasonOtherProject: a filename the log holds under one project is
	// served under another. PyPI never reuses a filename, so the log must
	// not either.
	ReasonOtherProject = "the source serves a logged file under another project; not appended"
	// ReasonClaimMismatch: PyPI serves other bytes for a file than its
	// maintainer claimed. The file is logged as PyPI serves it; the claim
	// is the evidence.
	ReasonClaimMismatch = "the source serves other bytes than the maintainer claimed; logged as served, the claim kept as evidence"
	// ReasonClaimNotLogged: a maintainer claimed a file that the log has
	// not found on PyPI in time: PyPI withholds it, or the upload never
	// happened.
	ReasonClaimNotLogged = "a maintainer claimed a file the log has not found on PyPI: PyPI withholds it, or the upload never happened"
)

// Alarm is a record that contradicts the log or can't be trusted.
type Alarm struct {
	// Code is the kind of alarm (AlarmChangedFile, ...).
	Code string `json:"code"`
	// LoggedProject is the project the log holds the file under, for
	// AlarmOtherProject.
	LoggedProject string `json:"logged_project,omitempty"`
	// Reason says what is wrong (ReasonChangedFile, ...).
	Reason string `json:"reason"`
	// Project is the normalized project name.
	Project string `json:"project"`
	// Filename is the file concerned.
	Filename string `json:"filename"`
	// Leaf is the index of the logged entry.
	Leaf int64 `json:"leaf_index"`
	// LoggedSHA256 and LoggedSize are what the log holds.
	LoggedSHA256 string `json:"logged_sha256,omitempty"`
	LoggedSize   int64  `json:"logged_size,omitempty"`
	// ServedSHA256 and ServedSize are what the source serves now.
	ServedSHA256 string `json:"served_sha256"`
	ServedSize   int64  `json:"served_size"`
	// ClaimedSHA256 and ClaimedSize are what a maintainer claimed, for
	// AlarmClaimMismatch and AlarmClaimNotLogged.
	ClaimedSHA256 string `json:"claimed_sha256,omitempty"`
	ClaimedSize   int64  `json:"claimed_size,omitempty"`
	// Claimant is who claimed it ("<kind> <value>"), and Claim the key of
	// the claim record in the store, the evidence.
	Claimant string `json:"claimant,omitempty"`
	Claim    string `json:"claim,omitempty"`
	// Detail is the evidence (for an attestation: the check that failed).
	Detail string `json:"detail,omitempty"`
	// Detected is when the alarm was first raised, RFC 3339 UTC.
	Detected string `json:"detected"`
	// Acknowledged is when someone acknowledged the alarm (`pysumdb
	// alarms ack`), RFC 3339 UTC; until then, every run reports it.
	Acknowledged string `json:"acknowledged,omitempty"`
	// AcknowledgedBy names who acknowledged it (user@host by default).
	AcknowledgedBy string `json:"acknowledged_by,omitempty"`
}

// id is the alarm's stable identity: a digest of its kind, filename and
// served digest, so that raising the same alarm again finds the first
// record.
func (a Alarm) id() string {
	sum := sha256.Sum256([]byte(a.Code + "\n" + a.Filename + "\n" + a.ServedSHA256))
	return hex.EncodeToString(sum[:16])
}

func (a Alarm) key() string { return AlarmPrefix + a.id() + ".json" }

// ID returns the alarm's stable identifier, as `pysumdb alarms` shows it
// and `pysumdb alarms ack` takes it.
func (a Alarm) ID() string { return a.id() }

// StoredAlarm is an alarm as stored, with what it takes to update it.
type StoredAlarm struct {
	Alarm
	key     string
	version publish.Version
}

// ID returns the identifier of the stored alarm: the name of its object
// under AlarmPrefix.
func (a *StoredAlarm) ID() string {
	return strings.TrimSuffix(strings.TrimPrefix(a.key, AlarmPrefix), ".json")
}

// ListAlarms reads every alarm in store, oldest first. It writes nothing.
func ListAlarms(ctx context.Context, store publish.Store) ([]StoredAlarm, error) {
	keys, err := store.List(ctx, AlarmPrefix)
	if err != nil {
		return nil, fmt.Errorf("couldn't list alarms: %w", err)
	}
	alarms := make([]StoredAlarm, 0, len(keys))
	for _, k := range keys {
		a, err := readAlarm(ctx, store, k)
		if err != nil {
			return nil, err
		}
		alarms = append(alarms, a)
	}
	slices.SortStableFunc(alarms, func(a, b StoredAlarm) int { return strings.Compare(a.Detected, b.Detected) })
	return alarms, nil
}

func readAlarm(ctx context.Context, store publish.Store, key string) (StoredAlarm, error) {
	data, v, err := store.Read(ctx, key)
	if err != nil {
		return StoredAlarm{}, fmt.Errorf("couldn't read alarm %s: %w", key, err)
	}
	a := StoredAlarm{key: key, version: v}
	if err := json.Unmarshal(data, &a.Alarm); err != nil {
		return StoredAlarm{}, fmt.Errorf("couldn't parse alarm %s: %w", key, err)
	}
	return a, nil
}

// Acknowledge records that by acknowledged the alarm at now, so that
// later runs stop reporting it; the alarm itself stays in the store (it
// is evidence). It is a compare-and-swap on the version a was read at: if
// someone else acknowledged the alarm first, their record is kept and a
// is updated to it. Acknowledging an acknowledged alarm changes nothing.
func Acknowledge(ctx context.Context, store publish.Store, a *StoredAlarm, by string, now time.Time) error {
	if by == "" {
		return errors.New("couldn't acknowledge alarm: no name for who acknowledges")
	}
	for {
		if a.Acknowledged != "" {
			return nil
		}
		acked := a.Alarm
		acked.Acknowledged = now.UTC().Format(time.RFC3339)
		acked.AcknowledgedBy = by
		data, err := json.MarshalIndent(acked, "", "  ")
		if err != nil {
			return err
		}
		v, err := store.Swap(ctx, a.key, a.version, append(data, '\n'))
		if errors.Is(err, publish.ErrConflict) {
			// Changed since read (acknowledged by someone else, most
			// likely): read it again and decide on what it is now.
			fresh, rerr := readAlarm(ctx, store, a.key)
			if rerr != nil {
				return fmt.Errorf("couldn't acknowledge alarm %s: %w", a.ID(), rerr)
			}
			*a = fresh
			continue
		}
		if err != nil {
			return fmt.Errorf("couldn't acknowledge alarm %s: %w", a.ID(), err)
		}
		a.Alarm, a.version = acked, v
		return nil
	}
}

// RaiseAlarm records an alarm in the store, once per filename, served
// digest and kind (a second raise keeps the first record, acknowledged or
// not), and logs it at ERROR.
func (s *Sequencer) RaiseAlarm(ctx context.Context, a Alarm) error {
	attrs := []any{"id", a.ID(), "code", a.Code,
		"project", a.Project, "filename", a.Filename, "leaf", a.Leaf,
		"logged_sha256", a.LoggedSHA256, "logged_size", a.LoggedSize,
		"served_sha256", a.ServedSHA256, "served_size", a.ServedSize}
	if a.ClaimedSHA256 != "" {
		attrs = append(attrs, "claimed_sha256", a.ClaimedSHA256, "claimed_size", a.ClaimedSize, "claimant", a.Claimant, "claim", a.Claim)
	}
	s.log.Error("ALARM: "+a.Reason, attrs...)
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	_, err = s.cfg.Store.Swap(ctx, a.key(), publish.NoVersion, append(data, '\n'))
	if err != nil && !errors.Is(err, publish.ErrConflict) {
		return fmt.Errorf("couldn't record alarm for %s: %w", a.Filename, err)
	}
	return nil
}

// CheckAlarms is the alarm policy, the same for every source: it logs at
// ERROR every alarm in the store that nobody has acknowledged yet (this
// run's and earlier runs'), so that none goes unnoticed in a quiet run,
// and returns them with an error wrapping ErrAlarm if there are any. A
// run calls it last, whatever else happened.
func (s *Sequencer) CheckAlarms(ctx context.Context) ([]StoredAlarm, error) {
	alarms, err := ListAlarms(ctx, s.cfg.Store)
	if err != nil {
		return nil, err
	}
	var open []StoredAlarm
	for _, a := range alarms {
		if a.Acknowledged != "" {
			continue
		}
		open = append(open, a)
		s.log.Error("unacknowledged ALARM: "+a.Reason,
			"id", a.ID(), "code", a.Code,
			"project", a.Project, "filename", a.Filename, "leaf", a.Leaf,
			"logged_sha256", a.LoggedSHA256, "logged_size", a.LoggedSize,
			"served_sha256", a.ServedSHA256, "served_size", a.ServedSize,
			"detected", a.Detected)
	}
	if len(open) > 0 {
		return open, fmt.Errorf("%d %w (acknowledge them with `pysumdb alarms ack`)", len(open), ErrAlarm)
	}
	return nil, nil
}
