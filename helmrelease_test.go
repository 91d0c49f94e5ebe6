package gitopskit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	helmkube "helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/internal/testfs"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

// TestHelmReleaseRecords: a HelmRelease reconciled by gitopskit has the
// records Helm keeps, read back with the Helm SDK's storage (what helm
// history, helm get values and helm get manifest read): revision 1
// deployed; a values change makes revision 2 deployed and 1 superseded;
// the chart sees .Release.IsInstall and .Release.Revision as Helm would
// give them; an unchanged reconcile writes nothing at all, also after a
// restart; maxHistory bounds the
// revisions kept; a revision whose objects never become healthy is
// failed while the last good one stays deployed; and the HelmRelease
// leaving the repository removes its records with its objects, or marks
// them uninstalled with uninstall.keepHistory.
func TestHelmReleaseRecords(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	chartDir := helmtest.WriteChart(t, t.TempDir(), "greeter", "1.0.0", map[string]string{
		"values.yaml": "greeting: hello\nbroken: false\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n" +
			"  install: {{ .Release.IsInstall | quote }}\n  revision: {{ .Release.Revision | quote }}\n",
		// A Deployment that never becomes available (no workload runs on
		// this control plane for it): the revision that renders it fails.
		"templates/deploy.yaml": "{{- if .Values.broken }}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n" +
			"  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: c, image: never:1}]}\n{{- end }}\n",
	})
	charts := helmtest.ServeRepo(t, []string{helmtest.Package(t, chartDir, t.TempDir())}, false)

	ns := fmt.Sprintf("records-%d", time.Now().UnixNano()%1000000)
	dir := t.TempDir()
	write := func(values string, withRelease bool) {
		t.Helper()
		files := map[string]string{"clusters/dev/base.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n"+
			"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: %s}\nspec: {interval: 1h, url: '%s'}\n", ns, ns, charts.URL)}
		if withRelease {
			files["clusters/dev/release.yaml"] = fmt.Sprintf("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: greeter, namespace: %s}\n"+
				"spec:\n  interval: 10m\n  timeout: 3s\n  maxHistory: 2\n  chart:\n    spec: {chart: greeter, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n  values: %s\n", ns, values) +
				fmt.Sprintf("---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: keeper, namespace: %s}\n"+
					"spec:\n  interval: 10m\n  uninstall: {keepHistory: true}\n  chart:\n    spec: {chart: greeter, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n", ns)
		} else {
			files["clusters/dev/release.yaml"] = "# the release is gone\n"
		}
		testfs.Write(t, dir, files)
	}
	cfg, counter := testenv.CountWrites(env.Config)
	r, err := gitopskit.New(gitopskit.Options{
		Name:   ns,
		Source: source.NewDir(dir, source.DirOptions{}),
		Path:   "clusters/dev",
		Config: cfg,
		Load:   render.LoadOptions{CacheDir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	records := storage.Init(driver.NewSecrets(kube.CoreV1().Secrets(ns)))
	history := func(name string) map[int]release.Status {
		t.Helper()
		hist, err := records.History(name)
		if err != nil && err != driver.ErrReleaseNotFound {
			t.Fatal(err)
		}
		out := map[int]release.Status{}
		for _, h := range hist {
			out[h.Version] = h.Info.Status
		}
		return out
	}
	reconcile := func(wantErr bool) {
		t.Helper()
		res, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Err() != nil; got != wantErr {
			t.Fatalf("reconcile error %v, want an error: %v", res.Err(), wantErr)
		}
	}
	same := func(want map[int]release.Status) {
		t.Helper()
		got := history("greeter")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("revisions %v, want %v", got, want)
		}
	}

	write("{greeting: hi}", true)
	reconcile(false)
	same(map[int]release.Status{1: release.StatusDeployed})
	rel, err := records.Deployed("greeter")
	if err != nil {
		t.Fatal(err)
	}
	if rel.Config["greeting"] != "hi" || !strings.Contains(rel.Manifest, "# Source: greeter/templates/cm.yaml") ||
		!strings.Contains(rel.Manifest, "greeting: hi") || rel.Chart.Metadata.Version != "1.0.0" || rel.Namespace != ns {
		t.Errorf("revision 1: values %v, chart %s, manifest:\n%s", rel.Config, rel.Chart.Metadata.Version, rel.Manifest)
	}

	rendered := func(want string) {
		t.Helper()
		cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "greeter", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := cm.Data["install"] + " " + cm.Data["revision"]; got != want {
			t.Errorf(".Release.IsInstall .Release.Revision = %s, want %s", got, want)
		}
	}
	rendered("true 1")

	write("{greeting: hey}", true)
	reconcile(false)
	same(map[int]release.Status{1: release.StatusSuperseded, 2: release.StatusDeployed})
	rendered("false 2")

	counter.Take()
	reconcile(false)
	if w := counter.Take(); len(w) != 0 {
		t.Errorf("the unchanged reconcile wrote: %s", strings.Join(w, "; "))
	}
	// A new Reconciler (a restart: nothing cached) renders the release as
	// its deployed revision 2 again, and so writes nothing either.
	restarted, err := gitopskit.New(gitopskit.Options{Name: ns, Source: source.NewDir(dir, source.DirOptions{}), Path: "clusters/dev", Config: cfg,
		Load: render.LoadOptions{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := restarted.Reconcile(ctx); err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if w := counter.Take(); len(w) != 0 {
		t.Errorf("the restarted unchanged reconcile wrote: %s", strings.Join(w, "; "))
	}
	same(map[int]release.Status{1: release.StatusSuperseded, 2: release.StatusDeployed})
	rendered("false 2")

	write("{greeting: hallo}", true)
	reconcile(false)
	same(map[int]release.Status{2: release.StatusSuperseded, 3: release.StatusDeployed}) // maxHistory: 2

	write("{greeting: hallo, broken: true}", true)
	reconcile(true)
	same(map[int]release.Status{3: release.StatusDeployed, 4: release.StatusFailed})
	failed, err := records.Get("greeter", 4)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(failed.Info.Description, "Upgrade failed") {
		t.Errorf("revision 4 says %q", failed.Info.Description)
	}

	if got := history("keeper"); fmt.Sprint(got) != fmt.Sprint(map[int]release.Status{1: release.StatusDeployed}) {
		t.Errorf("the unchanged release beside it: %v", got)
	}

	write("", false)
	reconcile(false)
	same(map[int]release.Status{})
	// uninstall.keepHistory: the records stay, the last one uninstalled.
	if got := history("keeper"); fmt.Sprint(got) != fmt.Sprint(map[int]release.Status{1: release.StatusUninstalled}) {
		t.Errorf("keepHistory: %v", got)
	}
}

// TestHelmReleaseAdoption: a release installed by Helm itself (the SDK's
// install action, as helm install runs it) is taken over by a HelmRelease
// of the same chart: its history continues at revision 2 with revision 1
// superseded, its objects keep their UIDs, and their fields move to
// gitopskit's field manager.
func TestHelmReleaseAdoption(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	chartDir := helmtest.WriteChart(t, t.TempDir(), "adoptee", "1.0.0", map[string]string{
		"values.yaml":       "greeting: hello\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n",
	})
	archive := helmtest.Package(t, chartDir, t.TempDir())
	charts := helmtest.ServeRepo(t, []string{archive}, false)
	ns := fmt.Sprintf("adopt-%d", time.Now().UnixNano()%1000000)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// helm install adoptee <chart> -n <ns> --set greeting=hi, with the
	// field manager the CLI has.
	kubeManager := helmkube.ManagedFieldsManager
	helmkube.ManagedFieldsManager = "helm"
	defer func() { helmkube.ManagedFieldsManager = kubeManager }()
	getter := genericclioptions.NewConfigFlags(false)
	getter.KubeConfig, getter.Namespace = &env.Kubeconfig, &ns
	helmCfg := &action.Configuration{}
	if err := helmCfg.Init(getter, ns, "secret", func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(archive)
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(helmCfg)
	install.ReleaseName, install.Namespace = "adoptee", ns
	if _, err := install.RunWithContext(ctx, ch, map[string]any{"greeting": "hi"}); err != nil {
		t.Fatalf("helm install: %v", err)
	}
	before, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "adoptee", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{"clusters/dev/release.yaml": fmt.Sprintf(
		"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: %s}\nspec: {interval: 1h, url: '%s'}\n---\n"+
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: adoptee, namespace: %s}\n"+
			"spec:\n  interval: 10m\n  chart:\n    spec: {chart: adoptee, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n  values: {greeting: hi}\n", ns, charts.URL, ns)})
	r, err := gitopskit.New(gitopskit.Options{Name: ns, Source: source.NewDir(dir, source.DirOptions{}), Path: "clusters/dev", Config: env.Config,
		Load: render.LoadOptions{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Reconcile(ctx)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}

	hist, err := helmCfg.Releases.History("adoptee")
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]release.Status{}
	for _, h := range hist {
		got[h.Version] = h.Info.Status
	}
	if fmt.Sprint(got) != fmt.Sprint(map[int]release.Status{1: release.StatusSuperseded, 2: release.StatusDeployed}) {
		t.Errorf("history after the takeover: %v", got)
	}
	after, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "adoptee", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID {
		t.Errorf("the ConfigMap was recreated: UID %s, then %s", before.UID, after.UID)
	}
	owner := ""
	for _, mf := range after.ManagedFields {
		if mf.FieldsV1 != nil && strings.Contains(string(mf.FieldsV1.Raw), `"f:greeting"`) {
			owner += mf.Manager + " "
		}
	}
	if strings.TrimSpace(owner) != "gitopskit" {
		t.Errorf("data.greeting is managed by %q, want gitopskit alone", owner)
	}
	if after.Labels["app.kubernetes.io/managed-by"] != "Helm" || after.Annotations["meta.helm.sh/release-name"] != "adoptee" {
		t.Errorf("Helm's ownership metadata is gone: %v %v", after.Labels, after.Annotations)
	}

	// The Helm SDK still takes the release as its own: an upgrade works.
	upgrade := action.NewUpgrade(helmCfg)
	upgrade.Namespace = ns
	if _, err := upgrade.RunWithContext(ctx, "adoptee", ch, map[string]any{"greeting": "from helm"}); err != nil {
		t.Errorf("helm upgrade after the takeover: %v", err)
	}
}

// TestHelmReleaseHooks: a release's hooks run as Helm runs them, only
// when the release changes: pre-install hooks by weight before the
// objects, a post-install Job after them, waited for and deleted by its
// hook-succeeded policy; nothing on an unchanged pass; pre-upgrade (not
// pre-install) hooks on an upgrade; a hook that never succeeds fails the
// revision and is deleted by its hook-failed policy; hooks are not the
// release's objects, so removing the release prunes its objects and
// leaves them; and removing it runs the deployed revision's pre-delete
// hooks before the prune and its post-delete hooks after.
func TestHelmReleaseHooks(t *testing.T) {
	env := testenv.Shared(t)
	env.RunWorkloads(t) // Jobs complete
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	hook := func(kind, name, events, weight, policy, body string) string {
		s := "apiVersion: v1\nkind: " + kind + "\nmetadata:\n  name: " + name + "\n  annotations:\n    helm.sh/hook: " + events + "\n    helm.sh/hook-weight: \"" + weight + "\"\n"
		if kind == "Job" {
			s = strings.Replace(s, "apiVersion: v1", "apiVersion: batch/v1", 1)
		}
		if policy != "" {
			s += "    helm.sh/hook-delete-policy: " + policy + "\n"
		}
		return s + body
	}
	job := "spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox:1}]\n"
	chartDir := helmtest.WriteChart(t, t.TempDir(), "hooked", "1.0.0", map[string]string{
		"values.yaml":       "greeting: hello\nfailHook: false\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  greeting: {{ .Values.greeting }}\n",
		"templates/hooks.yaml": hook("ConfigMap", "pre-b", "pre-install", "5", "", "") + "---\n" +
			hook("ConfigMap", "pre-a", "pre-install", "-1", "", "") + "---\n" +
			hook("Job", "post-job", "post-install", "0", "hook-succeeded", job) + "---\n" +
			hook("ConfigMap", "pre-del", "pre-delete", "0", "", "") + "---\n" +
			hook("Job", "post-del", "post-delete", "0", "hook-succeeded", job) + "---\n" +
			hook("ConfigMap", "pre-up", "pre-upgrade", "0", "", "") +
			"{{- if .Values.failHook }}\n---\n" + hook("Pod", "bad-hook", "pre-upgrade", "1", "hook-failed",
			"spec:\n  restartPolicy: Never\n  containers: [{name: c, image: never:1}]\n") + "{{- end }}\n",
	})
	charts := helmtest.ServeRepo(t, []string{helmtest.Package(t, chartDir, t.TempDir())}, false)
	ns := fmt.Sprintf("hooks-%d", time.Now().UnixNano()%1000000)
	dir := t.TempDir()
	write := func(values string, withRelease bool) {
		t.Helper()
		files := map[string]string{"clusters/dev/base.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n"+
			"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: %s}\nspec: {interval: 1h, url: '%s'}\n", ns, ns, charts.URL)}
		files["clusters/dev/release.yaml"] = "# removed\n"
		if withRelease {
			files["clusters/dev/release.yaml"] = fmt.Sprintf("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: hooked, namespace: %s}\n"+
				"spec:\n  interval: 10m\n  timeout: 5s\n  chart:\n    spec: {chart: hooked, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n  values: %s\n", ns, values)
		}
		testfs.Write(t, dir, files)
	}
	var mu sync.Mutex
	var log []string
	cfg, counter := testenv.CountWrites(env.Config)
	r, err := gitopskit.New(gitopskit.Options{
		Name: ns, Source: source.NewDir(dir, source.DirOptions{}), Path: "clusters/dev", Config: cfg,
		Load: render.LoadOptions{CacheDir: t.TempDir()},
		Apply: apply.Options{Events: func(e apply.Event) {
			if e.Type == apply.ObjectApplied && e.Unit == "HelmRelease/"+ns+"/hooked" {
				mu.Lock()
				log = append(log, e.Object.Name+" "+e.Action)
				mu.Unlock()
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	took := func() string {
		mu.Lock()
		defer mu.Unlock()
		s := strings.Join(log, ", ")
		log = nil
		return s
	}
	reconcile := func(wantErr bool) {
		t.Helper()
		res, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if (res.Err() != nil) != wantErr {
			t.Fatalf("reconcile error %v, want an error: %v", res.Err(), wantErr)
		}
	}
	exists := func(kind, name string) bool {
		t.Helper()
		var err error
		switch kind {
		case "ConfigMap":
			_, err = kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		case "Job":
			_, err = kube.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		case "Pod":
			_, err = kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}

	write("{}", true)
	reconcile(false)
	if got := took(); got != "pre-a hook, pre-b hook, app created, post-job hook, post-job hook deleted" {
		t.Errorf("install: %s", got)
	}
	if !exists("ConfigMap", "pre-a") || !exists("ConfigMap", "pre-b") || exists("Job", "post-job") {
		t.Error("after install: pre-a and pre-b stay (before-hook-creation), post-job goes (hook-succeeded)")
	}

	counter.Take()
	reconcile(false)
	if got, w := took(), counter.Take(); got != "app unchanged" || len(w) != 0 {
		t.Errorf("unchanged: events %q, writes %v", got, w)
	}

	write("{greeting: hi}", true)
	reconcile(false)
	if got := took(); got != "pre-up hook, app configured" {
		t.Errorf("upgrade: %s", got)
	}

	write("{greeting: hi, failHook: true}", true)
	reconcile(true)
	if got := took(); got != "pre-up hook, bad-hook hook, bad-hook hook deleted" {
		t.Errorf("failing hook: %s", got)
	}
	if exists("Pod", "bad-hook") {
		t.Error("the failed hook was not deleted (hook-failed)")
	}

	write("", false)
	reconcile(false)
	if exists("ConfigMap", "app") || !exists("ConfigMap", "pre-a") || !exists("ConfigMap", "pre-up") {
		t.Error("after removal: the release's object goes, its hooks stay")
	}
	// The deployed revision's delete hooks ran around the prune.
	if got := took(); got != "pre-del hook, post-del hook, post-del hook deleted" {
		t.Errorf("removal: %s", got)
	}
	if !exists("ConfigMap", "pre-del") || exists("Job", "post-del") {
		t.Error("after removal: pre-del stays (before-hook-creation), post-del goes (hook-succeeded)")
	}
}

// TestHelmReleaseTests: spec.test runs the chart's test hooks after an
// install or upgrade, filtered by name, and the unit's status says how
// they went; a failing test fails the unit unless ignoreFailures; an
// unchanged pass runs no test.
func TestHelmReleaseTests(t *testing.T) {
	env := testenv.Shared(t)
	env.RunWorkloads(t) // Jobs complete; Pods never run here
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	chartDir := helmtest.WriteChart(t, t.TempDir(), "tested", "1.0.0", map[string]string{
		"values.yaml":       "greeting: hello\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  greeting: {{ .Values.greeting }}\n",
		"templates/tests.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: smoke\n  annotations: {helm.sh/hook: test}\n" +
			"spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox:1}]\n---\n" +
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: slow\n  annotations: {helm.sh/hook: test-success, helm.sh/hook-weight: '1'}\n" +
			"spec:\n  restartPolicy: Never\n  containers: [{name: c, image: never:1}]\n",
	})
	charts := helmtest.ServeRepo(t, []string{helmtest.Package(t, chartDir, t.TempDir())}, false)
	ns := fmt.Sprintf("tests-%d", time.Now().UnixNano()%1000000)
	dir := t.TempDir()
	id := "HelmRelease/" + ns + "/tested"
	write := func(values, test string) {
		t.Helper()
		testfs.Write(t, dir, map[string]string{"clusters/dev/all.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n"+
			"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: %s}\nspec: {interval: 1h, url: '%s'}\n---\n"+
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: tested, namespace: %s}\n"+
			"spec:\n  interval: 10m\n  chart:\n    spec: {chart: tested, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n  values: %s\n  test: %s\n",
			ns, ns, charts.URL, ns, values, test)})
	}
	var mu sync.Mutex
	var ran []string
	r, err := gitopskit.New(gitopskit.Options{
		Name: ns, Source: source.NewDir(dir, source.DirOptions{}), Path: "clusters/dev", Config: env.Config,
		Load: render.LoadOptions{CacheDir: t.TempDir()},
		Apply: apply.Options{Events: func(e apply.Event) {
			if e.Unit == id && e.Action == apply.HookAction {
				mu.Lock()
				ran = append(ran, e.Object.Name)
				mu.Unlock()
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	pass := func(wantErr bool) (gitopskit.UnitStatus, string) {
		t.Helper()
		res, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if (res.Err() != nil) != wantErr {
			t.Fatalf("reconcile error %v, want an error: %v", res.Err(), wantErr)
		}
		s, _ := r.Status().Unit(id)
		mu.Lock()
		defer mu.Unlock()
		out := strings.Join(ran, " ")
		ran = nil
		return s, out
	}

	write("{greeting: a}", "{enable: true, filters: [{name: slow, exclude: true}]}")
	if s, tests := pass(false); tests != "smoke" || s.Ready != gitopskit.ReadyTrue || s.Tests != "1 passed" || !strings.Contains(s.Message, "tests 1 passed") {
		t.Errorf("install: tests run %q, status %+v", tests, s)
	}
	if s, tests := pass(false); tests != "" || s.Tests != "1 passed" {
		t.Errorf("unchanged: tests run %q, status %+v", tests, s)
	}
	write("{greeting: b}", "{enable: true, ignoreFailures: true, timeout: 2s}")
	if s, tests := pass(false); tests != "smoke slow" || s.Ready != gitopskit.ReadyTrue || !strings.HasPrefix(s.Tests, "failed, ignored: hook Pod/"+ns+"/slow") {
		t.Errorf("ignored failure: tests run %q, status %+v", tests, s)
	}
	write("{greeting: c}", "{enable: true, timeout: 2s, filters: [{name: slow}]}")
	if s, tests := pass(true); tests != "slow" || s.Ready != gitopskit.ReadyFalse || s.Tests != "failed" || !strings.Contains(s.Message, "tests: hook Pod/"+ns+"/slow") {
		t.Errorf("failure: tests run %q, status %+v", tests, s)
	}
}

// TestHelmReleaseCreateNamespace: install.createNamespace creates the
// release's namespace (labelled as Helm labels it) when it is missing and
// never deletes it; install.disableHooks runs no hook.
func TestHelmReleaseCreateNamespace(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	chartDir := helmtest.WriteChart(t, t.TempDir(), "nsapp", "1.0.0", map[string]string{
		"templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
		"templates/hook.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hook\n  annotations: {helm.sh/hook: pre-install}\n",
	})
	charts := helmtest.ServeRepo(t, []string{helmtest.Package(t, chartDir, t.TempDir())}, false)
	run := fmt.Sprintf("mkns-%d", time.Now().UnixNano()%1000000)
	target := run + "-target"
	dir := t.TempDir()
	write := func(withRelease bool) {
		files := map[string]string{"clusters/dev/base.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n"+
			"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: %s}\nspec: {interval: 1h, url: '%s'}\n", run, run, charts.URL),
			"clusters/dev/release.yaml": "# removed\n"}
		if withRelease {
			files["clusters/dev/release.yaml"] = fmt.Sprintf("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: nsapp, namespace: %s}\n"+
				"spec:\n  interval: 10m\n  targetNamespace: %s\n  install: {createNamespace: true, disableHooks: true}\n"+
				"  chart:\n    spec: {chart: nsapp, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n", run, target)
		}
		testfs.Write(t, dir, files)
	}
	r, err := gitopskit.New(gitopskit.Options{Name: run, Source: source.NewDir(dir, source.DirOptions{}), Path: "clusters/dev", Config: env.Config,
		Load: render.LoadOptions{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	write(true)
	if res, err := r.Reconcile(ctx); err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	ns, err := kube.CoreV1().Namespaces().Get(ctx, target, metav1.GetOptions{})
	if err != nil || ns.Labels["name"] != target {
		t.Fatalf("namespace %s: %v %v", target, err, ns.Labels)
	}
	if _, err := kube.CoreV1().ConfigMaps(target).Get(ctx, "app", metav1.GetOptions{}); err != nil {
		t.Errorf("the release's object: %v", err)
	}
	if _, err := kube.CoreV1().ConfigMaps(target).Get(ctx, "hook", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("disableHooks, yet the hook ran: %v", err)
	}
	write(false)
	if res, err := r.Reconcile(ctx); err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if ns, err := kube.CoreV1().Namespaces().Get(ctx, target, metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("the created namespace went with the release: %v", err)
	}
}

// TestHelmReleaseDrift: a change made in the cluster to an unchanged
// release's object is corrected by default (gitopskit's choice; Flux's
// default is disabled) and with mode enabled, left alone with mode
// disabled, and reported and left with mode warn.
func TestHelmReleaseDrift(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	chartDir := helmtest.WriteChart(t, t.TempDir(), "drifter", "1.0.0", map[string]string{
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  key: from-git\n",
	})
	charts := helmtest.ServeRepo(t, []string{helmtest.Package(t, chartDir, t.TempDir())}, false)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ mode, want string }{{"", "from-git"}, {"disabled", "by-hand"}, {"warn", "by-hand"}, {"enabled", "from-git"}} {
		t.Run("mode="+c.mode, func(t *testing.T) {
			ns := fmt.Sprintf("drift-%s-%d", c.mode, time.Now().UnixNano()%1000000)
			drift := ""
			if c.mode != "" {
				drift = "  driftDetection: {mode: " + c.mode + "}\n"
			}
			dir := t.TempDir()
			testfs.Write(t, dir, map[string]string{"clusters/dev/all.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n"+
				"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: %s}\nspec: {interval: 1h, url: '%s'}\n---\n"+
				"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: drifter, namespace: %s}\n"+
				"spec:\n  interval: 10m\n%s  chart:\n    spec: {chart: drifter, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n", ns, ns, charts.URL, ns, drift)})
			r, driftedSince := driftReconciler(t, env.Config, ns, dir)
			if res, err := r.Reconcile(ctx); err != nil || res.Err() != nil {
				t.Fatal(err, res.Err())
			}
			cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "app", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cm.Data["key"] = "by-hand"
			if _, err := kube.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
				t.Fatal(err)
			}
			if res, err := r.Reconcile(ctx); err != nil || res.Err() != nil {
				t.Fatal(err, res.Err())
			}
			cm, err = kube.CoreV1().ConfigMaps(ns).Get(ctx, "app", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cm.Data["key"] != c.want {
				t.Errorf("key = %q, want %q", cm.Data["key"], c.want)
			}
			s, _ := r.Status().Unit("HelmRelease/" + ns + "/drifter")
			drifted := driftedSince()
			if warned := len(drifted) > 0 || strings.Contains(s.Message, "drifted"); warned != (c.mode == "warn") {
				t.Errorf("drift reported %v (events %v, status %q)", warned, drifted, s.Message)
			}
		})
	}
}

// TestHelmReleaseDriftIgnore: driftDetection.ignore as Flux defines it:
// drift at an ignored path of a selected object is neither corrected nor
// reported (warn) and, left there, costs no request on later passes; drift
// elsewhere in the same object is corrected, an
// object no rule selects is corrected whole, and a path that is no JSON
// pointer fails the release, naming it.
func TestHelmReleaseDriftIgnore(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	chartDir := helmtest.WriteChart(t, t.TempDir(), "ignorer", "1.0.0", map[string]string{
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  key: from-git\n  other: from-git\n---\n" +
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unselected\ndata:\n  key: from-git\n",
	})
	charts := helmtest.ServeRepo(t, []string{helmtest.Package(t, chartDir, t.TempDir())}, false)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("drift-ignore-%d", time.Now().UnixNano()%1000000)
	dir := t.TempDir()
	write := func(drift string) {
		testfs.Write(t, dir, map[string]string{"clusters/dev/all.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n"+
			"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: %s}\nspec: {interval: 1h, url: '%s'}\n---\n"+
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: ignorer, namespace: %s}\n"+
			"spec:\n  interval: 10m\n  driftDetection:\n%s  chart:\n    spec: {chart: ignorer, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n", ns, ns, charts.URL, ns, drift)})
	}
	cfg, counter := testenv.CountWrites(env.Config)
	r, driftedSince := driftReconciler(t, cfg, ns, dir)
	reconcile := func() error {
		t.Helper()
		res, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res.Err()
	}
	edit := func(name string, keys ...string) {
		t.Helper()
		cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			cm.Data[k] = "by-hand"
		}
		if _, err := kube.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatal(err)
		}
	}
	data := func(name string) string {
		t.Helper()
		cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm.Data["key"] + " " + cm.Data["other"]
	}
	rule := "    ignore:\n    - paths: ['/data/key']\n      target: {kind: ConfigMap, name: '^app$'}\n"

	write("    mode: enabled\n" + rule)
	if err := reconcile(); err != nil {
		t.Fatal(err)
	}
	edit("app", "key", "other")
	edit("unselected", "key")
	if err := reconcile(); err != nil {
		t.Fatal(err)
	}
	if got := data("app"); got != "by-hand from-git" {
		t.Errorf("app: key other = %s, want the ignored key kept and the other corrected", got)
	}
	if got := data("unselected"); got != "from-git " {
		t.Errorf("unselected: key = %q, want it corrected", got)
	}
	// Drift left at an ignored path costs nothing afterwards: no apply,
	// no dry run.
	counter.Take()
	if err := reconcile(); err != nil {
		t.Fatal(err)
	}
	if w := counter.Take(); len(w) != 0 {
		t.Errorf("the pass after an ignored drift wrote or dry-ran: %v", w)
	}

	// warn: drift only at the ignored path is not reported.
	write("    mode: warn\n" + rule)
	if err := reconcile(); err != nil {
		t.Fatal(err)
	}
	driftedSince()
	edit("app", "key")
	if err := reconcile(); err != nil {
		t.Fatal(err)
	}
	if d := driftedSince(); len(d) != 0 {
		t.Errorf("drift at an ignored path reported: %v", d)
	}
	edit("app", "other")
	if err := reconcile(); err != nil {
		t.Fatal(err)
	}
	if d := driftedSince(); fmt.Sprint(d) != "[ConfigMap/"+ns+"/app]" {
		t.Errorf("drift elsewhere: reported %v", d)
	}

	write("    ignore:\n    - paths: ['data/key']\n")
	err = reconcile()
	if err == nil || !strings.Contains(err.Error(), `"data/key" is not a JSON pointer`) || !strings.Contains(err.Error(), "HelmRelease/"+ns+"/ignorer") {
		t.Errorf("a bad path: %v", err)
	}
}

// driftReconciler reconciles the repository in dir and returns, with it,
// what reports the objects found drifted (ObjectDrifted events) since the
// last call.
func driftReconciler(t *testing.T, cfg *rest.Config, ns, dir string) (*gitopskit.Reconciler, func() []string) {
	t.Helper()
	var (
		mu      sync.Mutex
		drifted []string
	)
	r, err := gitopskit.New(gitopskit.Options{Name: ns, Source: source.NewDir(dir, source.DirOptions{}), Path: "clusters/dev", Config: cfg,
		Load: render.LoadOptions{CacheDir: t.TempDir()},
		Apply: apply.Options{Events: func(e apply.Event) {
			if e.Type == apply.ObjectDrifted {
				mu.Lock()
				drifted = append(drifted, e.Object.String())
				mu.Unlock()
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	return r, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := drifted
		drifted = nil
		return out
	}
}
