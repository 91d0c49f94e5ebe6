package gitopskit_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

// helmCLI builds the helm command from the nested internal/clitools module
// (pinned to the versions of the Helm SDK and client libraries gitopskit
// uses, so the build reuses what the tests compiled) and returns a
// function that runs it against the test control plane, with Helm's own
// directories in a temporary folder.
func helmCLI(t *testing.T, env *testenv.Environment) func(args ...string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "helm.sh/helm/v3/cmd/helm")
	build.Dir = filepath.Join(filepath.Dir(file), "internal", "clitools")
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building helm in %s: %v\n%s", build.Dir, err, out)
	}
	home := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "helm"), args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "HELM_CONFIG_HOME="+filepath.Join(home, "config"),
			"HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return string(out)
	}
}

// TestHelmCLISeesReleases: what gitopskit records is what the Helm CLI
// reads and acts on. Through install, upgrade, a failed upgrade rolled back
// by remediation and the fix, helm list, helm history, helm get manifest
// and helm get values show each revision as Helm would have made it; a
// helm rollback by hand is then a revision like any other, and the next
// reconcile puts the repository's release back as a new revision.
func TestHelmCLISeesReleases(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	helm := helmCLI(t, env)
	f := newRemediationFixture(t, ctx, "helm-cli", apply.Options{})
	spec := "  upgrade:\n    remediation: {retries: 1}\n"

	type entry struct {
		Name, Namespace, Status, Chart, Revision string
	}
	list := func() []entry {
		t.Helper()
		var out []entry
		if err := json.Unmarshal([]byte(helm("list", "-A", "-o", "json")), &out); err != nil {
			t.Fatal(err)
		}
		var mine []entry
		for _, e := range out {
			if e.Namespace == f.ns {
				mine = append(mine, e)
			}
		}
		return mine
	}
	history := func() string {
		t.Helper()
		var out []struct {
			Revision    int
			Status      string
			Description string
		}
		if err := json.Unmarshal([]byte(helm("history", "flaky", "-n", f.ns, "-o", "json")), &out); err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, h := range out {
			s = append(s, strings.Join([]string{strconv.Itoa(h.Revision), h.Status, h.Description}, " "))
		}
		return strings.Join(s, "; ")
	}

	f.write(spec, "{greeting: hi}")
	f.reconcile(false)
	if l := list(); len(l) != 1 || l[0].Name != "flaky" || l[0].Status != "deployed" || l[0].Chart != "flaky-1.0.0" || l[0].Revision != "1" {
		t.Errorf("helm list after install: %+v", l)
	}

	f.write(spec, "{greeting: hey}")
	f.reconcile(false)
	f.write(spec, "{greeting: hey, broken: true}")
	f.reconcile(true)
	want := "1 superseded Install complete; 2 superseded Upgrade complete; 3 failed Upgrade failed: "
	if got := history(); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "; 4 deployed Rollback to 2") {
		t.Errorf("helm history after the failed upgrade:\n%s\nwant %s…; 4 deployed Rollback to 2", got, want)
	}
	if m := helm("get", "manifest", "flaky", "-n", f.ns); !strings.Contains(m, "greeting: hey") || strings.Contains(m, "kind: Deployment") {
		t.Errorf("helm get manifest after the rollback:\n%s", m)
	}

	f.write(spec, "{greeting: hallo}")
	f.reconcile(false)
	if v := strings.TrimSpace(helm("get", "values", "flaky", "-n", f.ns, "-o", "json")); v != `{"greeting":"hallo"}` {
		t.Errorf("helm get values: %s", v)
	}

	// A rollback by hand is Helm's own revision; the repository wins at
	// the next reconcile.
	helm("rollback", "flaky", "4", "-n", f.ns)
	if got := f.greeting(); got != "hey" {
		t.Fatalf("after helm rollback: greeting %q", got)
	}
	f.reconcile(false)
	if got := f.greeting(); got != "hallo" {
		t.Errorf("after the reconcile: greeting %q, want the repository's", got)
	}
	if got := history(); !strings.HasSuffix(got, "5 superseded Upgrade complete; 6 superseded Rollback to 4; 7 deployed Upgrade complete") {
		t.Errorf("helm history after the hand rollback and the reconcile:\n%s", got)
	}
	if l := list(); len(l) != 1 || l[0].Status != "deployed" || l[0].Revision != "7" {
		t.Errorf("helm list at the end: %+v", l)
	}
}
