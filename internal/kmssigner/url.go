package kmssigner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	kms "cloud.google.com/go/kms/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Scheme starts a key URL:
//
//	kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N?origin=ORIGIN
//
// The path is the key version's resource name; origin is the note key's
// name (a log's origin), which KMS does not hold.
const Scheme = "kms://"

// ErrNoOrigin reports a key URL that gives no origin where one is needed.
var ErrNoOrigin = errors.New("kms: the key URL gives no origin: add ?origin=ORIGIN, the log's origin (" + urlForm + ")")

// IsURL reports whether s is meant as a key URL (starts with Scheme).
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// KeyURL is a parsed key URL.
type KeyURL struct {
	// KeyVersion is the key version's resource name.
	KeyVersion string
	// Origin is the note key name; "" if the URL has none.
	Origin string
}

// String returns the URL.
func (u KeyURL) String() string {
	s := Scheme + u.KeyVersion
	if u.Origin != "" {
		s += "?origin=" + u.Origin
	}
	return s
}

const urlForm = Scheme + "projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N?origin=ORIGIN"

// ParseURL parses a key URL. The origin may be absent (Origin ""); any
// other query parameter, or a fragment, is an error.
func ParseURL(s string) (KeyURL, error) {
	if !IsURL(s) {
		return KeyURL{}, fmt.Errorf("kms: %q is not a Cloud KMS key URL (want %s)", s, urlForm)
	}
	name, rawQuery, _ := strings.Cut(strings.TrimPrefix(s, Scheme), "?")
	if err := CheckKeyVersion(name); err != nil {
		return KeyURL{}, fmt.Errorf("%w (want %s)", err, urlForm)
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil || strings.Contains(rawQuery, "#") {
		return KeyURL{}, fmt.Errorf("kms: bad query in key URL %q (want %s)", s, urlForm)
	}
	u := KeyURL{KeyVersion: name}
	for k, v := range query {
		if k != "origin" || len(v) != 1 || v[0] == "" {
			return KeyURL{}, fmt.Errorf("kms: key URL %q: the query may only give origin, once (want %s)", s, urlForm)
		}
		u.Origin = v[0]
	}
	return u, nil
}

// CheckKeyVersion checks that name is the resource name of a key version:
// projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N, with
// N a number (a key, whose primary version changes, is not enough: the
// note key must not).
func CheckKeyVersion(name string) error {
	parts := strings.Split(name, "/")
	want := []string{"projects", "locations", "keyRings", "cryptoKeys", "cryptoKeyVersions"}
	ok := len(parts) == 2*len(want)
	for i := 0; ok && i < len(parts); i += 2 {
		ok = parts[i] == want[i/2] && parts[i+1] != "" && !strings.ContainsAny(parts[i+1], "?#% ")
	}
	if ok {
		n := parts[len(parts)-1]
		ok = strings.Trim(n, "0123456789") == "" && n[0] != '0'
	}
	if !ok {
		return fmt.Errorf("kms: %q is not the resource name of a key version", name)
	}
	return nil
}

// EmulatorHostEnv names the environment variable that points NewClient at
// a KMS emulator on this machine (host:port on a loopback address), in
// plain text and without credentials, like STORAGE_EMULATOR_HOST for
// GCS. It is for tests: an address that is not loopback is refused.
const EmulatorHostEnv = "PYSUMDB_KMS_EMULATOR_HOST"

// NewClient returns a Cloud KMS client: with Application Default
// Credentials, or to the emulator $PYSUMDB_KMS_EMULATOR_HOST names.
func NewClient(ctx context.Context) (*kms.KeyManagementClient, error) {
	host := os.Getenv(EmulatorHostEnv)
	if host == "" {
		return kms.NewKeyManagementClient(ctx)
	}
	if err := checkLoopback(host); err != nil {
		return nil, fmt.Errorf("$%s: %w", EmulatorHostEnv, err)
	}
	return kms.NewKeyManagementClient(ctx,
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
}

// checkLoopback checks that hostport is host:port with a loopback host.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", hostport, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("an emulator is reached in plain text, without credentials: only on a loopback address (127.0.0.1, [::1], localhost), not " + hostport)
	}
	return nil
}

// Open connects to Cloud KMS (NewClient) and returns the signer of u,
// which must give the origin, and a function that closes the connection.
func Open(ctx context.Context, u KeyURL) (*Signer, func() error, error) {
	if u.Origin == "" {
		return nil, nil, ErrNoOrigin
	}
	// The client outlives ctx, which bounds reading the public key only.
	client, err := NewClient(context.WithoutCancel(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("kms: %w", err)
	}
	s, err := New(ctx, client, u.KeyVersion, u.Origin)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return s, client.Close, nil
}
