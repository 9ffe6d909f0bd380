package gcs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/storage"

	"github.com/pysumdb/pysumdb/publish"
)

// lease is the content of the lease object.
type lease struct {
	Holder string `json:"holder"`
	// Token is random per Lock call: it tells this holder's writes from
	// those of another process, even one using the same holder name.
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// maxLockAttempts bounds how often Lock looks at a lease that changes
// under it (taken, renewed or released by others) before calling it busy.
const maxLockAttempts = 3

// Lock implements publish.Store; see "The lease" in the package
// documentation. The returned release stops the renewals and deletes the
// lease; it fails with an error wrapping publish.ErrBusy if the lease had
// expired and been taken over meanwhile, and leaves the new holder's lease
// alone.
func (s *Store) Lock(ctx context.Context, holder string) (func(context.Context) error, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	mine := lease{Holder: holder, Token: rand.Text()}
	for range maxLockAttempts {
		current, generation, err := s.readLease(ctx)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the lease: %w", err)
		}
		if generation != 0 && current.Token == mine.Token {
			// An earlier attempt below landed, but its answer was lost
			// and its retry failed the precondition.
			return s.hold(mine, generation), nil
		}
		if generation != 0 && s.now().Before(current.Expires) {
			return nil, fmt.Errorf("%w (held by %s until %s)", publish.ErrBusy, publish.HolderName(current.Holder), current.Expires.Format(time.RFC3339))
		}
		mine.Expires = s.now().Add(s.leaseTTL)
		newGeneration, err := s.writeLease(ctx, generation, mine)
		if err == nil {
			if generation != 0 {
				s.log.Info("took over an expired lease", "store", s.String(), "previous_holder", current.Holder, "expired", current.Expires)
			}
			return s.hold(mine, newGeneration), nil
		}
		if !isPreconditionFailed(err) {
			return nil, fmt.Errorf("couldn't write the lease: %w", err)
		}
		// The lease changed since it was read: look again.
	}
	return nil, fmt.Errorf("%w (the lease kept changing while being taken)", publish.ErrBusy)
}

// hold starts renewing a lease just taken and returns its release.
func (s *Store) hold(mine lease, generation int64) func(context.Context) error {
	renewing, stopRenewing := context.WithCancel(context.Background())
	renewerDone := make(chan struct{})
	go func() {
		defer close(renewerDone)
		s.renewLease(renewing, mine, generation)
	}()
	var once sync.Once
	var releaseErr error
	return func(ctx context.Context) error {
		once.Do(func() {
			// Cancelling may interrupt a renewal whose write lands
			// anyway; releaseLease goes by the token, not by the
			// generation the renewer last knew, so that is harmless.
			stopRenewing()
			<-renewerDone
			releaseErr = s.releaseLease(ctx, mine.Token)
		})
		return releaseErr
	}
}

// renewLease pushes the lease's expiry forward every renewal interval
// until ctx is cancelled or the lease turns out to be lost. generation is
// the lease object's generation as last written by this holder.
func (s *Store) renewLease(ctx context.Context, mine lease, generation int64) {
	ticker := time.NewTicker(s.renew)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		mine.Expires = s.now().Add(s.leaseTTL)
		newGeneration, lost, err := s.renewOnce(ctx, mine, generation)
		switch {
		case lost:
			s.log.Error("lost the lease: it expired and another holder took it over", "store", s.String(), "holder", mine.Holder)
			return
		case err != nil && ctx.Err() == nil:
			// Keep the generation: the next renewal's precondition tells
			// whether this one landed after all.
			s.log.Warn("couldn't renew the lease; will retry", "store", s.String(), "holder", mine.Holder, "err", err)
		case err == nil:
			generation = newGeneration
		}
	}
}

// renewOnce writes mine over the lease object at generation. It reports
// lost if the lease object is no longer this holder's.
func (s *Store) renewOnce(ctx context.Context, mine lease, generation int64) (newGeneration int64, lost bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	newGeneration, err = s.writeLease(ctx, generation, mine)
	if !isPreconditionFailed(err) {
		return newGeneration, false, err
	}
	// Another holder took the lease over, or an earlier renewal of ours
	// landed without its answer reaching us: the token tells.
	current, currentGeneration, err := s.readLease(ctx)
	if err != nil {
		return 0, false, err
	}
	if currentGeneration != 0 && current.Token == mine.Token {
		return currentGeneration, false, nil
	}
	return 0, true, nil
}

// releaseLease deletes the lease object if it is still the one with
// token, and only that generation of it.
func (s *Store) releaseLease(ctx context.Context, token string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	current, generation, err := s.readLease(ctx)
	if err != nil {
		return fmt.Errorf("couldn't release the lease: %w", err)
	}
	if generation == 0 || current.Token != token {
		return lostLease(current, generation)
	}
	// The precondition, not the check above, is what makes this safe
	// against a takeover in between; the check names the new holder, and
	// keeps servers that ignore delete preconditions (emulators) right in
	// the absence of races.
	err = s.object(leaseName).If(storage.Conditions{GenerationMatch: generation}).Delete(ctx)
	switch {
	case err == nil || errors.Is(err, storage.ErrObjectNotExist):
		// Not found: a retried request whose first attempt deleted it.
		return nil
	case isPreconditionFailed(err):
		return lostLease(lease{}, 0)
	default:
		return fmt.Errorf("couldn't release the lease: %w", err)
	}
}

func lostLease(current lease, generation int64) error {
	if generation == 0 {
		return fmt.Errorf("couldn't release the lease: %w (it expired and was taken over by another holder)", publish.ErrBusy)
	}
	return fmt.Errorf("couldn't release the lease: %w (it expired and was taken over by %s)", publish.ErrBusy, publish.HolderName(current.Holder))
}

// readLease returns the lease and its object's generation, 0 if there is
// no lease.
func (s *Store) readLease(ctx context.Context) (lease, int64, error) {
	data, generation, err := s.read(ctx, leaseName)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return lease{}, 0, nil
	}
	if err != nil {
		return lease{}, 0, err
	}
	var l lease
	if err := json.Unmarshal(data, &l); err != nil {
		return lease{}, 0, fmt.Errorf("%s%s is not a lease (delete it to free the store): %w", s, leaseName, err)
	}
	return l, generation, nil
}

// writeLease writes l to the lease object if its generation is still
// generation (0: if there is none) and returns the new generation.
func (s *Store) writeLease(ctx context.Context, generation int64, l lease) (int64, error) {
	data, err := json.Marshal(l)
	if err != nil {
		return 0, err
	}
	cond := storage.Conditions{DoesNotExist: true}
	if generation != 0 {
		cond = storage.Conditions{GenerationMatch: generation}
	}
	attrs, err := s.upload(ctx, leaseName, cond, data, nil)
	if err != nil {
		return 0, err
	}
	return attrs.Generation, nil
}
