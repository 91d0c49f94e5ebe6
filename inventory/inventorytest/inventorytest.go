// Package inventorytest is the conformance suite for inventory.Store
// implementations: run it against a store with Run to check it behaves as
// gitopskit's apply expects.
package inventorytest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/inventory"
)

// Run checks the store newStore returns (a fresh, empty one each call):
// missing units, round trips, replacement, independence of units, 20,000
// entries, and — if the store implements them — Lister and Deleter.
func Run(t *testing.T, newStore func(t *testing.T) inventory.Store) {
	ctx := context.Background()
	entries := []inventory.Entry{
		{ObjectRef: dag.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "web", Name: "api"}, Version: "v1", Digest: "3f2a9c0d11e4b5a6"},
		{ObjectRef: dag.ObjectRef{Kind: "Namespace", Name: "web"}, Version: "v1"},
		{ObjectRef: dag.ObjectRef{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "certificates.cert-manager.io"}, Version: "v1"},
		{ObjectRef: dag.ObjectRef{Group: "cert-manager.io", Kind: "Certificate", Namespace: "web", Name: "tls"}, Version: "v1"},
		// Names may hold '_' (RBAC's do; a typo the server refuses may).
		{ObjectRef: dag.ObjectRef{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:my_role"}, Version: "v1"},
		{ObjectRef: dag.ObjectRef{Kind: "ConfigMap", Namespace: "web", Name: "My_Bad_Name"}, Version: "v1", Digest: "0123456789abcdef"},
	}
	t.Run("missing unit", func(t *testing.T) {
		_, err := newStore(t).Load(ctx, "Kustomization/flux-system/none")
		if !errors.Is(err, inventory.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("round trip", func(t *testing.T) {
		s := newStore(t)
		want := inventory.New("Kustomization/flux-system/apps", entries...)
		want.Revision = "main@sha1:0123456789abcdef0123456789abcdef01234567"
		want.Orphan, want.Parent, want.Identity = true, "Kustomization/flux-system/flux-system", "system:serviceaccount:team-a:deployer"
		if err := s.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, want.Unit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("save replaces, units are independent", func(t *testing.T) {
		s := newStore(t)
		a := inventory.New("Kustomization/flux-system/a", entries...)
		b := inventory.New("HelmRelease/web/b", entries[:1]...)
		for _, inv := range []*inventory.Inventory{a, b} {
			if err := s.Save(ctx, inv); err != nil {
				t.Fatal(err)
			}
		}
		a2 := inventory.New(a.Unit, entries[2:]...)
		if err := s.Save(ctx, a2); err != nil {
			t.Fatal(err)
		}
		for _, want := range []*inventory.Inventory{a2, b} {
			got, err := s.Load(ctx, want.Unit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", want.Unit, diff)
			}
		}
	})
	t.Run("20000 entries", func(t *testing.T) {
		s := newStore(t)
		var many []inventory.Entry
		for i := range 20000 {
			many = append(many, inventory.Entry{ObjectRef: dag.ObjectRef{Kind: "ConfigMap", Namespace: fmt.Sprintf("team-%03d", i%200), Name: fmt.Sprintf("config-map-number-%05d", i)}, Version: "v1"})
		}
		want := inventory.New("Kustomization/flux-system/big", many...)
		if err := s.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, want.Unit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Entries) != 20000 || !cmp.Equal(want, got) {
			t.Errorf("got %d entries back", len(got.Entries))
		}
	})
	t.Run("key", func(t *testing.T) {
		s := newStore(t)
		k, ok := s.(inventory.Keyer)
		if !ok {
			t.Skip("the store keeps no key")
		}
		a, err := k.Key(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.Key(ctx)
		if err != nil || len(a) < 32 || !cmp.Equal(a, b) {
			t.Errorf("key %d bytes, then %v %v: want one key of at least 32 bytes", len(a), b, err)
		}
	})
	t.Run("claim", func(t *testing.T) {
		s := newStore(t)
		c, ok := s.(inventory.Claimer)
		if !ok {
			t.Skip("the store does not record an owner")
		}
		a, b := "https://github.com/acme/fleet#clusters/dev", "file:///home/me/other#clusters/dev"
		for _, step := range []struct {
			owner    string
			takeOver bool
			wantErr  bool
		}{{a, false, false}, {a, false, false}, {b, false, true}, {b, true, false}, {a, false, true}} {
			err := c.Claim(ctx, step.owner, step.takeOver)
			var ce *inventory.ClaimedError
			if step.wantErr != errors.As(err, &ce) {
				t.Fatalf("Claim(%s, takeOver %v) = %v", step.owner, step.takeOver, err)
			}
		}
		if lister, ok := s.(inventory.Lister); ok {
			if units, err := lister.List(ctx); err != nil || len(units) != 0 {
				t.Errorf("the owner record shows as units: %v %v", units, err)
			}
		}
	})
	t.Run("list and delete", func(t *testing.T) {
		s := newStore(t)
		lister, ok := s.(inventory.Lister)
		deleter, ok2 := s.(inventory.Deleter)
		if !ok || !ok2 {
			t.Skip("the store does not list or delete")
		}
		for _, u := range []string{"Kustomization/flux-system/b", "HelmRelease/x/a"} {
			if err := s.Save(ctx, inventory.New(u, entries...)); err != nil {
				t.Fatal(err)
			}
		}
		units, err := lister.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"HelmRelease/x/a", "Kustomization/flux-system/b"}, units); diff != "" {
			t.Errorf("List (-want +got):\n%s", diff)
		}
		if err := deleter.Delete(ctx, "HelmRelease/x/a"); err != nil {
			t.Fatal(err)
		}
		if err := deleter.Delete(ctx, "HelmRelease/x/a"); err != nil {
			t.Errorf("deleting twice: %v", err)
		}
		if _, err := s.Load(ctx, "HelmRelease/x/a"); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("deleted unit loads: %v", err)
		}
	})
}
