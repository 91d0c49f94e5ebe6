package gitopskit_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/corpus"
	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/internal/testfs"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

// countAll counts every request and the writes among them.
type countAll struct {
	rt              http.RoundTripper
	requests, write atomic.Int64
}

func (c *countAll) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	if r.Method != http.MethodGet {
		c.write.Add(1)
	}
	return c.rt.RoundTrip(r)
}

// BenchmarkReconcile reconciles a fleet of 50 Kustomizations of 10 objects
// each (500 objects) from a working tree: the first reconcile once, then
// unchanged reconciles in the loop — what Run does every interval. It
// reports the first reconcile's time and requests next to the unchanged
// one's, measured in the same run, twice: with a config as a user's
// kubeconfig gives it (no QPS or Burst set: gitopskit's defaults apply) and
// with the test control plane's tuned one (QPS 1000).
func BenchmarkReconcile(b *testing.B) {
	const units, perUnit = 50, 10
	fleetFiles := func(prefix string) map[string]string {
		files := map[string]string{}
		for i := range units {
			files[fmt.Sprintf("clusters/bench/app-%02d.yaml", i)] = fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app-%02d, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ./apps/app-%02d\n  prune: true\n  targetNamespace: %s-%02d\n  sourceRef: {kind: GitRepository, name: flux-system}\n", i, i, prefix, i)
			files[fmt.Sprintf("apps/app-%02d/namespace.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s-%02d}\n", prefix, i)
			for j := range perUnit - 1 {
				files[fmt.Sprintf("apps/app-%02d/cm-%d.yaml", i, j)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-%d}\ndata: {key: value-%d}\n", j, j)
			}
		}
		return files
	}
	env := testenv.Shared(b)
	for _, c := range []struct {
		name       string
		qps        float32
		burst      int
		namePrefix string
	}{{"kubeconfig", 0, 0, "benchuser"}, {"tuned", 1000, 2000, "benchtuned"}} {
		b.Run(c.name, func(b *testing.B) {
			// Each variant its own namespaces, so both first reconciles
			// create everything.
			dir := b.TempDir()
			testfs.Write(b, dir, fleetFiles(fmt.Sprintf("%s-%d", c.namePrefix, time.Now().UnixNano()%100000)))
			counter := &countAll{}
			cfg := rest.CopyConfig(env.Config)
			cfg.QPS, cfg.Burst = c.qps, c.burst
			cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.rt = rt; return counter }
			r, err := gitopskit.New(gitopskit.Options{
				Name:   fmt.Sprintf("%s-%d", c.namePrefix, time.Now().UnixNano()),
				Source: source.NewDir(dir, source.DirOptions{}),
				Path:   "clusters/bench",
				Config: cfg,
				Load:   render.LoadOptions{CacheDir: b.TempDir()},
				Apply:  apply.Options{Concurrency: 4},
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			start := time.Now()
			res, err := r.Reconcile(ctx)
			if err != nil || res.Err() != nil {
				b.Fatal(err, res.Err())
			}
			first := time.Since(start)
			firstReq, firstWrite := counter.requests.Swap(0), counter.write.Swap(0)
			for b.Loop() {
				res, err := r.Reconcile(ctx)
				if err != nil || res.Err() != nil {
					b.Fatal(err, res.Err())
				}
			}
			b.ReportMetric(float64(first.Milliseconds()), "first-ms")
			b.ReportMetric(float64(firstReq), "first-requests")
			b.ReportMetric(float64(firstWrite), "first-writes")
			b.ReportMetric(float64(counter.requests.Load())/float64(b.N), "requests/op")
			b.ReportMetric(float64(counter.write.Load())/float64(b.N), "writes/op")
		})
	}
}

// BenchmarkFleet is the shape Flux's own controllers are measured on: 50
// Kustomizations of 11 objects each (a Namespace and 10 ConfigMaps) and 20
// HelmReleases of the real podinfo chart from a HelmRepository, all in one
// Git repository served over HTTP on loopback (git http-backend), the
// charts from a Helm repository on loopback, reconciled with a config as a
// user's kubeconfig gives it (no QPS or Burst). The first reconcile (until
// every unit is Ready: workloads are made available by the test control
// plane's stand-in for kubelet and the Deployment controller) is reported
// with its CPU time and requests; the loop is unchanged reconciles.
func BenchmarkFleet(b *testing.B) {
	const kustomizations, configMaps, releases = 50, 10, 20
	env := testenv.Shared(b)
	env.RunWorkloads(b)
	repo := corpus.FluxExample(b)
	charts := helmtest.ServeRepo(b, []string{filepath.Join(repo.Dir, "fixture", "charts", "podinfo", "podinfo-6.14.0.tgz")}, false)

	run := fmt.Sprintf("fleet%d", time.Now().UnixNano()%1000000)
	files := map[string]string{
		"clusters/fleet/releases.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s-rel}\n---\n"+
			"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: podinfo, namespace: %s-rel}\nspec: {interval: 1h, url: '%s'}\n", run, run, charts.URL),
	}
	for i := range kustomizations {
		files[fmt.Sprintf("clusters/fleet/app-%02d.yaml", i)] = fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app-%02d, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ./apps/app-%02d\n  prune: true\n  wait: true\n  targetNamespace: %s-%02d\n  sourceRef: {kind: GitRepository, name: flux-system}\n", i, i, run, i)
		files[fmt.Sprintf("apps/app-%02d/namespace.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s-%02d}\n", run, i)
		for j := range configMaps {
			files[fmt.Sprintf("apps/app-%02d/cm-%d.yaml", i, j)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-%d}\ndata: {key: value-%d}\n", j, j)
		}
	}
	for i := range releases {
		files["clusters/fleet/releases.yaml"] += fmt.Sprintf("---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: podinfo-%02d, namespace: %s-rel}\n"+
			"spec:\n  interval: 10m\n  chart:\n    spec: {chart: podinfo, version: '6.x', sourceRef: {kind: HelmRepository, name: podinfo}}\n  values: {replicaCount: 1}\n", i, run)
	}
	git := gittest.NewRepo(b)
	git.Commit("fleet", files)
	server := gittest.ServeHTTP(b, map[string]*gittest.Repo{"fleet": git}, false)

	counter := &countAll{}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 0, 0
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.rt = rt; return counter }
	r, err := gitopskit.New(gitopskit.Options{
		Name:   run,
		Source: source.NewGit(server.URL+"/fleet", source.GitOptions{CacheDir: b.TempDir()}),
		Path:   "clusters/fleet",
		Config: cfg,
		Load:   render.LoadOptions{CacheDir: b.TempDir()},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	startCPU, start := cpu(), time.Now()
	res, err := r.Reconcile(ctx)
	if err != nil || res.Err() != nil {
		b.Fatal(err, res.Err())
	}
	first, firstCPU := time.Since(start), cpu()-startCPU
	for _, s := range r.Status() {
		if s.Ready != gitopskit.ReadyTrue {
			b.Fatalf("%s: %s: %s", s.ID, s.Ready, s.Message)
		}
	}
	if n := len(r.Status()); n != 1+kustomizations+releases {
		b.Fatalf("%d units, want %d", n, 1+kustomizations+releases)
	}
	firstReq, firstWrite := counter.requests.Swap(0), counter.write.Swap(0)
	loopCPU := cpu()
	for b.Loop() {
		res, err := r.Reconcile(ctx)
		if err != nil || res.Err() != nil {
			b.Fatal(err, res.Err())
		}
	}
	b.ReportMetric(float64(first.Milliseconds()), "first-ms")
	b.ReportMetric(firstCPU.Seconds(), "first-cpu-s")
	b.ReportMetric(float64(firstReq), "first-requests")
	b.ReportMetric(float64(firstWrite), "first-writes")
	b.ReportMetric((cpu()-loopCPU).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(counter.requests.Load())/float64(b.N), "requests/op")
	b.ReportMetric(float64(counter.write.Load())/float64(b.N), "writes/op")
}
