package apply

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/fluxcd/pkg/ssa"

	"github.com/gitopskit/gitopskit/internal/mask"
	"github.com/gitopskit/gitopskit/inventory"

	"github.com/gitopskit/gitopskit/dag"
)

// PlanAction is what applying would do to one object.
type PlanAction string

// The actions of a plan.
const (
	PlanCreate    PlanAction = "create"
	PlanConfigure PlanAction = "configure"
	PlanUnchanged PlanAction = "unchanged"
	PlanPrune     PlanAction = "prune"
	PlanSkip      PlanAction = "skip"
	// PlanUnverifiable: the object's CRD or Namespace is not in the cluster
	// yet but an earlier unit creates it, so the server cannot check it.
	PlanUnverifiable PlanAction = "unverifiable"
)

// PlannedObject is one line of a plan.
type PlannedObject struct {
	Unit   string
	Object dag.ObjectRef
	Action PlanAction
	// Diff is a unified diff of the object as YAML, live against what it
	// would become (Secret values masked).
	Diff    string
	Message string
}

// Plan is what Apply would do, found with server-side dry runs; nothing is
// changed.
type Plan struct {
	Objects []PlannedObject
	// Warnings are as in Result.
	Warnings []dag.Problem
}

// String prints the plan as a table followed by the diffs.
func (p *Plan) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UNIT\tOBJECT\tACTION\tMESSAGE")
	for _, o := range p.Objects {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Unit, o.Object, o.Action, o.Message)
	}
	tw.Flush()
	for _, o := range p.Objects {
		if o.Diff != "" {
			fmt.Fprintf(&b, "\n%s", o.Diff)
		}
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "\nwarning: %s", w)
	}
	return b.String()
}

// Plan dry-runs the units in dependency order and reports, per object, what
// applying would do, with a readable diff. An object whose CRD (or
// Namespace) is not in the cluster yet but comes from an earlier unit is
// reported as unverifiable instead of failing the plan. Errors name the
// unit and object.
func (a *Applier) Plan(ctx context.Context, units []Unit) (*Plan, error) {
	r, err := a.newRun(units)
	if err != nil {
		return nil, err
	}
	byID, claims := r.byID, r.claims
	crdName := map[schema.GroupKind]string{}
	namespaces := map[string]bool{}
	for _, du := range r.dunits {
		for _, o := range du.Objects {
			if o.Defines != nil {
				crdName[*o.Defines] = o.Name
			}
			if o.Group == "" && o.Kind == "Namespace" {
				namespaces[o.Name] = true
			}
		}
	}
	order, err := r.graph.Sort()
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	plan := &Plan{Warnings: warnings(r.graph)}
	for _, id := range order {
		if _, ready := r.graph.NodeUnit(id); ready {
			continue
		}
		u := byID[id]
		if err := r.contested[id]; err != nil && u.Mode == Reconcile {
			plan.Objects = append(plan.Objects, PlannedObject{Unit: u.ID, Action: PlanSkip, Message: err.Error()})
			continue
		}
		switch u.Mode {
		case Hold, HoldNotReady:
			continue
		case Fail:
			plan.Objects = append(plan.Objects, PlannedObject{Unit: u.ID, Action: PlanSkip, Message: u.why().Error()})
			continue
		}
		identity, err := a.identityOf(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u.ID, err)
		}
		act, err := a.actorFor(identity)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u.ID, err)
		}
		for _, o := range u.Objects {
			o = o.DeepCopy()
			withOwner(o, u.ID) // as Apply applies it
			po, err := act.planObject(ctx, u.ID, o, crdName, namespaces, key)
			if err != nil {
				return nil, err
			}
			plan.Objects = append(plan.Objects, po)
		}
		prunes, err := act.planPrune(ctx, u, claims)
		if err != nil {
			return nil, err
		}
		plan.Objects = append(plan.Objects, prunes...)
	}
	return plan, nil
}

func (a *actor) planObject(ctx context.Context, unit string, o *unstructured.Unstructured, crdName map[schema.GroupKind]string, namespaces map[string]bool, key []byte) (PlannedObject, error) {
	po := PlannedObject{Unit: unit, Object: dag.RefOf(o)}
	gvk := o.GroupVersionKind()
	if _, err := a.client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		if !meta.IsNoMatchError(err) {
			return po, fmt.Errorf("%s: %s: %w", unit, po.Object, err)
		}
		if name, ok := crdName[gvk.GroupKind()]; ok {
			po.Action, po.Message = PlanUnverifiable, "unverifiable until CustomResourceDefinition "+name+" is applied"
			return po, nil
		}
		return po, fmt.Errorf("%s: %s: no CRD for %s in the cluster or in any unit", unit, po.Object, gvk.GroupKind())
	}
	entry, live, merged, err := a.rm.Diff(ctx, o, ssa.DiffOptions{Force: a.opts.Force})
	if err != nil {
		if ns := o.GetNamespace(); ns != "" && namespaces[ns] && isNamespaceMissing(err) {
			po.Action, po.Message = PlanUnverifiable, "unverifiable until Namespace "+ns+" is applied"
			return po, nil
		}
		return po, fmt.Errorf("%s: %s: dry-run: %w", unit, po.Object, err)
	}
	switch entry.Action {
	case ssa.CreatedAction:
		po.Action = PlanCreate
		po.Diff = unifiedDiff(po.Object.String(), nil, mask.Secret(o, key))
	case ssa.ConfiguredAction:
		po.Action = PlanConfigure
		po.Diff = unifiedDiff(po.Object.String(), live, merged)
	case ssa.SkippedAction:
		po.Action = PlanSkip
	default:
		po.Action = PlanUnchanged
	}
	return po, nil
}

func isNamespaceMissing(err error) bool {
	var se apierrors.APIStatus
	return errors.As(err, &se) && apierrors.IsNotFound(err) && strings.Contains(err.Error(), "namespaces")
}

// planPrune lists what the unit's inventory holds and the unit no longer
// renders, as Apply would prune it.
func (a *actor) planPrune(ctx context.Context, u *Unit, claims map[string]string) ([]PlannedObject, error) {
	old, err := a.opts.Store.Load(ctx, u.ID)
	if errors.Is(err, inventory.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	entries := make([]inventory.Entry, 0, len(u.Objects))
	for _, o := range u.Objects {
		entries = append(entries, entryOf(o))
	}
	var out []PlannedObject
	if u.Orphan || (u.Mode == Remove && old.Orphan) {
		for _, e := range inventory.Diff(old, inventory.New(u.ID, entries...)) {
			out = append(out, PlannedObject{Unit: u.ID, Object: e.ObjectRef, Action: PlanSkip, Message: "no longer rendered; left in the cluster (prune disabled)"})
		}
		return out, nil
	}
	stale, kept, _ := a.pruneCandidates(ctx, u.ID, old, inventory.New(u.ID, entries...), claims)
	for _, obj := range kept {
		out = append(out, PlannedObject{Unit: u.ID, Object: dag.RefOf(obj), Action: PlanSkip, Message: "no longer rendered; kept by annotation"})
	}
	for _, obj := range stale {
		out = append(out, PlannedObject{Unit: u.ID, Object: dag.RefOf(obj), Action: PlanPrune, Message: "no longer rendered"})
	}
	return out, nil
}

// unifiedDiff diffs two objects as YAML, leaving out fields the server
// manages.
func unifiedDiff(name string, from, to *unstructured.Unstructured) string {
	text := func(u *unstructured.Unstructured) string {
		if u == nil {
			return ""
		}
		c := u.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "status")
		for _, f := range []string{"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"} {
			unstructured.RemoveNestedField(c.Object, "metadata", f)
		}
		b, _ := yaml.Marshal(c.Object)
		return string(b)
	}
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(text(from)), B: difflib.SplitLines(text(to)),
		FromFile: name + " (live)", ToFile: name + " (planned)", Context: 3,
	})
	return d
}
