package synthetic

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/tiles"
)

// FloorConfig tunes Floor. The zero value writes and signs as the
// sequencer does by default.
type FloorConfig struct {
	// Concurrency is how many files are created, or renamed, at once: the
	// sequencer's Config.Concurrency. 0 means 32, its default.
	Concurrency int
	// Signers is how many goroutines sign notes. 0 means
	// runtime.GOMAXPROCS(0), as the sequencer signs in parallel.
	Signers int
}

// FloorResult is the least a run could have cost on this machine: the
// disk work and the cryptography no implementation can avoid.
type FloorResult struct {
	// Objects holding Bytes in all were published in Groups durable
	// groups, taking Disk.
	Objects, Groups int
	Bytes           int64
	Disk            time.Duration
	// Leaves were hashed into a Merkle tree, taking Tree.
	Leaves int
	Tree   time.Duration
	// Signatures Ed25519 note signatures took Signing.
	Signatures int
	Signing    time.Duration
}

// Hashing is the time of the cryptography.
func (f FloorResult) Hashing() time.Duration { return f.Tree + f.Signing }

// Total is the floor: disk and hashing.
func (f FloorResult) Total() time.Duration { return f.Disk + f.Hashing() }

// Ratio is how many times the floor elapsed took (0 for an empty floor).
func (f FloorResult) Ratio(elapsed time.Duration) float64 {
	if f.Total() <= 0 {
		return 0
	}
	return float64(elapsed) / float64(f.Total())
}

// floorDirs is how many directories the floor's objects are spread over,
// about as many as a store's (tile levels and indexes of many projects):
// one big directory would serialize on its lock.
const floorDirs = 256

// Floor measures, on this machine, the floor of the run res reports: the
// cheapest crash-safe publication of res.Objects objects of res.Bytes in
// all, in the two durable groups a batch needs (its tiles, bundles and
// proofs, then its indexes), plus the Merkle tree hashes of res.Entries
// leaves and res.SignedObjects note signatures. The objects go to a
// temporary directory inside dir, to be on the file system of the store
// there; it is removed afterwards, untimed.
func Floor(ctx context.Context, dir string, res BenchResult, cfg FloorConfig) (FloorResult, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.Signers <= 0 {
		cfg.Signers = runtime.GOMAXPROCS(0)
	}
	f := FloorResult{Objects: int(res.Objects), Bytes: res.Bytes, Leaves: res.Entries, Signatures: int(res.SignedObjects)}
	if f.Objects > 0 {
		f.Groups = min(2*res.Batches, f.Objects)
	}
	var err error
	if f.Disk, err = diskFloor(ctx, dir, f.Objects, f.Bytes, f.Groups, cfg.Concurrency); err != nil {
		return f, err
	}
	if f.Tree, err = treeFloor(ctx, res.Entries); err != nil {
		return f, err
	}
	var size int64
	if res.SignedObjects > 0 {
		size = res.SignedBytes / res.SignedObjects
	}
	if f.Signing, err = signFloor(ctx, f.Signatures, int(size), cfg.Signers); err != nil {
		return f, err
	}
	return f, nil
}

// diskFloor returns the time to publish objects of bytes in all in groups,
// each as the store's group write does, without its checks: every content
// written without a name, one sync, every content named, one sync.
func diskFloor(ctx context.Context, dir string, objects int, bytes int64, groups, concurrency int) (time.Duration, error) {
	if objects == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// A hidden name, which a store's readers skip.
	root, err := os.MkdirTemp(dir, ".floor-")
	if err != nil {
		return 0, fmt.Errorf("couldn't create the floor's directory: %w", err)
	}
	defer os.RemoveAll(root)
	var dirs []string
	for i := range floorDirs {
		d := filepath.Join(root, fmt.Sprintf("%02x", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			return 0, fmt.Errorf("couldn't create the floor's directory: %w", err)
		}
		dirs = append(dirs, d)
	}
	// Bytes that don't compress, on a file system that would: objects of
	// equal sizes, the first bytes%objects one byte longer.
	data := make([]byte, bytes/int64(objects)+1)
	rand.Read(data)
	content := func(k int) []byte {
		if int64(k) < bytes%int64(objects) {
			return data
		}
		return data[:len(data)-1]
	}
	start := time.Now()
	for g, next := 0, 0; g < groups; g++ {
		n := objects / groups
		if g < objects%groups {
			n++
		}
		if err := writeGroup(ctx, root, dirs, next, n, content, concurrency); err != nil {
			return 0, err
		}
		next += n
	}
	return time.Since(start), nil
}

// writeGroup durably writes n objects numbered from first, object k
// holding content(k), spread over dirs.
func writeGroup(ctx context.Context, root string, dirs []string, first, n int, content func(k int) []byte, concurrency int) error {
	name := func(i int) string {
		return filepath.Join(dirs[(first+i)%len(dirs)], fmt.Sprint(first+i))
	}
	pending := make([]unnamed, n)
	defer func() {
		for _, u := range pending {
			if u != nil {
				u.discard()
			}
		}
	}()
	err := parallel(ctx, n, concurrency, func(i int) error {
		var err error
		pending[i], err = writeUnnamed(filepath.Dir(name(i)), first+i, content(first+i))
		if err != nil {
			return fmt.Errorf("couldn't write a floor object: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var temps []string
	for _, u := range pending {
		if p := u.path(); p != "" {
			temps = append(temps, p)
		}
	}
	if err := syncAll(root, temps); err != nil {
		return err
	}
	err = parallel(ctx, n, concurrency, func(i int) error {
		if err := pending[i].name(name(i)); err != nil {
			return fmt.Errorf("couldn't name a floor object: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var named []string
	for i := range min(n, len(dirs)) {
		named = append(named, filepath.Dir(name(i)))
	}
	return syncAll(root, named)
}

// unnamed is an object's content written to the file system, not yet
// under its name: the cheapest way the system has (floor_linux.go,
// floor_other.go), the one the store uses too.
type unnamed interface {
	// path is the temporary file to sync, "" if syncAll needs none.
	path() string
	// name gives the content its name.
	name(p string) error
	// discard frees what naming did not use.
	discard()
}

// namedTemp is content in a temporary file beside its name.
type namedTemp string

// writeNamedTemp writes data to a temporary file in dir for object k.
func writeNamedTemp(dir string, k int, data []byte) (unnamed, error) {
	p := filepath.Join(dir, fmt.Sprintf(".tmp-%d", k))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return nil, err
	}
	return namedTemp(p), nil
}

func (t namedTemp) path() string        { return string(t) }
func (t namedTemp) name(p string) error { return os.Rename(string(t), p) }
func (t namedTemp) discard()            { os.Remove(string(t)) } // gone already if renamed

// parallel calls do(i) for every i in [0, n), at most workers at once,
// and returns the first error, or ctx's.
func parallel(ctx context.Context, n, workers int, do func(i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := 0; i < n && gctx.Err() == nil; i++ {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return do(i)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// treeFloor returns the time to compute the tree hashes of leaves entries
// of a typical size, one after the other as the tree grows.
func treeFloor(ctx context.Context, leaves int) (time.Duration, error) {
	r := Records(leaves/2, 1)[0]
	entry, err := tiles.FormatEntry(tiles.Entry{SHA256: r.SHA256, Filename: r.Filename})
	if err != nil {
		return 0, fmt.Errorf("couldn't make a floor entry: %w", err)
	}
	hashes := make([]tlog.Hash, 0, tlog.StoredHashCount(int64(leaves)))
	read := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = hashes[x]
		}
		return out, nil
	})
	start := time.Now()
	for n := range int64(leaves) {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		stored, err := tlog.StoredHashes(n, entry, read)
		if err != nil {
			return 0, fmt.Errorf("couldn't hash the floor's tree: %w", err)
		}
		hashes = append(hashes, stored...)
	}
	return time.Since(start), nil
}

// signFloor returns the time to sign n notes of size bytes (signature
// included) on signers goroutines.
func signFloor(ctx context.Context, n, size, signers int) (time.Duration, error) {
	if n == 0 {
		return 0, nil
	}
	skey, _, err := note.GenerateKey(rand.Reader, "bench.pysumdb.invalid/log")
	if err != nil {
		return 0, fmt.Errorf("couldn't make a floor key: %w", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return 0, fmt.Errorf("couldn't make a floor key: %w", err)
	}
	// The text is what the signature leaves of size: what gets hashed.
	empty, err := note.Sign(&note.Note{Text: "\n"}, signer)
	if err != nil {
		return 0, fmt.Errorf("couldn't sign a floor note: %w", err)
	}
	text := noteText(max(size-len(empty)+1, 1))
	start := time.Now()
	err = parallel(ctx, n, signers, func(int) error {
		if _, err := note.Sign(&note.Note{Text: text}, signer); err != nil {
			return fmt.Errorf("couldn't sign a floor note: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// noteText returns a valid note text of size bytes, lines of at most 64.
func noteText(size int) string {
	var b strings.Builder
	for b.Len() < size {
		line := min(size-b.Len(), 64)
		b.WriteString(strings.Repeat("x", line-1) + "\n")
	}
	return b.String()
}
