package gitopskit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/source"
)

// TestFailedParentNeverPrunesChildren: a unit counts as removed only once
// the unit that defined it applied successfully without it. A typo in the
// root's kind, then an emptied root path, leave unit a's objects in place;
// removing a.yaml for real prunes them.
func TestFailedParentNeverPrunesChildren(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := testenv.Shared(t)
	dir := t.TempDir()
	ks := "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a, namespace: flux-system}\n" +
		"spec: {interval: 10m, path: ./a, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}\n"
	write := func(files map[string]string) {
		t.Helper()
		if err := fleet.Write(dir, files); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]string{
		"clusters/dev/a.yaml": ks,
		"a/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept-by-a, namespace: default}\ndata: {k: v}\n",
	})
	r, err := gitopskit.New(gitopskit.Options{
		Name:   "prune-safety",
		Source: source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()}),
		Path:   "clusters/dev",
		Config: env.Config,
		Apply:  apply.Options{Timeout: 30 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(env.Config)
	present := func() bool { return get(t, dyn, configmaps, "default", "kept-by-a") != nil }
	if res, err := r.Reconcile(ctx); err != nil || res.Err() != nil || !present() {
		t.Fatalf("first reconcile: %v %v", err, res)
	}

	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"a typo in the kind", map[string]string{"clusters/dev/a.yaml": strings.Replace(ks, "kind: Kustomization", "kind: Kustomisation", 1)}},
		{"an emptied root path", map[string]string{"clusters/dev/a.yaml": "", "clusters/dev/README.md": "moved elsewhere\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.files)
			defer write(map[string]string{"clusters/dev/a.yaml": ks, "clusters/dev/README.md": ""})
			res, err := r.Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Err() == nil {
				t.Error("the broken root reconciled without an error")
			}
			if !present() {
				t.Fatal("unit a's ConfigMap was pruned though the root that defines it failed")
			}
			if u, _ := res.Unit("Kustomization/flux-system/a"); u.BlockedBy != "Kustomization/flux-system/flux-system" || len(u.Pruned) != 0 {
				t.Errorf("unit a: blocked by %q, pruned %v", u.BlockedBy, u.Pruned)
			}
			if s, _ := r.Status().Unit("Kustomization/flux-system/a"); !strings.Contains(s.Message, "kept") {
				t.Errorf("status of a: %s", s.Message)
			}
		})
	}

	// Fixed, then really removed: now a's objects go.
	if res, err := r.Reconcile(ctx); err != nil || res.Err() != nil || !present() {
		t.Fatalf("after the fix: %v %v", err, res)
	}
	write(map[string]string{"clusters/dev/a.yaml": "", "clusters/dev/b.yaml": strings.NewReplacer("name: a,", "name: b,", "path: ./a", "path: ./b").Replace(ks), "b/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: default}\n"})
	res, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatalf("removal: %v", err)
	}
	if present() {
		t.Error("unit a was removed from the repository but its ConfigMap stayed")
	}
}

// TestNoStuckState: an object the server refuses (an invalid name) fails
// its unit with the server's reason; once fixed in the source the next pass
// succeeds and nothing of the refused object lingers, and status reads.
func TestNoStuckState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := testenv.Shared(t)
	dir := t.TempDir()
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: default}\n"
	}
	write := func(files map[string]string) {
		t.Helper()
		if err := fleet.Write(dir, files); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]string{"root/bad.yaml": cm("My_Bad_Name"), "root/ok.yaml": cm("stuck-ok")})
	r, err := gitopskit.New(gitopskit.Options{Name: "stuck", Source: source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()}), Path: "root", Config: env.Config})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "My_Bad_Name") {
		t.Fatalf("err = %v, want the refused object named", err)
	}
	write(map[string]string{"root/bad.yaml": cm("my-good-name")})
	for pass := 1; pass <= 2; pass++ {
		res, err = r.Reconcile(ctx)
		if err != nil || res.Err() != nil {
			t.Fatalf("pass %d after the fix: %v %v", pass, err, res.Err())
		}
	}
	if _, err := r.Observe(ctx); err != nil {
		t.Errorf("status: %v", err)
	}
	dyn := dynamic.NewForConfigOrDie(env.Config)
	if get(t, dyn, configmaps, "default", "my-good-name") == nil || get(t, dyn, configmaps, "default", "stuck-ok") == nil {
		t.Error("the fixed objects are missing")
	}
}

// TestTwoReconcilersOneName: a second repository reconciled into the same
// store name is refused — nothing of the first is pruned — until it is
// told to take over.
func TestTwoReconcilersOneName(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := testenv.Shared(t)
	repo := func(cm string) string {
		dir := t.TempDir()
		if err := fleet.Write(dir, map[string]string{"root/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + cm + ", namespace: default}\n"}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	newR := func(dir string, takeOver bool) *gitopskit.Reconciler {
		r, err := gitopskit.New(gitopskit.Options{Name: "shared-name", Source: source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()}),
			Path: "root", Config: env.Config, TakeOver: takeOver})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	dyn := dynamic.NewForConfigOrDie(env.Config)
	first, other := repo("first-repo"), repo("other-repo")
	if res, err := newR(first, false).Reconcile(ctx); err != nil || res.Err() != nil {
		t.Fatalf("first: %v %v", err, res)
	}
	_, err := newR(other, false).Reconcile(ctx)
	if err == nil || !strings.Contains(err.Error(), "belongs to file://") || !strings.Contains(err.Error(), "take-over") {
		t.Fatalf("second repository under the same name: err = %v", err)
	}
	if get(t, dyn, configmaps, "default", "first-repo") == nil || get(t, dyn, configmaps, "default", "other-repo") != nil {
		t.Fatal("the refused Reconciler changed the cluster")
	}
	if res, err := newR(first, false).Reconcile(ctx); err != nil || res.Err() != nil {
		t.Fatalf("the owner again: %v %v", err, res)
	}
	if res, err := newR(other, true).Reconcile(ctx); err != nil || res.Err() != nil {
		t.Fatalf("take over: %v %v", err, res)
	}
	if get(t, dyn, configmaps, "default", "first-repo") != nil || get(t, dyn, configmaps, "default", "other-repo") == nil {
		t.Error("after taking over, the new repository's objects should replace the old one's")
	}
}
