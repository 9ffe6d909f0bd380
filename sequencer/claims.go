package sequencer

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/claim"
	"github.com/pysumdb/pysumdb/intake"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// DefaultClaimDeadline is how long after a maintainer's claim the log must
// have found the file on PyPI (Config.ClaimDeadline).
const DefaultClaimDeadline = 24 * time.Hour

// settledClaimsKey is where the sequencer keeps the claimed files it has
// settled: found on PyPI and compared, or reported as never found. It is
// a cache of what the claims and the indexes say, so that a run reads the
// claims of the files still pending only; lost, it is rebuilt by reading
// them all once.
const settledClaimsKey = tiles.StatePrefix + "claims-settled"

// claimedFile is a file a maintainer claimed, as an intake stored it
// (package intake) and this sequencer verified it again.
type claimedFile struct {
	claim.File
	claimant tiles.Claimant
	// key is the claim record's object key, the evidence.
	key string
	// received is when the intake accepted the claim.
	received time.Time
}

// storeClaims is what one run knows of the store's claims: the claimed
// filenames, by project, as the intake's file markers name them
// (listClaimed), and the claims it has read and verified so far
// (readClaims), so that a run reads a project's claims once.
type storeClaims struct {
	claimed map[string]map[string]bool
	// read are the projects whose claims are in files.
	read map[string]bool
	// files are the claimed files read, by filename.
	files map[string]claimedFile
}

// listClaimed lists the store's claims once: the claimed filenames of
// every project. The markers only say where to look; the claims are read
// and verified again before anything is decided (readClaims).
func (s *Sequencer) listClaimed(ctx context.Context) (*storeClaims, error) {
	keys, err := s.cfg.Store.List(ctx, tiles.ClaimsPrefix)
	if err != nil {
		return nil, fmt.Errorf("couldn't list the claims: %w", err)
	}
	sc := &storeClaims{claimed: map[string]map[string]bool{}, read: map[string]bool{}, files: map[string]claimedFile{}}
	for _, key := range keys {
		project, kind, name, ok := tiles.ParseClaimKey(key)
		if !ok || kind != tiles.ClaimFileKind {
			continue
		}
		if sc.claimed[project] == nil {
			sc.claimed[project] = map[string]bool{}
		}
		sc.claimed[project][name] = true
	}
	return sc, nil
}

// readClaims reads and verifies the claims of projects that sc has not
// read yet (intake.ReadProject: the identity chain, each claim's signature
// or token, the identity it was made under), adding their files to
// sc.files. A claim that does not verify is ErrStoreDamaged: a store where
// anyone wrote under claims/ can't be told from a claim that was tampered
// with.
func (s *Sequencer) readClaims(ctx context.Context, sc *storeClaims, projects map[string]bool) error {
	var todo []string
	for project := range projects {
		if !sc.read[project] {
			todo = append(todo, project)
		}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Concurrency)
	for _, project := range todo {
		g.Go(func() error {
			p, err := intake.ReadProject(gctx, s.cfg.Store, project, s.cfg.ClaimIssuers...)
			if errors.Is(err, intake.ErrDamaged) {
				return fmt.Errorf("%w: the claims of %s: %v (an intake that trusts other OIDC issuers than the defaults needs them in Config.ClaimIssuers, --claim-issuer)", ErrStoreDamaged, project, err)
			}
			if err != nil {
				return fmt.Errorf("couldn't read the claims of %s: %w", project, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range p.Claims {
				for _, f := range c.Files {
					sc.files[f.Filename] = claimedFile{File: f, claimant: c.Identity, key: c.Key, received: c.Received}
				}
			}
			sc.read[project] = true
			return nil
		})
	}
	return g.Wait()
}

// matchClaims sets the claimant of each fresh record (in leaf order from
// the tree size) whose file a maintainer claimed with the same sha256 and
// size, and raises an alarm for each whose claim names other bytes: the
// file is logged as PyPI serves it, the claim stays in the store as the
// evidence. A claimant given by the caller is dropped: claims come from
// the store only.
func (s *Sequencer) matchClaims(ctx context.Context, fresh []Record, sc *storeClaims) ([]Alarm, error) {
	projects := map[string]bool{}
	for i := range fresh {
		fresh[i].Claimant = nil
		if sc.claimed[fresh[i].Project][fresh[i].Filename] {
			projects[fresh[i].Project] = true
		}
	}
	if len(projects) == 0 {
		return nil, nil
	}
	if err := s.readClaims(ctx, sc, projects); err != nil {
		return nil, err
	}
	var alarms []Alarm
	for i := range fresh {
		r := &fresh[i]
		c, ok := sc.files[r.Filename]
		if !ok {
			continue
		}
		if c.SHA256 == r.SHA256 && c.Size == r.Size {
			r.Claimant = &c.claimant
			continue
		}
		a := s.claimAlarm(AlarmClaimMismatch, ReasonClaimMismatch, r.Project, c)
		a.Leaf = s.st.TreeSize + int64(i)
		a.LoggedSHA256, a.LoggedSize = hex.EncodeToString(r.SHA256[:]), r.Size
		a.ServedSHA256, a.ServedSize = a.LoggedSHA256, a.LoggedSize
		if err := s.RaiseAlarm(ctx, a); err != nil {
			return nil, err
		}
		alarms = append(alarms, a)
	}
	return alarms, nil
}

// claimAlarm returns an alarm about the claimed file c of project, with
// the claim as its evidence.
func (s *Sequencer) claimAlarm(code, reason, project string, c claimedFile) Alarm {
	return Alarm{
		Code: code, Reason: reason, Project: project, Filename: c.Filename, Leaf: -1,
		ClaimedSHA256: hex.EncodeToString(c.SHA256[:]), ClaimedSize: c.Size,
		Claimant: c.claimant.String(), Claim: c.key,
		Detail:   "the intake received the claim at " + c.received.UTC().Format(time.RFC3339),
		Detected: s.cfg.Now().UTC().Format(time.RFC3339),
	}
}

// settleClaims checks, after a batch (or a run that appended nothing),
// the claimed files not settled yet: a file the log now holds is compared
// with its claim (the batch compared its own files already; a file logged
// before its claim arrived is compared here, and an alarm raised if the
// bytes differ); a file the log has not found on PyPI ClaimDeadline after
// the intake received its claim is an alarm. Both are settled, and
// recorded as such (settledClaimsKey), so that later runs read neither
// again; the others wait for the next run.
func (s *Sequencer) settleClaims(ctx context.Context, sc *storeClaims) ([]Alarm, error) {
	if len(sc.claimed) == 0 {
		return nil, nil
	}
	settled, version, err := s.readSettled(ctx)
	if err != nil {
		return nil, err
	}
	pending := map[string]bool{}
	for project, names := range sc.claimed {
		for name := range names {
			if !settled[project+" "+name] {
				pending[project] = true
			}
		}
	}
	if len(pending) == 0 {
		return nil, nil
	}
	if err := s.readClaims(ctx, sc, pending); err != nil {
		return nil, err
	}
	logged, err := s.Logged(ctx, slices.Collect(maps.Keys(pending)))
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	var alarms []Alarm
	added := 0
	for project := range pending {
		for name := range sc.claimed[project] {
			c, ok := sc.files[name]
			if settled[project+" "+name] || !ok {
				// A marker without its claim record: the intake
				// crashed before writing it, and a retry of the
				// claim will.
				continue
			}
			var a *Alarm
			line, isLogged := logged[name]
			switch {
			case isLogged && (line.SHA256 != c.SHA256 || line.Size != c.Size):
				alarm := s.claimAlarm(AlarmClaimMismatch, ReasonClaimMismatch, project, c)
				alarm.Leaf = line.Leaf
				alarm.LoggedSHA256, alarm.LoggedSize = hex.EncodeToString(line.SHA256[:]), line.Size
				alarm.ServedSHA256, alarm.ServedSize = alarm.LoggedSHA256, alarm.LoggedSize
				a = &alarm
			case isLogged:
			case s.cfg.ClaimDeadline > 0 && now.Sub(c.received) > s.cfg.ClaimDeadline:
				alarm := s.claimAlarm(AlarmClaimNotLogged, ReasonClaimNotLogged, project, c)
				alarm.Detail = fmt.Sprintf("%s; not found on PyPI %s later", alarm.Detail, now.Sub(c.received).Round(time.Second))
				a = &alarm
			default:
				continue
			}
			if a != nil {
				if err := s.RaiseAlarm(ctx, *a); err != nil {
					return alarms, err
				}
				alarms = append(alarms, *a)
			}
			settled[project+" "+name] = true
			added++
		}
	}
	if added > 0 {
		// Only a cache: a run that can't write it reads the same claims
		// again next time, and decides the same.
		if err := s.writeSettled(ctx, settled, version); err != nil {
			s.log.Warn("couldn't record the settled claims", "err", err)
		}
	}
	return alarms, nil
}

// readSettled reads the settled claimed files ("<project> <filename>").
// A cache that doesn't parse is read as empty.
func (s *Sequencer) readSettled(ctx context.Context) (map[string]bool, publish.Version, error) {
	data, version, err := s.cfg.Store.Read(ctx, settledClaimsKey)
	if errors.Is(err, publish.ErrNotExist) {
		return map[string]bool{}, publish.NoVersion, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("couldn't read the settled claims: %w", err)
	}
	settled := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		settled[strings.TrimSuffix(line, "\n")] = true
	}
	return settled, version, nil
}

// writeSettled writes the settled claimed files, if nobody changed them
// since version.
func (s *Sequencer) writeSettled(ctx context.Context, settled map[string]bool, version publish.Version) error {
	lines := slices.Sorted(maps.Keys(settled))
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	_, err := s.cfg.Store.Swap(ctx, settledClaimsKey, version, b.Bytes())
	return err
}
