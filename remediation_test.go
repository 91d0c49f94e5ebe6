package gitopskit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/internal/testfs"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

// remediationFixture is a HelmRelease "flaky" of a chart whose values can
// break it: broken adds a ConfigMap "flaky-extra" and a Deployment that
// never becomes available on this control plane, so the revision that
// renders it fails its health check.
type remediationFixture struct {
	t       *testing.T
	ctx     context.Context
	ns, dir string
	charts  string
	kube    kubernetes.Interface
	records *storage.Storage
	r       *gitopskit.Reconciler
}

func newRemediationFixture(t *testing.T, ctx context.Context, prefix string, opts apply.Options) *remediationFixture {
	t.Helper()
	env := testenv.Shared(t)
	chartDir := helmtest.WriteChart(t, t.TempDir(), "flaky", "1.0.0", map[string]string{
		"values.yaml":       "greeting: hello\nbroken: false\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n",
		"templates/broken.yaml": "{{- if .Values.broken }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extra\n---\n" +
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n" +
			"  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: c, image: never:1}]}\n{{- end }}\n",
		// A rollback runs the target revision's rollback hooks.
		"templates/hook.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-rolled-back\n" +
			"  annotations: {helm.sh/hook: post-rollback, helm.sh/hook-delete-policy: before-hook-creation}\ndata:\n  greeting: {{ .Values.greeting }}\n",
	})
	charts := helmtest.ServeRepo(t, []string{helmtest.Package(t, chartDir, t.TempDir())}, false)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	f := &remediationFixture{t: t, ctx: ctx, ns: fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1000000), dir: t.TempDir(),
		charts: charts.URL, kube: kube}
	f.records = storage.Init(driver.NewSecrets(kube.CoreV1().Secrets(f.ns)))
	f.r = f.reconciler(opts)
	return f
}

// reconciler is a new Reconciler of the fixture's repository, as after a
// restart: nothing cached.
func (f *remediationFixture) reconciler(opts apply.Options) *gitopskit.Reconciler {
	f.t.Helper()
	r, err := gitopskit.New(gitopskit.Options{Name: f.ns, Source: source.NewDir(f.dir, source.DirOptions{}), Path: "clusters/dev",
		Config: testenv.Shared(f.t).Config, Load: render.LoadOptions{CacheDir: f.t.TempDir()}, Apply: opts})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// write puts the HelmRelease with this spec (indented YAML under spec:
// after chart) and values into the repository.
func (f *remediationFixture) write(spec, values string) {
	f.t.Helper()
	testfs.Write(f.t, f.dir, map[string]string{"clusters/dev/release.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n"+
		"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: %s}\nspec: {interval: 1h, url: '%s'}\n---\n"+
		"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: flaky, namespace: %s}\n"+
		"spec:\n  interval: 10m\n  timeout: 2s\n  chart:\n    spec: {chart: flaky, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n%s  values: %s\n",
		f.ns, f.ns, f.charts, f.ns, spec, values)})
}

// reconcile runs a pass and returns the release's status; wantErr says
// whether it is to fail.
func (f *remediationFixture) reconcile(wantErr bool) gitopskit.UnitStatus {
	f.t.Helper()
	res, err := f.r.Reconcile(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if got := res.Err() != nil; got != wantErr {
		f.t.Fatalf("reconcile error %v, want an error: %v", res.Err(), wantErr)
	}
	s, ok := f.r.Status().Unit("HelmRelease/" + f.ns + "/flaky")
	if !ok {
		f.t.Fatal("no status for the release")
	}
	return s
}

// history is each revision's status and description.
func (f *remediationFixture) history() string {
	f.t.Helper()
	hist, err := f.records.History("flaky")
	if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		f.t.Fatal(err)
	}
	slices.SortFunc(hist, func(a, b *release.Release) int { return a.Version - b.Version })
	out := make([]string, len(hist))
	for i, h := range hist {
		out[i] = fmt.Sprintf("%d:%s", h.Version, h.Info.Status)
	}
	return strings.Join(out, " ")
}

func (f *remediationFixture) exists(kind, name string) bool {
	f.t.Helper()
	var err error
	switch kind {
	case "ConfigMap":
		_, err = f.kube.CoreV1().ConfigMaps(f.ns).Get(f.ctx, name, metav1.GetOptions{})
	case "Deployment":
		_, err = f.kube.AppsV1().Deployments(f.ns).Get(f.ctx, name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return true
}

func (f *remediationFixture) greeting() string {
	f.t.Helper()
	cm, err := f.kube.CoreV1().ConfigMaps(f.ns).Get(f.ctx, "flaky", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return cm.Data["greeting"]
}

// TestHelmReleaseUpgradeRemediation: a failed upgrade with
// upgrade.remediation.retries: 1 is rolled back to the last deployed
// revision (its objects applied again, what the failed one added pruned,
// its post-rollback hook run, recorded as Helm records a rollback), tried
// again at the next reconcile and rolled back again (the last failure is
// remediated by default when retries are set), then not tried again —
// across a restart — until the release changes or RetryReleases asks.
func TestHelmReleaseUpgradeRemediation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := newRemediationFixture(t, ctx, "upgrade-rem", apply.Options{})
	spec := "  upgrade:\n    remediation: {retries: 1}\n"

	f.write(spec, "{greeting: hi}")
	f.reconcile(false)
	if got := f.history(); got != "1:deployed" {
		t.Fatalf("after install: %s", got)
	}

	f.write(spec, "{greeting: hey, broken: true}")
	s := f.reconcile(true)
	if got := f.history(); got != "1:superseded 2:failed 3:deployed" {
		t.Errorf("after the first failed upgrade: %s", got)
	}
	if s.Remediation != "rolled back to revision 1" || s.Failures != 1 || !strings.Contains(s.Message, "attempt 1 of 2, rolled back to revision 1; tried again at the next reconcile") {
		t.Errorf("status after the first failure: %+v", s)
	}
	if f.exists("Deployment", "flaky") || f.exists("ConfigMap", "flaky-extra") || f.greeting() != "hi" {
		t.Errorf("the rollback left the failed revision's objects: deployment %v, extra %v, greeting %q",
			f.exists("Deployment", "flaky"), f.exists("ConfigMap", "flaky-extra"), f.greeting())
	}
	if !f.exists("ConfigMap", "flaky-rolled-back") {
		t.Error("the post-rollback hook did not run")
	}
	rolled, err := f.records.Get("flaky", 3)
	if err != nil {
		t.Fatal(err)
	}
	if rolled.Info.Description != "Rollback to 1" || rolled.Config["greeting"] != "hi" || !strings.Contains(rolled.Manifest, "greeting: hi") {
		t.Errorf("revision 3: %q, values %v", rolled.Info.Description, rolled.Config)
	}

	s = f.reconcile(true)
	if got := f.history(); got != "1:superseded 2:failed 3:superseded 4:failed 5:deployed" {
		t.Errorf("after the second failed upgrade: %s", got)
	}
	if s.Failures != 2 || !strings.Contains(s.Message, "attempt 2 of 2, rolled back to revision 3; no retries left") {
		t.Errorf("status after the second failure: %+v", s)
	}

	// No retries left: nothing is tried, nothing written — also by a
	// Reconciler that starts afresh.
	restarted := *f
	restarted.r = f.reconciler(apply.Options{})
	for _, g := range []*remediationFixture{f, &restarted} {
		s = g.reconcile(true)
		if !strings.Contains(s.Message, apply.ErrNoRetriesLeft.Error()) || !strings.Contains(s.Message, "-retry-releases") {
			t.Errorf("exhausted: %s", s.Message)
		}
		if got := f.history(); got != "1:superseded 2:failed 3:superseded 4:failed 5:deployed" {
			t.Errorf("an exhausted release was tried: %s", got)
		}
	}

	// RetryReleases tries it once more (and, its retries spent, a failure
	// then is remediated as the last one).
	forced := *f
	forced.r = f.reconciler(apply.Options{RetryReleases: true})
	forced.reconcile(true)
	// maxHistory (Flux's default 5) keeps the last five.
	if got := f.history(); got != "3:superseded 4:failed 5:superseded 6:failed 7:deployed" {
		t.Errorf("after the forced retry: %s", got)
	}

	// A change is a new release: tried, deployed, the count gone.
	f.write(spec, "{greeting: hallo}")
	s = f.reconcile(false)
	if got := f.history(); !strings.HasSuffix(got, "7:superseded 8:deployed") {
		t.Errorf("after the fix: %s", got)
	}
	if s.Failures != 0 || s.Remediation != "" || f.greeting() != "hallo" {
		t.Errorf("after the fix: %+v, greeting %q", s, f.greeting())
	}
}

// TestHelmReleaseInstallRemediation: a failed install with
// install.remediation.retries: 1 is uninstalled (history kept, marked
// uninstalled, so the count survives) and installed again at the next
// reconcile; its last failure is not remediated (Flux's default for
// installs), so its objects stay for inspection; then it waits for a
// change.
func TestHelmReleaseInstallRemediation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := newRemediationFixture(t, ctx, "install-rem", apply.Options{})
	spec := "  install:\n    remediation: {retries: 1}\n"

	f.write(spec, "{broken: true}")
	s := f.reconcile(true)
	if got := f.history(); got != "1:uninstalled" {
		t.Errorf("after the first failed install: %s", got)
	}
	if s.Remediation != "uninstalled" || f.exists("ConfigMap", "flaky") || f.exists("Deployment", "flaky") {
		t.Errorf("not uninstalled: %+v", s)
	}

	s = f.reconcile(true)
	if got := f.history(); got != "1:uninstalled 2:failed" {
		t.Errorf("after the second failed install: %s", got)
	}
	if s.Remediation != "" || !f.exists("ConfigMap", "flaky") || !strings.Contains(s.Message, "attempt 2 of 2, not remediated; no retries left") {
		t.Errorf("the last failure: %+v", s)
	}
	s = f.reconcile(true)
	if got := f.history(); got != "1:uninstalled 2:failed" || !strings.Contains(s.Message, "no retries left") {
		t.Errorf("exhausted: %s, %s", got, s.Message)
	}

	f.write(spec, "{greeting: fixed}")
	f.reconcile(false)
	if got := f.history(); got != "1:uninstalled 2:failed 3:deployed" || f.greeting() != "fixed" {
		t.Errorf("after the fix: %s", got)
	}
	if f.exists("Deployment", "flaky") {
		t.Error("the fixed release kept the failed one's Deployment")
	}
	if rel, err := f.records.Get("flaky", 3); err != nil || rel.Info.Description != "Install complete" {
		t.Errorf("revision 3: %v %v", rel.Info.Description, err)
	}
}
