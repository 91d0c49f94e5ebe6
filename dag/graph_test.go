package dag

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// graphOf builds a graph from "a<b" pairs (b depends on a) with reason
// dependsOn; lone names add just the node.
func graphOf(t testing.TB, spec ...string) *Graph {
	t.Helper()
	g := New()
	add := func(id string) {
		if !g.Has(id) {
			if err := g.AddNode(id); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range spec {
		from, to, ok := strings.Cut(s, "<")
		add(from)
		if !ok {
			continue
		}
		add(to)
		if err := g.AddEdge(Edge{From: from, To: to, Reason: ReasonDependsOn}); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func TestSortAndLevels(t *testing.T) {
	tests := map[string]struct {
		spec    []string
		order   []string
		levels  [][]string
		reverse []string
	}{
		"empty": {order: []string{}, levels: [][]string{}, reverse: []string{}},
		"independent nodes sort by ID": {
			spec:    []string{"c", "a", "b"},
			order:   []string{"a", "b", "c"},
			levels:  [][]string{{"a", "b", "c"}},
			reverse: []string{"c", "b", "a"},
		},
		"chain": {
			spec:    []string{"infra<deps", "deps<apps"},
			order:   []string{"infra", "deps", "apps"},
			levels:  [][]string{{"infra"}, {"deps"}, {"apps"}},
			reverse: []string{"apps", "deps", "infra"},
		},
		"diamond with a long side": {
			spec:    []string{"a<b", "a<c", "c<d", "b<e", "d<e"},
			order:   []string{"a", "b", "c", "d", "e"},
			levels:  [][]string{{"a"}, {"b", "c"}, {"d"}, {"e"}},
			reverse: []string{"e", "d", "c", "b", "a"},
		},
		"smallest ready ID first, not level by level": {
			spec:    []string{"z<a", "y"},
			order:   []string{"y", "z", "a"},
			levels:  [][]string{{"y", "z"}, {"a"}},
			reverse: []string{"a", "z", "y"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := graphOf(t, tc.spec...)
			order, err := g.Sort()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.order, order); diff != "" {
				t.Errorf("Sort (-want +got):\n%s", diff)
			}
			levels, err := g.Levels()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.levels, levels); diff != "" {
				t.Errorf("Levels (-want +got):\n%s", diff)
			}
			rev, err := g.ReverseSort()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.reverse, rev); diff != "" {
				t.Errorf("ReverseSort (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSortIgnoresInsertionOrder(t *testing.T) {
	a := graphOf(t, "a<b", "a<c", "c<d", "x")
	b := graphOf(t, "x", "c<d", "a<c", "a<b")
	oa, _ := a.Sort()
	ob, _ := b.Sort()
	if diff := cmp.Diff(oa, ob); diff != "" {
		t.Errorf("orders differ (-a +b):\n%s", diff)
	}
}

func TestCycle(t *testing.T) {
	tests := map[string]struct {
		spec  []string
		nodes []string
	}{
		"two nodes":           {spec: []string{"a<b", "b<a"}, nodes: []string{"a", "b"}},
		"three behind a tail": {spec: []string{"root<a", "a<b", "b<c", "c<a", "root<z"}, nodes: []string{"a", "b", "c"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := graphOf(t, tc.spec...)
			_, err := g.Sort()
			var ce *CycleError
			if !errors.As(err, &ce) {
				t.Fatalf("Sort err = %v, want *CycleError", err)
			}
			if diff := cmp.Diff(tc.nodes, ce.Nodes); diff != "" {
				t.Errorf("cycle nodes (-want +got):\n%s", diff)
			}
			if len(ce.Edges) != len(tc.nodes) {
				t.Errorf("cycle has %d edges, want %d: %v", len(ce.Edges), len(tc.nodes), ce.Edges)
			}
			for i, e := range ce.Edges {
				if e.From != ce.Nodes[i] || e.To != ce.Nodes[(i+1)%len(ce.Nodes)] {
					t.Errorf("edge %d = %v does not follow the cycle %v", i, e, ce.Nodes)
				}
			}
			for _, f := range []func() error{
				func() error { _, err := g.Levels(); return err },
				func() error { _, err := g.Scheduler(); return err },
			} {
				if err := f(); !errors.As(err, &ce) {
					t.Errorf("err = %v, want *CycleError", err)
				}
			}
		})
	}
	if c := graphOf(t, "a<b").FindCycle(); c != nil {
		t.Errorf("FindCycle on an acyclic graph = %v", c)
	}
}

func TestBadEdgesAndNodes(t *testing.T) {
	g := graphOf(t, "a")
	var dup *DuplicateNodeError
	if err := g.AddNode("a"); !errors.As(err, &dup) || dup.ID != "a" {
		t.Errorf("AddNode twice: %v", err)
	}
	var miss *MissingNodeError
	if err := g.AddEdge(Edge{From: "nope", To: "a", Reason: ReasonDependsOn}); !errors.As(err, &miss) || miss.ID != "nope" || miss.By != "a" {
		t.Errorf("AddEdge from a missing node: %v", err)
	}
	if _, err := g.Select("nope", true); !errors.As(err, &miss) {
		t.Errorf("Select of a missing node: %v", err)
	}
	// A repeated edge with the same reason is recorded once, a self-edge not at all.
	g = graphOf(t, "a<b", "a<b", "a<a")
	if err := g.AddEdge(Edge{From: "a", To: "b", Reason: ReasonCRD, Detail: "x"}); err != nil {
		t.Fatal(err)
	}
	want := []Edge{{From: "a", To: "b", Reason: ReasonCRD, Detail: "x"}, {From: "a", To: "b", Reason: ReasonDependsOn}}
	if diff := cmp.Diff(want, g.Edges()); diff != "" {
		t.Errorf("Edges (-want +got):\n%s", diff)
	}
}

func TestSelect(t *testing.T) {
	g := graphOf(t, "infra<deps", "deps<apps", "infra<monitoring", "other")
	tests := map[string]struct {
		id       string
		withDeps bool
		nodes    []string
		edges    int
	}{
		"alone":                 {id: "apps", nodes: []string{"apps"}},
		"with dependencies":     {id: "apps", withDeps: true, nodes: []string{"apps", "deps", "infra"}, edges: 2},
		"a root with its deps":  {id: "infra", withDeps: true, nodes: []string{"infra"}},
		"unrelated stays apart": {id: "other", withDeps: true, nodes: []string{"other"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sub, err := g.Select(tc.id, tc.withDeps)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.nodes, sub.Nodes()); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
			if got := len(sub.Edges()); got != tc.edges {
				t.Errorf("%d edges, want %d", got, tc.edges)
			}
		})
	}
	if diff := cmp.Diff([]string{"apps", "deps", "monitoring"}, g.Descendants("infra")); diff != "" {
		t.Errorf("Descendants (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"deps", "infra"}, g.Ancestors("apps")); diff != "" {
		t.Errorf("Ancestors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"deps", "monitoring"}, g.Dependents("infra")); diff != "" {
		t.Errorf("Dependents (-want +got):\n%s", diff)
	}
}
