package apply

import (
	"context"
	"fmt"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

func configMaps(ns string, n int, gen string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, n)
	for i := range out {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetNamespace(ns)
		u.SetName(fmt.Sprintf("cm-%05d", i))
		_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"gen": gen, "i": fmt.Sprint(i)}, "data")
		out[i] = u
	}
	return out
}

// BenchmarkApply1000 compares, in one run on the test control plane, a
// fresh apply and an unchanged re-apply of 1,000 ConfigMaps by gitopskit,
// by fluxcd/pkg/ssa ApplyAllStaged at its defaults, and by a raw client-go
// server-side apply loop with 64 workers (one request per object).
// Recorded results are in apply/BENCHMARKS.md.
func BenchmarkApply1000(b *testing.B) {
	env := testenvShared(b)
	ctx := context.Background()
	const n = 1000
	run := func(b *testing.B, name string, apply func(ns string, objs []*unstructured.Unstructured)) {
		b.Run(name+"/fresh", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				ns := testNS()
				mustNS(b, ns)
				objs := configMaps(ns, n, "1")
				b.StartTimer()
				apply(ns, objs)
			}
		})
		b.Run(name+"/unchanged", func(b *testing.B) {
			ns := testNS()
			mustNS(b, ns)
			apply(ns, configMaps(ns, n, "1"))
			for b.Loop() {
				apply(ns, configMaps(ns, n, "1"))
			}
		})
	}
	a, err := New(env.Config, Options{})
	if err != nil {
		b.Fatal(err)
	}
	run(b, "gitopskit", func(ns string, objs []*unstructured.Unstructured) {
		res, err := a.Apply(ctx, []Unit{{ID: "bench-" + ns, Objects: objs}})
		if err != nil || firstErr(res) != nil {
			b.Fatal(err, firstErr(res))
		}
	})
	rm := ssa.NewResourceManager(a.client, polling.NewStatusPoller(a.client, a.client.RESTMapper(), polling.Options{}), ssa.Owner{Field: "bench"})
	run(b, "ssa-ApplyAllStaged", func(ns string, objs []*unstructured.Unstructured) {
		if _, err := rm.ApplyAllStaged(ctx, objs, ssa.DefaultApplyOptions()); err != nil {
			b.Fatal(err)
		}
	})
	dyn := dynamic.NewForConfigOrDie(env.Config)
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	run(b, "raw-loop-64", func(ns string, objs []*unstructured.Unstructured) {
		var g errgroup.Group
		g.SetLimit(64)
		for _, o := range objs {
			g.Go(func() error {
				_, err := dyn.Resource(gvr).Namespace(ns).Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "raw", Force: true})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	})
}

func mustNS(b *testing.B, ns string) {
	b.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	u.SetName(ns)
	dyn := dynamic.NewForConfigOrDie(testenvShared(b).Config)
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Apply(context.Background(), ns, u, metav1.ApplyOptions{FieldManager: "bench"}); err != nil {
		b.Fatal(err)
	}
}
