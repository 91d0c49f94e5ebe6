package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/ssa"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/inventory"
)

// TestPruneOrder: what a unit drops is deleted in reverse dependency
// order — custom resources before their CRD, objects before their
// Namespace.
func TestPruneOrder(t *testing.T) {
	ns := testNS()
	group := ns + ".example.com"
	crd := fmt.Sprintf("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: things.%[1]s}\nspec:\n  group: %[1]s\n  names: {kind: Thing, plural: things}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n", group)
	cr := fmt.Sprintf("apiVersion: %s/v1\nkind: Thing\nmetadata: {name: t, namespace: %s}\n", group, ns)
	var mu sync.Mutex
	var pruned []string
	a, err := New(testenvShared(t).Config, Options{Store: &inventory.MemoryStore{}, Events: func(e Event) {
		if e.Type == ObjectPruned {
			mu.Lock()
			pruned = append(pruned, e.Object.Kind)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := a.Apply(ctx, []Unit{{ID: "all", Objects: objs(t, nsDoc(ns), crd, cr, cmDoc(ns, "c"), cmDoc("default", ns+"-keep"))}}); err != nil || firstErr(res) != nil {
		t.Fatal(err, firstErr(res))
	}
	if res, err := a.Apply(ctx, []Unit{{ID: "all", Objects: objs(t, cmDoc("default", ns+"-keep"))}}); err != nil || firstErr(res) != nil {
		t.Fatal(err, firstErr(res))
	}
	pos := func(kind string) int {
		return slices.IndexFunc(pruned, func(s string) bool { return strings.HasPrefix(s, kind) })
	}
	if len(pruned) != 4 || pos("Thing") > pos("CustomResourceDefinition") || pos("ConfigMap") > pos("Namespace") || pos("Thing") > pos("Namespace") {
		t.Errorf("prune order %v", pruned)
	}
}

// TestHealthChecksAndMissingCRD: extra objects named in healthChecks are
// waited for; a custom resource with no CRD anywhere fails with its name.
func TestHealthChecksAndMissingCRD(t *testing.T) {
	ns := testNS()
	a, err := New(testenvShared(t).Config, Options{})
	if err != nil {
		t.Fatal(err)
	}
	deploy := deployDoc(ns, "web")
	if _, err := mustApply(t, nil, []Unit{{ID: "base", Objects: objs(t, nsDoc(ns), cmDoc(ns, "ready"))}}); err != nil {
		t.Fatal(err)
	}
	// The Deployment is applied by a unit with no wait of its own (a tiny timeout is not reached: it is
	// the watcher that waits).
	dyn := objs(t, deploy)
	if _, err := a.rm.ApplyAllStaged(context.Background(), dyn, defaultApplyOptions()); err != nil {
		t.Fatal(err)
	}
	res, err := a.Apply(context.Background(), []Unit{
		{ID: "fine", Links: dag.Links{HealthChecks: []dag.ObjectRef{{Kind: "ConfigMap", Namespace: ns, Name: "ready"}}}},
		{ID: "waits", Timeout: 2 * time.Second, Links: dag.Links{HealthChecks: []dag.ObjectRef{{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web"}}}},
		{ID: "orphan", Objects: objs(t, "apiVersion: nowhere.example.com/v1\nkind: Thing\nmetadata: {name: x, namespace: "+ns+"}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := res.Unit("fine"); u.Err != nil {
		t.Errorf("fine: %v", u.Err)
	}
	// A timeout names what is not ready and what kstatus says of it,
	// never the poller's or the rate limiter's words.
	if u, _ := res.Unit("waits"); u.Err == nil || !strings.Contains(u.Err.Error(), "healthChecks: timed out after 2s; not ready: Deployment.apps/"+ns+"/web: InProgress: ") ||
		strings.Contains(u.Err.Error(), "rate") || strings.Contains(u.Err.Error(), "context deadline") {
		t.Errorf("waits: %v", u.Err)
	}
	if u, _ := res.Unit("orphan"); u.Err == nil || !strings.Contains(u.Err.Error(), "orphan: ") || !strings.Contains(u.Err.Error(), "Thing") {
		t.Errorf("orphan: %v", u.Err)
	}
}

func defaultApplyOptions() ssa.ApplyOptions { return ssa.DefaultApplyOptions() }
