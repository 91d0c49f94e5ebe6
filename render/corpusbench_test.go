//go:build unix

package render

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/gitopskit/gitopskit/internal/corpus"
	"github.com/gitopskit/gitopskit/internal/memo"
	"github.com/gitopskit/gitopskit/source"
)

// corpusCommands is the helm template + kustomize build pipeline a user
// would script for every cluster path of the corpus: one kustomize build
// per Kustomization at the path its source resolves to, one helm template
// per release with the values Flux gives it and the chart version Flux
// selects (the pipeline is told the version; it resolves nothing).
func corpusCommands(b *testing.B, repo *corpus.Repo) [][]string {
	values := b.TempDir()
	// A copy of the repository in which every path Flux generates a
	// kustomization.yaml for has that file, as a script would have to
	// write it.
	tree := b.TempDir()
	if err := os.CopyFS(tree, os.DirFS(repo.Tree())); err != nil {
		b.Fatal(err)
	}
	var cmds [][]string
	for _, path := range []string{"clusters/staging", "clusters/production"} {
		want, ok := repo.Expected.Clusters[path]
		if !ok {
			b.Fatalf("expected.json has no %s", path)
		}
		cluster := strings.TrimPrefix(path, "clusters/")
		for _, u := range want.Units {
			switch u.Type {
			case "Kustomization":
				in := u.Source.ResolvedPathInRepo
				if in == "" {
					in = strings.TrimPrefix(u.Path, "./")
				}
				if res := u.GeneratedKustomizationResources; len(res) > 0 {
					k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + strings.Join(res, "\n- ") + "\n"
					if err := os.WriteFile(filepath.Join(tree, in, "kustomization.yaml"), []byte(k), 0o644); err != nil {
						b.Fatal(err)
					}
				}
				cmds = append(cmds, []string{"kustomize", "build", filepath.Join(tree, in)})
			case "HelmRelease":
				name, ns := u.ReleaseName, u.ReleaseNamespace
				vf := filepath.Join(values, cluster+"."+ns+"."+name+".yaml")
				gunzipTo(b, corpusOracle(repo, cluster, "helm-values", ns+"."+name+".values.yaml.gz"), vf)
				cmds = append(cmds, []string{"helm", "template", name, filepath.Join(repo.Dir, u.ChartTgz),
					"--namespace", ns, "-f", vf, "--include-crds", "--kube-version", "v1.33.0"})
			default:
				b.Fatalf("%s: unit type %q", u.ID, u.Type)
			}
		}
	}
	return cmds
}

// corpusOracle is an oracle file of the cluster, or staging's copy when
// production keeps none of its own.
func corpusOracle(repo *corpus.Repo, cluster, kind, file string) string {
	p := filepath.Join(repo.Dir, "oracle", cluster, kind, file)
	if _, err := os.Stat(p); err != nil {
		return filepath.Join(repo.Dir, "oracle", "staging", kind, file)
	}
	return p
}

func gunzipTo(b *testing.B, from, to string) {
	if err := os.WriteFile(to, gunzip(b, from), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLoadCorpus renders both cluster paths of the real-repository
// corpus (Flux's official example with the real cert-manager, Envoy
// Gateway and podinfo charts) four ways in one run: the CLI pipeline one
// process after the other, the same pipeline with one process per CPU,
// render.Load cold (fresh source caches, no render cache, nothing the
// process remembers from the iteration before: charts extracted, every
// unit built) and warm (an unchanged repository: the
// render cache and source caches of a previous load). Peak memory: for
// the CLI the largest single process, in-process the whole benchmark
// process. Recorded results are in render/BENCHMARKS.md.
func BenchmarkLoadCorpus(b *testing.B) {
	// What the process holds before any work: mostly the test binary's
	// own pages, which every peak below includes.
	baseline := maxRSS()
	repo := corpus.FluxExample(b)
	bin := cliTools(b)
	cmds := corpusCommands(b, repo)
	art, err := source.NewDir(repo.Tree(), source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	units := 0
	for _, c := range repo.Expected.Clusters {
		units += len(c.Units)
	}
	// load loads both cluster paths with the cache given, or with a new
	// shared cache for each when it is nil (as a Reconciler or a cli run
	// per cluster would).
	load := func(b *testing.B, cache *Cache, cacheDir string) {
		n := 0
		for _, path := range []string{"clusters/staging", "clusters/production"} {
			c := cache
			if c == nil {
				c = NewSharedCache(0)
			}
			g, err := Load(context.Background(), art, path, LoadOptions{Mirrors: repo.Mirrors, Cache: c, CacheDir: cacheDir})
			if err != nil {
				b.Fatal(err)
			}
			for _, u := range g.Units {
				if u.Err != nil {
					b.Fatalf("%s: %v", u.ID, u.Err)
				}
			}
			n += len(g.Units)
		}
		if n != units {
			b.Fatalf("%d units, want %d", n, units)
		}
	}
	// In-process first, so that its peak memory is its own. Cold and warm
	// use a shared cache, as the Reconciler and the cli do; warm-copies
	// uses one that copies every result it hands out (NewCache).
	b.Run("gitopskit-cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			memo.ClearAll() // nothing remembered from the last iteration
			b.StartTimer()
			load(b, nil, dir)
		}
		b.ReportMetric(float64(maxRSS())/1024, "peak-MiB")
		b.ReportMetric(float64(baseline)/1024, "start-MiB")
	})
	warm := func(cache *Cache) func(b *testing.B) {
		return func(b *testing.B) {
			dir := b.TempDir()
			load(b, cache, dir)
			for b.Loop() {
				load(b, cache, dir)
			}
			b.ReportMetric(float64(maxRSS())/1024, "peak-MiB")
		}
	}
	b.Run("gitopskit-warm", warm(NewSharedCache(0)))
	b.Run("gitopskit-warm-copies", warm(NewCache(0)))
	pipeline := func(b *testing.B, workers int) {
		var mu sync.Mutex
		var peak int64
		tmp := b.TempDir()
		for b.Loop() {
			var g errgroup.Group
			g.SetLimit(workers)
			for _, c := range cmds {
				g.Go(func() error {
					kib, err := runCLI(tmp, filepath.Join(bin, c[0]), c[1:]...)
					if err != nil {
						return err
					}
					mu.Lock()
					peak = max(peak, kib)
					mu.Unlock()
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(peak)/1024, "peak-MiB")
	}
	b.Run("cli", func(b *testing.B) { pipeline(b, 1) })
	b.Run("cli-parallel", func(b *testing.B) { pipeline(b, runtime.GOMAXPROCS(0)) })
	// A whole process rendering both paths with a fresh source cache, as
	// the CLI processes are measured (GNU time's peak memory of the
	// process): start-up and everything a process does once included.
	// Tagged is the same program built with kustomize's
	// kustomize_disable_go_plugin_support tag.
	process := func(tags string) func(b *testing.B) {
		return func(b *testing.B) {
			bin := buildLoadCorpus(b, tags)
			var peak int64
			tmp := b.TempDir()
			for b.Loop() {
				b.StopTimer()
				cache := b.TempDir()
				b.StartTimer()
				kib, err := runCLI(tmp, bin, "-corpus", repo.Dir, "-cache", cache, "clusters/staging", "clusters/production")
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, kib)
			}
			b.ReportMetric(float64(peak)/1024, "peak-MiB")
		}
	}
	b.Run("gitopskit-process", process(""))
	b.Run("gitopskit-process-tagged", process("kustomize_disable_go_plugin_support"))
}

// buildLoadCorpus builds internal/corpus/loadcorpus with the build tags
// given.
func buildLoadCorpus(b *testing.B, tags string) string {
	_, file, _, _ := runtime.Caller(0)
	out := filepath.Join(b.TempDir(), "loadcorpus")
	cmd := exec.Command("go", "build", "-tags", tags, "-o", out, "./internal/corpus/loadcorpus")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building loadcorpus: %v\n%s", err, msg)
	}
	return out
}
