package dag

import "slices"

// Ancestors returns every node id depends on, directly or not, sorted.
func (g *Graph) Ancestors(id string) []string {
	return g.reach(id, g.deps)
}

// Descendants returns every node that depends on id, directly or not,
// sorted: what a change to id can affect.
func (g *Graph) Descendants(id string) []string {
	return g.reach(id, g.users)
}

func (g *Graph) reach(id string, adj [][]int) []string {
	start, ok := g.index[id]
	if !ok {
		return nil
	}
	seen := map[int]bool{start: true}
	queue := []int{start}
	var out []int
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range adj[n] {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
				queue = append(queue, m)
			}
		}
	}
	return g.names(out)
}

// Select returns the subgraph for one node: the node alone, or with
// everything it depends on (directly or not) and the edges among them. A
// missing node is a *MissingNodeError.
func (g *Graph) Select(id string, withDependencies bool) (*Graph, error) {
	if !g.Has(id) {
		return nil, &MissingNodeError{ID: id}
	}
	ids := []string{id}
	if withDependencies {
		ids = append(ids, g.Ancestors(id)...)
	}
	return g.Subgraph(ids), nil
}

// Subgraph returns the graph induced by the given nodes: those of them the
// graph has, and the edges between them.
func (g *Graph) Subgraph(ids []string) *Graph {
	keep := make([]bool, len(g.ids))
	for _, id := range ids {
		if n, ok := g.index[id]; ok {
			keep[n] = true
		}
	}
	sub := New()
	for n, id := range g.ids { // insertion order, so the subgraph reads like the graph
		if keep[n] {
			_ = sub.AddNode(id)
		}
	}
	keys := make([][2]int, 0)
	for k := range g.edges {
		if keep[k[0]] && keep[k[1]] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	for _, k := range keys {
		for _, e := range g.edges[k] {
			sub.addEdge(sub.index[e.From], sub.index[e.To], e)
		}
	}
	return sub
}
