package apply

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/inventory"
)

// TestIdentity: a unit with an Identity acts as that user, so RBAC bounds
// it: a tenant ServiceAccount that may only write ConfigMaps in its
// namespace cannot apply a ClusterRoleBinding — the unit fails naming the
// identity and the server's reason, and nothing of it is applied (not even
// the ConfigMap it may write). Its own objects apply; the identity is kept
// with the inventory, and the unit, once removed, is pruned as it — which
// this ServiceAccount may not do, so the removal fails and keeps the
// object.
func TestIdentity(t *testing.T) {
	ns := testNS()
	a, store := newMemoryApplier(t)
	ctx := context.Background()
	rbac := "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: deployer, namespace: " + ns + "}\n"
	role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: configmaps, namespace: " + ns + "}\nrules:\n- {apiGroups: [''], resources: [configmaps], verbs: [get, list, watch, create, patch, update]}\n"
	binding := "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: deployer, namespace: " + ns + "}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmaps}\nsubjects: [{kind: ServiceAccount, name: deployer, namespace: " + ns + "}]\n"
	applyOK(t, a, Unit{ID: "admin", Objects: objs(t, nsDoc(ns), rbac, role, binding)})

	user := ServiceAccountUser(ns, "deployer")
	escalate := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: " + ns + "-admin}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: deployer, namespace: " + ns + "}]\n"
	res, err := a.Apply(ctx, []Unit{{ID: "tenant", Identity: user, Objects: objs(t, cmDoc(ns, "mine"), escalate)}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := res.Unit("tenant")
	if u.Err == nil || !strings.Contains(u.Err.Error(), "tenant (acting as "+user+")") || !strings.Contains(u.Err.Error(), "forbidden") ||
		!strings.Contains(u.Err.Error(), "ClusterRoleBinding.rbac.authorization.k8s.io/"+ns+"-admin") {
		t.Errorf("escalation: err = %v", u.Err)
	}
	if exists(t, configMapsGVR, ns, "mine") {
		t.Error("the ConfigMap of the refused unit was applied")
	}
	if _, err := store.Load(ctx, "tenant"); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("the refused unit wrote an inventory: %v", err)
	}

	applyOK(t, a, Unit{ID: "tenant", Identity: user, Objects: objs(t, cmDoc(ns, "mine"))})
	inv, err := store.Load(ctx, "tenant")
	if err != nil || inv.Identity != user {
		t.Fatalf("inventory: %+v, %v", inv, err)
	}
	res, err = a.Apply(ctx, []Unit{{ID: "tenant", Mode: Remove}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ = res.Unit("tenant")
	if u.Err == nil || !strings.Contains(u.Err.Error(), "acting as "+user) || !strings.Contains(u.Err.Error(), "forbidden") {
		t.Errorf("removal: err = %v", u.Err)
	}
	if !exists(t, configMapsGVR, ns, "mine") {
		t.Error("the removal deleted what its identity may not delete")
	}
	if inv, err := store.Load(ctx, "tenant"); err != nil || len(inv.Entries) != 1 {
		t.Errorf("after the failed removal: %+v, %v", inv, err)
	}
}
