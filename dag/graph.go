package dag

import (
	"fmt"
	"slices"
	"strings"
)

// Reason says why an edge exists.
type Reason string

// The reasons gitopskit records on edges.
const (
	// ReasonDependsOn is an explicit Flux dependsOn between units.
	ReasonDependsOn Reason = "dependsOn"
	// ReasonCRD orders a CustomResourceDefinition before objects of its kind.
	ReasonCRD Reason = "crd"
	// ReasonNamespace orders a Namespace before the objects in it.
	ReasonNamespace Reason = "namespace"
	// ReasonAnnotation is a config.kubernetes.io/depends-on annotation.
	ReasonAnnotation Reason = "annotation"
	// ReasonReady orders what a unit's readiness waits for — the unit
	// itself, the units its health checks name or whose objects they name,
	// the units it awaits — before its readiness node.
	ReasonReady Reason = "ready"
)

// Edge says that To depends on From: From must be done before To starts.
// Detail names what caused it (the CRD, the Namespace, the object).
type Edge struct {
	From, To string
	Reason   Reason
	Detail   string
}

func (e Edge) String() string {
	s := fmt.Sprintf("%s depends on %s (%s", e.To, e.From, e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s + ")"
}

// Graph is a directed graph of nodes named by string IDs, with reasons on
// its edges. Its zero value is not usable; call New. A Graph is not safe for
// concurrent modification; once built it may be read concurrently.
type Graph struct {
	ids   []string
	index map[string]int
	deps  [][]int // deps[n]: nodes n depends on, no repeats
	users [][]int // users[n]: nodes that depend on n, no repeats
	edges map[[2]int][]Edge
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{index: map[string]int{}, edges: map[[2]int][]Edge{}}
}

// DuplicateNodeError reports a node added twice.
type DuplicateNodeError struct{ ID string }

func (e *DuplicateNodeError) Error() string { return fmt.Sprintf("duplicate node %q", e.ID) }

// MissingNodeError reports an edge, selection or lookup naming a node the
// graph does not have.
type MissingNodeError struct {
	ID string
	// By is the node that referred to ID, if any.
	By string
}

func (e *MissingNodeError) Error() string {
	if e.By != "" {
		return fmt.Sprintf("%s: depends on %q, which does not exist", e.By, e.ID)
	}
	return fmt.Sprintf("no node %q", e.ID)
}

// AddNode adds a node. Adding an existing ID is a *DuplicateNodeError.
func (g *Graph) AddNode(id string) error {
	if _, ok := g.index[id]; ok {
		return &DuplicateNodeError{ID: id}
	}
	g.index[id] = len(g.ids)
	g.ids = append(g.ids, id)
	g.deps = append(g.deps, nil)
	g.users = append(g.users, nil)
	return nil
}

// Has reports whether the graph has the node.
func (g *Graph) Has(id string) bool {
	_, ok := g.index[id]
	return ok
}

// Len is the number of nodes.
func (g *Graph) Len() int { return len(g.ids) }

// AddEdge records that e.To depends on e.From. Both nodes must exist
// (otherwise a *MissingNodeError). A self-edge is ignored, and so is an edge
// equal to one already recorded in From, To and Reason.
func (g *Graph) AddEdge(e Edge) error {
	from, ok := g.index[e.From]
	if !ok {
		return &MissingNodeError{ID: e.From, By: e.To}
	}
	to, ok := g.index[e.To]
	if !ok {
		return &MissingNodeError{ID: e.To, By: e.From}
	}
	g.addEdge(from, to, e)
	return nil
}

func (g *Graph) addEdge(from, to int, e Edge) {
	if from == to {
		return
	}
	key := [2]int{from, to}
	have := g.edges[key]
	for _, x := range have {
		if x.Reason == e.Reason {
			return
		}
	}
	if len(have) == 0 {
		g.deps[to] = append(g.deps[to], from)
		g.users[from] = append(g.users[from], to)
	}
	g.edges[key] = append(have, e)
}

// Nodes returns every node ID, sorted.
func (g *Graph) Nodes() []string {
	out := slices.Clone(g.ids)
	slices.Sort(out)
	return out
}

// Edges returns every edge, sorted by From, To and Reason.
func (g *Graph) Edges() []Edge {
	out := make([]Edge, 0, len(g.edges))
	for _, es := range g.edges {
		out = append(out, es...)
	}
	slices.SortFunc(out, compareEdges)
	return out
}

func compareEdges(a, b Edge) int {
	if c := strings.Compare(a.From, b.From); c != 0 {
		return c
	}
	if c := strings.Compare(a.To, b.To); c != 0 {
		return c
	}
	return strings.Compare(string(a.Reason), string(b.Reason))
}

// EdgesBetween returns the edges saying to depends on from, sorted by reason.
func (g *Graph) EdgesBetween(from, to string) []Edge {
	f, ok1 := g.index[from]
	t, ok2 := g.index[to]
	if !ok1 || !ok2 {
		return nil
	}
	out := slices.Clone(g.edges[[2]int{f, t}])
	slices.SortFunc(out, compareEdges)
	return out
}

// Dependencies returns the nodes id depends on directly, sorted.
func (g *Graph) Dependencies(id string) []string {
	n, ok := g.index[id]
	if !ok {
		return nil
	}
	return g.names(g.deps[n])
}

// Dependents returns the nodes that depend on id directly, sorted.
func (g *Graph) Dependents(id string) []string {
	n, ok := g.index[id]
	if !ok {
		return nil
	}
	return g.names(g.users[n])
}

func (g *Graph) names(ns []int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = g.ids[n]
	}
	slices.Sort(out)
	return out
}
