package sequencer_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/pysumdb/pysumdb/intake/intaketest"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/publish/storetest"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/seqtest"
	"github.com/pysumdb/pysumdb/tiles"
)

// claimTime is when the test intakes receive their claims.
var claimTime = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

// fileRecord is the record of a file of content, uploaded to project.
func fileRecord(project, filename, content string) sequencer.Record {
	return sequencer.Record{Project: project, Filename: filename, SHA256: sha256.Sum256([]byte(content)), Size: int64(len(content)), UploadTime: "-"}
}

// appendAt appends records with the clock at now and the default claim
// deadline, returning Append's result and error.
func appendAt(t *testing.T, store publish.Store, skey string, now time.Time, records ...sequencer.Record) (sequencer.Result, error) {
	t.Helper()
	s, err := sequencer.Open(context.Background(), sequencer.Config{Store: store, Key: skey, Holder: t.Name(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	return s.Append(context.Background(), records, nil)
}

// onlyAlarm checks that res raised exactly one alarm, of code, about
// filename, and returns it.
func onlyAlarm(t *testing.T, res sequencer.Result, code, filename string) sequencer.Alarm {
	t.Helper()
	if len(res.Alarms) != 1 || res.Alarms[0].Code != code || res.Alarms[0].Filename != filename {
		t.Fatalf("alarms %+v, want one %s for %s", res.Alarms, code, filename)
	}
	return res.Alarms[0]
}

// TestClaimMatched: a file PyPI serves with the bytes its maintainer
// claimed gets the claimant in its index line; a claimant a caller gives
// for an unclaimed file is dropped.
func TestClaimMatched(t *testing.T) {
	store := newTestStore(t)
	skey, vkey := testKey(t)
	m := intaketest.NewMaintainer(t, "maintainer")
	intaketest.Claim(t, store, m, "foo", claimTime, intaketest.File("foo-1.0.tar.gz", []byte("foo sdist")))
	forged := fileRecord("bar", "bar-1.0.tar.gz", "bar sdist")
	forged.Claimant = &tiles.Claimant{Kind: tiles.ClaimantKey, Value: m.VKey}
	res, err := appendAt(t, store, skey, claimTime.Add(time.Minute), fileRecord("foo", "foo-1.0.tar.gz", "foo sdist"), forged)
	if err != nil || len(res.Alarms) != 0 || res.Appended != 2 {
		t.Fatalf("Append = %+v, %v", res, err)
	}
	if got := seqtest.IndexLine(t, store, vkey, "foo", "foo-1.0.tar.gz").Claimant; got == nil || *got != m.Claimant() {
		t.Fatalf("claimant %v, want %v", got, m.Claimant())
	}
	if got := seqtest.IndexLine(t, store, vkey, "bar", "bar-1.0.tar.gz").Claimant; got != nil {
		t.Fatalf("an unclaimed file has the claimant %v", got)
	}
}

// TestClaimMismatch: a file PyPI serves with other bytes than its
// maintainer claimed (one byte more) is an alarm; it is logged as served,
// without a claimant, and the alarm holds both digests and the claim.
func TestClaimMismatch(t *testing.T) {
	store := newTestStore(t)
	skey, vkey := testKey(t)
	m := intaketest.NewMaintainer(t, "maintainer")
	claimed := intaketest.File("foo-1.0.tar.gz", []byte("foo sdist"))
	intaketest.Claim(t, store, m, "foo", claimTime, claimed)
	served := fileRecord("foo", "foo-1.0.tar.gz", "foo sdist!")
	res, err := appendAt(t, store, skey, claimTime.Add(time.Minute), served, fileRecord("foo", "foo-1.0-py3-none-any.whl", "wheel"))
	if err != nil || res.Appended != 2 {
		t.Fatalf("Append = %+v, %v", res, err)
	}
	a := onlyAlarm(t, res, sequencer.AlarmClaimMismatch, "foo-1.0.tar.gz")
	line := seqtest.IndexLine(t, store, vkey, "foo", "foo-1.0.tar.gz")
	if line.SHA256 != served.SHA256 || line.Claimant != nil || a.Leaf != line.Leaf {
		t.Fatalf("logged %+v, alarm at leaf %d", line, a.Leaf)
	}
	if a.ClaimedSHA256 != tiles.FormatSHA256(claimed.SHA256)[len("sha256:"):] || a.ClaimedSize != claimed.Size ||
		a.ServedSHA256 != tiles.FormatSHA256(served.SHA256)[len("sha256:"):] || a.Claimant != m.Claimant().String() || a.Claim == "" {
		t.Fatalf("alarm %+v", a)
	}
	if _, _, err := store.Read(context.Background(), a.Claim); err != nil {
		t.Fatalf("the claim, evidence of the alarm: %v", err)
	}
	s, err := sequencer.Open(context.Background(), sequencer.Config{Store: store, Key: skey, Holder: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckAlarms(context.Background()); !errors.Is(err, sequencer.ErrAlarm) {
		t.Fatalf("CheckAlarms = %v, want ErrAlarm", err)
	}
	s.Close(context.Background())
	// The same size with another sha256 is a mismatch too.
	store = newTestStore(t)
	intaketest.Claim(t, store, m, "foo", claimTime, claimed)
	other := fileRecord("foo", "foo-1.0.tar.gz", "foo sdisT")
	res, err = appendAt(t, store, skey, claimTime.Add(time.Minute), other)
	if err != nil {
		t.Fatal(err)
	}
	onlyAlarm(t, res, sequencer.AlarmClaimMismatch, "foo-1.0.tar.gz")
}

// TestClaimNotLogged: a claimed file the log has not found on PyPI by the
// deadline is an alarm, raised once; before the deadline, or with the
// file logged in time, none is.
func TestClaimNotLogged(t *testing.T) {
	store := newTestStore(t)
	skey, _ := testKey(t)
	m := intaketest.NewMaintainer(t, "maintainer")
	intaketest.Claim(t, store, m, "foo", claimTime, intaketest.File("foo-1.0.tar.gz", []byte("foo sdist")), intaketest.File("foo-1.0-py3-none-any.whl", []byte("wheel")))
	res, err := appendAt(t, store, skey, claimTime.Add(sequencer.DefaultClaimDeadline-time.Minute), fileRecord("foo", "foo-1.0-py3-none-any.whl", "wheel"))
	if err != nil || len(res.Alarms) != 0 {
		t.Fatalf("before the deadline: %+v, %v", res, err)
	}
	res, err = appendAt(t, store, skey, claimTime.Add(sequencer.DefaultClaimDeadline+time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	a := onlyAlarm(t, res, sequencer.AlarmClaimNotLogged, "foo-1.0.tar.gz")
	if a.Claimant != m.Claimant().String() || a.ClaimedSize != int64(len("foo sdist")) {
		t.Fatalf("alarm %+v", a)
	}
	// Settled: the next run raises nothing new.
	res, err = appendAt(t, store, skey, claimTime.Add(2*sequencer.DefaultClaimDeadline))
	if err != nil || len(res.Alarms) != 0 {
		t.Fatalf("after the alarm: %+v, %v", res, err)
	}
	// With the cache of settled claims lost, the same alarm, not another.
	if err := store.Delete(context.Background(), tiles.StatePrefix+"claims-settled"); err != nil {
		t.Fatal(err)
	}
	res, err = appendAt(t, store, skey, claimTime.Add(2*sequencer.DefaultClaimDeadline))
	if err != nil {
		t.Fatal(err)
	}
	if again := onlyAlarm(t, res, sequencer.AlarmClaimNotLogged, "foo-1.0.tar.gz"); again.ID() != a.ID() {
		t.Fatalf("alarm %s, then %s", a.ID(), again.ID())
	}
	alarms, err := sequencer.ListAlarms(context.Background(), store)
	if err != nil || len(alarms) != 1 {
		t.Fatalf("%d alarms stored, want 1: %v", len(alarms), err)
	}
}

// TestClaimAfterLogging: a claim that arrives after the log found the
// file is compared with what the log holds: other bytes are an alarm at
// the logged leaf, the same bytes none.
func TestClaimAfterLogging(t *testing.T) {
	store := newTestStore(t)
	skey, _ := testKey(t)
	m := intaketest.NewMaintainer(t, "maintainer")
	if _, err := appendAt(t, store, skey, claimTime, fileRecord("foo", "foo-1.0.tar.gz", "foo sdist"), fileRecord("foo", "foo-2.0.tar.gz", "foo 2")); err != nil {
		t.Fatal(err)
	}
	intaketest.Claim(t, store, m, "foo", claimTime.Add(time.Hour), intaketest.File("foo-1.0.tar.gz", []byte("other bytes")), intaketest.File("foo-2.0.tar.gz", []byte("foo 2")))
	res, err := appendAt(t, store, skey, claimTime.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a := onlyAlarm(t, res, sequencer.AlarmClaimMismatch, "foo-1.0.tar.gz"); a.Leaf != 0 {
		t.Fatalf("alarm at leaf %d, want 0", a.Leaf)
	}
}

// TestClaimantReplayed: a batch that crashed after it was staged writes,
// when the next run finishes it, the claimants it decided before the
// crash, even if the claim is gone from the store since.
func TestClaimantReplayed(t *testing.T) {
	skey, vkey := testKey(t)
	m := intaketest.NewMaintainer(t, "maintainer")
	// After the key file and the staged batch, a fault at the tiles, the
	// index, the checkpoint.
	for failAt := 3; failAt <= 8; failAt++ {
		store := newTestStore(t)
		intaketest.Claim(t, store, m, "foo", claimTime, intaketest.File("foo-1.0.tar.gz", []byte("foo sdist")))
		faulty := &storetest.Faulty{Store: store, FailAt: failAt}
		s, err := sequencer.Open(context.Background(), sequencer.Config{Store: faulty, Key: skey, Holder: t.Name()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Append(context.Background(), []sequencer.Record{fileRecord("foo", "foo-1.0.tar.gz", "foo sdist")}, nil)
		s.Close(context.Background())
		if !errors.Is(err, storetest.ErrInjected) {
			t.Fatalf("fault at write %d: %v", failAt, err)
		}
		keys, err := store.List(context.Background(), tiles.ClaimsPrefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := store.Delete(context.Background(), k); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := appendAt(t, store, skey, claimTime); err != nil {
			t.Fatalf("recovery after a fault at write %d: %v", failAt, err)
		}
		if got := seqtest.IndexLine(t, store, vkey, "foo", "foo-1.0.tar.gz").Claimant; got == nil || *got != m.Claimant() {
			t.Fatalf("fault at write %d: claimant %v after the replay, want %v", failAt, got, m.Claimant())
		}
	}
}

// TestClaimsDamaged: a claim record altered in the store stops the batch
// (the claims can't be trusted to decide anything) rather than being
// skipped.
func TestClaimsDamaged(t *testing.T) {
	store := newTestStore(t)
	skey, _ := testKey(t)
	m := intaketest.NewMaintainer(t, "maintainer")
	intaketest.Claim(t, store, m, "foo", claimTime, intaketest.File("foo-1.0.tar.gz", []byte("foo sdist")))
	keys, err := store.List(context.Background(), tiles.ClaimsPrefix+"foo/claim/")
	if err != nil || len(keys) != 1 {
		t.Fatalf("claim records %q: %v", keys, err)
	}
	data, v, err := store.Read(context.Background(), keys[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-5] ^= 1
	if _, err := store.Swap(context.Background(), keys[0], v, data); err != nil {
		t.Fatal(err)
	}
	_, err = appendAt(t, store, skey, claimTime, fileRecord("foo", "foo-1.0.tar.gz", "foo sdist"))
	if !errors.Is(err, sequencer.ErrStoreDamaged) {
		t.Fatalf("Append with a damaged claim = %v, want ErrStoreDamaged", err)
	}
}
