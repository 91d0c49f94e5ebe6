package apply

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/inventory"

	"github.com/gitopskit/gitopskit/dag"
)

func planActions(p *Plan) map[string]string {
	out := map[string]string{}
	for _, o := range p.Objects {
		out[o.Object.String()] = string(o.Action)
	}
	return out
}

func TestPlan(t *testing.T) {
	ns := testNS()
	group := ns + ".example.com"
	crd := fmt.Sprintf("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: gadgets.%[1]s}\nspec:\n  group: %[1]s\n  names: {kind: Gadget, plural: gadgets}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n", group)
	cr := fmt.Sprintf("apiVersion: %s/v1\nkind: Gadget\nmetadata: {name: g, namespace: %s}\nspec: {size: 1}\n", group, ns)
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: " + ns + "}\nstringData: {password: hunter2}\n"
	units := func(cm string) []Unit {
		return []Unit{
			{ID: "platform", Objects: objs(t, nsDoc(ns), crd)},
			{ID: "gadgets", Objects: objs(t, cr)},
			{ID: "app", Links: dag.Links{DependsOn: []string{"platform"}}, Objects: objs(t, cm, secret)},
		}
	}
	store := &inventory.MemoryStore{}
	a, err := New(testenvShared(t).Config, Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := a.Plan(ctx, units(cmDoc(ns, "cfg")))
	if err != nil {
		t.Fatal(err)
	}
	acts := planActions(p)
	want := map[string]string{
		"Namespace/" + ns: "create",
		"CustomResourceDefinition.apiextensions.k8s.io/gadgets." + group: "create",
		"Gadget." + group + "/" + ns + "/g":                              "unverifiable",
		"ConfigMap/" + ns + "/cfg":                                       "unverifiable",
		"Secret/" + ns + "/s":                                            "unverifiable",
	}
	for k, v := range want {
		if acts[k] != v {
			t.Errorf("%s: %s, want %s\n%s", k, acts[k], v, p)
		}
	}
	if !strings.Contains(p.String(), "unverifiable until CustomResourceDefinition gadgets."+group+" is applied") {
		t.Errorf("plan does not say why:\n%s", p)
	}
	if res, err := a.Apply(ctx, units(cmDoc(ns, "cfg"))); err != nil || firstErr(res) != nil {
		t.Fatal(err, firstErr(res))
	}

	// A change, a removal and an unchanged object.
	changed := strings.Replace(cmDoc(ns, "cfg"), "{k: v}", "{k: v2}", 1)
	next := units(changed)
	next[2].Objects = next[2].Objects[:1] // the Secret is dropped
	p, err = a.Plan(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	acts = planActions(p)
	for k, v := range map[string]string{"ConfigMap/" + ns + "/cfg": "configure", "Gadget." + group + "/" + ns + "/g": "unchanged", "Secret/" + ns + "/s": "prune"} {
		if acts[k] != v {
			t.Errorf("%s: %s, want %s\n%s", k, acts[k], v, p)
		}
	}
	if s := p.String(); !strings.Contains(s, "-  k: v\n") || !strings.Contains(s, "+  k: v2\n") {
		t.Errorf("no readable diff:\n%s", s)
	}
	// Nothing changed in the cluster.
	if !exists(t, schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, ns, "s") {
		t.Error("plan pruned")
	}

	// A new Secret's value never shows.
	extra := units(cmDoc(ns, "cfg"))
	extra[2].Objects = append(extra[2].Objects, objs(t, strings.Replace(secret, "name: s,", "name: s2,", 1))...)
	p, err = a.Plan(ctx, extra)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, "<masked:hmac-sha256:") {
		t.Errorf("secret value shown or not masked:\n%s", s)
	}

	// A custom resource with no CRD anywhere is an error naming it.
	_, err = a.Plan(ctx, []Unit{{ID: "orphans", Objects: objs(t, "apiVersion: nowhere.example.com/v1\nkind: Thing\nmetadata: {name: x, namespace: default}\n")}})
	if err == nil || !strings.Contains(err.Error(), "orphans: Thing.nowhere.example.com/default/x: no CRD") {
		t.Errorf("err = %v", err)
	}
}
