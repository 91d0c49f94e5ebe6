package render

import (
	"context"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitopskit/gitopskit/internal/testfs"
)

// FuzzFluxObject: no document, read as a Flux object (Kustomization,
// HelmRelease, ArtifactGenerator, a source), makes the decoders panic.
func FuzzFluxObject(f *testing.F) {
	for _, s := range []string{
		kustomizationYAML("app", "./app", "infra"),
		helmReleaseYAML("web", "default", "podinfo", "6.x", "  values: {replicas: 2}\n  dependsOn: [{name: db}]\n"),
		"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: x}\nspec: {timeout: soon, healthChecks: [{name: a}], postBuild: {substitute: 3}}\n",
		"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: x}\nspec: {chartRef: {kind: OCIRepository}, postRenderers: [{kustomize: {patches: [{patch: 1}]}}]}\n",
		"apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata: {name: g}\nspec: {sources: [{alias: a, kind: GitRepository, name: r}], artifacts: [{name: out, copy: [{from: '@a/**', to: '@artifact/'}]}]}\n",
		"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: r}\nspec: {url: 'HTTPS://u:p@h/r', timeout: -1s}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := decodeObject(data)
		if err != nil || u == nil || u.Object == nil {
			return
		}
		_, _ = specOf(u)
		switch u.GetKind() {
		case "Kustomization":
			_, _, _ = kustomizationSpec(u)
		case "HelmRelease":
			_, _, _ = helmReleaseSpec(u)
		case "ArtifactGenerator":
			_, _ = readGenerator(u)
			_ = generatedArtifacts(u, "f.yaml")
		default:
			_, _ = checkSource(u, false)
			_, _ = sourceTimeout(u)
		}
	})
}

// FuzzKustomizeInput: no file a kustomization lists — read through the
// guard every build reads through — makes a build panic or run away (an
// alias bomb is refused before kustomize expands it).
func FuzzKustomizeInput(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1', a: '2'}\n"))
	f.Add([]byte(testfs.AliasBomb("laughs", 5, 5)))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("- 1\n---\n{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := filesys.MakeFsInMemory()
		if err := mem.WriteFile("/app/kustomization.yaml", []byte("resources: [in.yaml]\n")); err != nil {
			t.Fatal(err)
		}
		if err := mem.WriteFile("/app/in.yaml", data); err != nil {
			t.Fatal(err)
		}
		read := &readFiles{}
		if _, err := buildLocked(guardedFS{FileSystem: mem, ctx: context.Background(), root: "/", read: read}, "/app", false); err != nil {
			_ = blame(mem, read.list(), "/")
		}
	})
}
