package gitopskit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit"
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
// an unchanged reconcile writes nothing at all; maxHistory bounds the
// revisions kept; a revision whose objects never become healthy is
// failed while the last good one stays deployed; and the HelmRelease
// leaving the repository removes its records with its objects.
func TestHelmReleaseRecords(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	chartDir := helmtest.WriteChart(t, t.TempDir(), "greeter", "1.0.0", map[string]string{
		"values.yaml":       "greeting: hello\nbroken: false\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n",
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
				"spec:\n  interval: 10m\n  timeout: 3s\n  maxHistory: 2\n  chart:\n    spec: {chart: greeter, version: '1.x', sourceRef: {kind: HelmRepository, name: charts}}\n  values: %s\n", ns, values)
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
	history := func() map[int]release.Status {
		t.Helper()
		hist, err := records.History("greeter")
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
		got := history()
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

	write("{greeting: hey}", true)
	reconcile(false)
	same(map[int]release.Status{1: release.StatusSuperseded, 2: release.StatusDeployed})

	counter.Take()
	reconcile(false)
	if w := counter.Take(); len(w) != 0 {
		t.Errorf("the unchanged reconcile wrote: %s", strings.Join(w, "; "))
	}
	same(map[int]release.Status{1: release.StatusSuperseded, 2: release.StatusDeployed})

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

	write("", false)
	reconcile(false)
	same(map[int]release.Status{})
}
