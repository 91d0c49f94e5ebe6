package gitopskit_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
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
