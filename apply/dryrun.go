package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	ssautil "github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/dag"
)

// dryRun asks the server, without changing anything, whether it would take
// each of run's objects at idx, so that a unit the server refuses in part
// is refused whole, before anything of it is applied (as Flux does). An
// object the server cannot judge yet — its CRD or Namespace is in this
// unit and not applied — is returned as deferred, to be dry-run once those
// are. Each object that exists already is marked in run.existed.
//
// An object whose conflict policy is ConflictFail is dry-run without
// taking fields over, so a conflict is reported here too. A change to an
// immutable field of an object that is to be recreated (Options.Force, the
// force annotation) is left to the apply, which recreates it.
func (a *actor) dryRun(ctx context.Context, run *unitRun, idx []int) (deferred []int, err error) {
	crds, namespaces := map[schema.GroupKind]bool{}, map[string]bool{}
	for _, o := range run.objs {
		switch gk := o.GroupVersionKind().GroupKind(); gk {
		case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			crds[schema.GroupKind{Group: group, Kind: kind}] = true
		case schema.GroupKind{Kind: "Namespace"}:
			namespaces[o.GetName()] = true
		}
	}
	var mu sync.Mutex
	var errs []error
	var g errgroup.Group
	g.SetLimit(objectConcurrency)
	for _, i := range idx {
		o := run.objs[i]
		g.Go(func() error {
			obj := o.DeepCopy()
			fail := a.conflictPolicy(o) == ConflictFail
			opts := []client.PatchOption{client.FieldOwner(a.opts.FieldManager), client.DryRunAll}
			if !fail {
				opts = append(opts, client.ForceOwnership)
			}
			err := a.client.Patch(ctx, obj, client.Apply, opts...)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				// A dry-run create is never stored, so has no version.
				run.existed[i] = obj.GetResourceVersion() != ""
			case (meta.IsNoMatchError(err) || apierrors.IsNotFound(err) && !isNamespaceMissing(err)) && crds[o.GroupVersionKind().GroupKind()]:
				deferred = append(deferred, i)
			case isNamespaceMissing(err) && namespaces[o.GetNamespace()]:
				deferred = append(deferred, i)
			case fail && apierrors.IsConflict(err):
				errs = append(errs, fmt.Errorf("%s: conflicts with another field manager (policy %s): %w", dag.RefOf(o), ConflictFail, err))
			case immutable(err) && (a.opts.Force || ssautil.AnyInMetadata(o, forceSelector)):
				// Recreated by the apply.
			default:
				errs = append(errs, fmt.Errorf("%s: %w", dag.RefOf(o), err))
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("dry run: the server refuses %d of the unit's objects, so none is applied: %w", len(errs), errors.Join(errs...))
	}
	return deferred, nil
}

// conflictPolicy is the object's conflict policy: its annotation's, or the
// Applier's.
func (a *Applier) conflictPolicy(o *unstructured.Unstructured) ConflictPolicy {
	if p := ConflictPolicy(o.GetAnnotations()[ConflictsAnnotation]); p == ConflictFail || p == ConflictForce {
		return p
	}
	return a.opts.Conflicts
}

// immutable reports whether err is the server refusing a change to a field
// that cannot change once set.
func immutable(err error) bool {
	return apierrors.IsInvalid(err) && (strings.Contains(err.Error(), "immutable") || strings.Contains(err.Error(), "may not change"))
}
