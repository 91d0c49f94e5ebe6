package source

import (
	"context"
	"fmt"
	"testing"

	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/internal/helmtest"
)

// benchRepo is a repository of 1,000 manifests in 50 directories.
func benchRepo(b *testing.B) *gittest.Repo {
	r := gittest.NewRepo(b)
	files := map[string]string{}
	for i := range 1000 {
		files[fmt.Sprintf("apps/app%02d/cm%04d.yaml", i%50, i)] = fmt.Sprintf(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm%04d\ndata:\n  key: %q\n", i, fmt.Sprint(i*7919))
	}
	r.Commit("fleet", files)
	return r
}

// BenchmarkGitFetch compares a cold clone with a no-op fetch of an unchanged
// ref, both over smart HTTP from git http-backend on loopback. Recorded
// results are in source/BENCHMARKS.md.
func BenchmarkGitFetch(b *testing.B) {
	r := benchRepo(b)
	srv := gittest.ServeHTTP(b, map[string]*gittest.Repo{"fleet": r}, false)
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			cache := b.TempDir()
			b.StartTimer()
			if _, err := NewGit(srv.URL+"/fleet", GitOptions{CacheDir: cache}).Fetch(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("noop", func(b *testing.B) {
		g := NewGit(srv.URL+"/fleet", GitOptions{CacheDir: b.TempDir()})
		if _, err := g.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
		srv.Requests()
		for b.Loop() {
			if _, err := g.Fetch(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(srv.Requests()))/float64(b.N), "requests/op")
	})
}

// BenchmarkDirFetch lists and digests the same 1,000 files from disk.
func BenchmarkDirFetch(b *testing.B) {
	r := benchRepo(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := NewDir(r.Dir, DirOptions{}).Fetch(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHelmChart compares a cold chart fetch (index, archive, unpack)
// with cached ones, from an HTTP repository on loopback.
func BenchmarkHelmChart(b *testing.B) {
	out := b.TempDir()
	var archives []string
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		archives = append(archives, helmtest.SimpleChart(b, out, "podinfo", v))
	}
	repo := helmtest.ServeRepo(b, archives, false)
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			cache := b.TempDir()
			b.StartTimer()
			if _, err := NewHelmChart(repo.URL, "podinfo", "1.x", HelmOptions{CacheDir: cache}).Fetch(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct{ name, constraint string }{{"cached-exact", "1.2.0"}, {"cached-range", "1.x"}} {
		b.Run(c.name, func(b *testing.B) {
			cache := b.TempDir()
			if _, err := NewHelmChart(repo.URL, "podinfo", c.constraint, HelmOptions{CacheDir: cache}).Fetch(ctx); err != nil {
				b.Fatal(err)
			}
			repo.Requests()
			for b.Loop() {
				if _, err := NewHelmChart(repo.URL, "podinfo", c.constraint, HelmOptions{CacheDir: cache}).Fetch(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(repo.Requests()))/float64(b.N), "requests/op")
		})
	}
}
