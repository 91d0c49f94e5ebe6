package dag

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// edgeLabels returns, for every connected pair in sorted order, the reasons
// joined by ", ".
func (g *Graph) edgeLabels() (pairs [][2]string, labels []string) {
	edges := g.Edges()
	for i := 0; i < len(edges); {
		j := i
		var reasons []string
		for j < len(edges) && edges[j].From == edges[i].From && edges[j].To == edges[i].To {
			reasons = append(reasons, string(edges[j].Reason))
			j++
		}
		pairs = append(pairs, [2]string{edges[i].From, edges[i].To})
		labels = append(labels, strings.Join(reasons, ", "))
		i = j
	}
	return pairs, labels
}

// WriteDOT writes the graph in Graphviz DOT. An arrow points from a node to
// what depends on it (the order things happen), labelled with the edge's
// reasons. The output is the same, byte for byte, for the same graph.
func (g *Graph) WriteDOT(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph gitopskit {")
	fmt.Fprintln(bw, "  rankdir=LR;")
	fmt.Fprintln(bw, "  node [shape=box];")
	for _, id := range g.Nodes() {
		fmt.Fprintf(bw, "  %s;\n", strconv.Quote(id))
	}
	pairs, labels := g.edgeLabels()
	for i, p := range pairs {
		fmt.Fprintf(bw, "  %s -> %s [label=%s];\n", strconv.Quote(p[0]), strconv.Quote(p[1]), strconv.Quote(labels[i]))
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}

// WriteMermaid writes the graph as a Mermaid flowchart, arrows and labels as
// in WriteDOT. Nodes get short identifiers (n0, n1, … in ID order) and their
// IDs as text, since Mermaid identifiers cannot hold '/' or '.'.
func (g *Graph) WriteMermaid(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "flowchart LR")
	short := make(map[string]string, len(g.ids))
	for i, id := range g.Nodes() {
		short[id] = "n" + strconv.Itoa(i)
		fmt.Fprintf(bw, "  %s[\"%s\"]\n", short[id], mermaidText(id))
	}
	pairs, labels := g.edgeLabels()
	for i, p := range pairs {
		fmt.Fprintf(bw, "  %s -->|%s| %s\n", short[p[0]], mermaidText(labels[i]), short[p[1]])
	}
	return bw.Flush()
}

// mermaidText escapes what would end a quoted label or edge text.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "|", "#124;", "<", "#lt;", ">", "#gt;").Replace(s)
}
