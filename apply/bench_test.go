package apply

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
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
// by fluxcd/pkg/ssa ApplyAllStaged at its defaults, by kubectl apply
// --server-side, and by a raw client-go server-side apply loop with 64
// workers (one request per object). Recorded results are in
// apply/BENCHMARKS.md.
func BenchmarkApply1000(b *testing.B) { benchmarkApply(b, 1000) }

// BenchmarkApply10000 is the same with 10,000 ConfigMaps.
func BenchmarkApply10000(b *testing.B) { benchmarkApply(b, 10000) }

// kubectlBinary builds kubectl from the nested control-plane module (or
// takes GITOPSKIT_KUBECTL).
func kubectlBinary(b *testing.B) string {
	if p := os.Getenv("GITOPSKIT_KUBECTL"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	mod := filepath.Join(filepath.Dir(file), "..", "internal", "testenv", "binaries")
	out := filepath.Join(b.TempDir(), "kubectl")
	cmd := exec.Command("go", "build", "-o", out, "k8s.io/kubernetes/cmd/kubectl")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building kubectl in %s: %v\n%s", mod, err, msg)
	}
	return out
}

func benchmarkApply(b *testing.B, n int) {
	env := testenvShared(b)
	ctx := context.Background()
	kubectl := kubectlBinary(b)
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
	// The same with a config as a user's kubeconfig gives it: no QPS or
	// Burst, so gitopskit's defaults decide the client-side limit.
	user := rest.CopyConfig(env.Config)
	user.QPS, user.Burst = 0, 0
	au, err := New(user, Options{})
	if err != nil {
		b.Fatal(err)
	}
	run(b, "gitopskit-kubeconfig", func(ns string, objs []*unstructured.Unstructured) {
		res, err := au.Apply(ctx, []Unit{{ID: "bench-" + ns, Objects: objs}})
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
	run(b, "kubectl-server-side", func(ns string, objs []*unstructured.Unstructured) {
		var buf bytes.Buffer
		for _, o := range objs {
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				b.Fatal(err)
			}
			buf.WriteString("---\n")
			buf.Write(y)
		}
		cmd := exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "-")
		cmd.Stdin = &buf
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("kubectl: %v\n%s", err, out)
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
