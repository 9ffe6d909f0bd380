package verify_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/verify"
)

func TestParsePartialConfig(t *testing.T) {
	const vkey = "pysumdb.test/log+b0cf99c1+AXqML+g9IuzfZT0z8YohoTPH1S0U7czELw3LMHKPli7h"
	for _, tc := range []struct{ toml, want string }{
		{`exclude = ["corp-*"]`, ""},
		{"[[log]]\nurl = \"a\"\nvkey = \"" + vkey + "\"\n[[log]]\nurl = \"b\"\nvkey = \"" + "other.test/log+7c873e90+AYeu8laUr0kvReKFjCxnbs8I5LNx8DFg99qMEBZDzqAL" + "\"", ""},
		{"quorum = 1", "quorum = 1, but no [[log]] is listed"},
		{"quorum = -1\n[[log]]\nurl = \"a\"\nvkey = \"" + vkey + "\"", "quorum = -1, want 1 to 1"},
		{"quorum = 2\n[[log]]\nurl = \"a\"\nvkey = \"" + vkey + "\"", "quorum = 2, want 1 to 1"},
		{`exclude = ["Corp_*"]`, `exclude: bad exclusion pattern "Corp_*"`},
		{"witness_quorum = 1", "witness_quorum = 1, but no [[witness]] is listed"},
		{"[[log]]\nurl = \"a\"\nvkey = \"x\"", "log 1 (a): vkey"},
	} {
		c, err := verify.ParsePartialConfig([]byte(tc.toml))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.toml, err)
		case tc.want != "" && (!errors.Is(err, verify.ErrBadConfig) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.toml, err, tc.want)
		case tc.want == "" && c.Quorum != 0:
			t.Errorf("%q: quorum %d, want it unset (another source may set it)", tc.toml, c.Quorum)
		}
	}
}
