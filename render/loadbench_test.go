//go:build unix

package render

import (
	"context"
	"fmt"
	"testing"

	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/internal/memo"
	"github.com/gitopskit/gitopskit/source"
)

// loadFleet writes a repository with 100 Kustomizations (base and dev
// overlay each) and 100 HelmReleases whose charts come from a file://
// mirror, and returns it with the mirror map.
func loadFleet(b *testing.B, n int) (*source.Artifact, source.Mirrors) {
	dir := b.TempDir()
	files := map[string]string{
		"infra/kustomization.yaml": "resources: [repo.yaml, releases.yaml]\n",
		"infra/repo.yaml":          "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: flux-system}\nspec:\n  interval: 1h\n  url: https://charts.example.invalid\n",
		"clusters/dev/infra.yaml":  kustomizationYAML("infra", "./infra"),
	}
	releases := ""
	for i := range n {
		files[fmt.Sprintf("apps/app%03d/base/kustomization.yaml", i)] = "resources: [deploy.yaml]\nconfigMapGenerator:\n- name: cfg\n  literals: [A=1]\n"
		files[fmt.Sprintf("apps/app%03d/base/deploy.yaml", i)] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app%03d, namespace: apps}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    spec: {containers: [{name: c, image: nginx:1}]}\n", i)
		files[fmt.Sprintf("apps/app%03d/dev/kustomization.yaml", i)] = "resources: [../base]\nnameSuffix: -dev\n"
		files[fmt.Sprintf("clusters/dev/app%03d.yaml", i)] = kustomizationYAML(fmt.Sprintf("app%03d", i), fmt.Sprintf("./apps/app%03d/dev", i), "infra")
		releases += "---\n" + helmReleaseYAML(fmt.Sprintf("rel%03d", i), "flux-system", fmt.Sprintf("chart%02d", i%10), "1.x", fmt.Sprintf("  values: {replicas: %d}\n", i%5+1))
	}
	files["infra/releases.yaml"] = releases
	writeRepo(b, dir, files)
	mirror := b.TempDir()
	for c := range 10 {
		helmtest.WriteChart(b, mirror, fmt.Sprintf("chart%02d", c), "1.0.0", map[string]string{
			"templates/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: c, image: x:1}]}\n",
			"templates/svc.yaml":    "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec: {ports: [{port: 80}]}\n",
		})
	}
	art, err := source.NewDir(dir, source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return art, source.Mirrors{"https://charts.example.invalid": "file://" + mirror}
}

// BenchmarkLoadFleet loads a repository of 100 Kustomizations and 100
// HelmReleases (charts from a local mirror): cold (no render cache, fresh
// source caches) and warm (the render cache of a previous load). Recorded
// results are in render/BENCHMARKS.md.
func BenchmarkLoadFleet(b *testing.B) {
	art, mirrors := loadFleet(b, 100)
	ctx := context.Background()
	load := func(b *testing.B, cache *Cache, cacheDir string) {
		g, err := Load(ctx, art, "clusters/dev", LoadOptions{Mirrors: mirrors, Cache: cache, CacheDir: cacheDir})
		if err != nil {
			b.Fatal(err)
		}
		if len(g.Units) != 202 {
			b.Fatalf("%d units", len(g.Units))
		}
		for _, u := range g.Units {
			if u.Err != nil {
				b.Fatal(u.Err)
			}
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			memo.ClearAll()
			b.StartTimer()
			load(b, nil, dir)
		}
		b.ReportMetric(float64(maxRSS())/1024, "peak-MiB")
	})
	b.Run("warm", func(b *testing.B) {
		cache, dir := NewCache(0), b.TempDir()
		load(b, cache, dir)
		for b.Loop() {
			load(b, cache, dir)
		}
		b.ReportMetric(float64(maxRSS())/1024, "peak-MiB")
	})
}
