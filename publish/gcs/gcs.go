// Package gcs is a publish.Store on a Google Cloud Storage bucket, under a
// prefix (a folder) of the bucket.
//
// # Guarantees and how they are kept
//
// Durability and visibility: GCS answers an upload only once the object
// is stored redundantly, and reads and listings are strongly consistent,
// so a write that returned nil is durable and seen by every later Read
// and List, from any process (Read and List use the JSON API, which no
// cache sits in front of; public readers going through Google's edge
// caches or a CDN see an object up to its Cache-Control max-age late).
// An upload replaces an object atomically: readers see the old generation
// or the new one, never a mix. Every upload carries the CRC32C of its
// bytes, so the server refuses an upload corrupted on the way instead of
// storing it.
//
// Create uploads with the precondition ifGenerationMatch=0
// (Conditions.DoesNotExist): GCS creates the object only if no live
// generation exists. On 412 Precondition Failed the object exists; Create
// reads it and succeeds if the bytes are identical, and fails with an
// error wrapping publish.ErrIntegrity if not. An existing object is never
// overwritten.
//
// Swap uploads with ifGenerationMatch=<generation read> (ifGenerationMatch=0
// from publish.NoVersion). A Version is the object's generation in
// decimal; Read returns the generation of the very response it read the
// bytes from, so bytes and version always match. On 412 Swap fails with
// publish.ErrConflict and nothing was written, except in the case of
// retries described below.
//
// Delete reads the object's generation and deletes with
// ifGenerationMatch=<that generation>, so that a request retried after a
// lost answer cannot delete a newer object written in between.
//
// List lists the objects under the prefix (GCS listings are strongly
// consistent) and returns their names relative to the prefix, sorted.
// Names that are not object keys (see tiles.CheckKey), such as the
// lease object, are left out.
//
// # Retries
//
// Transient failures (429, 5xx, reset connections) are retried by the
// client library, with the RetryAlways policy, until Config.OperationTimeout
// or the caller's context ends. A retry after a lost answer can find its
// own first attempt already applied; the preconditions make that visible
// as a 412 instead of a second write:
//
//   - Create: the 412 leads to reading the object, whose bytes are the
//     ones just written, so Create succeeds.
//   - Swap: every Swap tags its upload with a random write ID in custom
//     metadata (x-goog-meta-pysumdb-write). On 412 Swap reads the current
//     object's metadata: if it carries this call's write ID, the 412 was
//     caused by this call's own earlier attempt, and Swap succeeds with
//     that object's generation. Otherwise it reports ErrConflict. One case
//     remains that no reader can tell apart: the first attempt landed and
//     another writer replaced it, by a Swap from the generation it created,
//     before the retry's answer came back. Swap then reports ErrConflict
//     although its write happened; that errs on the safe side, since the
//     caller stops as a loser would while the other writer carries on from
//     the state this write left.
//   - The lease: its object carries a random token per Lock call, used in
//     the same way (see Store.Lock).
//
// # The lease
//
// The lease is the object ".lease" under the prefix (a name no key can
// have), holding a JSON document with the holder's name, a random token
// and an expiry time. Lock creates it with DoesNotExist, or takes it over
// with ifGenerationMatch once its expiry has passed; a goroutine renews it
// every Config.LeaseRenewInterval, again with ifGenerationMatch, so it
// outlives a long batch; release deletes it with ifGenerationMatch, so it
// never deletes a lease someone else has taken over. A holder that dies
// stops renewing, and its lease ends LeaseTTL after the last renewal.
// Expiry is judged by the clock of the process taking over, so clocks that
// disagree by more than LeaseTTL-LeaseRenewInterval can let two holders
// overlap; correctness never depends on the lease, only on Create and Swap.
//
// # Recommended bucket settings
//
//   - Uniform bucket-level access, with allUsers granted
//     roles/storage.objectViewer when the log is served from the bucket (or
//     through a CDN in front of it). The sequencer's identity needs
//     roles/storage.objectUser (create, read, overwrite, delete, list).
//   - Object versioning off, soft delete off (or short) and no retention
//     policy: the checkpoint and project indexes are rewritten on every
//     batch, and each old generation would otherwise be kept and billed (a
//     retention policy would forbid the rewrites outright).
//
// Objects are uploaded with the Cache-Control and Content-Type of
// publish.CacheControl and publish.ContentType, which GCS serves as is.
//
// Credentials are Application Default Credentials unless
// Config.ClientOptions say otherwise; STORAGE_EMULATOR_HOST, when set,
// points the client at an emulator.
package gcs

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/pysumdb/pysumdb/internal/bounded"
	"github.com/pysumdb/pysumdb/internal/logging"
	"github.com/pysumdb/pysumdb/publish"
	"github.com/pysumdb/pysumdb/tiles"
)

// Config says where the store is and how it behaves. Only Bucket is
// required.
type Config struct {
	// Bucket is the name of the bucket holding the log.
	Bucket string

	// Prefix is the folder of the log in the bucket: "" for the bucket's
	// root, and "logs/pypi" is the same as "logs/pypi/". Several logs can
	// share a bucket under different prefixes, each with its own lease.
	Prefix string

	// LeaseTTL is how long the lease lasts after its last renewal, that
	// is, how long a crashed sequencer keeps the next one waiting.
	// Default 5 minutes.
	LeaseTTL time.Duration

	// LeaseRenewInterval is how often a held lease is renewed. It must be
	// shorter than LeaseTTL. Default LeaseTTL/3, so that two renewals in
	// a row can fail without the lease expiring.
	LeaseRenewInterval time.Duration

	// OperationTimeout bounds each operation, the library's retries
	// included, so that a persistently failing bucket makes the operation
	// fail instead of hanging. A write that times out may or may not have
	// happened, as the publish.Store contract allows. Default 2 minutes.
	OperationTimeout time.Duration

	// Now is the clock lease expiry times are set and judged by. Default
	// time.Now; tests inject a fake clock.
	Now func() time.Time

	// Logger receives lease events: takeovers, failed renewals, a lost
	// lease. Default: discard them.
	Logger *slog.Logger

	// ClientOptions are passed to storage.NewClient after
	// storage.WithJSONReads (reads then use the same JSON API as every
	// other call), e.g. option.WithCredentialsFile, or option.WithEndpoint
	// and option.WithoutAuthentication for an emulator. Without them the
	// client uses Application Default Credentials and honours
	// STORAGE_EMULATOR_HOST.
	ClientOptions []option.ClientOption
}

// Defaults of the Config fields left zero.
const (
	DefaultLeaseTTL         = 5 * time.Minute
	DefaultOperationTimeout = 2 * time.Minute
)

// Store is a publish.Store on a GCS bucket. Its methods are safe for
// concurrent use.
type Store struct {
	client   *storage.Client
	bucket   *storage.BucketHandle
	prefix   string // "" or ending in "/"
	leaseTTL time.Duration
	renew    time.Duration
	timeout  time.Duration
	now      func() time.Time
	log      *slog.Logger
}

var _ publish.Store = (*Store)(nil)

// writeIDKey is the custom metadata key of a Swap's write ID.
const writeIDKey = "pysumdb-write"

// leaseName is the object name of the lease, relative to the prefix. It
// starts with a dot, so it is never an object key.
const leaseName = ".lease"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bucketNamePattern is GCS's rule for bucket names, checked early for a
// clear error instead of a 400 at the first write.
var bucketNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)

// Open returns the store described by cfg. It makes no request: a
// missing bucket or permission shows at the first operation.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if !bucketNamePattern.MatchString(cfg.Bucket) {
		return nil, fmt.Errorf("invalid GCS bucket name %q", cfg.Bucket)
	}
	prefix := strings.TrimSuffix(cfg.Prefix, "/")
	if prefix != "" {
		if err := tiles.CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("invalid prefix %q in bucket %s: %w", cfg.Prefix, cfg.Bucket, err)
		}
		prefix += "/"
	}
	s := &Store{
		prefix:   prefix,
		leaseTTL: cfg.LeaseTTL,
		renew:    cfg.LeaseRenewInterval,
		timeout:  cfg.OperationTimeout,
		now:      cfg.Now,
		log:      cfg.Logger,
	}
	if s.leaseTTL == 0 {
		s.leaseTTL = DefaultLeaseTTL
	}
	if s.renew == 0 {
		s.renew = s.leaseTTL / 3
	}
	if s.renew <= 0 || s.renew >= s.leaseTTL {
		return nil, fmt.Errorf("lease renewal interval %v must be positive and shorter than the lease TTL %v", s.renew, s.leaseTTL)
	}
	if s.timeout == 0 {
		s.timeout = DefaultOperationTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.log = logging.OrDiscard(s.log)
	client, err := storage.NewClient(ctx, append([]option.ClientOption{storage.WithJSONReads()}, cfg.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("couldn't create GCS client: %w", err)
	}
	// RetryAlways retries every call on transient errors, whatever the
	// library thinks of its idempotence. That is safe because every
	// request that changes the bucket carries a generation precondition
	// (DoesNotExist or GenerationMatch): a retry of a request that has
	// already been applied fails with 412 instead of applying twice, and
	// the methods above tell that 412 apart from a real conflict.
	client.SetRetry(storage.WithPolicy(storage.RetryAlways))
	s.client = client
	s.bucket = client.Bucket(cfg.Bucket)
	return s, nil
}

// Close releases the client's connections. Release any lease first: its
// renewals use the client.
func (s *Store) Close() error {
	return s.client.Close()
}

// String names the store as gs://bucket/prefix.
func (s *Store) String() string {
	return "gs://" + s.bucket.BucketName() + "/" + s.prefix
}

func (s *Store) object(key string) *storage.ObjectHandle {
	return s.bucket.Object(s.prefix + key)
}

// Create implements publish.Store.
func (s *Store) Create(ctx context.Context, key string, data []byte) error {
	if err := tiles.CheckKey(key); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.upload(ctx, key, storage.Conditions{DoesNotExist: true}, data, nil)
	if !isPreconditionFailed(err) {
		if err != nil {
			return fmt.Errorf("couldn't write %s: %w", key, err)
		}
		return nil
	}
	// The object exists: written before, by a concurrent writer, or by
	// this call's own first attempt whose answer was lost. Immutable
	// objects are never deleted, so it is still there to compare.
	existing, _, err := s.read(ctx, key)
	if err != nil {
		return fmt.Errorf("couldn't read existing %s: %w", key, err)
	}
	if !bytes.Equal(existing, data) {
		return fmt.Errorf("%s: %w (%d bytes stored, %d bytes new)", key, publish.ErrIntegrity, len(existing), len(data))
	}
	return nil
}

// Read implements publish.Store.
func (s *Store) Read(ctx context.Context, key string) ([]byte, publish.Version, error) {
	if err := tiles.CheckKey(key); err != nil {
		return nil, publish.NoVersion, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	data, generation, err := s.read(ctx, key)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, publish.NoVersion, fmt.Errorf("%s: %w", key, publish.ErrNotExist)
	}
	if err != nil {
		return nil, publish.NoVersion, fmt.Errorf("couldn't read %s: %w", key, err)
	}
	return data, formatVersion(generation), nil
}

// read returns the object named key (relative to the prefix, not checked)
// and the generation those bytes belong to. The generation comes from the
// response that carried the bytes; the library pins it if it has to
// reopen the download, so bytes and generation always match.
func (s *Store) read(ctx context.Context, name string) ([]byte, int64, error) {
	r, err := s.object(name).NewReader(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	// At most what the object's kind allows: refused from the size the
	// bucket reports, and while reading.
	limit := tiles.MaxObjectSize(name)
	if r.Attrs.Size > limit {
		return nil, 0, &bounded.TooLargeError{Key: name, Max: limit}
	}
	data, err := bounded.Read(r, name, limit, r.Attrs.Size)
	if err != nil {
		return nil, 0, err
	}
	return data, r.Attrs.Generation, nil
}

// Swap implements publish.Store.
func (s *Store) Swap(ctx context.Context, key string, old publish.Version, data []byte) (publish.Version, error) {
	if err := tiles.CheckKey(key); err != nil {
		return publish.NoVersion, err
	}
	cond := storage.Conditions{DoesNotExist: true}
	if old != publish.NoVersion {
		generation, err := strconv.ParseInt(string(old), 10, 64)
		if err != nil || generation <= 0 {
			return publish.NoVersion, fmt.Errorf("couldn't write %s: version %q is not a GCS generation", key, old)
		}
		cond = storage.Conditions{GenerationMatch: generation}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	writeID := rand.Text()
	attrs, err := s.upload(ctx, key, cond, data, map[string]string{writeIDKey: writeID})
	if err == nil {
		return formatVersion(attrs.Generation), nil
	}
	if !isPreconditionFailed(err) {
		return publish.NoVersion, fmt.Errorf("couldn't write %s: %w", key, err)
	}
	// Either another writer got there first, or this call's first attempt
	// landed and only its retry hit the precondition: the write ID tells
	// (see the package documentation).
	current, err := s.object(key).Attrs(ctx)
	switch {
	case err == nil && current.Metadata[writeIDKey] == writeID:
		return formatVersion(current.Generation), nil
	case err == nil || errors.Is(err, storage.ErrObjectNotExist):
		return publish.NoVersion, fmt.Errorf("%s: %w", key, publish.ErrConflict)
	default:
		return publish.NoVersion, fmt.Errorf("couldn't write %s: precondition failed, and couldn't check whether an earlier attempt of this write had landed: %w", key, err)
	}
}

// upload writes data to the object named key (relative to the prefix)
// under the precondition cond, with the key's Cache-Control and
// Content-Type, and returns the new object's attributes.
func (s *Store) upload(ctx context.Context, name string, cond storage.Conditions, data []byte, metadata map[string]string) (*storage.ObjectAttrs, error) {
	w := s.object(name).If(cond).NewWriter(ctx)
	w.ContentType = publish.ContentType(name)
	w.CacheControl = publish.CacheControl(name)
	w.Metadata = metadata
	// A chunk larger than the data makes the upload a single request whose
	// body the library keeps, so it can send it again on a retry (with
	// ChunkSize 0 it could not retry at all).
	w.ChunkSize = min(len(data)+1, googleapi.DefaultUploadChunkSize)
	// The server refuses the upload if the bytes it got don't match. The
	// library's automatic checksum does the same for buffered uploads
	// today; an explicit one keeps the guarantee from hinging on its modes
	// (unbuffered, it only checks after the object is stored).
	w.CRC32C = crc32.Checksum(data, castagnoli)
	w.SendCRC32C = true
	_, writeErr := w.Write(data)
	closeErr := w.Close()
	if writeErr != nil {
		return nil, writeErr
	}
	if closeErr != nil {
		return nil, closeErr
	}
	return w.Attrs(), nil
}

// Delete implements publish.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := tiles.CheckKey(key); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	attrs, err := s.object(key).Attrs(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("couldn't delete %s: %w", key, err)
	}
	err = s.object(key).If(storage.Conditions{GenerationMatch: attrs.Generation}).Delete(ctx)
	switch {
	case err == nil || errors.Is(err, storage.ErrObjectNotExist):
		// Not found: a retried request whose first attempt deleted it.
		return nil
	case isPreconditionFailed(err):
		return fmt.Errorf("couldn't delete %s: %w (rewritten while being deleted)", key, publish.ErrConflict)
	default:
		return fmt.Errorf("couldn't delete %s: %w", key, err)
	}
}

// List implements publish.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	query := &storage.Query{Prefix: s.prefix + prefix}
	if err := query.SetAttrSelection([]string{"Name"}); err != nil {
		return nil, fmt.Errorf("couldn't list %q: %w", prefix, err)
	}
	var keys []string
	it := s.bucket.Objects(ctx, query)
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("couldn't list %q: %w", prefix, err)
		}
		key := strings.TrimPrefix(attrs.Name, s.prefix)
		if tiles.CheckKey(key) == nil {
			keys = append(keys, key)
		}
	}
	// GCS lists in name order already; sorting keeps the contract
	// independent of that.
	slices.Sort(keys)
	return keys, nil
}

func formatVersion(generation int64) publish.Version {
	return publish.Version(strconv.FormatInt(generation, 10))
}

func isPreconditionFailed(err error) bool {
	var apiErr *googleapi.Error
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusPreconditionFailed
}
