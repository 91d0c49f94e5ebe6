package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	testenv.Main(m)
}

var (
	fleets     = schema.GroupVersionResource{Group: FleetGVK.Group, Version: FleetGVK.Version, Resource: "fleets"}
	configmaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	widgets    = schema.GroupVersionResource{Group: "widgets.gitopskit.dev", Version: "v1", Resource: "clusterwidgets"}
)

// replica is one running controller process.
type replica struct {
	mgr    ctrl.Manager
	r      *FleetReconciler
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, shard string) *replica {
	t.Helper()
	env := testenv.Shared(t)
	mgr, r, err := NewManager(env.Config, Config{Shard: shard, LeaderElection: true, LeaderElectionNamespace: "default", LeaseDuration: 3 * time.Second, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rep := &replica{mgr: mgr, r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rep.done <- mgr.Start(ctx) }()
	t.Cleanup(rep.stop)
	return rep
}

func (r *replica) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // later stops return at once
}

func (r *replica) elected() bool {
	select {
	case <-r.mgr.Elected():
		return true
	default:
		return false
	}
}

func fleetObject(name, shard, url, path string, mirrors map[string]any) *unstructured.Unstructured {
	u := newFleet()
	u.SetNamespace("default")
	u.SetName(name)
	if shard != "" {
		u.SetLabels(map[string]string{ShardLabel: shard})
	}
	spec := map[string]any{"url": url, "path": path, "interval": "1h"}
	if mirrors != nil {
		spec["mirrors"] = mirrors
	}
	u.Object["spec"] = spec
	return u
}

// waitFor polls cond until it holds or a minute passes.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last: %s)", what, last)
}

func readyAt(dyn dynamic.Interface, name string) (bool, string, string) {
	u, err := dyn.Resource(fleets).Namespace("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return false, "", err.Error()
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	rev, _, _ := unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			return m["status"] == "True", rev, fmt.Sprintf("%v: %v", m["reason"], m["message"])
		}
	}
	return false, rev, "no Ready condition"
}

// TestController runs replicas of two shards against the real control
// plane: only the leader of a shard reconciles, a shard sees only its
// Fleets, the other replica takes over when the leader stops, and
// deleting a Fleet prunes what it applied.
func TestController(t *testing.T) {
	ctx := context.Background()
	env := testenv.Shared(t)
	wctx, stopWorkloads := context.WithCancel(ctx)
	t.Cleanup(stopWorkloads)
	go func() { _ = testenv.RunWorkloadStatus(wctx, env.Config) }()
	if err := InstallCRD(ctx, env.Config); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(env.Config)

	repo := gittest.NewRepo(t)
	repo.Commit("fleet", fleet.Repo())
	charts := t.TempDir()
	if err := fleet.Write(charts, fleet.Charts()); err != nil {
		t.Fatal(err)
	}
	small := gittest.NewRepo(t)
	small.Commit("small", map[string]string{
		"clusters/x/app.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: flux-system}\nspec:\n  interval: 1m\n  path: ./app\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
		"app/cm.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shard-b, namespace: default}\ndata: {owner: shard-b}\n",
	})
	create := func(u *unstructured.Unstructured) {
		t.Helper()
		if _, err := dyn.Resource(fleets).Namespace("default").Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create(fleetObject("dev", "a", repo.Dir, fleet.Path, map[string]any{fleet.ChartsURL: "file://" + charts}))
	create(fleetObject("other", "b", small.Dir, "clusters/x", nil))
	bad := fleetObject("bad", "b", small.Dir, "clusters/x", nil)
	bad.Object["spec"].(map[string]any)["interval"] = "soon"
	create(bad)

	a1, a2 := start(t, "a"), start(t, "a")
	waitFor(t, "Fleet dev Ready", func() (bool, string) {
		ok, rev, msg := readyAt(dyn, "dev")
		return ok && rev == "main@sha1:"+repo.Head(), msg
	})
	leader, follower := a1, a2
	if a2.elected() {
		leader, follower = a2, a1
	}
	// The leader serves a status page per Fleet.
	pages := httptest.NewServer(leader.r)
	defer pages.Close()
	for path, want := range map[string]string{"/": `href="default/dev/"`, "/default/dev/": `data-unit="` + fleet.Application + `" class="state-ready"`} {
		res, err := http.Get(pages.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s (%d) lacks %s:\n%.2000s", path, res.StatusCode, want, b)
		}
	}
	if !leader.elected() || follower.elected() {
		t.Fatalf("elected: a1 %v, a2 %v; want exactly one", a1.elected(), a2.elected())
	}
	if n := follower.r.Reconciles(); n != 0 {
		t.Errorf("the follower reconciled %d times", n)
	}
	if _, rev, msg := readyAt(dyn, "other"); rev != "" || msg != "no Ready condition" {
		t.Errorf("shard a touched shard b's Fleet: %s %s", rev, msg)
	}
	if w, err := dyn.Resource(widgets).Get(ctx, "default", metav1.GetOptions{}); err != nil || w == nil {
		t.Errorf("the Fleet's ClusterWidget: %v", err)
	}

	t.Run("second shard", func(t *testing.T) {
		start(t, "b")
		waitFor(t, "Fleet other Ready", func() (bool, string) { ok, _, msg := readyAt(dyn, "other"); return ok, msg })
		if _, err := dyn.Resource(configmaps).Namespace("default").Get(ctx, "shard-b", metav1.GetOptions{}); err != nil {
			t.Error(err)
		}
		u, err := dyn.Resource(fleets).Namespace("default").Get(ctx, "other", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedField(u.Object, true, "spec", "suspend")
		if _, err := dyn.Resource(fleets).Namespace("default").Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "Fleet other Suspended", func() (bool, string) {
			_, _, msg := readyAt(dyn, "other")
			return msg == "Suspended: reconciliation is suspended", msg
		})
		waitFor(t, "Fleet bad InvalidSpec", func() (bool, string) {
			_, _, msg := readyAt(dyn, "bad")
			return msg == `InvalidSpec: spec.interval "soon": want a positive duration such as 5m`, msg
		})
	})

	t.Run("failover", func(t *testing.T) {
		leader.stop()
		waitFor(t, "the follower to lead", func() (bool, string) { return follower.elected(), "not elected" })
		if err := fleet.Write(repo.Dir, fleet.RemoveFeatureFlags()); err != nil {
			t.Fatal(err)
		}
		head := repo.Commit("drop feature flags", nil)
		u, err := dyn.Resource(fleets).Namespace("default").Get(ctx, "dev", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u.SetAnnotations(map[string]string{RequestedAtAnnotation: time.Now().Format(time.RFC3339Nano)})
		if _, err := dyn.Resource(fleets).Namespace("default").Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the new leader to apply the new revision", func() (bool, string) {
			ok, rev, msg := readyAt(dyn, "dev")
			return ok && rev == "main@sha1:"+head, msg
		})
		if _, err := dyn.Resource(configmaps).Namespace("web-dev").Get(ctx, "feature-flags", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("feature-flags not pruned: %v", err)
		}
	})

	t.Run("delete prunes", func(t *testing.T) {
		if err := dyn.Resource(fleets).Namespace("default").Delete(ctx, "dev", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "Fleet dev gone", func() (bool, string) {
			_, err := dyn.Resource(fleets).Namespace("default").Get(ctx, "dev", metav1.GetOptions{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
		if _, err := dyn.Resource(widgets).Get(ctx, "default", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ClusterWidget left behind: %v", err)
		}
		if _, err := dyn.Resource(configmaps).Namespace("default").Get(ctx, "shard-b", metav1.GetOptions{}); err != nil {
			t.Errorf("another Fleet's object was pruned: %v", err)
		}
	})
}
