package gitopskit_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

func TestMain(m *testing.M) {
	// controller-runtime's client warns, with a stack, when no logger is set.
	ctrllog.SetLogger(logr.Discard())
	testenv.Main(m)
}

// events records the apply events of a reconcile.
type events struct {
	mu  sync.Mutex
	all []apply.Event
}

func (e *events) add(ev apply.Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

func (e *events) take() []apply.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.all
	e.all = nil
	return out
}

// index is the position of the first event of type typ for unit, or -1.
func index(evs []apply.Event, typ apply.EventType, unit string) int {
	return slices.IndexFunc(evs, func(e apply.Event) bool { return e.Type == typ && e.Unit == unit })
}

var (
	deployments  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	statefulsets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	configmaps   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	services     = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	widgets      = schema.GroupVersionResource{Group: "widgets.gitopskit.dev", Version: "v1", Resource: "clusterwidgets"}
)

func get(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	o, err := dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func field(o *unstructured.Unstructured, path ...string) string {
	if o == nil {
		return "<absent>"
	}
	v, _, _ := unstructured.NestedFieldNoCopy(o.Object, path...)
	if v == nil {
		return "<unset>"
	}
	return fmt.Sprint(v)
}

// appConfig is the base's ConfigMap with a TRACE entry, or none for "".
func appConfig(trace string) string {
	base := fleet.Repo()["apps/base/config.yaml"]
	if trace == "" {
		return base
	}
	return strings.Replace(base, "DATABASE_HOST", "TRACE: \""+trace+"\"\n  DATABASE_HOST", 1)
}

// TestReconcilerEndToEnd reconciles the example fleet on the real control
// plane, step by step as a team would live with it.
func TestReconcilerEndToEnd(t *testing.T) {
	ctx := context.Background()
	env := testenv.Shared(t)
	wctx, stopWorkloads := context.WithCancel(ctx)
	t.Cleanup(stopWorkloads)
	go func() { _ = testenv.RunWorkloadStatus(wctx, env.Config) }()

	repo := gittest.NewRepo(t)
	repo.Commit("fleet", fleet.Repo())
	charts := t.TempDir()
	if err := fleet.Write(charts, fleet.Charts()); err != nil {
		t.Fatal(err)
	}
	commit := func(msg string, files map[string]string) string {
		t.Helper()
		if err := fleet.Write(repo.Dir, files); err != nil {
			t.Fatal(err)
		}
		return repo.Commit(msg, nil)
	}

	cfg, counter := testenv.CountWrites(env.Config)
	evs := &events{}
	r, err := gitopskit.New(gitopskit.Options{
		Source: source.NewGit(repo.Dir, source.GitOptions{CacheDir: t.TempDir()}),
		Path:   fleet.Path,
		Config: cfg,
		Load: render.LoadOptions{
			Mirrors:  source.Mirrors{fleet.ChartsURL: "file://" + charts},
			CacheDir: t.TempDir(),
		},
		Apply: apply.Options{Timeout: time.Minute, Events: evs.add},
	})
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(env.Config)
	revision := func() string { return "main@sha1:" + repo.Head() }
	mustReconcile := func(t *testing.T) *gitopskit.Result {
		t.Helper()
		res, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		return res
	}
	allReady := func(t *testing.T) {
		t.Helper()
		for _, s := range r.Status() {
			want := revision() // a HelmRelease's revision is its chart version
			if strings.HasPrefix(s.ID, "HelmRelease/") {
				want = map[string]string{fleet.WidgetOperator: "1.2.0", fleet.Database: "15.4.1"}[s.ID]
			}
			if s.Ready != gitopskit.ReadyTrue || s.Revision != want {
				t.Errorf("%s: ready %s at %q: %s", s.ID, s.Ready, s.Revision, s.Message)
			}
		}
	}

	t.Run("first apply", func(t *testing.T) {
		res := mustReconcile(t)
		if res.Revision != revision() {
			t.Errorf("revision %q, want %q", res.Revision, revision())
		}
		var ids []string
		for _, s := range r.Status() {
			ids = append(ids, s.ID)
		}
		want := []string{fleet.WidgetOperator, fleet.Database, fleet.Application, fleet.Dependency, "Kustomization/flux-system/flux-system", fleet.Infrastructure}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("units %v, want %v", ids, want)
		}
		allReady(t)
		// The ClusterWidget's unit waited for the release that installs its
		// CRD, with no dependsOn between them.
		all := evs.take()
		if ready, started := index(all, apply.UnitReady, fleet.WidgetOperator), index(all, apply.UnitStarted, fleet.Dependency); ready < 0 || started < ready {
			t.Errorf("dependency started at event %d, before the operator was ready (%d)", started, ready)
		}
		if w := get(t, dyn, widgets, "", "default"); field(w, "spec", "color") != "blue" {
			t.Errorf("ClusterWidget color %s", field(w, "spec", "color"))
		}
		if d := get(t, dyn, deployments, "web-dev", "web"); field(d, "spec", "replicas") != "1" {
			t.Errorf("dev overlay: replicas %s", field(d, "spec", "replicas"))
		}
		if get(t, dyn, statefulsets, "database", "postgresql") == nil || get(t, dyn, configmaps, "web-dev", "feature-flags") == nil {
			t.Error("database or feature-flags missing")
		}
		table := r.Status().String()
		if !strings.HasPrefix(table, "NAME") || !strings.Contains(table, "Applied revision: "+revision()) {
			t.Errorf("status table:\n%s", table)
		}
	})

	t.Run("unchanged reconcile makes no write request", func(t *testing.T) {
		counter.Take()
		res := mustReconcile(t)
		if w := counter.Take(); len(w) != 0 {
			t.Errorf("write requests: %v", w)
		}
		for _, u := range res.Units {
			for _, c := range u.Changes {
				if c.Action != "unchanged" {
					t.Errorf("%s: %s %s", u.ID, c.Object, c.Action)
				}
			}
		}
	})

	t.Run("change with prune", func(t *testing.T) {
		commit("drop feature flags", fleet.RemoveFeatureFlags())
		res := mustReconcile(t)
		if get(t, dyn, configmaps, "web-dev", "feature-flags") != nil {
			t.Error("feature-flags was not pruned")
		}
		u, _ := res.Unit(fleet.Application)
		if len(u.Pruned) != 1 || u.Pruned[0].Name != "feature-flags" {
			t.Errorf("pruned %v", u.Pruned)
		}
		allReady(t)
	})

	t.Run("plan and observe from another process", func(t *testing.T) {
		applied := revision()
		commit("red widget", map[string]string{"dependency/default-widget.yaml": strings.Replace(fleet.Repo()["dependency/default-widget.yaml"], "blue", "red", 1)})
		other, err := gitopskit.New(gitopskit.Options{
			Source: source.NewGit(repo.Dir, source.GitOptions{CacheDir: t.TempDir()}),
			Path:   fleet.Path,
			Config: env.Config,
			Load:   render.LoadOptions{Mirrors: source.Mirrors{fleet.ChartsURL: "file://" + charts}, CacheDir: t.TempDir()},
		})
		if err != nil {
			t.Fatal(err)
		}
		plan, err := other.Plan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var changes []string
		for _, o := range plan.Objects {
			if o.Action != apply.PlanUnchanged {
				changes = append(changes, o.Unit+" "+o.Object.String()+" "+string(o.Action))
				if !strings.Contains(o.Diff, "red") {
					t.Errorf("diff of %s lacks the change:\n%s", o.Object, o.Diff)
				}
			}
		}
		if want := []string{fleet.Dependency + " ClusterWidget.widgets.gitopskit.dev/default configure"}; !slices.Equal(changes, want) {
			t.Errorf("plan %v, want %v\n%s", changes, want, plan)
		}
		if field(get(t, dyn, widgets, "", "default"), "spec", "color") != "blue" {
			t.Error("a plan changed the cluster")
		}
		st, err := other.Observe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 6 {
			t.Errorf("observed %d units:\n%s", len(st), st)
		}
		for _, s := range st {
			if s.Ready != gitopskit.ReadyTrue || (strings.HasPrefix(s.ID, "Kustomization/") && s.Revision != applied) {
				t.Errorf("observed %+v, want Ready at %s", s, applied)
			}
		}
		// Someone deletes an object: the status says which.
		if err := dyn.Resource(configmaps).Namespace("web-dev").Delete(ctx, "web-config", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		st, _ = other.Observe(ctx)
		if s, _ := st.Unit(fleet.Application); s.Ready != gitopskit.ReadyFalse || !strings.Contains(s.Message, "ConfigMap/web-dev/web-config: not found") {
			t.Errorf("after a deletion: %+v", s)
		}
		mustReconcile(t)
	})

	t.Run("suspend and resume", func(t *testing.T) {
		if err := r.Suspend(fleet.Application); err != nil {
			t.Fatal(err)
		}
		if err := r.Suspend("Kustomization/flux-system/nope"); err == nil {
			t.Error("suspending an unknown unit was accepted")
		}
		commit("more logging", map[string]string{"apps/base/config.yaml": appConfig("on")})
		res := mustReconcile(t)
		if u, _ := res.Unit(fleet.Application); !u.Skipped {
			t.Errorf("suspended unit was reconciled: %+v", u)
		}
		if field(get(t, dyn, configmaps, "web-dev", "web-config"), "data", "TRACE") != "<unset>" {
			t.Error("suspended unit's change reached the cluster")
		}
		if s, _ := r.Status().Unit(fleet.Application); !s.Suspended || s.Revision == revision() {
			t.Errorf("status of the suspended unit: %+v", s)
		}
		if _, err := r.ReconcileUnit(ctx, fleet.Application, gitopskit.UnitOnly); err == nil || !strings.Contains(err.Error(), "suspended") {
			t.Errorf("reconciling a suspended unit: err = %v", err)
		}
		if err := r.Resume(fleet.Application); err != nil {
			t.Fatal(err)
		}
		mustReconcile(t)
		if field(get(t, dyn, configmaps, "web-dev", "web-config"), "data", "TRACE") != "on" {
			t.Error("resumed unit's change did not reach the cluster")
		}
		allReady(t)
	})

	t.Run("one unit", func(t *testing.T) {
		commit("green widget, quieter app", map[string]string{
			"dependency/default-widget.yaml": strings.Replace(fleet.Repo()["dependency/default-widget.yaml"], "blue", "green", 1),
			"apps/base/config.yaml":          appConfig(""),
		})
		res, err := r.ReconcileUnit(ctx, fleet.Dependency, gitopskit.UnitOnly)
		if err != nil || res.Err() != nil {
			t.Fatal(err, res.Err())
		}
		var applied []string
		for _, u := range res.Units {
			if !u.Skipped {
				applied = append(applied, u.ID)
			}
		}
		if !slices.Equal(applied, []string{fleet.Dependency}) {
			t.Errorf("reconciled %v, want only %s", applied, fleet.Dependency)
		}
		if field(get(t, dyn, widgets, "", "default"), "spec", "color") != "green" {
			t.Error("the unit's change did not reach the cluster")
		}
		if field(get(t, dyn, configmaps, "web-dev", "web-config"), "data", "TRACE") != "on" {
			t.Error("another unit's change reached the cluster")
		}

		res, err = r.ReconcileUnit(ctx, fleet.Application, gitopskit.WithDependencies)
		if err != nil || res.Err() != nil {
			t.Fatal(err, res.Err())
		}
		applied = nil
		for _, u := range res.Units {
			if !u.Skipped {
				applied = append(applied, u.ID)
			}
		}
		want := []string{fleet.WidgetOperator, fleet.Application, fleet.Dependency, fleet.Infrastructure}
		slices.Sort(want)
		if !slices.Equal(applied, want) {
			t.Errorf("reconciled %v, want %v", applied, want)
		}
		if field(get(t, dyn, configmaps, "web-dev", "web-config"), "data", "TRACE") != "<unset>" {
			t.Error("the unit's change did not reach the cluster")
		}
		if _, err := r.ReconcileUnit(ctx, "Kustomization/flux-system/nope", gitopskit.UnitOnly); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("unknown unit: err = %v", err)
		}
	})

	t.Run("failing unit", func(t *testing.T) {
		good := fleet.Repo()
		commit("break the widget, rename the database", map[string]string{
			"dependency/default-widget.yaml": strings.Replace(good["dependency/default-widget.yaml"], "size: 3", "size: three", 1),
			"apps/base/config.yaml":          appConfig("blocked"),
			"infrastructure/postgresql.yaml": strings.Replace(good["infrastructure/postgresql.yaml"], "database: app", "database: app2", 1),
		})
		res, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dep, _ := res.Unit(fleet.Dependency)
		app, _ := res.Unit(fleet.Application)
		db, _ := res.Unit(fleet.Database)
		if dep.Err == nil || !strings.Contains(dep.Err.Error(), "ClusterWidget") {
			t.Errorf("dependency: err = %v, want one naming the ClusterWidget", dep.Err)
		}
		if app.BlockedBy != fleet.Dependency || len(app.Changes) != 0 {
			t.Errorf("application: blocked by %q, %d changes", app.BlockedBy, len(app.Changes))
		}
		if db.Err != nil || db.BlockedBy != "" {
			t.Errorf("independent database release: %v %s", db.Err, db.BlockedBy)
		}
		sts := get(t, dyn, statefulsets, "database", "postgresql")
		if !strings.Contains(field(sts, "spec", "template", "spec", "containers"), "app2") {
			t.Error("the independent unit's change did not reach the cluster")
		}
		if field(get(t, dyn, configmaps, "web-dev", "web-config"), "data", "TRACE") != "<unset>" {
			t.Error("a blocked unit was applied")
		}
		st := r.Status()
		if s, _ := st.Unit(fleet.Dependency); s.Ready != gitopskit.ReadyFalse || !strings.Contains(s.Message, "ClusterWidget") {
			t.Errorf("dependency status: %+v", s)
		}
		if s, _ := st.Unit(fleet.Application); s.Ready != gitopskit.ReadyFalse || !strings.Contains(s.Message, fleet.Dependency) {
			t.Errorf("application status: %+v", s)
		}
		if s, _ := st.Unit(fleet.Database); s.Ready != gitopskit.ReadyTrue || s.Revision != "15.4.1" {
			t.Errorf("database status: %+v", s)
		}

		// Suspended while not Ready, it still holds back its dependents.
		if err := r.Suspend(fleet.Dependency); err != nil {
			t.Fatal(err)
		}
		res, err = r.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := res.Unit(fleet.Dependency); !u.Skipped {
			t.Errorf("suspended dependency: %+v", u)
		}
		if u, _ := res.Unit(fleet.Application); u.BlockedBy != fleet.Dependency {
			t.Errorf("dependent of a suspended, failed unit: blocked by %q", u.BlockedBy)
		}
		if s, _ := r.Status().Unit(fleet.Dependency); !s.Suspended || !strings.Contains(s.Message, "ClusterWidget") {
			t.Errorf("suspended dependency status: %+v", s)
		}
		if err := r.Resume(fleet.Dependency); err != nil {
			t.Fatal(err)
		}

		commit("fix the widget", map[string]string{"dependency/default-widget.yaml": good["dependency/default-widget.yaml"]})
		mustReconcile(t)
		allReady(t)
	})

	t.Run("a unit or the root that does not render loses nothing", func(t *testing.T) {
		good := fleet.Repo()
		overlay := fleet.RemoveFeatureFlags()["apps/dev/kustomization.yaml"] // as it is now
		commit("overlay lists a missing file", map[string]string{
			"apps/dev/kustomization.yaml": strings.Replace(overlay, "  - namespace.yaml\n", "  - namespace.yaml\n  - missing.yaml\n", 1),
		})
		res, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := res.Unit(fleet.Application); u.Err == nil || !strings.Contains(u.Err.Error(), "missing.yaml") || len(u.Changes) != 0 {
			t.Errorf("application: err = %v, %d changes", u.Err, len(u.Changes))
		}
		if u, _ := res.Unit(fleet.Dependency); u.Err != nil {
			t.Errorf("an independent unit failed: %v", u.Err)
		}
		if get(t, dyn, deployments, "web-dev", "web") == nil || get(t, dyn, configmaps, "web-dev", "web-config") == nil {
			t.Error("objects of the unit that did not render were deleted")
		}

		commit("root with broken YAML", map[string]string{
			"apps/dev/kustomization.yaml":      overlay,
			"clusters/dev/infrastructure.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: infrastructure\n",
		})
		res, err = r.Reconcile(ctx)
		if err == nil || res != nil || !strings.Contains(err.Error(), "infrastructure.yaml") {
			t.Fatalf("broken root: result %v, err = %v; want an error naming the file", res, err)
		}
		for _, s := range r.Status() {
			if s.Ready != gitopskit.ReadyFalse {
				t.Errorf("%s: %s after the root failed", s.ID, s.Ready)
			}
		}
		if get(t, dyn, deployments, "web-dev", "web") == nil || get(t, dyn, widgets, "", "default") == nil {
			t.Error("objects were deleted because the root did not render")
		}
		commit("fix the root", map[string]string{"clusters/dev/infrastructure.yaml": good["clusters/dev/infrastructure.yaml"]})
		mustReconcile(t)
		allReady(t)
	})

	t.Run("run, trigger and watch", func(t *testing.T) {
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		watch := r.Watch(runCtx)
		seen := map[string]bool{}
		for range len(r.Status()) { // the current state comes first
			s := <-watch
			seen[s.ID] = true
		}
		done := make(chan error, 1)
		go func() { done <- r.Run(runCtx) }()
		commit("trace again", map[string]string{"apps/base/config.yaml": appConfig("run")})
		r.Trigger(fleet.Application, gitopskit.UnitOnly)
		deadline := time.After(2 * time.Minute)
		for {
			var s gitopskit.UnitStatus
			select {
			case s = <-watch:
			case <-deadline:
				t.Fatal("no Ready status at the new revision")
			}
			if s.ID == fleet.Application && s.Ready == gitopskit.ReadyTrue && s.Revision == revision() {
				break
			}
		}
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if _, open := <-watch; open {
			for range watch {
			}
		}
		if field(get(t, dyn, configmaps, "web-dev", "web-config"), "data", "TRACE") != "run" {
			t.Error("the triggered change did not reach the cluster")
		}
	})

	t.Run("source unreachable keeps the last applied state", func(t *testing.T) {
		last := revision()
		if err := os.Rename(repo.Dir, repo.Dir+".gone"); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.Rename(repo.Dir+".gone", repo.Dir); err != nil {
				t.Fatal(err)
			}
		}()
		// Someone deletes an object meanwhile.
		if err := dyn.Resource(services).Namespace("database").Delete(ctx, "postgresql", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		res, err := r.Reconcile(ctx)
		if err == nil || !strings.Contains(err.Error(), "source unavailable") {
			t.Fatalf("err = %v, want the source failure", err)
		}
		if res == nil || res.Revision != last || res.SourceErr == nil {
			t.Fatalf("result %+v, want the last revision reconciled", res)
		}
		for _, u := range res.Units {
			if u.Err != nil {
				t.Errorf("%s: %v", u.ID, u.Err)
			}
		}
		if get(t, dyn, services, "database", "postgresql") == nil {
			t.Error("drift was not corrected from the last revision")
		}
		if get(t, dyn, deployments, "web-dev", "web") == nil {
			t.Error("objects were lost while the source was away")
		}
		for _, s := range r.Status() {
			if s.Ready != gitopskit.ReadyTrue || !strings.Contains(s.Message, "source unavailable") || (strings.HasPrefix(s.ID, "Kustomization/") && s.Revision != last) {
				t.Errorf("%s: %+v", s.ID, s)
			}
		}
	})
	t.Run("unit removed from the repository", func(t *testing.T) {
		commit("retire the application", map[string]string{"clusters/dev/application.yaml": ""})
		res := mustReconcile(t)
		u, ok := res.Unit(fleet.Application)
		if !ok || len(u.Pruned) == 0 {
			t.Fatalf("removed unit: %+v", u)
		}
		if get(t, dyn, deployments, "web-dev", "web") != nil || get(t, dyn, configmaps, "web-dev", "web-config") != nil {
			t.Error("the removed unit's objects are still there")
		}
		if _, ok := r.Status().Unit(fleet.Application); ok {
			t.Error("the removed unit is still in the status")
		}
		// (Not brought back: the test control plane has no namespace
		// controller, so web-dev stays Terminating.)
	})

	t.Run("teardown", func(t *testing.T) {
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		watch := r.Watch(wctx)
		known := len(r.Status())
		res, err := r.Teardown(ctx)
		if err != nil || res.Err() != nil {
			t.Fatal(err, res.Err())
		}
		if get(t, dyn, widgets, "", "default") != nil || get(t, dyn, statefulsets, "database", "postgresql") != nil {
			t.Error("objects left after teardown")
		}
		crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
		if get(t, dyn, crds, "", "clusterwidgets.widgets.gitopskit.dev") != nil {
			t.Error("the CRD is left after teardown")
		}
		cms, err := dyn.Resource(configmaps).Namespace(gitopskit.DefaultNamespace).List(ctx, metav1.ListOptions{LabelSelector: inventory.StoreLabel + "=gitopskit"})
		if err != nil || len(cms.Items) != 0 {
			t.Errorf("inventories left: %v %d", err, len(cms.Items))
		}
		if len(r.Status()) != 0 {
			t.Errorf("status after teardown:\n%s", r.Status())
		}
		removed, deadline := 0, time.After(time.Minute)
		for removed < known {
			select {
			case s := <-watch:
				if s.Removed {
					removed++
				}
			case <-deadline:
				t.Fatalf("Watch reported %d of %d units removed", removed, known)
			}
		}
	})
}
