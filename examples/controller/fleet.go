package main

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

//go:embed crd.yaml
var crdYAML []byte

// FleetGVK is the custom resource this controller reconciles.
var FleetGVK = schema.GroupVersionKind{Group: "examples.gitopskit.dev", Version: "v1alpha1", Kind: "Fleet"}

const (
	// ShardLabel assigns a Fleet to the replicas started with -shard of
	// the same value; Fleets without it go to replicas with no -shard.
	ShardLabel = "gitopskit.dev/shard"
	// RequestedAtAnnotation, set to any new value, asks for a reconcile
	// now (as Flux's reconcile.fluxcd.io/requestedAt does).
	RequestedAtAnnotation = "gitopskit.dev/requestedAt"
	finalizer             = "examples.gitopskit.dev/teardown"
)

func newFleet() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(FleetGVK)
	return u
}

// fleetSpec is a Fleet's spec.
type fleetSpec struct {
	URL, Branch, Path string
	Interval          time.Duration
	Suspend           bool
	Mirrors           map[string]string
}

func specOf(u *unstructured.Unstructured) (fleetSpec, error) {
	s := fleetSpec{Interval: 5 * time.Minute}
	s.URL, _, _ = unstructured.NestedString(u.Object, "spec", "url")
	s.Branch, _, _ = unstructured.NestedString(u.Object, "spec", "branch")
	s.Path, _, _ = unstructured.NestedString(u.Object, "spec", "path")
	s.Suspend, _, _ = unstructured.NestedBool(u.Object, "spec", "suspend")
	s.Mirrors, _, _ = unstructured.NestedStringMap(u.Object, "spec", "mirrors")
	if iv, _, _ := unstructured.NestedString(u.Object, "spec", "interval"); iv != "" {
		d, err := time.ParseDuration(iv)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("spec.interval %q: want a positive duration such as 5m", iv)
		}
		s.Interval = d
	}
	if s.URL == "" {
		return s, fmt.Errorf("spec.url is required")
	}
	return s, nil
}

// FleetReconciler reconciles Fleets: each gets a gitopskit.Reconciler of
// its own (kept while its spec is unchanged, so renders are cached), with
// its inventories in ConfigMaps next to it.
type FleetReconciler struct {
	Client    client.Client
	Config    *rest.Config
	Clientset kubernetes.Interface
	// CacheDir holds fetched sources (default: the user cache directory).
	CacheDir string

	mu      sync.Mutex
	fleets  map[types.NamespacedName]*fleetEntry
	handled int // reconciles run, for tests
}

type fleetEntry struct {
	spec fleetSpec
	r    *gitopskit.Reconciler
}

// Reconciles returns how many reconciles this instance has run.
func (f *FleetReconciler) Reconciles() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handled
}

// Reconcile implements controller-runtime's reconcile.Reconciler.
func (f *FleetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	f.mu.Lock()
	f.handled++
	f.mu.Unlock()
	obj := newFleet()
	if err := f.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			f.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	spec, specErr := specOf(obj)

	if !obj.GetDeletionTimestamp().IsZero() {
		if controllerutil.ContainsFinalizer(obj, finalizer) {
			if specErr == nil {
				r, err := f.reconcilerFor(req.NamespacedName, spec)
				if err != nil {
					return ctrl.Result{}, err
				}
				res, err := r.Teardown(ctx)
				if err == nil {
					err = res.Err()
				}
				if err != nil {
					return ctrl.Result{}, fmt.Errorf("%s: teardown: %w", req, err)
				}
			}
			controllerutil.RemoveFinalizer(obj, finalizer)
			if err := f.Client.Update(ctx, obj); err != nil {
				return ctrl.Result{}, err
			}
		}
		f.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if specErr != nil {
		return ctrl.Result{}, f.setStatus(ctx, obj, metav1.ConditionFalse, "InvalidSpec", specErr.Error(), nil, "")
	}
	if !controllerutil.ContainsFinalizer(obj, finalizer) {
		controllerutil.AddFinalizer(obj, finalizer)
		if err := f.Client.Update(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	if spec.Suspend {
		return ctrl.Result{}, f.setStatus(ctx, obj, metav1.ConditionUnknown, "Suspended", "reconciliation is suspended", nil, "")
	}
	r, err := f.reconcilerFor(req.NamespacedName, spec)
	if err != nil {
		return ctrl.Result{}, err
	}
	res, err := r.Reconcile(ctx)
	revision := ""
	if res != nil {
		revision = res.Revision
		if err == nil {
			err = res.Err()
		}
	}
	status, reason, msg := metav1.ConditionTrue, "ReconciliationSucceeded", "Applied revision: "+revision
	if err != nil {
		status, reason, msg = metav1.ConditionFalse, "ReconciliationFailed", err.Error()
	}
	if serr := f.setStatus(ctx, obj, status, reason, msg, r.Status(), revision); serr != nil {
		return ctrl.Result{}, serr
	}
	return ctrl.Result{RequeueAfter: spec.Interval}, nil
}

// reconcilerFor returns the Fleet's gitopskit.Reconciler, made anew when
// the spec changed.
func (f *FleetReconciler) reconcilerFor(key types.NamespacedName, spec fleetSpec) (*gitopskit.Reconciler, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.fleets[key]; ok && fmt.Sprint(e.spec) == fmt.Sprint(spec) {
		return e.r, nil
	}
	cacheDir := f.CacheDir
	git := source.GitOptions{Ref: source.GitRef{Branch: spec.Branch}}
	if cacheDir != "" {
		git.CacheDir = cacheDir + "/git"
	}
	mirrors := source.Mirrors(spec.Mirrors)
	r, err := gitopskit.New(gitopskit.Options{
		Source: source.NewGit(mirrors.Rewrite(spec.URL), git),
		Path:   spec.Path,
		Config: f.Config,
		Load:   render.LoadOptions{Mirrors: mirrors, CacheDir: cacheDir},
		Apply: apply.Options{
			FieldManager: "gitopskit-fleet",
			Store:        inventory.NewConfigMapStore(f.Clientset, key.Namespace, "fleet-"+key.Name),
		},
	})
	if err != nil {
		return nil, err
	}
	if f.fleets == nil {
		f.fleets = map[types.NamespacedName]*fleetEntry{}
	}
	f.fleets[key] = &fleetEntry{spec: spec, r: r}
	return r, nil
}

func (f *FleetReconciler) forget(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.fleets, key)
}

// setStatus writes the Ready condition, the last applied revision and the
// units' statuses (as `flux get` would list them).
func (f *FleetReconciler) setStatus(ctx context.Context, obj *unstructured.Unstructured, status metav1.ConditionStatus, reason, msg string, units gitopskit.Status, revision string) error {
	var conds []metav1.Condition
	if raw, ok, _ := unstructured.NestedSlice(obj.Object, "status", "conditions"); ok {
		for _, c := range raw {
			m, _ := c.(map[string]any)
			var cond metav1.Condition
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &cond); err == nil {
				conds = append(conds, cond)
			}
		}
	}
	meta.SetStatusCondition(&conds, metav1.Condition{Type: "Ready", Status: status, Reason: reason, Message: msg, ObservedGeneration: obj.GetGeneration()})
	st := map[string]any{"observedGeneration": obj.GetGeneration()}
	var cl []any
	for _, c := range conds {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&c)
		if err != nil {
			return err
		}
		cl = append(cl, m)
	}
	st["conditions"] = cl
	if revision != "" && status == metav1.ConditionTrue {
		st["lastAppliedRevision"] = revision
	} else if old, ok, _ := unstructured.NestedString(obj.Object, "status", "lastAppliedRevision"); ok {
		st["lastAppliedRevision"] = old
	}
	if units != nil {
		var ul []any
		for _, u := range units {
			ul = append(ul, map[string]any{"id": u.ID, "ready": string(u.Ready), "revision": u.Revision, "message": u.Message, "suspended": u.Suspended})
		}
		st["units"] = ul
	}
	obj.Object["status"] = st
	return f.Client.Status().Update(ctx, obj)
}
