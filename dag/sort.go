package dag

import (
	"container/heap"
	"slices"
)

// Sort returns every node in an order where each node comes after all it
// depends on. Among nodes that are free to go at the same time the order is
// by ID, so the result depends only on the graph, never on insertion order.
// A cycle is a *CycleError.
func (g *Graph) Sort() ([]string, error) {
	order, ok := g.kahn()
	if !ok {
		return nil, g.cycleError()
	}
	out := make([]string, len(order))
	for i, n := range order {
		out[i] = g.ids[n]
	}
	return out, nil
}

// ReverseSort is Sort reversed: every node before what it depends on, the
// order for deletion and pruning.
func (g *Graph) ReverseSort() ([]string, error) {
	out, err := g.Sort()
	slices.Reverse(out)
	return out, err
}

// Levels groups the nodes by depth: level 0 depends on nothing, and each
// node of level k depends on at least one node of level k-1 and none of
// level k or later. Each level is sorted by ID. A cycle is a *CycleError.
func (g *Graph) Levels() ([][]string, error) {
	order, ok := g.kahn()
	if !ok {
		return nil, g.cycleError()
	}
	level := make([]int, len(g.ids))
	top := -1
	for _, n := range order {
		l := 0
		for _, d := range g.deps[n] {
			l = max(l, level[d]+1)
		}
		level[n] = l
		top = max(top, l)
	}
	out := make([][]string, top+1)
	for n, l := range level {
		out[l] = append(out[l], g.ids[n])
	}
	for _, l := range out {
		slices.Sort(l)
	}
	return out, nil
}

// kahn orders the nodes topologically, taking the smallest ready ID first.
// ok is false when a cycle leaves nodes unordered.
func (g *Graph) kahn() (order []int, ok bool) {
	pending := make([]int, len(g.ids))
	ready := &idHeap{ids: g.ids}
	for n := range g.ids {
		pending[n] = len(g.deps[n])
		if pending[n] == 0 {
			ready.ns = append(ready.ns, n)
		}
	}
	heap.Init(ready)
	order = make([]int, 0, len(g.ids))
	for ready.Len() > 0 {
		n := heap.Pop(ready).(int)
		order = append(order, n)
		for _, u := range g.users[n] {
			pending[u]--
			if pending[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	return order, len(order) == len(g.ids)
}

// idHeap is a min-heap of node indexes ordered by their IDs.
type idHeap struct {
	ids []string
	ns  []int
}

func (h *idHeap) Len() int           { return len(h.ns) }
func (h *idHeap) Less(i, j int) bool { return h.ids[h.ns[i]] < h.ids[h.ns[j]] }
func (h *idHeap) Swap(i, j int)      { h.ns[i], h.ns[j] = h.ns[j], h.ns[i] }
func (h *idHeap) Push(x any)         { h.ns = append(h.ns, x.(int)) }
func (h *idHeap) Pop() any {
	n := h.ns[len(h.ns)-1]
	h.ns = h.ns[:len(h.ns)-1]
	return n
}
