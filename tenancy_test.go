package gitopskit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

// TestTenantServiceAccount: a Kustomization with serviceAccountName is
// applied as that ServiceAccount, so a tenant path can only do what the
// tenant's RBAC allows — its ClusterRoleBinding to cluster-admin is refused,
// naming the identity, and nothing of that unit is applied, while the rest
// of the repository reconciles. With a default service account (Flux's
// lockdown) a unit that names none acts as it too; the root stays the
// Reconciler's own.
func TestTenantServiceAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := testenv.Shared(t)
	const team = "tenancy-team"
	ks := func(name, path, extra string) string {
		return "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: " + name + ", namespace: " + team + "}\n" +
			"spec:\n  interval: 10m\n  path: " + path + "\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n" + extra
	}
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: " + team + "}\ndata: {a: b}\n"
	}
	files := map[string]string{
		"clusters/test/team.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + team + "}\n---\n" +
			"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: deployer, namespace: " + team + "}\n---\n" +
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: deployer, namespace: " + team + "}\nrules:\n- {apiGroups: [''], resources: [configmaps], verbs: ['*']}\n---\n" +
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: deployer, namespace: " + team + "}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}\nsubjects: [{kind: ServiceAccount, name: deployer, namespace: " + team + "}]\n",
		"clusters/test/tenant.yaml": ks("tenant", "./tenant", "  serviceAccountName: deployer\n"),
		"clusters/test/nosa.yaml":   ks("nosa", "./nosa", ""),
		"tenant/config.yaml":        cm("tenant"),
		"tenant/escalate.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: tenancy-escalate}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n" +
			"subjects: [{kind: ServiceAccount, name: deployer, namespace: " + team + "}]\n",
		"nosa/config.yaml": cm("nosa"),
	}
	repo := t.TempDir()
	if err := fleet.Write(repo, files); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	present := func(gvr schema.GroupVersionResource, ns, name string) bool {
		_, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil
	}
	configMaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	reconcile := func(defaultSA string) map[string]error {
		t.Helper()
		r, err := gitopskit.New(gitopskit.Options{Name: "tenancy", Source: source.NewDir(repo, source.DirOptions{}), Path: "clusters/test",
			Config: env.Config, Load: render.LoadOptions{CacheDir: t.TempDir()}, DefaultServiceAccount: defaultSA})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]error{}
		for _, u := range res.Units {
			out[u.ID] = u.Err
		}
		return out
	}

	errs := reconcile("")
	user := "system:serviceaccount:" + team + ":deployer"
	if err := errs["Kustomization/"+team+"/tenant"]; err == nil || !strings.Contains(err.Error(), "acting as "+user) || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("tenant: err = %v", err)
	}
	if present(configMaps, team, "tenant") || present(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, "", "tenancy-escalate") {
		t.Error("the refused tenant unit applied something")
	}
	for _, id := range []string{render.RootID, "Kustomization/" + team + "/nosa"} {
		if errs[id] != nil {
			t.Errorf("%s: %v", id, errs[id])
		}
	}

	// Lockdown: the tenant fixed; the unit without a service account now
	// acts as the default one, which may not make a ClusterRole.
	files["nosa/reader.yaml"] = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: tenancy-reader}\nrules: []\n"
	delete(files, "tenant/escalate.yaml")
	if err := os.Remove(filepath.Join(repo, "tenant", "escalate.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Write(repo, files); err != nil {
		t.Fatal(err)
	}
	errs = reconcile("deployer")
	if err := errs["Kustomization/"+team+"/nosa"]; err == nil || !strings.Contains(err.Error(), "acting as "+user) || !strings.Contains(err.Error(), "ClusterRole.rbac.authorization.k8s.io/tenancy-reader") {
		t.Errorf("nosa under the default service account: err = %v", err)
	}
	for _, id := range []string{render.RootID, "Kustomization/" + team + "/tenant"} {
		if errs[id] != nil {
			t.Errorf("%s: %v", id, errs[id])
		}
	}
	if !present(configMaps, team, "tenant") {
		t.Error("the fixed tenant unit was not applied")
	}
}
