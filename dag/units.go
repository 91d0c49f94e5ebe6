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
	Links
	// Objects are what the unit applies.
	Objects []Object
}

// Links place a unit among the others: what it declares it depends on,
// what defines it, and what its readiness waits for. render reads them
// from the Flux object once; apply and dag take them as they are.
type Links struct {
	// Ref is the object that defines the unit (the Flux Kustomization or
	// HelmRelease itself), so a health check naming it is read as waiting
	// for the unit. Zero when the unit has no such object.
	Ref ObjectRef
	// Parent is the unit whose output defines this one ("" for a root). It
	// is no ordering edge of its own; it makes the parent an ancestor when
	// several units hold a CRD or Namespace this one needs.
	Parent string
	// DependsOn lists the IDs of units this one explicitly depends on.
	DependsOn []string
	// AwaitChildren makes the unit's readiness cover the units it defines
	// (those whose Parent it is), as a Flux Kustomization with spec.wait:
	// true waits for the Kustomizations and HelmReleases it applies.
	AwaitChildren bool
	// HealthChecks name further objects that must be healthy before the
	// unit is ready (Flux's spec.healthChecks): objects of its own, of other
	// units, or — by Ref — other units themselves.
	HealthChecks []ObjectRef
}

// UnitOf builds a Unit from unstructured objects, naming the unit in any
// error (an object whose depends-on annotation does not parse, a CRD with
// no group or kind).
func UnitOf(id string, links Links, objs []*unstructured.Unstructured) (Unit, error) {
	u := Unit{ID: id, Links: links, Objects: make([]Object, 0, len(objs))}
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
	// annotations naming objects no unit has, inferred edges left out
	// because they would contradict declared ones, health checks that
	// name objects no unit renders or that can never be satisfied. Sorted.
	Problems []Problem

	readiness map[string]Readiness
}

// ReadySuffix ends the ID of a unit's readiness node: "<unit>#ready".
const ReadySuffix = "#ready"

// Readiness says how one unit's readiness is decided. A unit whose
// readiness waits for other units (its health checks name them or their
// objects, or it awaits its children) has a readiness node: the unit node
// applies it, the readiness node comes after it and after those units, and
// units that dependsOn it come after the readiness node. Units inferred to
// need its CRDs or Namespaces follow the unit node, so a parent never waits
// for children that wait for it.
type Readiness struct {
	// Node is the unit's readiness node, "" when it has none.
	Node string
	// Local are health checks the unit settles itself, once its own
	// objects are applied: objects it renders, or that no unit renders
	// (which must already be in the cluster).
	Local []ObjectRef
	// Awaited are health checks on objects other units render, checked at
	// Node once those units are done.
	Awaited []ObjectRef
	// Unsatisfiable says why health checks can never pass (one names the
	// unit itself, or a unit that waits for this one): the unit fails at
	// once, before anything is applied.
	Unsatisfiable []string
}

// Readiness returns how a unit's readiness is decided.
func (g *UnitGraph) Readiness(unit string) Readiness { return g.readiness[unit] }

// NodeUnit tells which unit a node of the graph stands for, and whether it
// is that unit's readiness node.
func (g *UnitGraph) NodeUnit(node string) (unit string, ready bool) {
	if u, ok := strings.CutSuffix(node, ReadySuffix); ok && g.readiness[u].Node == node {
		return u, true
	}
	return node, false
}

// UnitNodes returns the graph's nodes that are units (not readiness
// nodes), sorted.
func (g *UnitGraph) UnitNodes() []string {
	return slices.DeleteFunc(g.Nodes(), func(id string) bool {
		_, r := g.NodeUnit(id)
		return r
	})
}

// Build makes the unit graph. Edges, each with its reason:
//
//   - dependsOn: B lists A in DependsOn (from A's readiness node when it
//     has one);
//   - annotation: an object of B has a depends-on annotation naming an
//     object of A;
//   - crd: A holds the CustomResourceDefinition of a kind B has objects of
//     (whatever rendered it, a Helm chart's crds/ included);
//   - namespace: A holds the Namespace an object of B lives in;
//   - ready: into a unit's readiness node (see Readiness).
//
// dependsOn and annotations are declared; the rest are inferred, and
// inference never contradicts what is declared: a unit that holds a CRD or
// Namespace itself needs no edge for it; when several other units hold it,
// those among its ancestors (declared dependencies and parents) are
// preferred; and an inferred edge that would close a cycle is left out and
// reported as a ProblemDroppedEdge. So only declared edges can make a
// cycle.
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

// builder holds what build learns about the units while it adds edges.
type builder struct {
	g      *Graph
	units  []Unit
	unitOf []int // node index per input unit; -1 for duplicates
	// declared[n] lists the nodes n depends on by declared edges or as its
	// parent: what "ancestor" means when choosing among holders.
	declared [][]int
	soft     []Problem
	// seen and stamp mark nodes visited by one search without clearing
	// (or allocating) between searches; stack is reused the same way.
	seen  []int
	stamp int
	stack []int
}

func build(units []Unit, opts Options) (*UnitGraph, []Problem) {
	b := &builder{g: New(), units: units, unitOf: make([]int, len(units))}
	g := b.g
	var fatal []Problem
	for i, u := range units {
		if err := g.AddNode(u.ID); err != nil {
			fatal = append(fatal, Problem{Kind: ProblemDuplicateUnit, Unit: u.ID, Message: "unit ID appears more than once"})
			b.unitOf[i] = -1
			continue
		}
		b.unitOf[i] = g.index[u.ID]
	}

	// Who holds what.
	owners := map[ObjectRef][]int{}
	crds := map[schema.GroupKind][]crdProducer{}
	namespaces := map[string][]int{}
	byRef := map[ObjectRef]int{}
	children := map[int][]int{}
	for i, u := range units {
		n := b.unitOf[i]
		if n < 0 {
			continue
		}
		if u.Ref != (ObjectRef{}) {
			byRef[u.Ref] = n
		}
		if p, ok := g.index[u.Parent]; ok && u.Parent != "" {
			children[p] = append(children[p], n)
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
			b.soft = append(b.soft, Problem{Kind: ProblemDuplicateObject, Object: ref.String(),
				Message: "claimed by units " + strings.Join(g.names(us), ", ")})
		}
	}

	// What each unit's readiness waits for, and which units get a
	// readiness node (those whose readiness waits for other units).
	ready := make([]*readinessPlan, g.Len())
	for i, u := range units {
		n := b.unitOf[i]
		if n < 0 {
			continue
		}
		rp := &readinessPlan{}
		if u.AwaitChildren {
			for _, c := range children[n] {
				rp.after = append(rp.after, readyEdge{from: c, detail: "wait"})
			}
		}
		for _, h := range u.HealthChecks {
			if m, ok := byRef[h]; ok {
				if m == n {
					rp.unsatisfiable = append(rp.unsatisfiable, fmt.Sprintf("healthChecks names %s, the unit itself", h))
					continue
				}
				rp.after = append(rp.after, readyEdge{from: m, detail: h.String()})
				continue
			}
			holders := owners[h]
			switch {
			case slices.Contains(holders, n):
				rp.local = append(rp.local, h)
			case len(holders) == 0:
				rp.local = append(rp.local, h)
				b.soft = append(b.soft, Problem{Kind: ProblemHealthCheck, Unit: u.ID, Object: h.String(),
					Message: "healthChecks names an object no unit renders; it must already be in the cluster"})
			default:
				rp.awaited = append(rp.awaited, h)
				for _, m := range holders {
					rp.after = append(rp.after, readyEdge{from: m, detail: h.String()})
				}
			}
		}
		if len(rp.after) > 0 {
			rp.node = u.ID + ReadySuffix
			if err := g.AddNode(rp.node); err != nil {
				fatal = append(fatal, Problem{Kind: ProblemDuplicateUnit, Unit: rp.node, Message: "unit ID appears more than once"})
				continue
			}
			g.addEdge(n, g.index[rp.node], Edge{From: u.ID, To: rp.node, Reason: ReasonReady})
		}
		ready[n] = rp
	}
	// readyOf is the node that stands for unit n being Ready.
	readyOf := func(n int) int {
		if rp := ready[n]; rp != nil && rp.node != "" {
			return g.index[rp.node]
		}
		return n
	}

	// Declared edges: dependsOn (from the dependency's readiness) and
	// depends-on annotations. Only these can make a cycle error.
	b.declared = make([][]int, g.Len())
	b.seen = make([]int, g.Len())
	for i, u := range units {
		n := b.unitOf[i]
		if n < 0 {
			continue
		}
		if p, ok := g.index[u.Parent]; ok && u.Parent != "" {
			b.declared[n] = append(b.declared[n], p)
		}
		for _, d := range u.DependsOn {
			from, ok := g.index[d]
			if !ok {
				fatal = append(fatal, Problem{Kind: ProblemMissingUnit, Unit: u.ID, Message: fmt.Sprintf("dependsOn %q, which is not a unit", d)})
				continue
			}
			g.addEdge(readyOf(from), n, Edge{From: g.ids[readyOf(from)], To: u.ID, Reason: ReasonDependsOn})
			b.declared[n] = append(b.declared[n], from)
		}
		for _, o := range u.Objects {
			for _, d := range o.DependsOn {
				us := owners[d]
				if len(us) == 0 {
					b.soft = append(b.soft, Problem{Kind: ProblemUnknownObject, Unit: u.ID, Object: o.ObjectRef.String(),
						Message: fmt.Sprintf("depends-on names %s, which no unit holds", d)})
				}
				for _, from := range us {
					if from != n {
						g.addEdge(from, n, Edge{From: g.ids[from], To: u.ID, Reason: ReasonAnnotation, Detail: d.String()})
						b.declared[n] = append(b.declared[n], from)
					}
				}
			}
		}
	}

	// Inferred edges, each only where it does not contradict the declared
	// ones: readiness first (the user named those checks), then CRDs, then
	// Namespaces.
	for i := range units {
		n := b.unitOf[i]
		if n < 0 || ready[n] == nil {
			continue
		}
		rp := ready[n]
		for _, e := range rp.after {
			if !b.infer(e.from, g.index[rp.node], Edge{From: g.ids[e.from], To: rp.node, Reason: ReasonReady, Detail: e.detail}) && e.detail != "wait" {
				rp.unsatisfiable = append(rp.unsatisfiable, fmt.Sprintf("healthChecks names %s of %s, which itself waits for this unit", e.detail, g.ids[e.from]))
			}
		}
	}
	served := servedKinds(opts.Preinstalled)
	type unitKind struct {
		unit int
		gk   schema.GroupKind
	}
	reported, crdDone := map[unitKind]bool{}, map[unitKind]bool{}
	type need struct {
		unit      int
		namespace string
	}
	var nsNeeds []need
	needed := map[need]bool{}
	for i, u := range units {
		n := b.unitOf[i]
		if n < 0 {
			continue
		}
		for _, o := range u.Objects {
			gk := o.GroupKind()
			producers := crds[gk]
			if len(producers) == 0 && !served[gk] && !reported[unitKind{n, gk}] {
				reported[unitKind{n, gk}] = true
				b.soft = append(b.soft, Problem{Kind: ProblemMissingCRD, Unit: u.ID, Object: o.ObjectRef.String(),
					Message: fmt.Sprintf("no unit produces the CRD of %s and it is not pre-installed", kindString(gk))})
			}
			if opts.ExplicitOnly {
				continue
			}
			if len(producers) > 0 && !crdDone[unitKind{n, gk}] {
				crdDone[unitKind{n, gk}] = true
				holders := make([]int, len(producers))
				for j, p := range producers {
					holders[j] = p.unit
				}
				for _, h := range b.preferred(n, holders) {
					p := producers[slices.Index(holders, h)]
					b.infer(p.unit, n, Edge{From: g.ids[p.unit], To: u.ID, Reason: ReasonCRD, Detail: p.name})
				}
			}
			if nd := (need{n, o.Namespace}); o.Namespace != "" && !needed[nd] {
				needed[nd] = true
				nsNeeds = append(nsNeeds, nd)
			}
		}
	}
	for _, nd := range nsNeeds {
		for _, from := range b.preferred(nd.unit, namespaces[nd.namespace]) {
			b.infer(from, nd.unit, Edge{From: g.ids[from], To: g.ids[nd.unit], Reason: ReasonNamespace, Detail: nd.namespace})
		}
	}
	if opts.ExplicitOnly {
		b.soft = append(b.soft, crdsNotFromAncestors(g, units, b.unitOf, crds)...)
	}
	out := &UnitGraph{Graph: g, readiness: map[string]Readiness{}}
	for n, rp := range ready {
		if rp == nil {
			continue
		}
		r := Readiness{Node: rp.node, Local: rp.local, Awaited: rp.awaited, Unsatisfiable: rp.unsatisfiable}
		out.readiness[g.ids[n]] = r
		for _, msg := range rp.unsatisfiable {
			b.soft = append(b.soft, Problem{Kind: ProblemHealthCheck, Unit: g.ids[n], Message: msg})
		}
	}
	sortProblems(fatal)
	sortProblems(b.soft)
	out.Problems = b.soft
	return out, fatal
}

// readinessPlan is what build decides for one unit's readiness.
type readinessPlan struct {
	node          string // the readiness node, "" when none
	after         []readyEdge
	local         []ObjectRef
	awaited       []ObjectRef
	unsatisfiable []string
}

type readyEdge struct {
	from   int
	detail string // the health check, or "wait" for an awaited child
}

// preferred chooses, among the units holding something unit n needs, the
// ones to order it after: none when n holds it itself; the holders that are
// its ancestors (declared edges or parents) when there are any; otherwise
// all of them.
func (b *builder) preferred(n int, holders []int) []int {
	if len(holders) == 0 || slices.Contains(holders, n) {
		return nil
	}
	var out []int
	for _, h := range holders {
		if b.search(n, h, b.declared) {
			out = append(out, h)
		}
	}
	if len(out) > 0 {
		return out
	}
	return holders
}

// search reports whether want can be reached from start along adj.
func (b *builder) search(start, want int, adj [][]int) bool {
	b.stamp++
	b.stack = append(b.stack[:0], start)
	b.seen[start] = b.stamp
	for len(b.stack) > 0 {
		n := b.stack[len(b.stack)-1]
		b.stack = b.stack[:len(b.stack)-1]
		for _, m := range adj[n] {
			if m == want {
				return true
			}
			if b.seen[m] != b.stamp {
				b.seen[m] = b.stamp
				b.stack = append(b.stack, m)
			}
		}
	}
	return false
}

// infer adds an inferred edge unless it would close a cycle with the edges
// already there; a dropped edge is reported. It reports whether the edge
// is in the graph.
func (b *builder) infer(from, to int, e Edge) bool {
	if from == to || slices.ContainsFunc(b.g.edges[[2]int{from, to}], func(x Edge) bool { return x.Reason == e.Reason }) {
		return true
	}
	if b.search(to, from, b.g.users) {
		b.soft = append(b.soft, Problem{Kind: ProblemDroppedEdge, Unit: strings.TrimSuffix(e.To, ReadySuffix),
			Message: fmt.Sprintf("not ordered by %s: %s would close a cycle with the declared dependencies", e.Reason, e)})
		return false
	}
	b.g.addEdge(from, to, e)
	return true
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
