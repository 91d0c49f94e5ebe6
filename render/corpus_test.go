package render

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/internal/corpus"
	"github.com/gitopskit/gitopskit/source"
)

// TestCorpusFluxExample renders both cluster paths of Flux's official
// example (Flux 2.7 layout: ArtifactGenerator and ExternalArtifacts,
// chartRef to OCIRepositories, prerelease semver) offline, and compares it
// unit by unit with what Flux, Helm and kustomize produce: the object
// identities, the install hooks, the chart versions, the CRD edges and the
// dependsOn edges. No unit may fail or warn.
func TestCorpusFluxExample(t *testing.T) {
	repo := corpus.FluxExample(t)
	art, err := source.NewDir(repo.Tree(), source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Expected.Clusters) != 2 {
		t.Fatalf("expected.json holds %d cluster paths, want staging and production", len(repo.Expected.Clusters))
	}
	for path, want := range repo.Expected.Clusters {
		t.Run(path, func(t *testing.T) {
			if len(want.Units) == 0 || len(want.CRDEdges) == 0 {
				t.Fatal("expected.json has no units or CRD edges for this path")
			}
			g, err := Load(context.Background(), art, want.RootPath, LoadOptions{Mirrors: repo.Mirrors, CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var wantIDs, gotIDs []string
			for _, u := range want.Units {
				wantIDs = append(wantIDs, u.ID)
			}
			for _, u := range g.Units {
				gotIDs = append(gotIDs, u.ID)
				if u.Err != nil {
					t.Errorf("%s: %v", u.ID, u.Err)
				}
				if len(u.Warnings) > 0 {
					t.Errorf("%s: warnings %q", u.ID, u.Warnings)
				}
			}
			slices.Sort(wantIDs)
			if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
				t.Fatalf("units (-want +got):\n%s", diff)
			}
			objects := 0
			for _, w := range want.Units {
				u := g.Unit(w.ID)
				objects += len(u.Objects)
				if diff := cmp.Diff(idents(w.Objects), renderedIdents(u.Objects)); diff != "" {
					t.Errorf("%s: objects (-want +got):\n%s", w.ID, diff)
				}
				var hooks []Object
				for _, h := range u.Hooks {
					if !slices.ContainsFunc(h.Events, func(e string) bool { return strings.HasPrefix(e, "test") }) {
						hooks = append(hooks, h.Object)
					}
				}
				if diff := cmp.Diff(idents(w.Hooks), renderedIdents(hooks)); diff != "" {
					t.Errorf("%s: hooks (-want +got):\n%s", w.ID, diff)
				}
				if w.Type == "HelmRelease" && u.Revision != w.ResolvedChartVersion {
					t.Errorf("%s: chart version %s, want %s", w.ID, u.Revision, w.ResolvedChartVersion)
				}
			}

			t.Logf("%d units, %d objects compared", len(g.Units), objects)
			dus, err := g.DagUnits()
			if err != nil {
				t.Fatal(err)
			}
			ug, err := dag.Build(dus, dag.Options{Preinstalled: FluxKinds()})
			if err != nil {
				t.Fatal(err)
			}
			var wantCRD, gotCRD, wantDeps, gotDeps []string
			for _, e := range want.CRDEdges {
				if !e.Self {
					wantCRD = append(wantCRD, e.Producer+" -> "+e.Consumer)
				}
			}
			for _, e := range want.Edges {
				if e.Type == "dependsOn" {
					wantDeps = append(wantDeps, e.From+" -> "+e.To)
				}
			}
			for _, e := range ug.Edges() {
				to, _ := ug.NodeUnit(e.To)
				from, _ := ug.NodeUnit(e.From)
				switch e.Reason {
				case dag.ReasonCRD:
					gotCRD = append(gotCRD, from+" -> "+to)
				case dag.ReasonDependsOn:
					gotDeps = append(gotDeps, from+" -> "+to)
				}
			}
			for _, s := range []*[]string{&wantCRD, &gotCRD, &wantDeps, &gotDeps} {
				slices.Sort(*s)
				*s = slices.Compact(*s)
			}
			if diff := cmp.Diff(wantCRD, gotCRD); diff != "" {
				t.Errorf("CRD edges (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantDeps, gotDeps); diff != "" {
				t.Errorf("dependsOn edges (-want +got):\n%s", diff)
			}
			if probs := dag.Check(dus, dag.Options{Preinstalled: FluxKinds()}); len(probs) > 0 {
				t.Errorf("problems: %v", probs)
			}
		})
	}
}

func idents(in []corpus.Ident) []string {
	out := make([]string, len(in))
	for i, o := range in {
		out[i] = o.String()
	}
	slices.Sort(out)
	return out
}

func renderedIdents(objs []Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = corpus.Ident{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}.String()
	}
	slices.Sort(out)
	return out
}
