package render

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/gitopskit/gitopskit/internal/helmtest"
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
	g := loadRoot(t, art, LoadOptions{})
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

// TestLoadOCIMirrors: how each OCI source mirrors for a hermetic CI run —
// an oci:// HelmRepository to a folder of charts, and an OCIRepository
// Kustomization source to an OCI image layout directory (the corpus test
// covers an OCIRepository chartRef, mirrored to a folder with an index).
func TestLoadOCIMirrors(t *testing.T) {
	ctx := context.Background()
	charts := t.TempDir()
	helmtest.WriteChart(t, charts, "app", "1.2.0", map[string]string{"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-chart}\n"})
	reg := helmtest.ServeRegistry(t, "", "")
	reg.PushArtifact(t, "manifests/app", "v1.0.0", source.FluxContentType, map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-layout, namespace: default}\n"})
	layout := t.TempDir()
	copyToLayout(t, reg.Host+"/manifests/app", "v1.0.0", layout)

	dir := t.TempDir()
	writeRepo(t, dir, map[string]string{
		"root/sources.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: flux-system}\nspec: {interval: 1h, type: oci, url: oci://registry.example.invalid/charts}\n---\n" +
			"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: manifests, namespace: flux-system}\nspec:\n  interval: 1h\n  url: oci://registry.example.invalid/manifests/app\n  ref: {semver: 1.x}\n",
		"root/units.yaml": helmReleaseYAML("app", "flux-system", "app", "1.x", "") + "---\n" +
			strings.Replace(kustomizationYAML("from-oci", "./"), "sourceRef: {kind: GitRepository, name: flux-system}", "sourceRef: {kind: OCIRepository, name: manifests}", 1),
	})
	art, err := source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()}).Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Load(ctx, art, "root", LoadOptions{CacheDir: t.TempDir(), Mirrors: source.Mirrors{
		"oci://registry.example.invalid/charts":        "file://" + charts,
		"oci://registry.example.invalid/manifests/app": "file://" + layout,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if u := g.Unit("HelmRelease/flux-system/app"); u.Err != nil || u.Revision != "1.2.0" || len(u.Objects) != 1 {
		t.Errorf("oci:// HelmRepository from a folder: %v %q", u.Err, u.Revision)
	}
	if u := g.Unit("Kustomization/flux-system/from-oci"); u.Err != nil || !strings.HasPrefix(u.Revision, "v1.0.0@sha256:") || len(u.Objects) != 1 {
		t.Errorf("OCIRepository from a layout: %v %q", u.Err, u.Revision)
	}
}

// copyToLayout copies one tag of a plain-HTTP registry repository into an
// OCI image layout directory, as `oras copy --to-oci-layout` does.
func copyToLayout(t *testing.T, repoRef, tag, dir string) {
	t.Helper()
	repo, err := remote.NewRepository(repoRef)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	store, err := oci.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oras.Copy(context.Background(), repo, tag, store, tag, oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
}
