package apply

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/inventory"

	"github.com/gitopskit/gitopskit/dag"
)

// newMemoryApplier returns an Applier with an in-memory store, and the store.
func newMemoryApplier(t *testing.T) (*Applier, *inventory.MemoryStore) {
	t.Helper()
	store := &inventory.MemoryStore{}
	a, err := New(testenv.Config(t), Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return a, store
}

// applyOK applies units and fails the test unless every unit succeeded.
func applyOK(t *testing.T, a *Applier, units ...Unit) *Result {
	t.Helper()
	res, err := a.Apply(context.Background(), units)
	if err != nil || firstErr(res) != nil {
		t.Fatal(err, firstErr(res))
	}
	return res
}

// TestModes: a held unit is neither applied nor pruned, its objects stay
// claimed and its dependents go on (blocked when it is held as not Ready);
// a failed unit does not touch the cluster and blocks its dependents.
func TestModes(t *testing.T) {
	ns := testNS()
	a, store := newMemoryApplier(t)
	ctx := context.Background()
	first := []Unit{
		{ID: "ns", Objects: objs(t, nsDoc(ns))},
		{ID: "held", Links: dag.Links{DependsOn: []string{"ns"}}, Revision: "r1", Objects: objs(t, cmDoc(ns, "held-a"), cmDoc(ns, "held-b"))},
	}
	applyOK(t, a, first...)
	// held is now skipped with a render that would drop held-b and add
	// held-c; the broken unit did not render.
	res, err := a.Apply(ctx, []Unit{
		{ID: "ns", Objects: objs(t, nsDoc(ns))},
		{ID: "held", Links: dag.Links{DependsOn: []string{"ns"}}, Mode: Hold, Revision: "r2", Objects: objs(t, cmDoc(ns, "held-a"), cmDoc(ns, "held-c"))},
		{ID: "after-held", Links: dag.Links{DependsOn: []string{"held"}}, Objects: objs(t, cmDoc(ns, "after-held"))},
		{ID: "broken", Mode: Fail, Err: errors.New("render: kustomization.yaml: bad")},
		{ID: "after-broken", Links: dag.Links{DependsOn: []string{"broken"}}, Objects: objs(t, cmDoc(ns, "never"))},
		{ID: "held-unready", Mode: HoldNotReady, Err: errors.New("suspended while not Ready")},
		{ID: "after-unready", Links: dag.Links{DependsOn: []string{"held-unready"}}, Objects: objs(t, cmDoc(ns, "never2"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, u := range res.Units {
		states[u.ID] = u.State.String()
		if u.Skipped {
			states[u.ID] += ",skipped"
		}
	}
	want := map[string]string{"ns": "Succeeded", "held": "Succeeded,skipped", "after-held": "Succeeded", "broken": "Failed", "after-broken": "Blocked",
		"held-unready": "Failed,skipped", "after-unready": "Blocked"}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if u, _ := res.Unit("broken"); u.Err == nil || u.Err.Error() != "broken: render: kustomization.yaml: bad" {
		t.Errorf("broken: err = %v", u.Err)
	}
	if !exists(t, cmGVR, ns, "held-b") || exists(t, cmGVR, ns, "held-c") || !exists(t, cmGVR, ns, "after-held") || exists(t, cmGVR, ns, "never") {
		t.Error("a skipped unit was applied or pruned, or a dependent went the wrong way")
	}
	inv, err := store.Load(ctx, "held")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Revision != "r1" || len(inv.Entries) != 2 {
		t.Errorf("skipped unit's inventory changed: revision %q, %d entries", inv.Revision, len(inv.Entries))
	}
}

// TestRemovedUnit: a unit that is gone has everything it applied pruned,
// except what another unit now claims, and its inventory deleted.
func TestRemovedUnit(t *testing.T) {
	ns := testNS()
	a, store := newMemoryApplier(t)
	ctx := context.Background()
	applyOK(t, a,
		Unit{ID: "ns", Objects: objs(t, nsDoc(ns))},
		Unit{ID: "gone", Links: dag.Links{DependsOn: []string{"ns"}}, Objects: objs(t, cmDoc(ns, "gone-a"), cmDoc(ns, "moved"))},
	)
	applyOK(t, a,
		Unit{ID: "ns", Objects: objs(t, nsDoc(ns))},
		Unit{ID: "heir", Links: dag.Links{DependsOn: []string{"ns"}}, Objects: objs(t, cmDoc(ns, "moved"))},
		Unit{ID: "gone", Mode: Remove},
	)
	if exists(t, cmGVR, ns, "gone-a") || !exists(t, cmGVR, ns, "moved") {
		t.Error("removed unit: gone-a should be pruned and moved kept")
	}
	if _, err := store.Load(ctx, "gone"); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("inventory of the removed unit: %v, want ErrNotFound", err)
	}
	res, err := a.Apply(ctx, []Unit{{ID: "odd", Mode: Remove, Objects: objs(t, cmDoc(ns, "x"))}})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := res.Unit("odd"); u.Err == nil {
		t.Error("a removed unit with objects was accepted")
	}
}

// TestOrphan: a unit with Orphan set (Flux's prune: false) leaves what it
// no longer renders in the cluster, and so does its removal later.
func TestOrphan(t *testing.T) {
	ns := testNS()
	a, store := newMemoryApplier(t)
	ctx := context.Background()
	applyOK(t, a,
		Unit{ID: "ns", Objects: objs(t, nsDoc(ns))},
		Unit{ID: "keep", Links: dag.Links{DependsOn: []string{"ns"}}, Orphan: true, Objects: objs(t, cmDoc(ns, "first"), cmDoc(ns, "second"))},
	)
	plan, err := a.Plan(ctx, []Unit{
		{ID: "ns", Objects: objs(t, nsDoc(ns))},
		{ID: "keep", Links: dag.Links{DependsOn: []string{"ns"}}, Orphan: true, Objects: objs(t, cmDoc(ns, "first"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range plan.Objects {
		if o.Action == PlanPrune {
			t.Errorf("plan prunes %s of an orphaning unit", o.Object)
		}
	}
	res := applyOK(t, a,
		Unit{ID: "ns", Objects: objs(t, nsDoc(ns))},
		Unit{ID: "keep", Links: dag.Links{DependsOn: []string{"ns"}}, Orphan: true, Objects: objs(t, cmDoc(ns, "first"))},
	)
	if u, _ := res.Unit("keep"); len(u.Pruned) != 0 || len(u.Orphaned) != 1 || u.Orphaned[0].Name != "second" {
		t.Errorf("pruned %v, orphaned %v", u.Pruned, u.Orphaned)
	}
	if !exists(t, cmGVR, ns, "second") {
		t.Error("an orphaning unit deleted what it no longer renders")
	}
	if inv, _ := store.Load(ctx, "keep"); inv == nil || !inv.Orphan || len(inv.Entries) != 1 {
		t.Errorf("inventory after orphaning: %+v", inv)
	}
	// Removed: nothing it holds is deleted; the inventory goes.
	applyOK(t, a, Unit{ID: "ns", Objects: objs(t, nsDoc(ns))}, Unit{ID: "keep", Mode: Remove})
	if !exists(t, cmGVR, ns, "first") {
		t.Error("removing an orphaning unit deleted its objects")
	}
	if _, err := store.Load(ctx, "keep"); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("inventory of the removed unit: %v", err)
	}
}

// TestNoWait: a unit that does not wait is done once applied, although its
// Deployment never becomes healthy here; one that waits is not.
func TestNoWait(t *testing.T) {
	ns := testNS()
	a, err := New(testenv.Config(t), Options{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Apply(context.Background(), []Unit{
		{ID: "ns", Objects: objs(t, nsDoc(ns))},
		{ID: "nowait", Links: dag.Links{DependsOn: []string{"ns"}}, NoWait: true, Objects: objs(t, deployDoc(ns, "a"))},
		{ID: "wait", Links: dag.Links{DependsOn: []string{"ns"}}, Objects: objs(t, deployDoc(ns, "b"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := res.Unit("nowait"); u.Err != nil {
		t.Errorf("nowait: %v", u.Err)
	}
	if u, _ := res.Unit("wait"); u.Err == nil || !strings.Contains(u.Err.Error(), "health check") {
		t.Errorf("wait: err = %v, want a health check timeout", u.Err)
	}
}
