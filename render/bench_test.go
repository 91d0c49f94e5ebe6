package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/memo"
	"github.com/gitopskit/gitopskit/source"
)

// benchFleet writes n Kustomize units (a base and a dev overlay each) and a
// chart, and returns the repository artifact, the chart artifact, and the
// unit objects: n Kustomizations and n HelmReleases.
func benchFleet(b *testing.B, n int) (*source.Artifact, *source.Artifact, []*unstructured.Unstructured, []*unstructured.Unstructured) {
	dir := b.TempDir()
	write := func(p, body string) {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var kss, hrs []*unstructured.Unstructured
	for i := range n {
		base := fmt.Sprintf("apps/app%03d/base", i)
		write(base+"/kustomization.yaml", "resources: [deploy.yaml, svc.yaml]\nconfigMapGenerator:\n- name: cfg\n  literals: [A=1]\n")
		write(base+"/deploy.yaml", fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app%03d}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    spec:\n      containers: [{name: c, image: nginx:1}]\n", i))
		write(base+"/svc.yaml", fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: app%03d}\nspec: {ports: [{port: 80}]}\n", i))
		write(fmt.Sprintf("apps/app%03d/dev/kustomization.yaml", i), "resources: [../base]\nnamePrefix: dev-\npatches:\n- target: {kind: Deployment}\n  patch: |\n    - op: add\n      path: /spec/replicas\n      value: 2\n")
		kss = append(kss, ks(b, fmt.Sprintf("app%03d", i), fmt.Sprintf("  path: apps/app%03d/dev\n  targetNamespace: ns%03d\n", i, i)))
		hrs = append(hrs, hrObj(b, "v2", fmt.Sprintf("rel%03d", i), fmt.Sprintf("  values: {replicas: %d}\n", i%5+1)))
	}
	art, err := source.NewDir(dir, source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return art, certsChart(b), kss, hrs
}

// BenchmarkRenderFleet renders 100 Kustomizations with overlays and 100
// HelmReleases, cold (no cache) and warm (every unit cached). Recorded
// results are in render/BENCHMARKS.md.
func BenchmarkRenderFleet(b *testing.B) {
	art, chart, kss, hrs := benchFleet(b, 100)
	run := func(b *testing.B, cache *Cache) { renderFleet(b, cache, art, chart, kss, hrs) }
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			memo.ClearAll() // a cold start remembers nothing
			b.StartTimer()
			run(b, nil)
		}
	})
	b.Run("warm", func(b *testing.B) {
		cache := NewCache(0)
		run(b, cache)
		b.ReportAllocs()
		for b.Loop() {
			run(b, cache)
		}
	})
}

// renderFleet renders every unit of a bench fleet in this process.
func renderFleet(b *testing.B, cache *Cache, art, chart *source.Artifact, kss, hrs []*unstructured.Unstructured) {
	ctx := context.Background()
	k := NewKustomize(KustomizeOptions{Cache: cache})
	h := NewHelm(HelmOptions{Cache: cache})
	for _, u := range kss {
		if _, err := k.Render(ctx, art, u); err != nil {
			b.Fatal(err)
		}
	}
	for _, u := range hrs {
		if _, err := h.Render(ctx, chart, u); err != nil {
			b.Fatal(err)
		}
	}
}
