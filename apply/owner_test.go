package apply

import (
	"context"
	"testing"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/inventory"
)

// TestOwnerLabel: every applied object carries its unit in OwnerLabel;
// an object whose label names another unit (another Reconciler took it
// over, say) is not deleted when this unit stops rendering it, only
// forgotten.
func TestOwnerLabel(t *testing.T) {
	ns := testNS()
	a, store := newMemoryApplier(t)
	ctx := context.Background()
	applyOK(t, a, Unit{ID: "ns", Objects: objs(t, nsDoc(ns))},
		Unit{ID: "Kustomization/flux-system/apps", Objects: objs(t, cmDoc(ns, "kept"), cmDoc(ns, "gone"))})
	o := liveConfigMap(t, a, ns, "kept")
	if got := o.GetLabels()[OwnerLabel]; got != "Kustomization.flux-system.apps" {
		t.Fatalf("owner label %q", got)
	}
	// Another owner takes "kept" over.
	labels := o.GetLabels()
	labels[OwnerLabel] = OwnerValue("Kustomization/other/owner")
	o.SetLabels(labels)
	if err := a.client.Update(ctx, o); err != nil {
		t.Fatal(err)
	}
	res := applyOK(t, a, Unit{ID: "Kustomization/flux-system/apps", Objects: objs(t, cmDoc(ns, "third"))})
	if liveConfigMap(t, a, ns, "kept") == nil {
		t.Error("an object another unit owns was deleted")
	}
	if liveConfigMap(t, a, ns, "gone") != nil {
		t.Error("the unit's own object was not pruned")
	}
	if len(res.Units[0].Pruned) != 1 {
		t.Errorf("pruned %v", res.Units[0].Pruned)
	}
	if inv, _ := store.Load(ctx, "Kustomization/flux-system/apps"); inv.Has(inventory.Entry{ObjectRef: dag.ObjectRef{Kind: "ConfigMap", Namespace: ns, Name: "kept"}}) {
		t.Error("the other owner's object stays in the inventory")
	}
	if v := OwnerValue("Kustomization/a-very-long-namespace-name-that-goes-on/and-a-name-long-enough-to-pass-the-limit"); len(v) > 63 {
		t.Errorf("OwnerValue %q is too long for a label", v)
	}
}
