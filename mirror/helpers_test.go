package mirror_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/client"
	"github.com/pysumdb/pysumdb/publish"
)

// auditOK audits store from its directory (listable) and over HTTP, and
// fails t unless both pass without warnings.
func auditOK(t *testing.T, store *publish.Dir, vkey string) {
	t.Helper()
	srv := httptest.NewServer(publish.Handler(store, nil))
	defer srv.Close()
	httpFetch, err := client.NewHTTPFetcher(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for how, fetch := range map[string]client.Fetcher{"dir": client.DirFetcher(store.Root()), "http": httpFetch} {
		l, err := client.NewLog(fetch, vkey)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := l.Audit(context.Background(), nil)
		if err != nil || len(rep.Warnings) > 0 {
			var problems, warnings string
			if rep != nil {
				problems, warnings = strings.Join(rep.Problems, "\n"), strings.Join(rep.Warnings, "\n")
			}
			t.Fatalf("audit %s: %v\nproblems: %s\nwarnings: %s", how, err, problems, warnings)
		}
	}
}
