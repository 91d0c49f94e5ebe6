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
// renders fail at once, suspended and unselected units are held, and
// units whose inventory remains but which left the repository are removed —
// only when the whole repository rendered, so a broken parent never causes
// its children's objects to be pruned.
func (r *Reconciler) applyUnits(ctx context.Context, g *render.Graph, only string, depth Depth) ([]apply.Unit, error) {
	if only != "" && g.Unit(only) == nil {
		return nil, fmt.Errorf("%s: no such unit at this revision", only)
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
		au := apply.Unit{ID: u.ID, Links: u.Links, Revision: u.Revision, Timeout: u.Timeout, Orphan: !u.Prune, NoWait: !u.Wait}
		au.DependsOn = nil
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
	if only != "" {
		return r.selectUnits(units, only, depth)
	}
	if failed {
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

// selectUnits holds every unit but only and, with WithDependencies, what
// it depends on — explicitly, by the CRDs and Namespaces it needs, or by
// what the readiness of those waits for — in the order the applier itself
// uses.
func (r *Reconciler) selectUnits(units []apply.Unit, only string, depth Depth) ([]apply.Unit, error) {
	keep := map[string]bool{only: true}
	if depth == WithDependencies {
		g, err := r.applier.Graph(units)
		if err != nil {
			return nil, err
		}
		for _, n := range g.Ancestors(only) {
			id, _ := g.NodeUnit(n)
			keep[id] = true
		}
	}
	for i := range units {
		if !keep[units[i].ID] && units[i].Mode != apply.HoldNotReady {
			units[i].Mode, units[i].Err = apply.Hold, nil
		}
	}
	return units, nil
}
