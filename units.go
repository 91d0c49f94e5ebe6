package gitopskit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/fluxcd/pkg/ssa/jsondiff"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/apply/helmrelease"
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
func objectsOf(objs []render.Object, ignore func(render.Object) bool) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if !fluxObject(o.Unstructured) && (ignore == nil || !ignore(o)) {
			out = append(out, o.Unstructured)
		}
	}
	return out
}

// releaseHooks are the hooks a release runs before and after its objects
// are applied: pre- and post-install, or on an upgrade pre- and
// post-upgrade, each phase in Helm's order (by weight, then name, the
// render's order of kinds kept between equals).
func releaseHooks(hooks []render.Hook, upgrade bool) (pre, post []apply.Hook) {
	before, after := "pre-install", "post-install"
	if upgrade {
		before, after = "pre-upgrade", "post-upgrade"
	}
	return hookPhase(hooks, before, nil), hookPhase(hooks, after, nil)
}

// releaseTests are the test hooks spec.test runs, in Helm's order; nil
// when tests are not enabled.
func releaseTests(hooks []render.Hook, t *render.ReleaseTests) *apply.Tests {
	if t == nil {
		return nil
	}
	return &apply.Tests{Hooks: hookPhase(hooks, "test", t.Runs), IgnoreFailures: t.IgnoreFailures, Timeout: t.Timeout}
}

// hookPhase is the hooks of one event that keep passes (all when nil), by
// weight, then name.
func hookPhase(hooks []render.Hook, event string, keep func(name string) bool) []apply.Hook {
	var hs []render.Hook
	for _, h := range hooks {
		if slices.Contains(h.Events, event) && (keep == nil || keep(h.GetName())) {
			hs = append(hs, h)
		}
	}
	slices.SortStableFunc(hs, func(a, b render.Hook) int {
		if a.Weight != b.Weight {
			return cmp.Compare(a.Weight, b.Weight)
		}
		return strings.Compare(a.GetName(), b.GetName())
	})
	out := make([]apply.Hook, len(hs))
	for i, h := range hs {
		out[i] = apply.Hook{Object: h.Unstructured, DeletePolicies: h.DeletePolicies}
	}
	return out
}

// remediationOf is what the applier does when a release fails, as the
// HelmRelease says with Flux's defaults.
func remediationOf(r render.ReleaseRemediation) *apply.Remediation {
	out := &apply.Remediation{Retries: r.Retries, RemediateLastFailure: r.RemediateLastFailure,
		DisableWait: r.RollbackDisableWait, DisableHooks: r.RollbackDisableHooks, Timeout: r.RollbackTimeout}
	switch r.Strategy {
	case "uninstall":
		out.Strategy = apply.RemedyUninstall
	case "retry":
		out.Strategy = apply.RemedyNone
	default:
		out.Strategy = apply.RemedyRollback
	}
	return out
}

// driftIgnoreOf is a HelmRelease's driftDetection.ignore as the applier
// (fluxcd/pkg/ssa) takes it.
func driftIgnoreOf(rules []render.DriftIgnoreRule) []jsondiff.IgnoreRule {
	out := make([]jsondiff.IgnoreRule, 0, len(rules))
	for _, r := range rules {
		rule := jsondiff.IgnoreRule{Paths: r.Paths}
		if t := r.Target; t != nil {
			rule.Selector = &jsondiff.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name, Namespace: t.Namespace,
				AnnotationSelector: t.AnnotationSelector, LabelSelector: t.LabelSelector}
		}
		out = append(out, rule)
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

// identity is who a unit acts as: its spec.serviceAccountName, or the
// default service account, in the unit's namespace; "" for the
// Reconciler's own credentials. The root unit, which defines the others,
// is the Reconciler's own unless it names a service account itself (as
// flux bootstrap runs flux-system as the controller).
func (r *Reconciler) identity(u *render.Unit) string {
	sa := u.ServiceAccountName
	if sa == "" && u.Parent != "" {
		sa = r.opts.DefaultServiceAccount
	}
	if sa == "" || u.Object == nil {
		return ""
	}
	return apply.ServiceAccountUser(u.Object.GetNamespace(), sa)
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
		au := apply.Unit{ID: u.ID, Links: u.Links, Revision: u.Revision, Timeout: u.Timeout, Orphan: !u.Prune, NoWait: !u.Wait,
			NotEmpty: len(u.Objects) > 0 || len(u.Hooks) > 0, Identity: r.identity(u)}
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
			au.Objects = objectsOf(u.Applied(), r.opts.Ignore)
			if rel := u.Release; rel != nil {
				// A release's hooks run around it, not applied with it.
				au.Objects = objectsOf(u.Objects, r.opts.Ignore)
				if !rel.DisableHooks {
					au.PreHooks, au.PostHooks = releaseHooks(u.Hooks, rel.IsUpgrade)
				}
				au.Tests = releaseTests(u.Hooks, rel.Tests)
				if au.Tests != nil {
					au.Tests.IgnoreFailures = rel.Remediation.IgnoreTestFailures
				}
				au.Remediation = remediationOf(rel.Remediation)
				if rel.CreateNamespace {
					au.CreateNamespaces = []string{rel.Namespace}
				}
				// Drift is corrected unless the release says otherwise:
				// the repository is the truth for every unit, and an
				// unchanged pass with no drift writes nothing anyway.
				// (Flux's default is disabled.)
				switch rel.DriftMode {
				case "warn":
					au.Drift = apply.DriftWarn
				case "disabled":
					au.Drift = apply.DriftIgnore
				}
				au.DriftIgnore = driftIgnoreOf(rel.DriftIgnore)
				au.TakeOverFrom = helmrelease.PreviousOwners
				au.Release = &helmrelease.Record{Name: rel.Name, Namespace: rel.Namespace, StorageNamespace: rel.StorageNamespace,
					MaxHistory: rel.MaxHistory, KeepHistory: rel.KeepHistory, DisableUninstallHooks: rel.DisableUninstallHooks, Chart: rel.Chart, Values: rel.Values, Manifest: rel.Manifest, Hooks: rel.Hooks,
					ConfigDigest: rel.ConfigDigest}
			}
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
	removed, err := r.removedUnits(ctx, g, units, owned)
	if err != nil {
		return nil, err
	}
	return append(units, removed...), nil
}

// removedUnits makes a Remove unit of every owned inventory whose unit the
// repository no longer defines. Each depends on the unit that defined it
// (the inventory's Parent; the root for inventories older than that
// record), so it is pruned only once that parent has applied successfully
// without it: a parent that fails to apply — a typo in a kind, an emptied
// directory it refuses — never makes its children look removed. A unit
// whose parent is held (suspended) is held too.
func (r *Reconciler) removedUnits(ctx context.Context, g *render.Graph, units []apply.Unit, owned []string) ([]apply.Unit, error) {
	mode := map[string]apply.Mode{}
	for _, u := range units {
		mode[u.ID] = u.Mode
	}
	var out []apply.Unit
	parents := map[string]string{}
	for _, id := range owned {
		if g.Unit(id) != nil {
			continue
		}
		inv, err := r.opts.Apply.Store.Load(ctx, id)
		if err != nil && !errors.Is(err, inventory.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		parent := ""
		if inv != nil {
			parent = inv.Parent
		}
		if parent == "" {
			parent = render.RootID
		}
		parents[id] = parent
		mode[id] = apply.Remove
	}
	// A unit that renders nothing at all while it defined units before
	// is refused, as an empty render is: most likely a path emptied by
	// mistake, and everything below it would go.
	if !r.opts.Apply.AllowEmpty {
		defined := map[string]int{}
		for _, p := range parents {
			defined[p]++
		}
		for i := range units {
			u := &units[i]
			if ru := g.Unit(u.ID); ru != nil && u.Mode == apply.Reconcile && defined[u.ID] > 0 && len(ru.Objects) == 0 && len(ru.Hooks) == 0 {
				u.Mode, u.Err = apply.Fail, fmt.Errorf("the render is empty and the %d units it defined would be removed; refusing (set Options.Apply.AllowEmpty, cli -allow-empty, if that is meant)", defined[u.ID])
				mode[u.ID] = apply.Fail
			}
		}
	}
	for _, id := range owned {
		parent, ok := parents[id]
		if !ok {
			continue
		}
		u := apply.Unit{ID: id, Mode: apply.Remove}
		switch m, known := mode[parent]; {
		case !known:
			// The parent is gone without a trace: wait for the root.
			if _, ok := mode[render.RootID]; ok && id != render.RootID {
				u.DependsOn = []string{render.RootID}
			}
		case m == apply.Hold || m == apply.HoldNotReady:
			u.Mode = apply.Hold
		default:
			u.DependsOn = []string{parent}
		}
		if u.Mode == apply.Remove {
			r.log.Info("unit left the repository; pruning what it applied once its parent has applied", "unit", id, "parent", parent)
		}
		out = append(out, u)
	}
	return out, nil
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
