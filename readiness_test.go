package gitopskit_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/dynamic"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

// readinessRepo is shaped like the real repositories that broke the first
// wave: a parent Kustomization health-checking the HelmReleases it defines
// and a Deployment one of them renders (as Flux's docs recommend), a unit
// that dependsOn the parent and holds a custom resource of a CRD from one
// release, two units that both render the Namespace of their overlay with
// a dependsOn between them, and a unit whose health check names an object
// nobody renders.
func readinessRepo() map[string]string {
	ks := func(name, path, extra string) string {
		return "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: " + name + "\n  namespace: flux-system\n" +
			"spec:\n  interval: 10m\n  path: " + path + "\n  prune: true\n  timeout: 2m\n  sourceRef: {kind: GitRepository, name: flux-system}\n" + extra
	}
	hr := func(name, ns, chart string) string {
		return "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\n" +
			"spec:\n  interval: 10m\n  chart:\n    spec:\n      chart: " + chart + "\n      sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}\n" +
			"  values: {replicas: 1}\n"
	}
	nsDoc := func(name string) string { return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n" }
	cm := func(ns, name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\ndata: {a: b}\n"
	}
	return map[string]string{
		"clusters/test/infrastructure.yaml": ks("infrastructure", "./infrastructure",
			"  healthChecks:\n"+
				"  - {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: operator, namespace: ready-operator}\n"+
				"  - {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: db, namespace: ready-db}\n"+
				"  - {apiVersion: apps/v1, kind: Deployment, name: operator, namespace: ready-operator}\n"),
		"clusters/test/widgets.yaml":     ks("widgets", "./widgets", "  dependsOn: [{name: infrastructure}]\n"),
		"clusters/test/dependency.yaml":  ks("dependency", "./dependency", "  wait: true\n"),
		"clusters/test/application.yaml": ks("application", "./application", "  wait: true\n  dependsOn: [{name: dependency}]\n"),
		"clusters/test/impossible.yaml": strings.Replace(ks("impossible", "./impossible",
			"  healthChecks:\n  - {apiVersion: apps/v1, kind: Deployment, name: ghost, namespace: nowhere}\n"), "timeout: 2m", "timeout: 10m", 1),
		"infrastructure/namespaces.yaml": nsDoc("ready-operator") + "---\n" + nsDoc("ready-db"),
		"infrastructure/repository.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: flux-system}\n" +
			"spec: {interval: 1h, url: " + fleet.ChartsURL + "}\n",
		"infrastructure/operator.yaml": strings.Replace(hr("operator", "ready-operator", "widget-operator"), "  values:", "  install: {crds: CreateReplace}\n  values:", 1),
		"infrastructure/db.yaml":       hr("db", "ready-db", "database"),
		"widgets/widget.yaml":          "apiVersion: widgets.gitopskit.dev/v1\nkind: ClusterWidget\nmetadata: {name: ready-test}\nspec: {color: green, size: 1}\n",
		"dependency/namespace.yaml":    nsDoc("ready-shared"),
		"dependency/config.yaml":       cm("ready-shared", "dependency"),
		"application/namespace.yaml":   nsDoc("ready-shared"),
		"application/config.yaml":      cm("ready-shared", "application"),
		"impossible/config.yaml":       cm("default", "impossible"),
	}
}

// TestReadinessOnRealShapes: plan and reconcile succeed on the repository
// above on the real control plane; the parent is Ready only after the
// releases it health-checks, which are not held back by it; its dependent
// starts only after both releases are Ready; the shared Namespace makes no
// cycle; the impossible health check fails its unit at once, with nothing
// applied.
func TestReadinessOnRealShapes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := testenv.Shared(t)
	env.RunWorkloads(t)

	dir := t.TempDir()
	charts := filepath.Join(dir, "charts")
	repo := filepath.Join(dir, "repo")
	if err := fleet.Write(charts, fleet.Charts()); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Write(repo, readinessRepo()); err != nil {
		t.Fatal(err)
	}
	evs := &events{}
	r, err := gitopskit.New(gitopskit.Options{
		Name:   "readiness",
		Source: source.NewDir(repo, source.DirOptions{}),
		Path:   "clusters/test",
		Config: env.Config,
		Load:   render.LoadOptions{Mirrors: source.Mirrors{fleet.ChartsURL: "file://" + charts}, CacheDir: t.TempDir()},
		Apply:  apply.Options{Events: evs.add},
	})
	if err != nil {
		t.Fatal(err)
	}
	const (
		infra       = "Kustomization/flux-system/infrastructure"
		widgetsUnit = "Kustomization/flux-system/widgets"
		operator    = "HelmRelease/ready-operator/operator"
		db          = "HelmRelease/ready-db/db"
		impossible  = "Kustomization/flux-system/impossible"
	)
	if _, err := r.Plan(ctx); err != nil {
		t.Fatalf("plan: %v", err)
	}
	res, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	for _, u := range res.Units {
		if u.ID == impossible {
			continue
		}
		if u.Err != nil || u.BlockedBy != "" {
			t.Errorf("%s: %v (blocked by %q)", u.ID, u.Err, u.BlockedBy)
		}
	}
	for _, s := range r.Status() {
		if s.ID != impossible && s.Ready != gitopskit.ReadyTrue {
			t.Errorf("%s: ready %s: %s", s.ID, s.Ready, s.Message)
		}
	}
	// A warning at most: the shared Namespace, and the check on an object
	// nobody renders.
	var warned []string
	for _, w := range res.Warnings {
		warned = append(warned, string(w.Kind)+" "+w.Unit+" "+w.Object)
	}
	want := []string{"duplicate-object  Namespace/ready-shared", "health-check " + impossible + " Deployment.apps/nowhere/ghost"}
	if diff := cmp.Diff(want, warned); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	all := evs.take()
	at := func(typ apply.EventType, unit string) int {
		i := index(all, typ, unit)
		if i < 0 {
			t.Errorf("no %s event for %s", typ, unit)
		}
		return i
	}
	if at(apply.UnitStarted, operator) < at(apply.UnitStarted, infra) {
		t.Error("a release started before the parent that defines it")
	}
	for _, rel := range []string{operator, db} {
		if at(apply.UnitReady, infra) < at(apply.UnitReady, rel) {
			t.Errorf("%s was Ready before %s, which it health-checks", infra, rel)
		}
		if at(apply.UnitStarted, widgetsUnit) < at(apply.UnitReady, rel) {
			t.Errorf("%s started before %s was Ready", widgetsUnit, rel)
		}
	}
	u, _ := res.Unit(impossible)
	if u.Err == nil || !strings.Contains(u.Err.Error(), "Deployment.apps/nowhere/ghost: not in the cluster and no unit renders it") {
		t.Errorf("%s: err = %v, want the health check named", impossible, u.Err)
	}
	dyn := dynamic.NewForConfigOrDie(env.Config)
	if get(t, dyn, configmaps, "default", "impossible") != nil {
		t.Errorf("%s applied its objects though its health check can never pass", impossible)
	}
	if get(t, dyn, widgets, "", "ready-test") == nil || get(t, dyn, configmaps, "ready-shared", "application") == nil {
		t.Error("the widget or the application's ConfigMap is missing")
	}
	if res, err := r.Teardown(ctx); err != nil || res.Err() != nil {
		t.Fatalf("teardown: %v %v", err, res.Err())
	}
}
