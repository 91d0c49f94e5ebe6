package gitopskit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/render"
)

func obj(apiVersion, kind, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	return u
}

// TestObjectsOf: a unit applies its objects and install/upgrade hooks,
// never Flux's own objects (they define units) nor test or delete hooks.
func TestObjectsOf(t *testing.T) {
	hook := func(name string, events ...string) render.Hook {
		return render.Hook{Object: render.Object{Unstructured: obj("batch/v1", "Job", name)}, Events: events}
	}
	u := &render.Unit{
		Objects: []render.Object{
			{Unstructured: obj("v1", "ConfigMap", "config")},
			{Unstructured: obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "apps")},
			{Unstructured: obj("helm.toolkit.fluxcd.io/v2", "HelmRelease", "db")},
			{Unstructured: obj("source.toolkit.fluxcd.io/v1", "HelmRepository", "charts")},
			{Unstructured: obj("notification.toolkit.fluxcd.io/v1beta3", "Alert", "slack")},
			{Unstructured: obj("kustomize.config.k8s.io/v1beta1", "Kustomization", "not-flux")},
		},
		Hooks: []render.Hook{
			hook("migrate", "pre-upgrade", "pre-install"),
			hook("seed", "post-install"),
			hook("smoke", "test"),
			hook("cleanup", "pre-delete"),
			hook("undo", "post-rollback"),
		},
	}
	var got []string
	for _, o := range objectsOf(u.Applied(), nil) {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	want := []string{"ConfigMap/config", "Alert/slack", "Kustomization/not-flux", "Job/migrate", "Job/seed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestStatusTable: the table has Flux's columns and one line per unit,
// with multi-line messages on one line.
func TestStatusTable(t *testing.T) {
	s := Status{
		{ID: "HelmRelease/db/postgresql", Ready: ReadyTrue, Message: "Applied revision: 15.4.1", Revision: "15.4.1"},
		{ID: "Kustomization/flux-system/apps", Ready: ReadyFalse, Message: "apply failed:\n  ConfigMap/x: invalid", Suspended: true},
	}
	row := func(name, ready, msg, rev, susp string) string {
		return fmt.Sprintf("%-32s%-7s%-36s%-10s%s\n", name, ready, msg, rev, susp)
	}
	want := row("NAME", "READY", "MESSAGE", "REVISION", "SUSPENDED") +
		row("HelmRelease/db/postgresql", "True", "Applied revision: 15.4.1", "15.4.1", "false") +
		row("Kustomization/flux-system/apps", "False", "apply failed: ConfigMap/x: invalid", "", "true")
	if diff := cmp.Diff(want, s.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if u, ok := s.Unit("HelmRelease/db/postgresql"); !ok || u.Revision != "15.4.1" {
		t.Errorf("Unit: %+v %v", u, ok)
	}
}

// TestNextInterval: Run waits the interval plus up to a tenth of it.
func TestNextInterval(t *testing.T) {
	r := &Reconciler{opts: Options{Interval: time.Minute}}
	seen := map[bool]bool{}
	for range 1000 {
		d := r.nextInterval()
		if d < time.Minute || d > time.Minute+6*time.Second {
			t.Fatalf("nextInterval = %v, want within [1m, 1m6s]", d)
		}
		seen[d == time.Minute] = true
	}
	if !seen[false] {
		t.Error("no jitter in 1000 draws")
	}
}

// TestIgnoreFluxInstall: flux bootstrap's install manifest is left out,
// everything else, including the rest of flux-system/, is applied.
func TestIgnoreFluxInstall(t *testing.T) {
	at := func(name, file string) render.Object {
		return render.Object{Unstructured: obj("v1", "ConfigMap", name), Provenance: render.Provenance{File: file}}
	}
	u := &render.Unit{Objects: []render.Object{
		at("controller", "clusters/dev/flux-system/gotk-components.yaml"),
		at("patch", "clusters/dev/flux-system/kustomization.yaml"),
		at("other", "apps/gotk-components.yaml"),
		at("app", "apps/app.yaml"),
	}}
	var got []string
	for _, o := range objectsOf(u.Applied(), IgnoreFluxInstall) {
		got = append(got, o.GetName())
	}
	if diff := cmp.Diff([]string{"patch", "other", "app"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestReleaseHooks: a release's hooks are chosen by phase (install, or
// upgrade when one is deployed) and ordered as Helm runs them: by weight,
// then name, the render's order of kinds kept between equals.
func TestReleaseHooks(t *testing.T) {
	hook := func(kind, name string, weight int, events ...string) render.Hook {
		return render.Hook{Object: render.Object{Unstructured: obj("v1", kind, name)}, Events: events, Weight: weight}
	}
	hooks := []render.Hook{
		hook("ServiceAccount", "b", 0, "pre-install"),
		hook("ConfigMap", "late", 5, "pre-install", "pre-upgrade"),
		hook("ConfigMap", "a", 0, "pre-install"),
		hook("Job", "early", -3, "pre-install"),
		hook("Job", "migrate", 0, "pre-upgrade"),
		hook("Job", "seed", 0, "post-install"),
		hook("Pod", "smoke", 0, "test"),
	}
	names := func(hs []apply.Hook) string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Object.GetName())
		}
		return strings.Join(out, " ")
	}
	pre, post := releaseHooks(hooks, false)
	if got := names(pre) + " | " + names(post); got != "early a b late | seed" {
		t.Errorf("install: %s", got)
	}
	pre, post = releaseHooks(hooks, true)
	if got := names(pre) + " | " + names(post); got != "migrate late | " {
		t.Errorf("upgrade: %q", got)
	}
}
