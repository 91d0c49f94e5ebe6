package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/inventory"
)

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// TestAllOrNothing: a unit the server refuses in part — an invalid
// Service, a custom resource its CRD's schema rejects — changes nothing:
// the dry run of the whole set fails first, naming every refused object,
// and no inventory is written. An object the server can only judge once the
// unit's own CRD or Namespace exists is judged then, and still stops the
// rest of the unit.
func TestAllOrNothing(t *testing.T) {
	ns := testNS()
	a, store := newMemoryApplier(t)
	ctx := context.Background()
	applyOK(t, a, Unit{ID: "ns", Objects: objs(t, nsDoc(ns))})
	badService := "apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: " + ns + "}\nspec: {ports: [{port: 99999}]}\n"
	group := strings.ReplaceAll(ns, "-", "") + ".example.com"
	crd := fmt.Sprintf("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: gizmos.%[1]s}\nspec:\n  group: %[1]s\n  names: {kind: Gizmo, plural: gizmos}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec: {type: object, properties: {size: {type: integer}}}\n", group)
	gizmo := func(name, size string) string {
		return "apiVersion: " + group + "/v1\nkind: Gizmo\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec: {size: " + size + "}\n"
	}
	res, err := a.Apply(ctx, []Unit{
		{ID: "invalid", Objects: objs(t, cmDoc(ns, "before-invalid"), badService, "apiVersion: v1\nkind: Service\nmetadata: {name: bad2, namespace: "+ns+"}\nspec: {ports: [{port: 0}]}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := res.Unit("invalid")
	if u.Err == nil || !strings.Contains(u.Err.Error(), "dry run: the server refuses 2 of the unit's objects, so none is applied") ||
		!strings.Contains(u.Err.Error(), "Service/"+ns+"/bad:") || !strings.Contains(u.Err.Error(), "Service/"+ns+"/bad2:") {
		t.Errorf("invalid: err = %v", u.Err)
	}
	if exists(t, configMapsGVR, ns, "before-invalid") {
		t.Error("the ConfigMap of the refused unit was created")
	}
	if _, err := store.Load(ctx, "invalid"); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("the refused unit wrote an inventory: %v", err)
	}

	// The CRD comes with the unit: its custom resources are judged after
	// it is applied, before the rest.
	res, err = a.Apply(ctx, []Unit{{ID: "crd", Objects: objs(t, crd, cmDoc(ns, "after-crd"), gizmo("ok", "3"), gizmo("bad", `"large"`))}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ = res.Unit("crd")
	if u.Err == nil || !strings.Contains(u.Err.Error(), "Gizmo."+group+"/"+ns+"/bad") {
		t.Errorf("crd: err = %v", u.Err)
	}
	if exists(t, configMapsGVR, ns, "after-crd") || exists(t, schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gizmos"}, ns, "ok") {
		t.Error("objects after the refused custom resource were applied")
	}
	// Fixed, the unit applies; a new Namespace's objects are judged once
	// the Namespace exists.
	fresh := ns + "-fresh"
	res = applyOK(t, a, Unit{ID: "crd", Objects: objs(t, crd, cmDoc(ns, "after-crd"), gizmo("ok", "3"), nsDoc(fresh), cmDoc(fresh, "in-fresh"))})
	if !exists(t, configMapsGVR, fresh, "in-fresh") || len(res.Units[0].Changes) != 5 {
		t.Errorf("changes: %v", res.Units[0].Changes)
	}
}

// TestMovedObject: an object that leaves one unit's render for another's
// is applied in place — the same object, never deleted — and reported as
// moved from the unit that held it, whichever of the two runs first.
func TestMovedObject(t *testing.T) {
	ns := testNS()
	a, store := newMemoryApplier(t)
	ctx := context.Background()
	applyOK(t, a, Unit{ID: "ns", Objects: objs(t, nsDoc(ns))},
		Unit{ID: "from", Objects: objs(t, cmDoc(ns, "mover"), cmDoc(ns, "stays"))})
	uid := func() string {
		o := liveConfigMap(t, a, ns, "mover")
		if o == nil {
			t.Fatal("the object is gone")
		}
		return string(o.GetUID())
	}
	before := uid()
	mover := dag.ObjectRef{Kind: "ConfigMap", Namespace: ns, Name: "mover"}
	for _, round := range []struct {
		name     string
		from, to string
		units    []Unit
	}{
		{"the new owner after the old", "from", "to", []Unit{
			{ID: "from", Objects: objs(t, cmDoc(ns, "stays"))},
			{ID: "to", Links: dag.Links{DependsOn: []string{"from"}}, Objects: objs(t, cmDoc(ns, "mover"))},
		}},
		{"the new owner before the old", "to", "back", []Unit{
			{ID: "from", Objects: objs(t, cmDoc(ns, "stays"))},
			{ID: "to", Links: dag.Links{DependsOn: []string{"back"}}, Objects: objs(t, cmDoc(ns, "other"))},
			{ID: "back", Objects: objs(t, cmDoc(ns, "mover"))},
		}},
	} {
		res := applyOK(t, a, round.units...)
		u, _ := res.Unit(round.to)
		want := []Change{{Object: mover, Action: MovedAction, From: round.from}}
		if diff := cmp.Diff(want, u.Changes); diff != "" {
			t.Errorf("%s: changes (-want +got):\n%s", round.name, diff)
		}
		if f, _ := res.Unit(round.from); len(f.Pruned) != 0 {
			t.Errorf("%s: %s pruned %v", round.name, round.from, f.Pruned)
		}
		if got := uid(); got != before {
			t.Errorf("%s: the object was recreated (uid %s, was %s)", round.name, got, before)
		}
		if inv, err := store.Load(ctx, round.from); err != nil || inv.Has(inventory.Entry{ObjectRef: mover}) {
			t.Errorf("%s: %s still holds it: %v %v", round.name, round.from, inv, err)
		}
	}
}
