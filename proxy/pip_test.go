package proxy_test

import (
	"strings"
	"testing"

	"github.com/pysumdb/pysumdb/internal/pydisttest"
	"github.com/pysumdb/pysumdb/proxy"
)

// pipInstall installs requirement through the proxy into the venv of
// python.
func (e *env) pipInstall(t *testing.T, python, requirement string) (string, error) {
	t.Helper()
	return pydisttest.Pip(t, python, "install", "--index-url", e.srv.URL+"/simple/", "--no-build-isolation", "--force-reinstall", "--no-deps", requirement)
}

// imported returns the marker of the installed module of project.
func imported(t *testing.T, python, project string) string {
	t.Helper()
	mod := pydisttest.ModuleName(project)
	out, err := pydisttest.Python(t, python, "-c", "import "+mod+"; print("+mod+".VALUE)")
	if err != nil {
		t.Fatalf("import %s: %v\n%s", mod, err, out)
	}
	return strings.TrimSpace(out)
}

func sdist(t *testing.T, project, version, marker string) dist {
	t.Helper()
	name, data, err := pydisttest.Sdist(project, version, marker)
	if err != nil {
		t.Fatal(err)
	}
	return dist{project, version, name, data}
}

// TestPip installs through the proxy with real pip.
func TestPip(t *testing.T) {
	python := pydisttest.Venv(t)
	good := wheel(t, "demo", "1.0", "good")
	built := sdist(t, "built-from-source", "1.0", "from source")
	victim := wheel(t, "victim", "1.0", "logged")
	evil := wheel(t, "victim", "1.0", "evil")
	fresh := wheel(t, "fresh", "1.0", "newer than the log")
	e := newEnv(t, []dist{good, built, victim}, []dist{fresh}, nil)

	t.Run("verified wheel and sdist install", func(t *testing.T) {
		if out, err := e.pipInstall(t, python, "demo==1.0"); err != nil {
			t.Fatalf("pip install demo: %v\n%s", err, out)
		}
		if got := imported(t, python, "demo"); got != "good" {
			t.Errorf("installed marker %q", got)
		}
		if out, err := e.pipInstall(t, python, "built-from-source==1.0"); err != nil {
			t.Fatalf("pip install the sdist: %v\n%s", err, out)
		}
		if got := imported(t, python, "built-from-source"); got != "from source" {
			t.Errorf("installed marker %q", got)
		}
	})

	t.Run("bytes changed upstream are refused with the proxy's reason", func(t *testing.T) {
		if err := e.pypi.TamperFile("victim", victim.filename, evil.sha256(), int64(len(evil.data))); err != nil {
			t.Fatal(err)
		}
		if err := e.pypi.ReplaceContent("victim", victim.filename, evil.data); err != nil {
			t.Fatal(err)
		}
		out, err := e.pipInstall(t, python, "victim==1.0")
		if err == nil {
			t.Fatalf("pip installed a file whose bytes changed:\n%s", out)
		}
		t.Logf("pip's output:\n%s", out)
		for _, want := range []string{"403", "pysumdb: refused, SECURITY ERROR", evil.sha256(), victim.sha256()} {
			if !strings.Contains(out, want) {
				t.Errorf("pip's output lacks %q:\n%s", want, out)
			}
		}
		if e.proxy.Alarms() != 1 {
			t.Errorf("%d alarms", e.proxy.Alarms())
		}
	})

	t.Run("not in the log: warn installs", func(t *testing.T) {
		if out, err := e.pipInstall(t, python, "fresh==1.0"); err != nil {
			t.Fatalf("pip install: %v\n%s", err, out)
		}
		if !strings.Contains(e.logs.String(), "not in the log") {
			t.Errorf("no warning logged:\n%s", e.logs)
		}
	})

	t.Run("second install from the cache with the upstream stopped", func(t *testing.T) {
		e.pypi.Close()
		if out, err := e.pipInstall(t, python, "demo==1.0"); err != nil {
			t.Fatalf("pip install with the upstream down: %v\n%s", err, out)
		}
		if got := imported(t, python, "demo"); got != "good" {
			t.Errorf("installed marker %q", got)
		}
	})

	for _, tc := range []struct {
		policy  proxy.NotInLogPolicy
		install bool
	}{{proxy.NotInLogAllow, true}, {proxy.NotInLogDeny, false}} {
		t.Run("not in the log: "+string(tc.policy), func(t *testing.T) {
			e := newEnv(t, []dist{good}, []dist{fresh}, func(c *proxy.Config) { c.NotInLog = tc.policy })
			out, err := e.pipInstall(t, python, "fresh==1.0")
			if installed := err == nil; installed != tc.install {
				t.Fatalf("installed %v, want %v:\n%s", installed, tc.install, out)
			}
			if !tc.install && !strings.Contains(out, "is not in the log") {
				t.Errorf("pip's output lacks the reason:\n%s", out)
			}
		})
	}
}
