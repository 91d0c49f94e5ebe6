package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// TestWorkloadStatus: every kind of workload the stand-in covers becomes
// Current by kstatus — what a health wait asks — on the real API server,
// whose validation of Job status is strict.
func TestWorkloadStatus(t *testing.T) {
	env := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "workload-status"
	pod := `{"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}`
	objs := map[string]string{
		"namespaces": `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "` + ns + `"}}`,
		"deployments": `{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "` + ns + `"},
			"spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}}, "template": ` + podAlways(pod) + `}}`,
		"statefulsets": `{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s", "namespace": "` + ns + `"},
			"spec": {"serviceName": "s", "selector": {"matchLabels": {"app": "x"}}, "template": ` + podAlways(pod) + `}}`,
		"daemonsets": `{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds", "namespace": "` + ns + `"},
			"spec": {"selector": {"matchLabels": {"app": "x"}}, "template": ` + podAlways(pod) + `}}`,
		"jobs": `{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "hook", "namespace": "` + ns + `"},
			"spec": {"template": ` + pod + `}}`,
	}
	indexed := `{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "indexed", "namespace": "` + ns + `"},
		"spec": {"completions": 3, "parallelism": 3, "completionMode": "Indexed", "template": ` + pod + `}}`
	type target struct {
		gvr       schema.GroupVersionResource
		name, doc string
	}
	targets := []target{{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, ns, objs["namespaces"]}}
	for _, r := range []string{"deployments", "statefulsets", "daemonsets"} {
		targets = append(targets, target{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: r}, "", objs[r]})
	}
	jobs := schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	targets = append(targets, target{jobs, "", objs["jobs"]}, target{jobs, "", indexed})
	for _, tg := range targets {
		o := decode(t, tg.doc)
		r := dyn.Resource(tg.gvr)
		var ri dynamic.ResourceInterface = r
		if o.GetNamespace() != "" {
			ri = r.Namespace(o.GetNamespace())
		}
		if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "test", Force: true}); err != nil {
			t.Fatalf("apply %s: %v", o.GetName(), err)
		}
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- RunWorkloadStatus(wctx, env.Config) }()

	for _, tg := range targets[1:] {
		o := decode(t, tg.doc)
		for {
			live, err := dyn.Resource(tg.gvr).Namespace(ns).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := status.Compute(live)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status == status.CurrentStatus {
				break
			}
			select {
			case err := <-errc:
				t.Fatalf("RunWorkloadStatus: %v", err)
			case <-ctx.Done():
				t.Fatalf("%s %s: %s %s", live.GetKind(), o.GetName(), res.Status, res.Message)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	stop()
	if err := <-errc; err != nil {
		t.Errorf("RunWorkloadStatus: %v", err)
	}
}

// podAlways is a pod template that restarts always, as workload
// controllers require.
func podAlways(pod string) string {
	return pod[:len(pod)-len(`"restartPolicy": "Never"}}`)] + `"restartPolicy": "Always"}}`
}
