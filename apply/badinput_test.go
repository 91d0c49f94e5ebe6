package apply

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/inventory"
)

// TestImmutableFields: changing an immutable field fails with a message
// naming the field, unless the object asks to be recreated.
func TestImmutableFields(t *testing.T) {
	ns := testNS()
	a, err := New(testenvShared(t).Config, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cm := func(value, annotations string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen, namespace: " + ns + annotations + "}\nimmutable: true\ndata: {k: " + value + "}\n"
	}
	if _, err := mustApply(t, nil, []Unit{{ID: "ns", Objects: objs(t, nsDoc(ns))}}); err != nil {
		t.Fatal(err)
	}
	if res, err := a.Apply(ctx, []Unit{{ID: "app", Objects: objs(t, cm("one", ""))}}); err != nil || firstErr(res) != nil {
		t.Fatal(err, firstErr(res))
	}
	res, err := a.Apply(ctx, []Unit{{ID: "app", Objects: objs(t, cm("two", ""))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := firstErr(res); err == nil || !strings.Contains(err.Error(), "ConfigMap/"+ns+"/frozen") || !strings.Contains(err.Error(), "immutable") {
		t.Errorf("immutable change: %v", err)
	}
	res, err = a.Apply(ctx, []Unit{{ID: "app", Objects: objs(t, cm("two", ", annotations: {gitopskit.dev/force: enabled}"))}})
	if err != nil || firstErr(res) != nil {
		t.Errorf("forced recreation: %v %v", err, firstErr(res))
	}
}

// TestHealthTimeout: a Deployment never becomes ready here (the test
// control plane runs no controllers), so the unit fails after its timeout
// with the object's last status, and the unit after it is blocked.
func TestHealthTimeout(t *testing.T) {
	ns := testNS()
	a, err := New(testenvShared(t).Config, Options{})
	if err != nil {
		t.Fatal(err)
	}
	deploy := deployDoc(ns, "web")
	res, err := a.Apply(context.Background(), []Unit{
		{ID: "ns", Objects: objs(t, nsDoc(ns))},
		{ID: "web", Links: dag.Links{DependsOn: []string{"ns"}}, Timeout: 2 * time.Second, Objects: objs(t, deploy)},
		{ID: "after", Links: dag.Links{DependsOn: []string{"web"}}, Objects: objs(t, cmDoc(ns, "x"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	web, _ := res.Unit("web")
	if web.Err == nil || !strings.Contains(web.Err.Error(), "health check") || !strings.Contains(web.Err.Error(), "Deployment.apps/"+ns+"/web") {
		t.Errorf("web: %v", web.Err)
	}
	if after, _ := res.Unit("after"); after.BlockedBy != "web" {
		t.Errorf("after: %+v", after)
	}
}

// TestRBACDenied: a user who may not create ConfigMaps gets an error
// naming the unit and object.
func TestRBACDenied(t *testing.T) {
	env := testenvShared(t)
	ns := testNS()
	if _, err := mustApply(t, nil, []Unit{{ID: "ns", Objects: objs(t, nsDoc(ns))}}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "nobody", Groups: []string{"system:authenticated"}}
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Apply(context.Background(), []Unit{{ID: "app", Objects: objs(t, cmDoc(ns, "denied"))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := firstErr(res); err == nil || !strings.Contains(err.Error(), "app: ") || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("err = %v", err)
	}
}

// TestAdmissionDenied: an admission policy (CEL, built into the API server)
// refuses an object; the error names the unit, the object and the reason.
func TestAdmissionDenied(t *testing.T) {
	ns := testNS()
	policy := `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ` + ns + `}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}
  validations:
  - expression: "!has(object.metadata.labels) || !('forbidden' in object.metadata.labels)"
    message: configmaps labelled forbidden are not allowed
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ` + ns + `}
spec:
  policyName: ` + ns + `
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: ` + ns + `}
`
	if _, err := mustApply(t, nil, []Unit{{ID: "policy", Objects: objs(t, append([]string{nsDoc(ns)}, strings.Split(policy, "---\n")...)...)}}); err != nil {
		t.Fatal(err)
	}
	a, err := New(testenvShared(t).Config, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad, namespace: " + ns + ", labels: {forbidden: \"yes\"}}\n"
	// The API server takes a moment to load a new policy: plan until it denies.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := a.Plan(context.Background(), []Unit{{ID: "app", Objects: objs(t, bad)}})
		if err != nil && strings.Contains(err.Error(), "not allowed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy never took effect: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	res, err := a.Apply(context.Background(), []Unit{{ID: "app", Objects: objs(t, bad)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := firstErr(res); err == nil || !strings.Contains(err.Error(), "app: ") || !strings.Contains(err.Error(), "ConfigMap/"+ns+"/bad") || !strings.Contains(err.Error(), "configmaps labelled forbidden are not allowed") {
		t.Errorf("err = %v", err)
	}
}

// TestConflicts: a field another manager owns is taken over by default,
// and stops the unit when the policy (global or per object) is to fail.
func TestConflicts(t *testing.T) {
	ns := testNS()
	if _, err := mustApply(t, nil, []Unit{{ID: "ns", Objects: objs(t, nsDoc(ns))}}); err != nil {
		t.Fatal(err)
	}
	// Another tool owns data.k.
	other := objs(t, cmDoc(ns, "shared"))[0]
	dyn, err := dynamic.NewForConfig(testenvShared(t).Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(cmGVR).Namespace(ns).Apply(context.Background(), "shared", other, metav1.ApplyOptions{FieldManager: "other-tool"}); err != nil {
		t.Fatal(err)
	}
	ours := strings.Replace(cmDoc(ns, "shared"), "{k: v}", "{k: ours}", 1)
	annotated := strings.Replace(ours, "metadata: {", "metadata: {annotations: {gitopskit.dev/conflicts: fail}, ", 1)
	tests := map[string]struct {
		policy  ConflictPolicy
		doc     string
		wantErr bool
	}{
		"fail by policy":     {policy: ConflictFail, doc: ours, wantErr: true},
		"fail by annotation": {doc: annotated, wantErr: true},
		"force by default":   {doc: ours},
	}
	for _, name := range []string{"fail by policy", "fail by annotation", "force by default"} {
		tc := tests[name]
		t.Run(name, func(t *testing.T) {
			a, err := New(testenvShared(t).Config, Options{Conflicts: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Apply(context.Background(), []Unit{{ID: "app", Objects: objs(t, tc.doc)}})
			if err != nil {
				t.Fatal(err)
			}
			err = firstErr(res)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "ConfigMap/"+ns+"/shared: conflicts with another field manager") || !strings.Contains(err.Error(), "other-tool") {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Errorf("forced apply: %v", err)
			}
		})
	}
}

// TestRefusedBeforeInventory: a kind the server does not serve (and no CRD
// in the unit defines), or a name no object may have, fails the unit
// before anything — its inventory included — is written.
func TestRefusedBeforeInventory(t *testing.T) {
	ns := testNS()
	a, store := newMemoryApplier(t)
	ctx := context.Background()
	applyOK(t, a, Unit{ID: "ns", Objects: objs(t, nsDoc(ns))})
	res, err := a.Apply(ctx, []Unit{
		{ID: "typo", Objects: objs(t, cmDoc(ns, "fine"), "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomisation\nmetadata: {name: a, namespace: "+ns+"}\n")},
		{ID: "slash", Objects: objs(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a/b, namespace: "+ns+"}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"typo":  `Kustomisation.kustomize.toolkit.fluxcd.io/` + ns + `/a: the server has no kind Kustomisation in kustomize.toolkit.fluxcd.io/v1`,
		"slash": `the name "a/b" is not valid`,
	} {
		u, _ := res.Unit(id)
		if u.Err == nil || !strings.Contains(u.Err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", id, u.Err, want)
		}
		if _, err := store.Load(ctx, id); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("%s: an inventory was written: %v", id, err)
		}
	}
}

// TestObjectInTwoUnits: an object two units render identically (a
// Namespace both overlays hold) is applied once, fine; rendered differently
// it would flip on every pass, so both units fail, naming the object and
// each other, and neither touches the cluster.
func TestObjectInTwoUnits(t *testing.T) {
	ns := testNS()
	a, store := newMemoryApplier(t)
	ctx := context.Background()
	cm := func(value string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: " + ns + "}\ndata: {k: " + value + "}\n"
	}
	res := applyOK(t, a,
		Unit{ID: "dependency", Objects: objs(t, nsDoc(ns), cmDoc(ns, "dep"))},
		Unit{ID: "application", Links: dag.Links{DependsOn: []string{"dependency"}}, Objects: objs(t, nsDoc(ns), cmDoc(ns, "app"))},
	)
	if len(res.Warnings) != 1 || res.Warnings[0].Kind != dag.ProblemDuplicateObject {
		t.Errorf("warnings: %v", res.Warnings)
	}
	res, err := a.Apply(ctx, []Unit{
		{ID: "one", Objects: objs(t, cm("1"))},
		{ID: "two", Objects: objs(t, cm("2"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"one", "two"} {
		u, _ := res.Unit(id)
		if u.Err == nil || !strings.Contains(u.Err.Error(), "ConfigMap/"+ns+"/shared is rendered differently by one and two") {
			t.Errorf("%s: err = %v", id, u.Err)
		}
		if _, err := store.Load(ctx, id); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("%s touched its inventory: %v", id, err)
		}
	}
}
