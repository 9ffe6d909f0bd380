package sequencer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/sequencer"
	"github.com/pysumdb/pysumdb/sequencer/synthetic"
	"github.com/pysumdb/pysumdb/tiles"
)

func newTestStore(t testing.TB) *publish.Dir {
	t.Helper()
	store, err := publish.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// record returns a record of file filename of project, with the sha256 n
// (see digest) and size, upload time unknown.
func record(project, filename string, n, size int) sequencer.Record {
	return sequencer.Record{Project: project, Filename: filename, SHA256: digest(n), Size: int64(size), UploadTime: tiles.NoUploadTime}
}

func appendOnce(t testing.TB, store publish.Store, skey string, records ...sequencer.Record) sequencer.Result {
	t.Helper()
	s := openSeq(t, store, skey)
	defer s.Close(context.Background())
	res, err := s.Append(context.Background(), records, nil)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

func wantAlarm(t testing.TB, res sequencer.Result, code string, leaf int64) sequencer.Alarm {
	t.Helper()
	if res.Appended != 0 || len(res.Alarms) != 1 {
		t.Fatalf("Append = %+v, want one alarm and nothing appended", res)
	}
	a := res.Alarms[0]
	if a.Code != code || a.Leaf != leaf {
		t.Fatalf("alarm = %+v, want code %s at leaf %d", a, code, leaf)
	}
	return a
}

func TestChangedFileIsAnAlarm(t *testing.T) {
	store := newTestStore(t)
	skey, _ := testKey(t)
	appendOnce(t, store, skey, record("foo", "foo-1.0.tar.gz", 1, 100), record("foo", "foo-1.1.tar.gz", 2, 200))
	// The last digit of the sha256 differs; the size alone differs.
	changed := record("foo", "foo-1.1.tar.gz", 3, 200)
	a := wantAlarm(t, appendOnce(t, store, skey, changed), sequencer.AlarmChangedFile, 1)
	if a.LoggedSHA256 != fmt.Sprintf("%064x", 2) || a.ServedSHA256 != fmt.Sprintf("%064x", 3) {
		t.Fatalf("alarm = %+v, want both digests", a)
	}
	a = wantAlarm(t, appendOnce(t, store, skey, record("foo", "foo-1.0.tar.gz", 1, 101)), sequencer.AlarmChangedFile, 0)
	if a.LoggedSize != 100 || a.ServedSize != 101 {
		t.Fatalf("alarm = %+v, want sizes 100 and 101", a)
	}
	if res := appendOnce(t, store, skey, record("foo", "foo-1.0.tar.gz", 1, 100)); res.Duplicates != 1 || len(res.Alarms) != 0 {
		t.Fatalf("the same file again: %+v, want a duplicate", res)
	}
	// Within one batch: the first record is logged (leaf 3, after
	// foo-1.2), and the alarm names it; the same record again is a
	// duplicate.
	res := appendOnce(t, store, skey, record("foo", "foo-2.0.tar.gz", 5, 400), record("foo", "foo-2.0.tar.gz", 4, 400),
		record("foo", "foo-1.2.tar.gz", 6, 1), record("foo", "foo-2.0.tar.gz", 4, 400))
	if res.Appended != 2 || res.Duplicates != 1 || len(res.Alarms) != 1 {
		t.Fatalf("one batch: %+v, want two appended, a duplicate and an alarm", res)
	}
	if a := res.Alarms[0]; a.Code != sequencer.AlarmChangedFile || a.Leaf != 3 || a.LoggedSHA256 != fmt.Sprintf("%064x", 4) || a.ServedSHA256 != fmt.Sprintf("%064x", 5) {
		t.Fatalf("one batch: alarm %+v, want leaf 3 logged with sha256 4, served with 5", a)
	}
}

// TestFilenameUnderAnotherProject: PyPI never reuses a filename, so one
// logged under a project and served under another is an alarm, never a
// second leaf, whether the first project is one the filename gives or not.
func TestFilenameUnderAnotherProject(t *testing.T) {
	for _, tt := range []struct {
		name, first, second, filename string
	}{
		{"the filename's own project first", "foo", "bar", "foo-1.0.tar.gz"},
		{"another project first", "bar", "foo", "foo-1.0.tar.gz"},
		{"two projects neither of which the filename gives", "bar", "qux", "foo-1.0.tar.gz"},
		{"legacy sdist under its longer prefix", "django-foo", "django", "django-foo-1.0.tar.gz"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newTestStore(t)
			skey, _ := testKey(t)
			appendOnce(t, store, skey, record(tt.first, tt.filename, 1, 100))
			for _, served := range []int{1, 2} {
				a := wantAlarm(t, appendOnce(t, store, skey, record(tt.second, tt.filename, served, 100)), sequencer.AlarmOtherProject, 0)
				if a.LoggedProject != tt.first || a.Project != tt.second {
					t.Fatalf("alarm = %+v, want logged under %s, served under %s", a, tt.first, tt.second)
				}
			}
			// Within one batch: the first record wins, the second is an
			// alarm.
			store = newTestStore(t)
			res := appendOnce(t, store, skey, record(tt.first, tt.filename, 1, 100), record(tt.second, tt.filename, 1, 100))
			if res.Appended != 1 || len(res.Alarms) != 1 || res.Alarms[0].Code != sequencer.AlarmOtherProject {
				t.Fatalf("one batch: %+v, want one appended and one alarm", res)
			}
		})
	}
}

// TestFilenameNotes: a file logged under a project its filename does not
// give is listed in the filename note of its home, and only then.
func TestFilenameNotes(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	skey, vkey := testKey(t)
	verifier, _ := note.NewVerifier(vkey)
	appendOnce(t, store, skey, record("bar", "baz-1.0.tar.gz", 1, 1), record("baz", "baz-2.0.tar.gz", 2, 2), record("bar", "bar-1.0.tar.gz", 3, 3))
	data, _, err := store.Read(ctx, tiles.FilenamesKey("baz"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := tiles.OpenFilenameNote(data, verifier, "baz")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Lines) != 1 || n.Lines[0] != (tiles.FilenameLine{Leaf: 1, Filename: "baz-1.0.tar.gz", Project: "bar"}) || n.TreeSize != 3 {
		t.Fatalf("filename note = %+v", n)
	}
	if _, _, err := store.Read(ctx, tiles.FilenamesKey("bar")); !errors.Is(err, publish.ErrNotExist) {
		t.Fatalf("filenames/bar: %v, want none", err)
	}
	for _, shard := range []string{"ba"} {
		data, _, err := store.Read(ctx, tiles.ProjectListKey(shard))
		if err != nil {
			t.Fatal(err)
		}
		l, err := tiles.OpenProjectList(data, verifier, shard)
		if err != nil || fmt.Sprint(l.Projects) != "[bar baz]" {
			t.Fatalf("project list %s = %+v, %v", shard, l, err)
		}
	}
}

// TestLostIndexStopsTheSequencer: an index the project list names that
// is missing or damaged stops the sequencer instead of letting its files
// be logged again, or a changed one be appended without an alarm.
func TestLostIndexStopsTheSequencer(t *testing.T) {
	ctx := context.Background()
	skey, _ := testKey(t)
	first := synthetic.Records(0, 50)
	for _, damage := range []string{"deleted", "flipped"} {
		for _, again := range []struct {
			name    string
			records []sequencer.Record
		}{
			{"same input", first},
			{"changed hash", func() []sequencer.Record {
				r := first[:1:1]
				r[0].SHA256 = digest(999)
				return r
			}()},
		} {
			t.Run(damage+"/"+again.name, func(t *testing.T) {
				store := newTestStore(t)
				appendOnce(t, store, skey, first...)
				key := tiles.IndexKey(first[0].Project)
				switch damage {
				case "deleted":
					if err := store.Delete(ctx, key); err != nil {
						t.Fatal(err)
					}
				case "flipped":
					data, v, _ := store.Read(ctx, key)
					data[len(data)/3] ^= 1
					if _, err := store.Swap(ctx, key, v, data); err != nil {
						t.Fatal(err)
					}
				}
				s := openSeq(t, store, skey)
				before, _ := store.List(ctx, "")
				_, err := s.Append(ctx, again.records, nil)
				if !errors.Is(err, sequencer.ErrStoreDamaged) {
					t.Fatalf("Append after the index was %s: %v, want ErrStoreDamaged", damage, err)
				}
				if !errorNames(err, key) {
					t.Fatalf("error %q does not name %s", err, key)
				}
				if after, _ := store.List(ctx, ""); len(after) != len(before) {
					t.Fatalf("objects written after the damage was found: %d before, %d after", len(before), len(after))
				}
			})
		}
	}
}

func errorNames(err error, key string) bool {
	return err != nil && strings.Contains(err.Error(), key)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedStateAndBundle(t *testing.T) {
	ctx := context.Background()
	skey, _ := testKey(t)
	t.Run("state", func(t *testing.T) {
		store := newTestStore(t)
		appendOnce(t, store, skey, synthetic.Records(0, 10)...)
		_, v, _ := store.Read(ctx, sequencer.StateKey)
		if _, err := store.Swap(ctx, sequencer.StateKey, v, []byte("{\"tree_size\": \"ten\"}\n")); err != nil {
			t.Fatal(err)
		}
		_, err := sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey})
		if !errors.Is(err, sequencer.ErrStoreDamaged) || !errorNames(err, sequencer.StateKey) {
			t.Fatalf("Open: %v, want ErrStoreDamaged naming %s", err, sequencer.StateKey)
		}
	})
	t.Run("bundle", func(t *testing.T) {
		dir := t.TempDir()
		store, _ := publish.OpenDir(dir)
		appendOnce(t, store, skey, synthetic.Records(0, 10)...)
		// Immutable objects can't be rewritten through the store: damage
		// the file itself.
		path := dir + "/tile/entries/000.p/10"
		data := readFile(t, path)
		data[5] ^= 1
		writeFile(t, path, data)
		s := openSeq(t, store, skey)
		_, err := s.Append(ctx, synthetic.Records(10, 1), nil)
		if !errors.Is(err, sequencer.ErrStoreDamaged) || !errorNames(err, "tile/entries/000.p/10") {
			t.Fatalf("Append: %v, want ErrStoreDamaged naming the bundle", err)
		}
	})
}

// TestLostStateIsRebuilt: a deleted state is rebuilt from the checkpoint,
// and the log goes on with nothing logged twice.
func TestLostStateIsRebuilt(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	skey, _ := testKey(t)
	records := synthetic.Records(0, 300)
	appendOnce(t, store, skey, records...)
	if err := store.Delete(ctx, sequencer.StateKey); err != nil {
		t.Fatal(err)
	}
	s := openSeq(t, store, skey)
	if s.TreeSize() != 300 || len(s.Cursor()) != 0 {
		t.Fatalf("rebuilt state: size %d cursor %s, want 300 and none", s.TreeSize(), s.Cursor())
	}
	res, err := s.Append(ctx, append(records, synthetic.Records(300, 5)...), nil)
	if err != nil || res.Appended != 5 || res.Duplicates != 300 {
		t.Fatalf("Append after the rebuild: %+v, %v", res, err)
	}
}

// TestLostStateWithStagedBatchIsRefused: entries beyond the checkpoint
// mean a staged batch was lost with the state; appending after the
// checkpoint would collide with its tiles.
func TestLostStateWithStagedBatchIsRefused(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	skey, _ := testKey(t)
	appendOnce(t, store, skey, synthetic.Records(0, 10)...)
	// The second batch stops before its checkpoint.
	stop := &pauseStore{Store: store, prefixes: []string{tiles.CheckpointKey}, fail: true}
	s, err := sequencer.Open(ctx, sequencer.Config{Store: stop, Key: skey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, synthetic.Records(10, 10), nil); err == nil {
		t.Fatal("Append with the checkpoint write failing succeeded")
	}
	s.Close(ctx)
	if err := store.Delete(ctx, sequencer.StateKey); err != nil {
		t.Fatal(err)
	}
	_, err = sequencer.Open(ctx, sequencer.Config{Store: store, Key: skey})
	if !errors.Is(err, sequencer.ErrStoreDamaged) || !errorNames(err, sequencer.StateKey) {
		t.Fatalf("Open: %v, want ErrStoreDamaged naming %s", err, sequencer.StateKey)
	}
}

// pauseStore stops at the Swaps of keys starting with prefixes (and their
// Reads too, with reads) once the state was swapped (the batch staged),
// before they happen: it fails the first (fail), or holds them all until
// release is closed, after telling paused. Its lease always succeeds, as
// if it had expired under a paused sequencer.
type pauseStore struct {
	publish.Store
	prefixes []string
	reads    bool
	fail     bool
	paused   chan struct{}
	release  chan struct{}

	mu     sync.Mutex
	staged bool
	once   sync.Once
}

var errPaused = errors.New("write refused by the test")

// stop decides for one operation on key: go on, or fail.
func (p *pauseStore) stop(key string) error {
	p.mu.Lock()
	staged := p.staged
	p.mu.Unlock()
	if !staged || !slices.ContainsFunc(p.prefixes, func(prefix string) bool { return strings.HasPrefix(key, prefix) }) {
		return nil
	}
	first := false
	p.once.Do(func() { first = true })
	if p.fail {
		if first {
			return errPaused
		}
		return nil
	}
	if first {
		close(p.paused)
	}
	<-p.release
	return nil
}

func (p *pauseStore) Read(ctx context.Context, key string) ([]byte, publish.Version, error) {
	if p.reads {
		if err := p.stop(key); err != nil {
			return nil, publish.NoVersion, err
		}
	}
	return p.Store.Read(ctx, key)
}

func (p *pauseStore) Swap(ctx context.Context, key string, old publish.Version, data []byte) (publish.Version, error) {
	if err := p.stop(key); err != nil {
		return old, err
	}
	v, err := p.Store.Swap(ctx, key, old, data)
	if key == sequencer.StateKey && err == nil {
		p.mu.Lock()
		p.staged = true
		p.mu.Unlock()
	}
	return v, err
}

func (p *pauseStore) Lock(context.Context, string) (func(context.Context) error, error) {
	return func(context.Context) error { return nil }, nil
}

// TestPausedSequencerCannotMoveTheLogBack: a sequencer paused after its
// stage (lease lost) while another finishes its batch and appends more
// must fail busy at every later compare-and-swap: the checkpoint and the
// indexes never go back.
func TestPausedSequencerCannotMoveTheLogBack(t *testing.T) {
	for _, at := range [][]string{{tiles.CheckpointKey}, {tiles.IndexPrefix, tiles.ProjectListPrefix, tiles.FilenamesPrefix}} {
		t.Run(at[0], func(t *testing.T) {
			// At the checkpoint, stop before reading it too: a sequencer
			// that read its version afresh there (a blind swap) would
			// move it back.
			ctx := context.Background()
			store := newTestStore(t)
			skey, vkey := testKey(t)
			verifier, _ := note.NewVerifier(vkey)
			appendOnce(t, store, skey, synthetic.Records(0, 10)...)

			paused := &pauseStore{Store: store, prefixes: at, reads: at[0] == tiles.CheckpointKey, paused: make(chan struct{}), release: make(chan struct{})}
			a, err := sequencer.Open(ctx, sequencer.Config{Store: paused, Key: skey})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close(ctx)
			done := make(chan error)
			go func() {
				_, err := a.Append(ctx, synthetic.Records(10, 7), json.RawMessage(`"a"`))
				done <- err
			}()
			<-paused.paused
			b, err := sequencer.Open(ctx, sequencer.Config{Store: &pauseStore{Store: store}, Key: skey})
			if err != nil {
				t.Fatalf("second sequencer: %v", err)
			}
			if _, err := b.Append(ctx, synthetic.Records(17, 5), json.RawMessage(`"b"`)); err != nil {
				t.Fatalf("second sequencer: %v", err)
			}
			b.Close(ctx)
			close(paused.release)
			if err := <-done; !errors.Is(err, publish.ErrBusy) {
				t.Fatalf("paused sequencer: %v, want ErrBusy", err)
			}
			data, _, _ := store.Read(ctx, tiles.CheckpointKey)
			c, _, err := tiles.OpenCheckpoint(data, verifier)
			if err != nil || c.N != 22 {
				t.Fatalf("checkpoint: size %d, %v; want 22", c.N, err)
			}
			// Every record so far is a file of the first project.
			project := synthetic.Records(0, 1)[0].Project
			data, _, _ = store.Read(ctx, tiles.IndexKey(project))
			x, err := tiles.OpenIndex(data, verifier, project)
			if err != nil || x.TreeSize != 22 || len(x.Lines) != 22 {
				t.Fatalf("index of %s: %+v, %v; want 22 lines, size 22", project, x, err)
			}
			s := openSeq(t, store, skey)
			if s.TreeSize() != 22 || string(s.Cursor()) != `"b"` {
				t.Fatalf("state: size %d cursor %s", s.TreeSize(), s.Cursor())
			}
		})
	}
}
