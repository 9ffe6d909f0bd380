package publish

import (
	"fmt"
	"sync"

	"github.com/pysumdb/pysumdb/internal/atomicfile"
)

// dirSyncer makes directory fsyncs a group commit: fsyncs of one directory
// serialize in the kernel, so when many goroutines write objects into one
// directory (a batch's project indexes, say), every caller waiting for a
// sync is served by the next single fsync that starts after it asked.
type dirSyncer struct {
	mu   sync.Mutex
	dirs map[string]*dirSyncState
}

type dirSyncState struct {
	cond    sync.Cond
	running bool
	started uint64 // fsyncs started
	done    uint64 // the last fsync completed
	err     error  // its result
}

func (s *dirSyncer) state(dir string) *dirSyncState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirs == nil {
		s.dirs = map[string]*dirSyncState{}
	}
	st, ok := s.dirs[dir]
	if !ok {
		st = &dirSyncState{}
		st.cond.L = &s.mu
		s.dirs[dir] = st
	}
	return st
}

// sync returns once an fsync of dir that started after the call has
// completed, and that fsync's error.
func (s *dirSyncer) sync(dir string) error {
	st := s.state(dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	// An fsync already running may have started before our write: we need
	// the one after it.
	target := st.started + 1
	for st.done < target {
		if st.running {
			st.cond.Wait()
			continue
		}
		st.running = true
		st.started++
		mine := st.started
		s.mu.Unlock()
		err := atomicfile.SyncDir(dir)
		if err != nil {
			err = fmt.Errorf("couldn't sync directory: %w", err)
		}
		s.mu.Lock()
		st.running, st.done, st.err = false, mine, err
		st.cond.Broadcast()
	}
	return st.err
}
