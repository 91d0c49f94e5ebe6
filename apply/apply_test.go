package apply

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/inventory"
)

func TestMain(m *testing.M) {
	// controller-runtime's client logs through a process-wide logger and
	// warns, with a stack, when nobody set one; tests set a silent one.
	ctrllog.SetLogger(logr.Discard())
	if os.Getenv(helperEnv) != "" {
		runCrashHelper()
	}
	testenv.Main(m)
}

func testenvShared(t testing.TB) *testenv.Environment { return testenv.Shared(t) }

var nsSeq atomic.Int32

// testNS returns a namespace name no other test uses.
func testNS() string { return fmt.Sprintf("apply-%d-%d", time.Now().UnixNano()%100000, nsSeq.Add(1)) }

func objs(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func nsDoc(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + "}\n"
}

// deployDoc is a Deployment, which never becomes healthy on the test
// control plane (nothing runs its Pods).
func deployDoc(ns, name string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n  selector: {matchLabels: {app: " + name + "}}\n  template:\n    metadata: {labels: {app: " + name + "}}\n    spec: {containers: [{name: web, image: nginx}]}\n"
}

func cmDoc(ns, name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: " + ns + "}\ndata: {k: v}\n"
}

// liveConfigMap reads a ConfigMap with the Applier's client; nil when it
// is not there.
func liveConfigMap(t *testing.T, a *Applier, ns, name string) *unstructured.Unstructured {
	t.Helper()
	o := objectOf(inventory.Entry{ObjectRef: dag.ObjectRef{Kind: "ConfigMap", Namespace: ns, Name: name}, Version: "v1"})
	if err := a.client.Get(context.Background(), client.ObjectKeyFromObject(o), o); err != nil {
		return nil
	}
	return o
}

func exists(t *testing.T, gvr schema.GroupVersionResource, ns, name string) bool {
	t.Helper()
	dyn, err := dynamic.NewForConfig(testenv.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

var cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// TestApplyOrdersByCRD: a custom resource's unit has no dependsOn on the
// unit with its CRD; the applier orders them by the CRD edge, waits for the
// CRD, and applies the custom resource.
func TestApplyOrdersByCRD(t *testing.T) {
	ns := testNS()
	group := ns + ".example.com"
	crd := fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`, group)
	cr := fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w, namespace: %s}\nspec: {size: 1}\n", group, ns)
	var mu sync.Mutex
	var events []string
	a, err := New(testenv.Config(t), Options{Events: func(e Event) {
		if e.Type == UnitReady {
			mu.Lock()
			events = append(events, e.Unit)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Apply(context.Background(), []Unit{
		{ID: "a-widgets", Objects: objs(t, cr)},              // sorts first by ID
		{ID: "b-platform", Objects: objs(t, nsDoc(ns), crd)}, // holds the CRD and the Namespace
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Units {
		if u.Err != nil || u.State != dag.Succeeded {
			t.Fatalf("%s: %v %v", u.ID, u.State, u.Err)
		}
	}
	if diff := cmp.Diff([]string{"b-platform", "a-widgets"}, events); diff != "" {
		t.Errorf("ready order (-want +got):\n%s", diff)
	}
	if !exists(t, schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}, ns, "w") {
		t.Error("widget not applied")
	}
}

// TestApplyPrune: an object a unit no longer renders is deleted; one that
// moved to another unit is not; one annotated to be kept is not; a render
// that comes back empty is refused.
func TestApplyPrune(t *testing.T) {
	ns := testNS()
	store := &inventory.MemoryStore{}
	a, err := New(testenv.Config(t), Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kept := strings.Replace(cmDoc(ns, "kept"), "metadata: {", "metadata: {annotations: {gitopskit.dev/prune: disabled}, ", 1)
	first := []Unit{
		{ID: "ns", Objects: objs(t, nsDoc(ns))},
		{ID: "app", Objects: objs(t, cmDoc(ns, "stays"), cmDoc(ns, "goes"), cmDoc(ns, "moves"), kept)},
	}
	if res, err := a.Apply(ctx, first); err != nil || firstErr(res) != nil {
		t.Fatalf("first apply: %v %v", err, firstErr(res))
	}
	second := []Unit{
		{ID: "ns", Objects: objs(t, nsDoc(ns))},
		{ID: "app", Objects: objs(t, cmDoc(ns, "stays"))},
		{ID: "other", Objects: objs(t, cmDoc(ns, "moves"))},
	}
	res, err := a.Apply(ctx, second)
	if err != nil || firstErr(res) != nil {
		t.Fatalf("second apply: %v %v", err, firstErr(res))
	}
	app, _ := res.Unit("app")
	var pruned []string
	for _, e := range app.Pruned {
		pruned = append(pruned, e.Name)
	}
	if diff := cmp.Diff([]string{"goes"}, pruned); diff != "" {
		t.Errorf("pruned (-want +got):\n%s", diff)
	}
	for name, want := range map[string]bool{"stays": true, "goes": false, "moves": true, "kept": true} {
		if got := exists(t, cmGVR, ns, name); got != want {
			t.Errorf("ConfigMap %s exists = %v, want %v", name, got, want)
		}
	}
	inv, err := store.Load(ctx, "app")
	if err != nil || len(inv.Entries) != 1 || inv.Entries[0].Name != "stays" {
		t.Errorf("inventory after prune: %v %v", inv, err)
	}
	res, err = a.Apply(ctx, []Unit{{ID: "app"}})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := res.Unit("app"); u.Err == nil || !strings.Contains(u.Err.Error(), "render is empty") {
		t.Errorf("empty render: %v", u.Err)
	}
	if !exists(t, cmGVR, ns, "stays") {
		t.Error("an empty render pruned everything")
	}
}

// TestApplyFailureBlocksDependents: a unit the API server rejects fails,
// its dependents do not start, independent units apply.
func TestApplyFailureBlocksDependents(t *testing.T) {
	ns := testNS()
	a, err := New(testenv.Config(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_Valid, namespace: " + ns + "}\n"
	res, err := a.Apply(context.Background(), []Unit{
		{ID: "ns", Objects: objs(t, nsDoc(ns))},
		{ID: "broken", Links: dag.Links{DependsOn: []string{"ns"}}, Objects: objs(t, bad)},
		{ID: "after-broken", Links: dag.Links{DependsOn: []string{"broken"}}, Objects: objs(t, cmDoc(ns, "never"))},
		{ID: "independent", Links: dag.Links{DependsOn: []string{"ns"}}, Objects: objs(t, cmDoc(ns, "fine"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, u := range res.Units {
		states[u.ID] = u.State.String()
	}
	want := map[string]string{"ns": "Succeeded", "broken": "Failed", "after-broken": "Blocked", "independent": "Succeeded"}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if u, _ := res.Unit("broken"); u.Err == nil || !strings.Contains(u.Err.Error(), "broken: ") || !strings.Contains(u.Err.Error(), "Not_Valid") {
		t.Errorf("broken error does not name the unit and object: %v", u.Err)
	}
	if exists(t, cmGVR, ns, "never") || !exists(t, cmGVR, ns, "fine") {
		t.Error("blocked unit applied or independent unit not applied")
	}
}

func firstErr(r *Result) error {
	if r == nil {
		return nil
	}
	for _, u := range r.Units {
		if u.Err != nil {
			return u.Err
		}
		if u.State != dag.Succeeded {
			return fmt.Errorf("%s: %s", u.ID, u.State)
		}
	}
	return nil
}
