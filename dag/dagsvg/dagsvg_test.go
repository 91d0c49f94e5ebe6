package dagsvg_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/dag/dagsvg"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// structure reads what an SVG says about the graph, leaving out where
// Graphviz placed things: each unit's group (id, classes, title, link,
// fill) and each edge's (id, classes, label), in document order.
func structure(t *testing.T, svg []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	dec.Strict = false
	var out []string
	var cur *[]string
	depth, groupDepth := 0, -1
	text := ""
	inText, inTitle := false, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG does not parse: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			attr := func(name string) string {
				for _, a := range el.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			switch el.Name.Local {
			case "g":
				class := attr("class")
				if groupDepth < 0 && (strings.HasPrefix(class, "node") || strings.HasPrefix(class, "edge")) {
					line := []string{"g id=" + attr("id") + " class=" + class}
					cur, groupDepth = &line, depth
				}
			case "a":
				if href := attr("href"); cur != nil && href != "" {
					*cur = append(*cur, "link="+href)
				}
			case "polygon", "path", "ellipse":
				if cur != nil && el.Name.Local == "polygon" && strings.HasPrefix((*cur)[0], "g id=unit:") && !strings.Contains(strings.Join(*cur, " "), "fill=") {
					*cur = append(*cur, "fill="+attr("fill"))
				}
			case "text":
				inText, text = true, ""
			case "title":
				inTitle, text = true, ""
			}
		case xml.CharData:
			if inText || inTitle {
				text += string(el)
			}
		case xml.EndElement:
			switch el.Name.Local {
			case "text":
				if cur != nil {
					*cur = append(*cur, "text="+text)
				}
				inText = false
			case "title":
				if cur != nil {
					*cur = append(*cur, "title="+text)
				}
				inTitle = false
			case "g":
				if depth == groupDepth {
					out = append(out, strings.Join(*cur, " | "))
					cur, groupDepth = nil, -1
				}
			}
			depth--
		}
	}
	return strings.Join(out, "\n") + "\n"
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("%s (-want +got):\n%s", file, diff)
	}
}

// fleetGraph is the example fleet's unit graph: dependsOn, CRD,
// Namespace and readiness edges.
func fleetGraph(t *testing.T) *dag.UnitGraph {
	t.Helper()
	ctx := context.Background()
	art, err := source.NewDir("../../internal/fleet/repo", source.DirOptions{}).Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	charts, err := filepath.Abs("../../internal/fleet/charts")
	if err != nil {
		t.Fatal(err)
	}
	g, err := render.Load(ctx, art, "clusters/dev", render.LoadOptions{Mirrors: source.Mirrors{"https://charts.example.com": "file://" + charts}, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	units, err := g.DagUnits()
	if err != nil {
		t.Fatal(err)
	}
	ug, err := dag.Build(units, dag.Options{Preinstalled: render.FluxKinds()})
	if err != nil {
		t.Fatal(err)
	}
	return ug
}

// TestFleetSVG: the fleet drawn with a state per unit and links: every
// unit is a node with its kind's shape class, its state's class and
// colour, and its link; every edge carries its reasons as classes and
// label.
func TestFleetSVG(t *testing.T) {
	g := fleetGraph(t)
	states := map[string]dagsvg.State{
		"Kustomization/flux-system/flux-system":      dagsvg.StateReady,
		"Kustomization/flux-system/infrastructure":   dagsvg.StateReady,
		"HelmRelease/widgets-system/widget-operator": dagsvg.StateFailed,
		"Kustomization/flux-system/dependency":       dagsvg.StateBlocked,
		"HelmRelease/database/postgresql":            dagsvg.StateSuspended,
	}
	var buf bytes.Buffer
	err := dagsvg.Write(context.Background(), &buf, g, dagsvg.Options{States: states, Link: func(id string) string { return "units/" + id }})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(buf.Bytes()), []byte("<?xml")) || !bytes.Contains(buf.Bytes(), []byte("<svg")) {
		t.Fatalf("not an SVG:\n%.300s", buf.String())
	}
	got := structure(t, buf.Bytes())
	golden(t, "fleet.golden", got)
	for _, unit := range g.UnitNodes() {
		if !strings.Contains(got, "g id=unit:"+unit+" ") {
			t.Errorf("no node for %s", unit)
		}
	}
	for _, reason := range []string{"reason-dependson", "reason-crd", "reason-namespace"} {
		if !strings.Contains(got, reason) {
			t.Errorf("no edge of class %s", reason)
		}
	}
}

// TestNoStates: without states every unit is drawn unknown (white), with
// no link; readiness nodes are drawn as their units.
func TestNoStates(t *testing.T) {
	units := []dag.Unit{
		{ID: "Kustomization/flux-system/apps", Links: dag.Links{DependsOn: []string{"Kustomization/flux-system/infra"},
			HealthChecks: []dag.ObjectRef{{Group: "helm.toolkit.fluxcd.io", Kind: "HelmRelease", Namespace: "db", Name: "pg"}}}},
		{ID: "Kustomization/flux-system/infra"},
		{ID: "HelmRelease/db/pg", Links: dag.Links{Ref: dag.ObjectRef{Group: "helm.toolkit.fluxcd.io", Kind: "HelmRelease", Namespace: "db", Name: "pg"}}},
	}
	g, err := dag.Build(units, dag.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dagsvg.Write(context.Background(), &buf, g, dagsvg.Options{}); err != nil {
		t.Fatal(err)
	}
	got := structure(t, buf.Bytes())
	golden(t, "nostates.golden", got)
	if strings.Contains(got, "link=") || strings.Contains(got, ReadySuffixInIDs()) {
		t.Errorf("links or readiness nodes drawn:\n%s", got)
	}
}

// ReadySuffixInIDs is how a readiness node would show in an id.
func ReadySuffixInIDs() string { return "unit:" + "Kustomization/flux-system/apps" + dag.ReadySuffix }

// TestDOTStable: the Graphviz input is the same bytes for the same graph.
func TestDOTStable(t *testing.T) {
	g := fleetGraph(t)
	a, b := dagsvg.DOT(g, dagsvg.Options{}), dagsvg.DOT(fleetGraph(t), dagsvg.Options{})
	if !bytes.Equal(a, b) {
		t.Errorf("two DOTs of one graph differ:\n%s\n%s", a, b)
	}
	if !bytes.Contains(a, []byte(fmt.Sprintf("%q", "unit:Kustomization/flux-system/application"))) {
		t.Errorf("no unit id in:\n%s", a)
	}
}
