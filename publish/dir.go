package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/internal/filelock"
	"github.com/pysumdb/pysumdb/internal/fslist"
	"github.com/pysumdb/pysumdb/tiles"
)

// Dir is a Store in a local directory, the embedded default.
//
// Create writes a temporary file, fsyncs it, and hard-links it to its
// final name: link fails if the name exists, so creation is atomic and
// exclusive (O_EXCL semantics with complete content). Swap writes and
// fsyncs a temporary file, takes an exclusive lock (package filelock) on
// one of 256 lock files chosen by the key, compares the current content's
// digest (the version) with the one read, renames the temporary file over
// the object and fsyncs the directory; a swap from no object links the
// temporary file instead, which fails if the object exists. WriteGroup
// does the same for many objects with two syncs of the file system in
// all instead of two fsyncs each. The lease is a non-blocking lock,
// released by the kernel if the holder dies. (Windows has no fsync of a
// directory: see onWindows.)
//
// Files whose names start with "." (temporary files, locks) are never
// object keys, so `pysumdb serve` and List skip them.
type Dir struct {
	root   string
	syncer dirSyncer
	// dirs remembers directories known to exist (and to be synced).
	dirs sync.Map
	// swapLocks serialize swaps, striped by key (see swapLock).
	swapLocks [swapLockStripes]swapLock
	// tempSeq numbers temporary files, unique with the process id.
	tempSeq atomic.Uint64
	// noAnonymous is set once the file system turned out to have no
	// anonymous files (O_TMPFILE): group writes use named temporary files.
	noAnonymous atomic.Bool
}

// swapLock is one stripe of Swap's lock: a mutex between goroutines, a
// file lock (package filelock) on a lock file (kept open) between
// processes.
type swapLock struct {
	mu   sync.Mutex
	file *os.File
}

var _ GroupWriter = (*Dir)(nil)

// OpenDir returns the store rooted at dir, creating the directory if
// needed.
func OpenDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create store directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &Dir{root: abs}, nil
}

// ReadDir returns the store in an existing directory without touching the
// file system, for readers (a client reading a log it must not create).
func ReadDir(dir string) *Dir {
	return &Dir{root: filepath.Clean(dir)}
}

// Root returns the directory of the store.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if err := tiles.CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

func digestVersion(data []byte) Version {
	sum := sha256.Sum256(data)
	return Version(hex.EncodeToString(sum[:16]))
}

// Create implements Store.
func (d *Dir) Create(ctx context.Context, key string, data []byte) error {
	p, err := d.prepare(key)
	if err != nil {
		return err
	}
	tmp, err := d.writeTemp(key, data, true)
	if err != nil {
		return fmt.Errorf("couldn't write %s: %w", key, err)
	}
	defer os.Remove(tmp)
	created, err := d.link(key, p, namedTemp(tmp), data)
	if err != nil || !created {
		return err
	}
	return d.syncDir(filepath.Dir(p))
}

// prepare returns the path of key, creating its directory.
func (d *Dir) prepare(key string) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	return p, d.mkdirs(filepath.Dir(p))
}

// link gives c the name p if it is free (created), and otherwise checks
// that the object there holds data.
func (d *Dir) link(key, p string, c content, data []byte) (created bool, err error) {
	err = c.linkAs(p)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("couldn't create %s: %w", key, err)
	}
	existing, err := readPath(key, p)
	if err != nil {
		return false, fmt.Errorf("couldn't read existing %s: %w", key, err)
	}
	if !bytes.Equal(existing, data) {
		return false, fmt.Errorf("%s: %w (%d bytes stored, %d bytes new)", key, ErrIntegrity, len(existing), len(data))
	}
	return false, nil
}

// errOutsideStore is wrapped by the error of Read for a key that leads,
// through a symbolic link, out of the store's directory.
var errOutsideStore = errors.New("a symbolic link out of the store, not followed")

// Read implements Store. It reads through an os.Root of the store's
// directory, which never follows a symbolic link out of it (a link to
// /etc/passwd, a directory link etc -> /etc): such a key fails with an
// error that is not ErrNotExist, so that neither `pysumdb serve` nor the
// sequencer reads anything outside the store. Links within the store are
// followed.
func (d *Dir) Read(ctx context.Context, key string) ([]byte, Version, error) {
	if err := tiles.CheckKey(key); err != nil {
		return nil, NoVersion, err
	}
	data, err := d.readInRoot(key)
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EISDIR):
		return nil, NoVersion, notExistError(key)
	case errors.Is(err, bounded.ErrTooLarge), errors.Is(err, bounded.ErrNotRegular):
		return nil, NoVersion, fmt.Errorf("couldn't read %s: %w", key, err)
	case err != nil && !errors.As(err, &errno):
		// os.Root fails with an error of its own, not one of the system,
		// for a path that escapes it (the error is not exported).
		return nil, NoVersion, fmt.Errorf("couldn't read %s: %w (%v)", key, errOutsideStore, err)
	case err != nil:
		return nil, NoVersion, fmt.Errorf("couldn't read %s: %w", key, err)
	}
	return data, digestVersion(data), nil
}

// notExistError is ErrNotExist for one key. A batch of a new log reads
// thousands of objects that don't exist (the indexes of new projects):
// formatting the message only when it is printed saves a third of what
// such a read costs.
type notExistError string

func (e notExistError) Error() string { return string(e) + ": " + ErrNotExist.Error() }
func (e notExistError) Unwrap() error { return ErrNotExist }

// readInRoot reads the object at key through an os.Root of the store's
// directory, opened for the one read: the directory may be replaced
// while the store is open.
func (d *Dir) readInRoot(key string) ([]byte, error) {
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(filepath.FromSlash(key), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readObjectFile(bounded.ReadRegular(f, key, tiles.MaxObjectSize(key)))
}

// readPath reads the file at p, which holds the object at key.
func readPath(key, p string) ([]byte, error) {
	return readObjectFile(bounded.ReadFile(p, tiles.MaxObjectSize(key)))
}

// readObjectFile is the result of reading an object's file with package
// bounded, a directory as EISDIR (no object, as for a read of it).
func readObjectFile(data []byte, fi fs.FileInfo, err error) ([]byte, error) {
	if err != nil && fi != nil && fi.IsDir() {
		return nil, syscall.EISDIR
	}
	return data, err
}

// Swap implements Store.
func (d *Dir) Swap(ctx context.Context, key string, old Version, data []byte) (Version, error) {
	p, err := d.prepare(key)
	if err != nil {
		return NoVersion, err
	}
	tmp, err := d.writeTemp(key, data, true)
	if err != nil {
		return NoVersion, fmt.Errorf("couldn't write %s: %w", key, err)
	}
	defer os.Remove(tmp) // gone already if renamed, still there if linked
	if err := d.replace(key, p, old, namedTemp(tmp)); err != nil {
		return NoVersion, err
	}
	if err := d.syncDir(filepath.Dir(p)); err != nil {
		return NoVersion, err
	}
	return digestVersion(data), nil
}

// replace gives c the name p, replacing the object there, if the object
// is still at version old.
func (d *Dir) replace(key, p string, old Version, c content) error {
	unlock, err := d.lockForSwap(key)
	if err != nil {
		return err
	}
	defer unlock()
	if old == NoVersion {
		// From no object, a link: it fails if the name is taken, so no
		// read is needed first, nor a temporary name to rename from (a
		// batch of a new log swaps in thousands of new project indexes).
		err := c.linkAs(p)
		switch {
		case errors.Is(err, fs.ErrExist):
			return fmt.Errorf("%s: %w", key, ErrConflict)
		case err != nil:
			return fmt.Errorf("couldn't create %s: %w", key, err)
		}
		return nil
	}
	current, err := readPath(key, p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w (it was deleted)", key, ErrConflict)
	case err != nil:
		return fmt.Errorf("couldn't read %s: %w", key, err)
	case digestVersion(current) != old:
		return fmt.Errorf("%s: %w", key, ErrConflict)
	}
	if err := c.renameAs(d.root, p); err != nil {
		return fmt.Errorf("couldn't replace %s: %w", key, err)
	}
	return nil
}

// WriteGroup implements GroupWriter in two phases, each ended by one sync
// of the file system: first every content goes to a file without a name
// (O_TMPFILE where the system has it, a temporary file otherwise), then
// every object gets its name (by link or rename, with the checks of
// Create and Swap). A name only ever points to content already durable,
// so a crash never leaves a torn object, whichever names survive it. A
// large group goes in chunks, to bound the files open at once.
func (d *Dir) WriteGroup(ctx context.Context, ws []Write, concurrency int) ([]Version, error) {
	versions := make([]Version, len(ws))
	if len(ws) == 0 {
		return versions, nil
	}
	dirs := map[string]bool{}
	var err error
	for lo := 0; lo < len(ws) && err == nil; lo += groupChunk() {
		hi := min(lo+groupChunk(), len(ws))
		err = d.writeChunk(ctx, ws[lo:hi], versions[lo:hi], dirs, concurrency)
	}
	// Whatever was named, make it durable: on error too, as the caller
	// may count on the writes that happened.
	if serr := d.syncNames(slices.Collect(maps.Keys(dirs))); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	return versions, nil
}

// groupChunk is how many writes of a group have their content open at
// once. Each chunk costs two syncs of the file system, which on a disk
// cost more than the writes (a 100,000-entry batch of a new log writes
// 4,500 objects: on this project's ext4 VM, 5.4–5.6 s in chunks of 512,
// 4.9–5.3 s in chunks of 4,096), so chunks are as large as the limit of
// open files leaves room for.
var groupChunk = sync.OnceValue(func() int { return min(4096, max(64, openFileLimit()/4)) })

// writeChunk writes the content of ws, syncs the file system, and names
// every object, setting versions and adding the directories it named in
// to dirs.
func (d *Dir) writeChunk(ctx context.Context, ws []Write, versions []Version, dirs map[string]bool, concurrency int) error {
	paths := make([]string, len(ws))
	contents := make([]content, len(ws))
	defer func() {
		for _, c := range contents {
			if c != nil {
				c.discard()
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	for i, w := range ws {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			p, err := d.prepare(w.Key)
			if err != nil {
				return err
			}
			c, err := d.newContent(w.Key, w.Data)
			if err != nil {
				return fmt.Errorf("couldn't write %s: %w", w.Key, err)
			}
			paths[i], contents[i] = p, c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var temps []string
	for _, c := range contents {
		if t, ok := c.(namedTemp); ok {
			temps = append(temps, string(t))
		}
	}
	if err := d.syncTemps(temps); err != nil {
		return err
	}
	for _, p := range paths {
		dirs[filepath.Dir(p)] = true
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	for i, w := range ws {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			if !w.Swap {
				_, err := d.link(w.Key, paths[i], contents[i], w.Data)
				return err
			}
			if err := d.replace(w.Key, paths[i], w.Old, contents[i]); err != nil {
				return err
			}
			versions[i] = digestVersion(w.Data)
			return nil
		})
	}
	return g.Wait()
}

// content is the bytes of one write in the store's file system, under no
// object's name yet.
type content interface {
	// linkAs gives the content the name p, failing with an error that
	// wraps fs.ErrExist if the name is taken.
	linkAs(p string) error
	// renameAs gives the content the name p, replacing what is there;
	// root is the store's directory.
	renameAs(root, p string) error
	// discard frees what naming did not use.
	discard()
}

// namedTemp is content in a temporary file of the store's hidden .tmp
// directory.
type namedTemp string

func (t namedTemp) linkAs(p string) error         { return os.Link(string(t), p) }
func (t namedTemp) renameAs(root, p string) error { return renameOver(root, string(t), p) }
func (t namedTemp) discard()                      { os.Remove(string(t)) } // gone already if renamed

// anonymousFile is content in a file that has no name at all (O_TMPFILE):
// it costs no directory entry to write and none to remove, and a crash
// frees it.
type anonymousFile struct {
	d *Dir
	f *os.File
}

func (a anonymousFile) linkAs(p string) error { return linkAnonymous(a.f, p) }

// renameAs names the file in .tmp first: only a name can be renamed over
// another.
func (a anonymousFile) renameAs(root, p string) error {
	tmp, err := a.d.tempName(p)
	if err != nil {
		return err
	}
	if err := a.linkAs(tmp); err != nil {
		return err
	}
	if err := renameOver(root, tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (a anonymousFile) discard() { a.f.Close() }

// newContent writes data, not synced, to an anonymous file if the file
// system has them, and to a temporary file otherwise. Either is made in the
// hidden directory key's temporary files go to: files made at once in one
// directory (a batch's project indexes) would wait on its lock.
func (d *Dir) newContent(key string, data []byte) (content, error) {
	if !d.noAnonymous.Load() {
		dir, err := d.tempDir(key)
		if err != nil {
			return nil, err
		}
		f, err := openAnonymous(dir)
		switch {
		case err == nil:
			if _, err := f.Write(data); err != nil {
				f.Close()
				return nil, err
			}
			return anonymousFile{d, f}, nil
		case errors.Is(err, errors.ErrUnsupported):
			d.noAnonymous.Store(true)
		default:
			return nil, err
		}
	}
	// Where syncTemps can't sync it later, the file is synced now.
	tmp, err := d.writeTemp(key, data, onWindows)
	if err != nil {
		return nil, err
	}
	return namedTemp(tmp), nil
}

// swapLockStripes is how many lock files Swap spreads its keys over:
// swaps of different objects (the project indexes of a batch) run in
// parallel, so their fsyncs share the file system's journal commits.
const swapLockStripes = 256

// lockForSwap takes the stripe of the swap lock that key hashes to.
func (d *Dir) lockForSwap(key string) (func(), error) {
	sum := sha256.Sum256([]byte(key))
	stripe := int(sum[0]) % swapLockStripes
	l := &d.swapLocks[stripe]
	l.mu.Lock()
	if l.file == nil {
		f, err := os.OpenFile(filepath.Join(d.root, fmt.Sprintf(".swap-lock-%02x", stripe)), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("couldn't open lock file: %w", err)
		}
		l.file = f
	}
	if err := filelock.Lock(l.file); err != nil {
		l.mu.Unlock()
		return nil, fmt.Errorf("couldn't lock: %w", err)
	}
	return func() {
		filelock.Unlock(l.file)
		l.mu.Unlock()
	}, nil
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("couldn't delete %s: %w", key, err)
	}
	return d.syncDir(filepath.Dir(p))
}

// List implements Store.
func (d *Dir) List(ctx context.Context, prefix string) ([]string, error) {
	return fslist.List(os.DirFS(d.root), prefix)
}

// Lock implements Store with a non-blocking lock (package filelock) on
// .lease.
func (d *Dir) Lock(ctx context.Context, holder string) (func(context.Context) error, error) {
	unlock, err := d.tryLock(".lease")
	if errors.Is(err, filelock.ErrLocked) {
		by, _ := readPath(".lease-holder", filepath.Join(d.root, ".lease-holder"))
		return nil, fmt.Errorf("%w (held by %s)", ErrBusy, HolderName(string(by)))
	}
	if err != nil {
		return nil, err
	}
	// Who holds it is only for the message above; losing it is harmless.
	_ = os.WriteFile(filepath.Join(d.root, ".lease-holder"), []byte(holder+"\n"), 0o644)
	d.removeStaleTemps()
	return func(context.Context) error { unlock(); return nil }, nil
}

// staleTempAge is how old a temporary file must be to be taken for the
// leftover of a crashed write: no write takes nearly that long.
const staleTempAge = time.Hour

// removeStaleTemps removes the temporary files that crashed writers left
// behind (thousands, from a group write killed mid-way where the system
// has no anonymous files). It is done on
// taking the lease, which only a sequencer starting does; a failure only
// leaves them for the next time.
func (d *Dir) removeStaleTemps() {
	shards, _ := os.ReadDir(filepath.Join(d.root, ".tmp"))
	for _, shard := range shards {
		dir := filepath.Join(d.root, ".tmp", shard.Name())
		temps, _ := os.ReadDir(dir)
		for _, t := range temps {
			if info, err := t.Info(); err == nil && time.Since(info.ModTime()) > staleTempAge {
				os.Remove(filepath.Join(dir, t.Name()))
			}
		}
	}
}

// tryLock takes the lock of the lock file name without waiting: it fails
// with filelock.ErrLocked if another holds it.
func (d *Dir) tryLock(name string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(d.root, name), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("couldn't open lock file: %w", err)
	}
	if err := filelock.TryLock(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		filelock.Unlock(f)
		f.Close()
	}, nil
}

// onWindows is set where directories can't be fsynced: Windows syncs a
// file with FlushFileBuffers, which needs a handle open for writing, and
// a directory can't be opened for writing (os.Open(dir).Sync() fails with
// "Access is denied"). No call there makes a directory's entries durable:
// NTFS journals them (names made by rename and link included) and commits
// its journal on its own. So on Windows the Dir skips the fsyncs of
// directories, and fsyncs each temporary file of a group write as it
// writes it (syncAll, which would sync it later, opens it only for
// reading: FlushFileBuffers fails there too).
const onWindows = runtime.GOOS == "windows"

// syncDir makes the entries of dir durable: an fsync of it (shared with
// concurrent callers, see dirSyncer), none on Windows (see onWindows).
func (d *Dir) syncDir(dir string) error {
	if onWindows {
		return nil
	}
	return d.syncer.sync(dir)
}

// syncNames makes durable the entries of dirs, a group write's
// directories.
func (d *Dir) syncNames(dirs []string) error {
	if onWindows {
		return nil
	}
	return d.syncAll(dirs)
}

// syncTemps makes durable the content of a group write, the temporary
// files temps and the anonymous files. On Windows the temporary files
// are synced already, and there are no anonymous files.
func (d *Dir) syncTemps(temps []string) error {
	if onWindows {
		return nil
	}
	return d.syncAll(temps)
}

// renameOver renames the file tmp to p, both in the store's directory
// root, replacing the file at p. On Windows the rename goes through an
// os.Root of root, which renames with POSIX semantics where the file
// system has them (NTFS): a reader through an os.Root (Read), which opens
// files sharing their deletion, then doesn't keep the file from being
// replaced, as it would os.Rename's (MoveFileEx). A reader that opened it
// otherwise (os.Open, another program: a backup tool, a virus scanner)
// still does, for as long as it holds it: the rename is tried again for
// a while when it fails for such a sharing conflict.
func renameOver(root, tmp, p string) error {
	if !onWindows {
		return os.Rename(tmp, p)
	}
	delay := time.Millisecond
	for start := time.Now(); ; delay = min(2*delay, 100*time.Millisecond) {
		err := renameInRoot(root, tmp, p)
		if err == nil || !sharingConflict(err) || time.Since(start) > renameRetryTime {
			return err
		}
		time.Sleep(delay)
	}
}

// renameRetryTime is how long renameOver tries again a rename that fails
// for a sharing conflict on Windows.
const renameRetryTime = 2 * time.Second

// renameInRoot renames tmp to p through an os.Root of root, the directory
// they are both in.
func renameInRoot(root, tmp, p string) error {
	oldRel, err := filepath.Rel(root, tmp)
	if err != nil {
		return err
	}
	newRel, err := filepath.Rel(root, p)
	if err != nil {
		return err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.Rename(oldRel, newRel)
}

// sharingConflict reports whether err is Windows' answer to a change of a
// file that another handle holds open without sharing it:
// ERROR_ACCESS_DENIED (which errors.Is takes for fs.ErrPermission) or
// ERROR_SHARING_VIOLATION.
func sharingConflict(err error) bool {
	const errorSharingViolation = syscall.Errno(32) // not in package syscall
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, errorSharingViolation)
}

// mkdirs creates dir and its missing parents, fsyncing each parent whose
// entries changed so that the new directories survive a crash.
func (d *Dir) mkdirs(dir string) error {
	if _, ok := d.dirs.Load(dir); ok || dir == d.root {
		return nil
	}
	if err := d.mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("couldn't create directory: %w", err)
	}
	// Sync the parent even if the directory existed: another process may
	// have created it and not yet synced.
	if err := d.syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	d.dirs.Store(dir, true)
	return nil
}

// tempShards is how many directories temporary files are spread over:
// creating files in one directory serializes on its lock.
const tempShards = 256

// writeTemp writes data to a new temporary file in the store's file
// system, fsynced if durable, in a hidden directory chosen by key, for
// linking or renaming into place.
func (d *Dir) writeTemp(key string, data []byte, durable bool) (string, error) {
	name, err := d.tempName(key)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// tempDir returns the hidden directory for the temporary files of key,
// creating it.
func (d *Dir) tempDir(key string) (string, error) {
	sum := sha256.Sum256([]byte(key))
	dir := filepath.Join(d.root, ".tmp", fmt.Sprintf("%02d", int(sum[1])%tempShards))
	return dir, d.mkdirs(dir)
}

// tempName returns a new name for a temporary file, unique to this
// process, in key's temporary directory.
func (d *Dir) tempName(key string) (string, error) {
	dir, err := d.tempDir(key)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, fmt.Sprintf("%d-%d", os.Getpid(), d.tempSeq.Add(1))), nil
}
