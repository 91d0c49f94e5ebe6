package dag

import (
	"fmt"
	"slices"
	"strings"
)

// CycleError reports a dependency cycle: its nodes in order, each depending
// on the one before it and the first on the last, and every edge that closes
// the loop with its reason.
type CycleError struct {
	Nodes []string
	Edges []Edge
}

func (e *CycleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dependency cycle through %d nodes: %s -> %s", len(e.Nodes), strings.Join(e.Nodes, " -> "), e.Nodes[0])
	for _, ed := range e.Edges {
		b.WriteString("; ")
		b.WriteString(ed.String())
	}
	return b.String()
}

// FindCycle returns one cycle of the graph, or nil when it has none. The
// cycle found is the same for the same graph.
func (g *Graph) FindCycle() *CycleError {
	if _, ok := g.kahn(); ok {
		return nil
	}
	return g.cycleError()
}

// cycleError finds a cycle by depth-first search in ID order; the caller
// knows there is one.
func (g *Graph) cycleError() *CycleError {
	users := make([][]int, len(g.ids))
	for n := range users {
		users[n] = slices.Clone(g.users[n])
		slices.SortFunc(users[n], func(a, b int) int { return strings.Compare(g.ids[a], g.ids[b]) })
	}
	starts := make([]int, len(g.ids))
	for n := range starts {
		starts[n] = n
	}
	slices.SortFunc(starts, func(a, b int) int { return strings.Compare(g.ids[a], g.ids[b]) })

	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(g.ids))
	type frame struct{ n, next int }
	for _, s := range starts {
		if color[s] != white {
			continue
		}
		stack := []frame{{n: s}}
		color[s] = grey
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(users[top.n]) {
				color[top.n] = black
				stack = stack[:len(stack)-1]
				continue
			}
			u := users[top.n][top.next]
			top.next++
			switch color[u] {
			case white:
				color[u] = grey
				stack = append(stack, frame{n: u})
			case grey:
				i := slices.IndexFunc(stack, func(f frame) bool { return f.n == u })
				path := make([]int, 0, len(stack)-i)
				for _, f := range stack[i:] {
					path = append(path, f.n)
				}
				return g.describeCycle(path)
			}
		}
	}
	panic("dag: cycleError called on an acyclic graph")
}

// describeCycle turns a path where each node is followed by one that depends
// on it (and the first depends on the last) into a CycleError.
func (g *Graph) describeCycle(path []int) *CycleError {
	ce := &CycleError{}
	for i, n := range path {
		ce.Nodes = append(ce.Nodes, g.ids[n])
		next := path[(i+1)%len(path)]
		es := slices.Clone(g.edges[[2]int{n, next}])
		slices.SortFunc(es, compareEdges)
		ce.Edges = append(ce.Edges, es...)
	}
	return ce
}
