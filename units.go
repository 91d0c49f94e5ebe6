package gitopskit

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/render"
)

// fluxObject reports whether o is one of the Flux objects gitopskit
// interprets itself (render.FluxKinds): they define units and sources and
// are not applied.
func fluxObject(o *unstructured.Unstructured) bool {
	return slices.Contains(render.FluxKinds(), o.GroupVersionKind().GroupKind())
}

// objectsOf is what a unit applies (render.Unit.Applied) without Flux's
// own objects and without what ignore (if set) leaves out.
func objectsOf(u *render.Unit, ignore func(render.Object) bool) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range u.Applied() {
		if !fluxObject(o.Unstructured) && (ignore == nil || !ignore(o)) {
			out = append(out, o.Unstructured)
		}
	}
	return out
}

// IgnoreFluxInstall is an Options.Ignore for repositories made by flux
// bootstrap: it leaves out what flux-system/gotk-components.yaml holds —
// Flux's own CRDs, controllers and RBAC — so that reconciling the cluster's
// root path with gitopskit does not install (or take over) Flux itself.
func IgnoreFluxInstall(o render.Object) bool {
	return path.Base(o.Provenance.File) == "gotk-components.yaml" && path.Base(path.Dir(o.Provenance.File)) == "flux-system"
}

// applyUnits turns a rendered graph into the applier's units: failed
// renders fail at once, suspended and unselected units are skipped, and
// units whose inventory remains but which left the repository are removed —
// only when the whole repository rendered, so a broken parent never causes
// its children's objects to be pruned.
func (r *Reconciler) applyUnits(ctx context.Context, g *render.Graph, only string, depth Depth) ([]apply.Unit, error) {
	selected := map[string]bool{}
	if only != "" {
		if g.Unit(only) == nil {
			return nil, fmt.Errorf("%s: no such unit at this revision", only)
		}
		selected[only] = true
		if depth == WithDependencies {
			deps, err := r.ancestors(g, only)
			if err != nil {
				return nil, err
			}
			for _, id := range deps {
				selected[id] = true
			}
		}
	}
	r.mu.Lock()
	suspended := maps.Clone(r.suspended)
	status := maps.Clone(r.status)
	r.mu.Unlock()
	if only != "" && (suspended[only] || g.Unit(only).Suspended) {
		return nil, fmt.Errorf("%s: suspended; resume it first", only)
	}

	var units []apply.Unit
	failed := false
	for _, u := range g.Units {
		au := apply.Unit{ID: u.ID, Ref: u.Ref(), Parent: u.Parent, AwaitChildren: u.AwaitsChildren(),
			Revision: u.Revision, Timeout: u.Timeout, HealthChecks: u.HealthChecks,
			Orphan: !u.Prune, NoWait: !u.Wait}
		var missing []string
		for _, d := range u.DependsOn {
			if g.Unit(d) == nil {
				missing = append(missing, d)
				continue
			}
			au.DependsOn = append(au.DependsOn, d)
		}
		// A unit that did not render hides what it defines: nothing may be
		// taken as removed this pass, held or not.
		failed = failed || u.Err != nil || u.BlockedBy != ""
		switch {
		case u.Suspended || suspended[u.ID]:
			// Held back; its dependents wait while it is not Ready.
			au.Mode = apply.Hold
			if last, ok := status[u.ID]; ok && last.Ready == ReadyFalse {
				au.Mode, au.Err = apply.HoldNotReady, fmt.Errorf("suspended while not Ready: %s", last.Message)
			}
		case only != "" && !selected[u.ID]:
			au.Mode = apply.Hold
		case u.Err != nil:
			au.Mode, au.Err = apply.Fail, u.Err
		case u.BlockedBy != "":
			au.Mode, au.Err = apply.Fail, fmt.Errorf("not rendered: it depends on %s, which failed", u.BlockedBy)
		case len(missing) > 0:
			au.Mode, au.Err = apply.Fail, fmt.Errorf("dependsOn %s: no such unit", strings.Join(missing, ", "))
		default:
			au.Objects = objectsOf(u, r.opts.Ignore)
		}
		units = append(units, au)
	}
	if failed || only != "" {
		return units, nil
	}
	lister, ok := r.opts.Apply.Store.(inventory.Lister)
	if !ok {
		return units, nil
	}
	owned, err := lister.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list inventories: %w", err)
	}
	for _, id := range owned {
		if g.Unit(id) == nil {
			r.log.Info("unit left the repository; pruning what it applied", "unit", id)
			units = append(units, apply.Unit{ID: id, Mode: apply.Remove})
		}
	}
	return units, nil
}

// ancestors are the units id depends on, directly or not, explicitly or by
// the CRDs and Namespaces it needs.
func (r *Reconciler) ancestors(g *render.Graph, id string) ([]string, error) {
	var dus []dag.Unit
	for _, u := range g.Units {
		du, err := dag.UnitOf(u.ID, slices.DeleteFunc(slices.Clone(u.DependsOn), func(d string) bool { return g.Unit(d) == nil }), objectsOf(u, r.opts.Ignore))
		if err != nil {
			return nil, err
		}
		dus = append(dus, du)
	}
	ug, err := dag.Build(dus, dag.Options{})
	if err != nil {
		return nil, err
	}
	return ug.Ancestors(id), nil
}
