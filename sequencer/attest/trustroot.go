package attest

import (
	_ "embed"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// publicGoodTrustedRoot is Sigstore's public-good trusted root (Fulcio CAs,
// Rekor and CT log keys) as shipped in sigstore-go v1.3.0's examples; see
// testdata/README.md for its origin and digest. Shipping it lets the
// sequencer verify offline and reproducibly.
//
//go:embed trusted_root_public_good.json
var publicGoodTrustedRoot []byte

// tufTimeout bounds each TUF download, so that a stalled repository delays
// NewVerifier by little before it falls back to the shipped root.
const tufTimeout = 30 * time.Second

// trustedRootTarget is the TUF target holding the trusted root.
const trustedRootTarget = "trusted_root.json"

// loadTrustedRoot returns the trusted root fetched through TUF, or the
// shipped snapshot when cfg pins it or when the fetch fails. A failed
// fetch is not fatal: the snapshot is trusted too, only older, and the
// batch must not stop because the TUF CDN is unreachable.
func loadTrustedRoot(cfg Config, logger *slog.Logger) (*root.TrustedRoot, error) {
	if !cfg.PinnedRoot {
		repository := cfg.TUFURL
		if repository == "" {
			repository = tuf.DefaultMirror
		}
		trustedRoot, err := fetchTrustedRoot(cfg, repository)
		if err == nil {
			logger.Info("refreshed the Sigstore trusted root through TUF", "repository", repository)
			return trustedRoot, nil
		}
		logger.Warn("couldn't refresh the Sigstore trusted root through TUF; using the snapshot shipped in the binary",
			"repository", repository, "error", err)
	}
	trustedRoot, err := root.NewTrustedRootFromJSON(publicGoodTrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse the shipped trusted root: %w", err)
	}
	return trustedRoot, nil
}

func fetchTrustedRoot(cfg Config, repository string) (*root.TrustedRoot, error) {
	tufRoot := cfg.TUFRoot
	if tufRoot == nil {
		tufRoot = tuf.DefaultRoot()
	}
	client := fetcher.NewDefaultFetcher()
	client.SetHTTPClient(&http.Client{Timeout: tufTimeout})
	client.SetHTTPUserAgent("pysumdb")
	tufClient, err := tuf.New(&tuf.Options{
		Root:              tufRoot,
		RepositoryBaseURL: repository,
		CachePath:         cfg.TUFCacheDir,
		DisableLocalCache: cfg.TUFCacheDir == "",
		Fetcher:           client,
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't update TUF metadata: %w", err)
	}
	rootJSON, err := tufClient.GetTarget(trustedRootTarget)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch %s: %w", trustedRootTarget, err)
	}
	trustedRoot, err := root.NewTrustedRootFromJSON(rootJSON)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse the fetched trusted root: %w", err)
	}
	return trustedRoot, nil
}
