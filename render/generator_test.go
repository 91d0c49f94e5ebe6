package render

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/source"
)

// TestOCIChartVersion: Flux resolves an OCIRepository by ref.digest, then
// ref.semver, then ref.tag.
func TestOCIChartVersion(t *testing.T) {
	tests := map[string]struct {
		ref  map[string]any
		want string
	}{
		"digest wins":      {map[string]any{"digest": "sha256:abc", "semver": "1.x", "tag": "v1.0.0"}, "sha256:abc"},
		"semver over tag":  {map[string]any{"semver": ">= 1.8.0-rc.0", "tag": "v1.0.0"}, ">= 1.8.0-rc.0"},
		"tag":              {map[string]any{"tag": "v1.0.0"}, "v1.0.0"},
		"nothing: highest": {map[string]any{}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"ref": tc.ref}}}
			if got := ociChartVersion(obj); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLoadExternalArtifacts: Kustomizations and a HelmRelease take their
// sources from ArtifactGenerators rendered in the graph, the generator's
// own source included; what goes wrong names the ExternalArtifact.
func TestLoadExternalArtifacts(t *testing.T) {
	dir := t.TempDir()
	gen := func(name, artifacts string) string {
		return "apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata: {name: " + name + ", namespace: flux-system}\n" +
			"spec:\n  sources:\n  - {alias: repo, kind: GitRepository, name: flux-system}\n  artifacts:\n" + artifacts
	}
	ks := func(name, artifact, path string) string {
		return strings.Replace(kustomizationYAML(name, path), "sourceRef: {kind: GitRepository, name: flux-system}", "sourceRef: {kind: ExternalArtifact, name: "+artifact+"}", 1)
	}
	writeRepo(t, dir, map[string]string{
		"root/gen.yaml": gen("monorepo",
			"  - name: apps\n    copy:\n    - {from: \"@repo/apps/**\", to: \"@artifact/\", exclude: [\"*.md\"]}\n"+
				"  - name: chart\n    copy:\n    - {from: \"@repo/charts/local/\", to: \"@artifact/\"}\n"+
				"  - name: broken\n    copy:\n    - {from: \"@repo/nowhere/**\", to: \"@artifact/\"}\n") + "---\n" +
			gen("bad", "  - name: twice\n    copy: [{from: \"@repo/apps/**\", to: \"@artifact/\"}]\n  - name: twice\n    copy: [{from: \"@repo/apps/**\", to: \"@artifact/\"}]\n"),
		"root/units.yaml": ks("apps", "apps", "./web") + "---\n" + ks("broken", "broken", "./") + "---\n" + ks("orphan", "nobody", "./") + "---\n" + ks("twice", "twice", "./") + "---\n" +
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: local, namespace: flux-system}\nspec:\n  interval: 1m\n  chartRef: {kind: ExternalArtifact, name: chart}\n",
		"apps/web/cm.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: default}\n",
		"apps/web/README.md":             "not yaml, excluded",
		"charts/local/Chart.yaml":        "apiVersion: v2\nname: local\nversion: 0.2.0\n",
		"charts/local/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-chart}\n",
	})
	art, err := source.NewDir(dir, source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g, err := Load(context.Background(), art, "root", LoadOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if u := g.Unit("Kustomization/flux-system/apps"); u.Err != nil || len(u.Objects) != 1 || !strings.HasPrefix(u.Revision, "latest@sha256:") {
		t.Errorf("apps: %v, %d objects, revision %q", u.Err, len(u.Objects), u.Revision)
	}
	if u := g.Unit("HelmRelease/flux-system/local"); u.Err != nil || len(u.Objects) != 1 || u.Revision != "0.2.0" {
		t.Errorf("chart from an ExternalArtifact: %v %d %q", u.Err, len(u.Objects), u.Revision)
	}
	for id, want := range map[string]string{
		"Kustomization/flux-system/broken": `ExternalArtifact/flux-system/broken (root/gen.yaml): ExternalArtifact/flux-system/broken: copy from "@repo/nowhere/**"`,
		"Kustomization/flux-system/orphan": "ExternalArtifact/flux-system/nobody: no ArtifactGenerator in the repository produces it",
		"Kustomization/flux-system/twice":  `root/gen.yaml: ArtifactGenerator flux-system/bad: spec.artifacts: "twice" appears twice`,
	} {
		if err := g.Unit(id).Err; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", id, err, want)
		}
	}
}
