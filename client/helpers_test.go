package client_test

import (
	"github.com/pysumdb/pysumdb/client/clienttest"
	"github.com/pysumdb/pysumdb/sequencer"
)

// The files of the test logs: foo 0.9, foo 1.0 and bar 2.0 in a first
// batch, the wheel of foo 1.0 and foo 1.1 in a second one. The helpers
// that build, serve and tamper with the logs are in package clienttest.
var (
	firstBatch = []sequencer.Record{
		clienttest.Record("foo", "foo-0.9.tar.gz"),
		clienttest.Record("foo", "foo-1.0.tar.gz"),
		clienttest.Record("bar", "bar-2.0.tar.gz"),
		clienttest.Record("bar", "bar-2.0-py3-none-any.whl"),
	}
	secondBatch = []sequencer.Record{
		clienttest.Record("foo", "foo-1.0-py3-none-any.whl"),
		clienttest.Record("foo", "foo-1.1.tar.gz"),
	}
)
