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
	// Detail is the evidence (for an attestation: the check that failed).
	Detail string `json:"detail,omitempty"`
	// Detected is when the alarm was first raised, RFC 3339 UTC.
	Detected string `json:"detected"`
	// Acknowledged is when `pysumdb alarms` first listed it; until then,
	// every run reports it.
	Acknowledged string `json:"acknowledged,omitempty"`
}

func (a Alarm) key() string {
	sum := sha256.Sum256([]byte(a.Code + "\n" + a.Filename + "\n" + a.ServedSHA256))
	return AlarmPrefix + hex.EncodeToString(sum[:16]) + ".json"
}

// StoredAlarm is an alarm as stored, with what it takes to update it.
type StoredAlarm struct {
	Alarm
	key     string
	version publish.Version
}

// ListAlarms reads every alarm in store, oldest first.
func ListAlarms(ctx context.Context, store publish.Store) ([]StoredAlarm, error) {
	keys, err := store.List(ctx, AlarmPrefix)
	if err != nil {
		return nil, fmt.Errorf("couldn't list alarms: %w", err)
	}
	alarms := make([]StoredAlarm, 0, len(keys))
	for _, k := range keys {
		data, v, err := store.Read(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("couldn't read alarm: %w", err)
		}
		a := StoredAlarm{key: k, version: v}
		if err := json.Unmarshal(data, &a.Alarm); err != nil {
			return nil, fmt.Errorf("couldn't parse alarm %s: %w", k, err)
		}
		alarms = append(alarms, a)
	}
	slices.SortStableFunc(alarms, func(a, b StoredAlarm) int { return strings.Compare(a.Detected, b.Detected) })
	return alarms, nil
}

// Acknowledge marks an alarm as listed by a human at now, so later runs
// stop reporting it. The alarm itself stays in the store.
func Acknowledge(ctx context.Context, store publish.Store, a *StoredAlarm, now time.Time) error {
	if a.Acknowledged != "" {
		return nil
	}
	a.Acknowledged = now.UTC().Format(time.RFC3339)
	data, err := json.MarshalIndent(a.Alarm, "", "  ")
	if err != nil {
		return err
	}
	v, err := store.Swap(ctx, a.key, a.version, append(data, '\n'))
	if err != nil {
		return fmt.Errorf("couldn't acknowledge alarm %s: %w", a.key, err)
	}
	a.version = v
	return nil
}

// RaiseAlarm records an alarm in the store, once per filename, served
// digest and kind (a second raise keeps the first record), and logs it at
// ERROR.
func (s *Sequencer) RaiseAlarm(ctx context.Context, a Alarm) error {
	s.log.Error("ALARM: "+a.Reason,
		"project", a.Project, "filename", a.Filename, "leaf", a.Leaf,
		"logged_sha256", a.LoggedSHA256, "logged_size", a.LoggedSize,
		"served_sha256", a.ServedSHA256, "served_size", a.ServedSize)
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
