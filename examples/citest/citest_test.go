package main

// This file is what a team copies into its GitOps repository to test it in
// CI with `go test`: no cluster, no network (charts come from a mirror
// directory), golden files of every unit's output refreshed with
//
//	go test ./examples/citest -update
//
// Point repoDir and chartsDir at your repository and chart mirror.

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/internal/testfs"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	repoDir   = "../../internal/fleet/repo"
	chartsDir = "../../internal/fleet/charts"
	rootPath  = "clusters/dev"
	chartsURL = "https://charts.example.com"
)

func loadRepo(t *testing.T) (*render.Graph, []dag.Unit) {
	t.Helper()
	charts, err := filepath.Abs(chartsDir)
	if err != nil {
		t.Fatal(err)
	}
	g, units, err := load(context.Background(), repoDir, rootPath, source.Mirrors{chartsURL: "file://" + charts})
	if err != nil {
		t.Fatal(err)
	}
	return g, units
}

// Every unit renders, with nothing gitopskit had to ignore.
func TestEveryUnitRenders(t *testing.T) {
	g, _ := loadRepo(t)
	for _, u := range g.Units {
		if u.Err != nil {
			t.Errorf("%s: %v", u.ID, u.Err)
		}
		for _, w := range u.Warnings {
			t.Errorf("%s: warning: %s", u.ID, w)
		}
	}
}

// The graph orders: no cycles, every dependsOn names a unit.
func TestNoCycles(t *testing.T) {
	_, units := loadRepo(t)
	ug, err := dag.Build(units, dag.Options{Preinstalled: render.FluxKinds()})
	if err != nil {
		t.Fatal(err) // a *dag.CycleError lists every edge of the cycle
	}
	if _, err := ug.Sort(); err != nil {
		t.Fatal(err)
	}
}

// Every custom resource's CRD comes from the same unit or one it depends
// on (explicitly, or because gitopskit orders CRD producers first).
func TestCRDsComeFromAncestors(t *testing.T) {
	_, units := loadRepo(t)
	ug, err := dag.Build(units, dag.Options{Preinstalled: render.FluxKinds()})
	if err != nil {
		t.Fatal(err)
	}
	producer := map[schema.GroupKind]string{}
	for _, u := range units {
		for _, o := range u.Objects {
			if o.Defines != nil {
				producer[*o.Defines] = u.ID
			}
		}
	}
	for _, u := range units {
		ancestors := ug.Ancestors(u.ID)
		for _, o := range u.Objects {
			p, ok := producer[o.GroupKind()]
			if !ok || p == u.ID {
				continue
			}
			if !slices.Contains(ancestors, p) {
				t.Errorf("%s: %s needs the CRD from %s, which is not an ancestor", u.ID, o.ObjectRef, p)
			}
		}
	}
	for _, p := range ug.Problems {
		if p.Kind == dag.ProblemMissingCRD {
			t.Error(p)
		}
	}
}

// No object is claimed by two units (they would fight over it and prune
// each other's copy).
func TestNoObjectOwnedTwice(t *testing.T) {
	_, units := loadRepo(t)
	owner := map[string]string{}
	for _, u := range units {
		for _, o := range u.Objects {
			id := o.ObjectRef.String()
			if prev, ok := owner[id]; ok && prev != u.ID {
				t.Errorf("%s is rendered by %s and %s", id, prev, u.ID)
			}
			owner[id] = u.ID
		}
	}
}

// Golden files: every unit's objects as YAML (Secrets masked with a fixed
// key, so a changed value still shows), one file per unit.
func TestGolden(t *testing.T) {
	g, _ := loadRepo(t)
	for _, u := range g.Units {
		var b bytes.Buffer
		for _, o := range u.Objects {
			y, err := yaml.Marshal(render.MaskSecret(o.Unstructured, []byte("citest")).Object)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("---\n# source: " + o.Provenance.File + "\n")
			b.Write(y)
		}
		file := filepath.Join("testdata", "golden", strings.ReplaceAll(u.ID, "/", "_")+".yaml")
		if *update {
			testfs.Write(t, ".", map[string]string{filepath.ToSlash(file): b.String()})
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if diff := cmp.Diff(string(want), b.String()); diff != "" {
			t.Errorf("%s changed (-want +got), run go test -update if intended:\n%s", u.ID, diff)
		}
	}
}

// The checks catch the mistakes they are for: a repository with a cycle,
// a custom resource without its CRD and an object in two units.
func TestChecksCatchMistakes(t *testing.T) {
	dir := t.TempDir()
	ks := func(name, path, dep string) string {
		s := "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: " + name + ", namespace: flux-system}\nspec:\n  interval: 1m\n  path: " + path + "\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
		if dep != "" {
			s += "  dependsOn: [{name: " + dep + "}]\n"
		}
		return s
	}
	testfs.Write(t, dir, map[string]string{
		"clusters/dev/a.yaml": ks("a", "./a", "b"),
		"clusters/dev/b.yaml": ks("b", "./b", "a"),
		"a/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\n",
		"b/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\n",
		"b/issuer.yaml":       "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt}\n",
	})
	var out bytes.Buffer
	n, err := check(context.Background(), dir, "clusters/dev", nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cycle", "ClusterIssuer", "ConfigMap/default/shared"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check missed %q:\n%s", want, out.String())
		}
	}
	if n < 3 {
		t.Errorf("%d problems, want at least 3:\n%s", n, out.String())
	}
}

// The fleet's ClusterWidget is exactly what Flux alone would get wrong.
func TestFluxWouldTrip(t *testing.T) {
	var out bytes.Buffer
	charts, _ := filepath.Abs(chartsDir)
	n, err := check(context.Background(), repoDir, rootPath, source.Mirrors{chartsURL: "file://" + charts}, &out)
	if err != nil || n != 0 {
		t.Fatalf("%d problems, %v:\n%s", n, err, out.String())
	}
	if !strings.Contains(out.String(), "note: ") || !strings.Contains(out.String(), "ClusterWidget") {
		t.Errorf("no note about the ClusterWidget Flux would apply before its CRD:\n%s", out.String())
	}
}
