package apply

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
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
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: " + ns + "}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n"
	res, err := a.Apply(context.Background(), []Unit{
		{ID: "ns", Objects: objs(t, nsDoc(ns))},
		{ID: "web", DependsOn: []string{"ns"}, Timeout: 2 * time.Second, Objects: objs(t, deploy)},
		{ID: "after", DependsOn: []string{"web"}, Objects: objs(t, cmDoc(ns, "x"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	web, _ := res.Unit("web")
	if web.Err == nil || !strings.Contains(web.Err.Error(), "health check") || !strings.Contains(web.Err.Error(), "Deployment/"+ns+"/web") {
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
