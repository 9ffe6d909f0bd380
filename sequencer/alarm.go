package sequencer

// AlarmPrefix is where alarms are stored, one object per filename and
// served digest.
const AlarmPrefix = "alarms/"

// Alarm is the event pysumdb exists for: a source serves, for a filename
// the log already holds, a sha256 or size other than the logged one.
type Alarm struct {
	// Project is the normalized project name.
	Project string `json:"project"`
	// Filename is the file whose bytes changed.
	Filename string `json:"filename"`
	// Leaf is the index of the logged entry.
	Leaf int64 `json:"leaf_index"`
	// LoggedSHA256 and LoggedSize are what the log holds.
	LoggedSHA256 string `json:"logged_sha256"`
	LoggedSize   int64  `json:"logged_size"`
	// ServedSHA256 and ServedSize are what the source serves now.
	ServedSHA256 string `json:"served_sha256"`
	ServedSize   int64  `json:"served_size"`
	// Detected is when the alarm was first raised, RFC 3339 UTC.
	Detected string `json:"detected"`
}
