// Package dagsvg draws a graph of units as SVG, laid out by Graphviz
// itself (github.com/goccy/go-graphviz: Graphviz compiled to WebAssembly and
// run in-process by wazero — no cgo, no dot binary). It is a package of its
// own so that importing dag does not link Graphviz.
//
// Each unit is a node whose shape says its kind (a Kustomization a folder,
// a HelmRelease a component, anything else a box) and whose colour, when
// Options.States gives one, its state; each edge is drawn by its reason
// (dependsOn solid, crd dashed, namespace dotted, ready bold) and labelled
// with it. The SVG is meant to be styled and scripted: a unit's group has
// the id "unit:<ID>" and the classes "unit", "kind-<kind>" and
// "state-<state>"; an edge's the classes "dep" and "reason-<reason>" for
// each of its reasons.
package dagsvg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-graphviz"

	"github.com/gitopskit/gitopskit/dag"
)

// State is a unit's state, as a colour on the picture.
type State string

// The states a unit is drawn in.
const (
	StateUnknown   State = ""
	StateReady     State = "ready"
	StateFailed    State = "failed"
	StateBlocked   State = "blocked"
	StateSuspended State = "suspended"
	StateRunning   State = "running"
)

// fill is each state's colour.
var fill = map[State]string{
	StateUnknown:   "#ffffff",
	StateReady:     "#c8f0c8",
	StateFailed:    "#f6b8b8",
	StateBlocked:   "#f5deb3",
	StateSuspended: "#d9d9d9",
	StateRunning:   "#cfe2ff",
}

// edgeStyle is how each reason is drawn.
var edgeStyle = map[dag.Reason]string{
	dag.ReasonDependsOn:  "solid",
	dag.ReasonCRD:        "dashed",
	dag.ReasonNamespace:  "dotted",
	dag.ReasonAnnotation: "solid",
	dag.ReasonReady:      "bold",
}

// Options say what to draw besides the graph.
type Options struct {
	// States colour the units (by ID); a unit with none is white.
	States map[string]State
	// Link, when set, makes each unit a link to what it returns for the
	// unit's ID ("" for none).
	Link func(unit string) string
}

// Write draws g as SVG to w. A unit's readiness node, if it has one, is
// drawn as the unit itself: an edge to it is an edge to the unit.
func Write(ctx context.Context, w io.Writer, g *dag.UnitGraph, opts Options) error {
	dot := DOT(g, opts)
	gv, err := graphviz.New(ctx)
	if err != nil {
		return fmt.Errorf("dagsvg: starting Graphviz: %w", err)
	}
	defer gv.Close()
	graph, err := graphviz.ParseBytes(dot)
	if err != nil {
		return fmt.Errorf("dagsvg: %w", err)
	}
	defer graph.Close()
	var buf bytes.Buffer
	if err := gv.Render(ctx, graph, graphviz.SVG, &buf); err != nil {
		return fmt.Errorf("dagsvg: layout: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// DOT is the Graphviz input Write lays out: the graph with the shapes,
// colours, styles, ids and classes of the picture. The same graph and
// options give the same bytes.
func DOT(g *dag.UnitGraph, opts Options) []byte {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	fmt.Fprintln(bw, "digraph units {")
	fmt.Fprintln(bw, `  rankdir=LR; bgcolor="transparent"; fontname="Helvetica";`)
	fmt.Fprintln(bw, `  node [style="filled,rounded", fontname="Helvetica", fontsize=11, penwidth=1.2];`)
	fmt.Fprintln(bw, `  edge [fontname="Helvetica", fontsize=9, color="#555555", fontcolor="#555555"];`)
	for _, id := range g.UnitNodes() {
		kind, name := split(id)
		state := opts.States[id]
		attrs := []string{
			"id=" + strconv.Quote("unit:"+id),
			"class=" + strconv.Quote("unit kind-"+strings.ToLower(kind)+" state-"+stateName(state)),
			"label=" + strconv.Quote(kind+"\n"+name),
			"tooltip=" + strconv.Quote(tooltip(id, state)),
			"shape=" + shape(kind),
			"fillcolor=" + strconv.Quote(fill[state]),
		}
		if opts.Link != nil {
			if href := opts.Link(id); href != "" {
				attrs = append(attrs, "URL="+strconv.Quote(href), "target=\"_top\"")
			}
		}
		fmt.Fprintf(bw, "  %s [%s];\n", strconv.Quote(id), strings.Join(attrs, ", "))
	}
	type pair struct{ from, to string }
	reasons := map[pair][]dag.Reason{}
	var order []pair
	for _, e := range g.Edges() {
		from, _ := g.NodeUnit(e.From)
		to, _ := g.NodeUnit(e.To)
		if from == to {
			continue // a unit and its own readiness
		}
		p := pair{from, to}
		if _, ok := reasons[p]; !ok {
			order = append(order, p)
		}
		if !slices.Contains(reasons[p], e.Reason) {
			reasons[p] = append(reasons[p], e.Reason)
		}
	}
	for _, p := range order {
		rs := reasons[p]
		var labels, classes []string
		for _, r := range rs {
			labels = append(labels, string(r))
			classes = append(classes, "reason-"+strings.ToLower(string(r)))
		}
		attrs := []string{
			"id=" + strconv.Quote("edge:"+p.from+"->"+p.to),
			"class=" + strconv.Quote("dep "+strings.Join(classes, " ")),
			"label=" + strconv.Quote(strings.Join(labels, ", ")),
			"style=" + edgeStyle[rs[0]],
		}
		fmt.Fprintf(bw, "  %s -> %s [%s];\n", strconv.Quote(p.from), strconv.Quote(p.to), strings.Join(attrs, ", "))
	}
	fmt.Fprintln(bw, "}")
	bw.Flush()
	return b.Bytes()
}

// split cuts "Kind/namespace/name" into the kind and the rest.
func split(id string) (kind, name string) {
	kind, name, ok := strings.Cut(id, "/")
	if !ok {
		return "Unit", id
	}
	return kind, name
}

func shape(kind string) string {
	switch kind {
	case "Kustomization":
		return "folder"
	case "HelmRelease":
		return "component"
	}
	return "box"
}

func stateName(s State) string {
	if s == StateUnknown {
		return "unknown"
	}
	return string(s)
}

func tooltip(id string, s State) string {
	if s == StateUnknown {
		return id
	}
	return id + " (" + string(s) + ")"
}
