// Package kmstest runs a Cloud KMS for tests: a gRPC server on loopback
// that answers GetPublicKey and AsymmetricSign as Cloud KMS does, with
// real keys, checksums included, and lets a test damage its answers.
package kmstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"hash/crc32"
	"net"
	"sync"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Server is a Cloud KMS of the methods a kmssigner.Signer calls.
type Server struct {
	kmspb.UnimplementedKeyManagementServiceServer

	// Addr is the server's host:port on 127.0.0.1, for
	// PYSUMDB_KMS_EMULATOR_HOST.
	Addr string

	grpc *grpc.Server

	mu        sync.Mutex
	keys      map[string]any // ed25519.PrivateKey or *ecdsa.PrivateKey
	pkHook    func(*kmspb.PublicKey)
	signHook  func(*kmspb.AsymmetricSignResponse)
	pkCalls   int
	signCalls int
}

// Start starts a server on 127.0.0.1, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: l.Addr().String(), grpc: grpc.NewServer(), keys: map[string]any{}}
	kmspb.RegisterKeyManagementServiceServer(s.grpc, s)
	go s.grpc.Serve(l)
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server: calls then fail as with a KMS that is down.
func (s *Server) Stop() { s.grpc.Stop() }

// AddEd25519Key creates the EC_SIGN_ED25519 key version named name
// ("projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N")
// and returns its public key.
func (s *Server) AddEd25519Key(name string) ed25519.PublicKey {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name] = priv
	return pub
}

// AddP256Key creates the EC_SIGN_P256_SHA256 key version named name.
func (s *Server) AddP256Key(name string) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name] = priv
}

// OnPublicKey sets a function that may change every GetPublicKey answer
// before it is sent (nil: none).
func (s *Server) OnPublicKey(f func(*kmspb.PublicKey)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pkHook = f
}

// OnSign sets a function that may change every AsymmetricSign answer
// before it is sent (nil: none).
func (s *Server) OnSign(f func(*kmspb.AsymmetricSignResponse)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signHook = f
}

// Calls returns how many GetPublicKey and AsymmetricSign calls the server
// answered.
func (s *Server) Calls() (publicKey, sign int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pkCalls, s.signCalls
}

func (s *Server) key(name string) (any, error) {
	k, ok := s.keys[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "CryptoKeyVersion %s not found.", name)
	}
	return k, nil
}

// GetPublicKey implements kmspb.KeyManagementServiceServer.
func (s *Server) GetPublicKey(_ context.Context, req *kmspb.GetPublicKeyRequest) (*kmspb.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pkCalls++
	k, err := s.key(req.GetName())
	if err != nil {
		return nil, err
	}
	var pub any
	alg := kmspb.CryptoKeyVersion_EC_SIGN_ED25519
	switch k := k.(type) {
	case ed25519.PrivateKey:
		pub = k.Public()
	case *ecdsa.PrivateKey:
		pub, alg = k.Public(), kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	text := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	resp := &kmspb.PublicKey{
		Pem: text, PemCrc32C: wrapperspb.Int64(crc32c([]byte(text))),
		Algorithm: alg, Name: req.GetName(), ProtectionLevel: kmspb.ProtectionLevel_HSM,
	}
	if s.pkHook != nil {
		s.pkHook(resp)
	}
	return resp, nil
}

// AsymmetricSign implements kmspb.KeyManagementServiceServer: Ed25519
// keys sign the data (PureEdDSA), as Cloud KMS does.
func (s *Server) AsymmetricSign(_ context.Context, req *kmspb.AsymmetricSignRequest) (*kmspb.AsymmetricSignResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signCalls++
	k, err := s.key(req.GetName())
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	switch {
	case !ok:
		return nil, status.Error(codes.InvalidArgument, "this test server signs with Ed25519 keys only")
	case req.GetDigest() != nil:
		return nil, status.Error(codes.InvalidArgument, "EC_SIGN_ED25519 keys sign data, not a digest")
	case req.GetDataCrc32C() != nil && req.GetDataCrc32C().GetValue() != crc32c(req.GetData()):
		return nil, status.Error(codes.InvalidArgument, "The checksum in field data_crc32c did not match the data in field data.")
	}
	sig := ed25519.Sign(priv, req.GetData())
	resp := &kmspb.AsymmetricSignResponse{
		Signature: sig, SignatureCrc32C: wrapperspb.Int64(crc32c(sig)),
		VerifiedDataCrc32C: req.GetDataCrc32C() != nil,
		Name:               req.GetName(), ProtectionLevel: kmspb.ProtectionLevel_HSM,
	}
	if s.signHook != nil {
		s.signHook(resp)
	}
	return resp, nil
}

// CRC32C returns the checksum KMS sends with data, for hooks that fix it
// up after changing the data.
func CRC32C(data []byte) int64 { return crc32c(data) }

func crc32c(data []byte) int64 {
	return int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
}
