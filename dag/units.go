package dag

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Unit is one unit of reconciliation — a Flux Kustomization or HelmRelease
// in a repository — with the objects it renders.
type Unit struct {
	// ID names the unit, e.g. "Kustomization/flux-system/apps".
	ID string
	// DependsOn lists the IDs of units this one explicitly depends on.
	DependsOn []string
	// Objects are what the unit applies.
	Objects []Object
}

// UnitOf builds a Unit from unstructured objects, naming the unit in any
// error (an object whose depends-on annotation does not parse, a CRD with
// no group or kind).
func UnitOf(id string, dependsOn []string, objs []*unstructured.Unstructured) (Unit, error) {
	u := Unit{ID: id, DependsOn: dependsOn, Objects: make([]Object, 0, len(objs))}
	var errs []error
	for _, obj := range objs {
		o, err := ObjectOf(obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		u.Objects = append(u.Objects, o)
	}
	return u, errors.Join(errs...)
}

// Options tune how Build infers edges. The zero value infers every edge
// gitopskit knows and treats only built-in Kubernetes APIs as served without
// a producer.
type Options struct {
	// Preinstalled lists kinds the cluster serves without any unit
	// producing their CRD (e.g. Flux's own kinds, or what a platform team
	// installs out of band).
	Preinstalled []schema.GroupKind
	// ExplicitOnly infers no CRD or Namespace edges: units are ordered by
	// dependsOn and depends-on annotations alone, as Flux orders them.
	// Check then also reports every custom resource whose CRD is produced by
	// a unit that is not an explicit ancestor — what Flux would trip on.
	ExplicitOnly bool
}

// UnitGraph is the graph of units with explicit and inferred edges, and
// the problems found while building it that do not prevent ordering.
type UnitGraph struct {
	*Graph
	// Problems are findings that leave the graph usable: custom resources
	// with no CRD anywhere, objects claimed by several units, depends-on
	// annotations naming objects no unit has. Sorted.
	Problems []Problem
}

// Build makes the unit graph. Edges, each with its reason:
//
//   - dependsOn: B lists A in DependsOn;
//   - annotation: an object of B has a depends-on annotation naming an
//     object of A;
//   - crd: A holds the CustomResourceDefinition of a kind B has objects of
//     (whatever rendered it, a Helm chart's crds/ included);
//   - namespace: A holds the Namespace an object of B lives in.
//
// Edges within one unit are not unit edges; ObjectGraph orders those. Build
// fails with a *BuildError when units are malformed: duplicate IDs, or
// dependsOn naming a unit that does not exist. A cycle is not an error
// here: Sort, Levels and Scheduler report it.
func Build(units []Unit, opts Options) (*UnitGraph, error) {
	g, fatal := build(units, opts)
	if len(fatal) > 0 {
		return nil, &BuildError{Problems: fatal}
	}
	return g, nil
}

// BuildError lists every problem that kept Build from making a graph.
type BuildError struct{ Problems []Problem }

func (e *BuildError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return strings.Join(msgs, "\n")
}

type crdProducer struct {
	unit int
	name string // the CRD's own name
}

func build(units []Unit, opts Options) (*UnitGraph, []Problem) {
	g := New()
	var fatal, soft []Problem
	unitOf := make([]int, len(units)) // node index per input unit; -1 for duplicates
	for i, u := range units {
		if err := g.AddNode(u.ID); err != nil {
			fatal = append(fatal, Problem{Kind: ProblemDuplicateUnit, Unit: u.ID, Message: "unit ID appears more than once"})
			unitOf[i] = -1
			continue
		}
		unitOf[i] = g.index[u.ID]
	}

	for i, u := range units {
		if unitOf[i] < 0 {
			continue
		}
		for _, d := range u.DependsOn {
			from, ok := g.index[d]
			if !ok {
				fatal = append(fatal, Problem{Kind: ProblemMissingUnit, Unit: u.ID, Message: fmt.Sprintf("dependsOn %q, which is not a unit", d)})
				continue
			}
			g.addEdge(from, unitOf[i], Edge{From: d, To: u.ID, Reason: ReasonDependsOn})
		}
	}

	// Who holds what.
	owners := map[ObjectRef][]int{}
	crds := map[schema.GroupKind][]crdProducer{}
	namespaces := map[string][]int{}
	for i, u := range units {
		n := unitOf[i]
		if n < 0 {
			continue
		}
		for _, o := range u.Objects {
			if prev := owners[o.ObjectRef]; len(prev) == 0 || prev[len(prev)-1] != n {
				owners[o.ObjectRef] = append(prev, n)
			}
			if o.Defines != nil {
				crds[*o.Defines] = append(crds[*o.Defines], crdProducer{unit: n, name: o.Name})
			}
			if o.Group == "" && o.Kind == "Namespace" {
				namespaces[o.Name] = append(namespaces[o.Name], n)
			}
		}
	}
	for ref, us := range owners {
		if len(us) > 1 {
			soft = append(soft, Problem{Kind: ProblemDuplicateObject, Object: ref.String(),
				Message: "claimed by units " + strings.Join(g.names(us), ", ")})
		}
	}

	served := servedKinds(opts.Preinstalled)
	type unitKind struct {
		unit int
		gk   schema.GroupKind
	}
	reported := map[unitKind]bool{}
	for i, u := range units {
		n := unitOf[i]
		if n < 0 {
			continue
		}
		for _, o := range u.Objects {
			for _, d := range o.DependsOn {
				us := owners[d]
				if len(us) == 0 {
					soft = append(soft, Problem{Kind: ProblemUnknownObject, Unit: u.ID, Object: o.ObjectRef.String(),
						Message: fmt.Sprintf("depends-on names %s, which no unit holds", d)})
				}
				for _, from := range us {
					g.addEdge(from, n, Edge{From: g.ids[from], To: u.ID, Reason: ReasonAnnotation, Detail: d.String()})
				}
			}
			gk := o.GroupKind()
			producers := crds[gk]
			if len(producers) == 0 && !served[gk] && !reported[unitKind{n, gk}] {
				reported[unitKind{n, gk}] = true
				soft = append(soft, Problem{Kind: ProblemMissingCRD, Unit: u.ID, Object: o.ObjectRef.String(),
					Message: fmt.Sprintf("no unit produces the CRD of %s and it is not pre-installed", kindString(gk))})
			}
			if opts.ExplicitOnly {
				continue
			}
			for _, p := range producers {
				g.addEdge(p.unit, n, Edge{From: g.ids[p.unit], To: u.ID, Reason: ReasonCRD, Detail: p.name})
			}
			if o.Namespace != "" {
				for _, from := range namespaces[o.Namespace] {
					g.addEdge(from, n, Edge{From: g.ids[from], To: u.ID, Reason: ReasonNamespace, Detail: o.Namespace})
				}
			}
		}
	}
	if opts.ExplicitOnly {
		soft = append(soft, crdsNotFromAncestors(g, units, unitOf, crds)...)
	}
	sortProblems(fatal)
	sortProblems(soft)
	return &UnitGraph{Graph: g, Problems: soft}, fatal
}

// crdsNotFromAncestors finds custom resources whose CRD no explicit ancestor
// of their unit (nor the unit itself) produces.
func crdsNotFromAncestors(g *Graph, units []Unit, unitOf []int, crds map[schema.GroupKind][]crdProducer) []Problem {
	var out []Problem
	ancestors := map[int]map[string]bool{}
	for i, u := range units {
		n := unitOf[i]
		if n < 0 {
			continue
		}
		seen := map[schema.GroupKind]bool{}
		for _, o := range u.Objects {
			gk := o.GroupKind()
			producers := crds[gk]
			if len(producers) == 0 || seen[gk] {
				continue
			}
			seen[gk] = true
			if ancestors[n] == nil {
				ancestors[n] = map[string]bool{}
				for _, a := range g.Ancestors(u.ID) {
					ancestors[n][a] = true
				}
			}
			ok := false
			var names []string
			for _, p := range producers {
				ok = ok || p.unit == n || ancestors[n][g.ids[p.unit]]
				names = append(names, g.ids[p.unit])
			}
			if !ok {
				out = append(out, Problem{Kind: ProblemCRDNotAncestor, Unit: u.ID, Object: o.ObjectRef.String(),
					Message: fmt.Sprintf("the CRD of %s comes from %s, which is not among this unit's dependencies", kindString(gk), strings.Join(names, ", "))})
			}
		}
	}
	return out
}

func kindString(gk schema.GroupKind) string {
	if gk.Group == "" {
		return gk.Kind
	}
	return gk.Kind + "." + gk.Group
}

func sortProblems(ps []Problem) {
	slices.SortFunc(ps, func(a, b Problem) int {
		return strings.Compare(a.sortKey(), b.sortKey())
	})
}
