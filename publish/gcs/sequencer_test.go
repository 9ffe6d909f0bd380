package gcs_test

import (
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/gcs"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
)

// newSequencerStore returns an empty store on a fake-gcs-server of its own
// (the fake's writes slow down with every object its buckets hold).
func newSequencerStore(t *testing.T) publish.Store {
	fake := newFakeGCS(t)
	fake.createBucket("log")
	return fake.open(t, gcs.Config{Bucket: "log", Prefix: "pypi/"})
}

// The sequencer's crash tests on GCS: a fault at every write of a batch,
// before or after it persists, is recovered by the next run.
func TestSequencerFaultInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	seqtest.RunFaultInjection(t, newSequencerStore)
}

// With the lease broken, the state's compare-and-swap still keeps two
// sequencers from forking the log.
func TestSequencerRace(t *testing.T) { seqtest.RunRace(t, newSequencerStore) }

// Two sequencers at once: one runs, the other is busy.
func TestSequencersConcurrent(t *testing.T) { seqtest.RunConcurrent(t, newSequencerStore) }
