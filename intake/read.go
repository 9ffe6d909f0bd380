package intake

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pysumdb/pysumdb/claim"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// ErrDamaged is wrapped by the errors of ReadAll and ReadProject for an
// object under claims/ that does not verify: the store is damaged (or
// written by something other than an intake), and the error names the
// object.
var ErrDamaged = errors.New("claims store damaged")

// Project is what an intake stored for a project, verified again.
type Project struct {
	// Name is the normalized project name.
	Name string
	// Identities is the project's chain of identity records, in order,
	// each verified against the one before: the last one's Identity is
	// the project's current claim identity.
	Identities []claim.IdentityRecord
	// Claims are the project's claims, by the time the intake received
	// them (then by ID).
	Claims []Stored
}

// Stored is a claim an intake accepted, verified again.
type Stored struct {
	// Claim is the claim: project, time and files.
	claim.Claim
	// ID is the claim's identifier, the sha256 of its text.
	ID [32]byte
	// Key is the claim record's object key.
	Key string
	// Identity is the identity that made the claim, which the project's
	// identity record Registration had registered.
	Identity claim.Identity
	// Registration is the number of that identity record, from 1.
	Registration int64
	// Received is when the intake accepted it, by its clock.
	Received time.Time
}

// readConcurrencyAll bounds the reads of ReadAll at once.
const readConcurrencyAll = 32

// ReadAll reads every project's claims and identities from store, and
// verifies them again: each identity record against the one before
// (signatures by the keys the records name; tokens with the issuer keys
// the records hold, of issuers, DefaultIssuers if none given), each claim
// against its identity record, and that no two claims give a filename
// other bytes. It returns the projects sorted by name, or an error wrapping
// ErrDamaged that names the first object that does not verify.
//
// It costs one List of claims/ and one Read per identity record and claim
// record (file and token markers are not read), 32 at a time: for a
// sequencer at the start of a batch. ReadProject reads one project.
func ReadAll(ctx context.Context, store publish.Store, issuers ...Issuer) ([]Project, error) {
	return read(ctx, store, tiles.ClaimsPrefix, "", issuers)
}

// ReadProject reads and verifies one project's claims and identities, as
// ReadAll does. A project without any has no Identities and no Claims.
func ReadProject(ctx context.Context, store publish.Store, project string, issuers ...Issuer) (Project, error) {
	if !tiles.IsNormalizedProject(project) {
		return Project{}, fmt.Errorf("%q is not a normalized project name", project)
	}
	projects, err := read(ctx, store, tiles.ClaimsPrefix+project+"/", project, issuers)
	if err != nil || len(projects) == 0 {
		return Project{Name: project}, err
	}
	return projects[0], nil
}

func read(ctx context.Context, store publish.Store, prefix, only string, issuers []Issuer) ([]Project, error) {
	if len(issuers) == 0 {
		issuers = DefaultIssuers
	}
	keys, err := store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	// The records to read, by project; markers are skipped.
	type objects struct{ identities, claims []string }
	byProject := make(map[string]*objects)
	var toRead []string
	for _, key := range keys {
		project, kind, _, ok := tiles.ParseClaimKey(key)
		if !ok || only != "" && project != only {
			return nil, fmt.Errorf("%w: %s is not a claims object", ErrDamaged, key)
		}
		o := byProject[project]
		if o == nil {
			o = &objects{}
			byProject[project] = o
		}
		switch kind {
		case tiles.ClaimIdentityKind:
			o.identities = append(o.identities, key)
		case tiles.ClaimRecordKind:
			o.claims = append(o.claims, key)
		default:
			continue
		}
		toRead = append(toRead, key)
	}
	data, err := readObjects(ctx, store, toRead)
	if err != nil {
		return nil, err
	}
	projects := make([]Project, 0, len(byProject))
	for name, o := range byProject {
		p, err := verifyProject(name, o.identities, o.claims, data, issuers)
		if err != nil {
			return nil, err
		}
		projects = append(projects, p)
	}
	slices.SortFunc(projects, func(a, b Project) int { return cmp.Compare(a.Name, b.Name) })
	return projects, nil
}

// readObjects reads keys, readConcurrencyAll at a time.
func readObjects(ctx context.Context, store publish.Store, keys []string) (map[string][]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		data     = make(map[string][]byte, len(keys))
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan string)
	for range min(readConcurrencyAll, len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range next {
				b, _, err := store.Read(ctx, key)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("reading %s: %w", key, err)
					cancel()
				}
				data[key] = b
				mu.Unlock()
			}
		}()
	}
	for _, key := range keys {
		if ctx.Err() != nil {
			break
		}
		next <- key
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return data, firstErr
}

func damaged(key string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrDamaged, key, fmt.Sprintf(format, args...))
}

// verifyProject verifies a project's chain of identities and its claims.
func verifyProject(project string, identityKeys, claimKeys []string, data map[string][]byte, issuers []Issuer) (Project, error) {
	p := Project{Name: project}
	var prev *claim.IdentityRecord
	for i, key := range identityKeys {
		if want := tiles.ClaimIdentityKey(project, int64(i+1)); key != want {
			return p, damaged(key, "identity records are not numbered from 1 without gaps (want %s)", want)
		}
		r, err := claim.ParseIdentityRecord(data[key])
		if err != nil {
			return p, damaged(key, "%v", err)
		}
		if r.Project != project || r.Index != int64(i+1) {
			return p, damaged(key, "record of %s number %d", r.Project, r.Index)
		}
		if _, err := claim.CheckIdentityRecord(r, prev); err != nil {
			return p, damaged(key, "%v", err)
		}
		if r.OIDC != nil {
			// Record 1's token proves the identity it registers; a
			// change's, the identity it replaces.
			proves := r.Identity
			if prev != nil {
				proves = prev.Identity
			}
			if err := VerifyEvidence(*r.OIDC, proves, r.Received, issuers); err != nil {
				return p, damaged(key, "%v", err)
			}
		}
		p.Identities = append(p.Identities, r)
		prev = &p.Identities[len(p.Identities)-1]
	}
	type claimed struct {
		file claim.File
		key  string
	}
	files := make(map[string]claimed)
	for _, key := range claimKeys {
		r, err := claim.ParseClaimRecord(data[key])
		if err != nil {
			return p, damaged(key, "%v", err)
		}
		id := r.ID()
		if r.Project != project || key != tiles.ClaimRecordKey(project, id) {
			return p, damaged(key, "record of claim %x of %s", id, r.Project)
		}
		c, err := claim.CheckClaimRecord(r)
		if err != nil {
			return p, damaged(key, "%v", err)
		}
		if r.Registration > int64(len(p.Identities)) || p.Identities[r.Registration-1].Identity != r.Identity {
			return p, damaged(key, "claim by %s, which identity record %d of %s does not register", r.Identity, r.Registration, project)
		}
		if r.OIDC != nil {
			if err := VerifyEvidence(*r.OIDC, r.Identity, r.Received, issuers); err != nil {
				return p, damaged(key, "%v", err)
			}
		}
		for _, f := range c.Files {
			if other, ok := files[f.Filename]; ok && other.file != f {
				return p, damaged(key, "claims %s as %s %d, %s as %s %d", f.Filename,
					tiles.FormatSHA256(f.SHA256), f.Size, other.key, tiles.FormatSHA256(other.file.SHA256), other.file.Size)
			}
			files[f.Filename] = claimed{f, key}
		}
		p.Claims = append(p.Claims, Stored{Claim: c, ID: id, Key: key, Identity: r.Identity, Registration: r.Registration, Received: r.Received})
	}
	slices.SortFunc(p.Claims, func(a, b Stored) int {
		return cmp.Or(a.Received.Compare(b.Received), bytes.Compare(a.ID[:], b.ID[:]))
	})
	return p, nil
}
