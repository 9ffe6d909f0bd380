package sequencer_test

import (
	"testing"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
)

func newDir(t *testing.T) publish.Store {
	d, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFaultInjectionDir(t *testing.T) { seqtest.RunFaultInjection(t, newDir) }

func TestRaceDir(t *testing.T) { seqtest.RunRace(t, newDir) }

func TestConcurrentDir(t *testing.T) { seqtest.RunConcurrent(t, newDir) }
