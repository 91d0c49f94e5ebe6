package dag

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

func obj(group, kind, ns, name string) Object {
	return Object{ObjectRef: ObjectRef{Group: group, Kind: kind, Namespace: ns, Name: name}}
}

func crd(group, kind, plural string) Object {
	o := obj("apiextensions.k8s.io", "CustomResourceDefinition", "", plural+"."+group)
	o.Defines = &schema.GroupKind{Group: group, Kind: kind}
	return o
}

func ns(name string) Object { return obj("", "Namespace", "", name) }

func withDeps(o Object, deps ...ObjectRef) Object {
	o.DependsOn = deps
	return o
}

type problemKey struct {
	Kind         ProblemKind
	Unit, Object string
}

func problemKeys(ps []Problem) []problemKey {
	var out []problemKey
	for _, p := range ps {
		out = append(out, problemKey{p.Kind, p.Unit, p.Object})
	}
	return out
}

var (
	certManagerCRD = crd("cert-manager.io", "ClusterIssuer", "clusterissuers")
	issuer         = obj("cert-manager.io", "ClusterIssuer", "", "letsencrypt")
)

func TestBuildInference(t *testing.T) {
	tests := map[string]struct {
		units    []Unit
		opts     Options
		edges    []Edge
		problems []problemKey
	}{
		"explicit dependsOn": {
			units: []Unit{{ID: "infra"}, {ID: "apps", Links: Links{DependsOn: []string{"infra"}}}},
			edges: []Edge{{From: "infra", To: "apps", Reason: ReasonDependsOn}},
		},
		"CRD from a Helm release orders its custom resources with no dependsOn": {
			units: []Unit{
				{ID: "HelmRelease/cert-manager/cert-manager", Objects: []Object{certManagerCRD, obj("apps", "Deployment", "cert-manager", "cert-manager")}},
				{ID: "Kustomization/flux-system/issuers", Objects: []Object{issuer}},
			},
			edges: []Edge{{From: "HelmRelease/cert-manager/cert-manager", To: "Kustomization/flux-system/issuers", Reason: ReasonCRD, Detail: "clusterissuers.cert-manager.io"}},
		},
		"CRD and custom resource in one unit make no unit edge": {
			units: []Unit{{ID: "u", Objects: []Object{certManagerCRD, issuer}}},
		},
		"Namespace before the objects in it, across units": {
			units: []Unit{
				{ID: "namespaces", Objects: []Object{ns("apps"), ns("unused")}},
				{ID: "apps", Objects: []Object{obj("", "ConfigMap", "apps", "settings"), obj("apps", "Deployment", "apps", "web")}},
			},
			edges: []Edge{{From: "namespaces", To: "apps", Reason: ReasonNamespace, Detail: "apps"}},
		},
		"depends-on annotation across units": {
			units: []Unit{
				{ID: "db", Objects: []Object{obj("apps", "StatefulSet", "data", "postgres")}},
				{ID: "app", Objects: []Object{withDeps(obj("batch", "Job", "data", "migrate"), ObjectRef{Group: "apps", Kind: "StatefulSet", Namespace: "data", Name: "postgres"})}},
			},
			edges: []Edge{{From: "db", To: "app", Reason: ReasonAnnotation, Detail: "StatefulSet.apps/data/postgres"}},
		},
		"several reasons between the same units are all kept": {
			units: []Unit{
				{ID: "infra", Objects: []Object{ns("cert-manager"), certManagerCRD}},
				{ID: "deps", Links: Links{DependsOn: []string{"infra"}}, Objects: []Object{issuer, obj("", "Secret", "cert-manager", "acme-key")}},
			},
			edges: []Edge{
				{From: "infra", To: "deps", Reason: ReasonCRD, Detail: "clusterissuers.cert-manager.io"},
				{From: "infra", To: "deps", Reason: ReasonDependsOn},
				{From: "infra", To: "deps", Reason: ReasonNamespace, Detail: "cert-manager"},
			},
		},
		"built-in kinds need no producer": {
			units: []Unit{{ID: "u", Objects: []Object{
				obj("", "ConfigMap", "default", "a"), obj("apps", "Deployment", "default", "b"),
				obj("networking.k8s.io", "Ingress", "default", "c"), obj("rbac.authorization.k8s.io", "ClusterRole", "", "d"),
				crd("example.com", "Thing", "things"),
			}}},
		},
		"a custom resource with no CRD anywhere is reported once per unit and kind": {
			units: []Unit{{ID: "u", Objects: []Object{
				obj("cert-manager.io", "Certificate", "default", "a"), obj("cert-manager.io", "Certificate", "default", "b"),
				obj("gateway.networking.k8s.io", "Gateway", "default", "gw"),
			}}},
			problems: []problemKey{
				{ProblemMissingCRD, "u", "Certificate.cert-manager.io/default/a"},
				{ProblemMissingCRD, "u", "Gateway.gateway.networking.k8s.io/default/gw"},
			},
		},
		"pre-installed kinds need no producer": {
			units: []Unit{{ID: "u", Objects: []Object{obj("kustomize.toolkit.fluxcd.io", "Kustomization", "flux-system", "apps")}}},
			opts:  Options{Preinstalled: []schema.GroupKind{{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"}}},
		},
		"an object claimed by two units": {
			units: []Unit{
				{ID: "a", Objects: []Object{obj("", "ConfigMap", "default", "shared")}},
				{ID: "b", Objects: []Object{obj("", "ConfigMap", "default", "shared")}},
			},
			problems: []problemKey{{ProblemDuplicateObject, "", "ConfigMap/default/shared"}},
		},
		"depends-on naming an object no unit holds": {
			units:    []Unit{{ID: "app", Objects: []Object{withDeps(obj("batch", "Job", "x", "j"), ObjectRef{Kind: "Secret", Namespace: "x", Name: "external"})}}},
			problems: []problemKey{{ProblemUnknownObject, "app", "Job.batch/x/j"}},
		},
		"explicit-only infers nothing and reports a CRD outside the ancestors": {
			units: []Unit{
				{ID: "infra", Objects: []Object{ns("apps"), certManagerCRD}},
				{ID: "ok", Links: Links{DependsOn: []string{"infra"}}, Objects: []Object{issuer}},
				{ID: "bad", Objects: []Object{obj("cert-manager.io", "ClusterIssuer", "", "other"), obj("", "ConfigMap", "apps", "c")}},
			},
			opts:     Options{ExplicitOnly: true},
			edges:    []Edge{{From: "infra", To: "ok", Reason: ReasonDependsOn}},
			problems: []problemKey{{ProblemCRDNotAncestor, "bad", "ClusterIssuer.cert-manager.io/other"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { checkBuild(t, tc.units, tc.opts, tc.edges, tc.problems) })
	}
}

// checkBuild builds the graph and compares its edges and problems; the
// graph must order.
func checkBuild(t *testing.T, units []Unit, opts Options, edges []Edge, problems []problemKey) *UnitGraph {
	t.Helper()
	g, err := Build(units, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(edges, g.Edges(), cmpEmpty); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(problems, problemKeys(g.Problems), cmpEmpty); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if _, err := g.Sort(); err != nil {
		t.Errorf("Sort: %v", err)
	}
	return g
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.FilterValues(func(a, b any) bool {
	return isEmptySlice(a) && isEmptySlice(b)
}, cmp.Comparer(func(a, b any) bool { return true }))

func isEmptySlice(v any) bool {
	switch s := v.(type) {
	case []Edge:
		return len(s) == 0
	case []problemKey:
		return len(s) == 0
	}
	return false
}

// TestCRDEdgeAloneOrders is the seed's pain: a ClusterIssuer in one unit and
// the cert-manager HelmRelease installing its CRD in another, with no
// dependsOn between them. The inferred edge puts the release first.
func TestCRDEdgeAloneOrders(t *testing.T) {
	units := []Unit{
		{ID: "Kustomization/flux-system/a-issuers", Objects: []Object{issuer}}, // sorts first by ID
		{ID: "HelmRelease/cert-manager/cert-manager", Objects: []Object{certManagerCRD}},
	}
	g, err := Build(units, Options{})
	if err != nil {
		t.Fatal(err)
	}
	order, err := g.Sort()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"HelmRelease/cert-manager/cert-manager", "Kustomization/flux-system/a-issuers"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	// Flux's own order (explicit only) has no edge: the check says so.
	probs := Check(units, Options{ExplicitOnly: true})
	if diff := cmp.Diff([]problemKey{{ProblemCRDNotAncestor, "Kustomization/flux-system/a-issuers", "ClusterIssuer.cert-manager.io/letsencrypt"}}, problemKeys(probs)); diff != "" {
		t.Errorf("explicit-only check (-want +got):\n%s", diff)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := map[string]struct {
		units []Unit
		want  []problemKey
		text  []string
	}{
		"duplicate IDs": {
			units: []Unit{{ID: "a"}, {ID: "a"}},
			want:  []problemKey{{ProblemDuplicateUnit, "a", ""}},
			text:  []string{"a: unit ID appears more than once"},
		},
		"dependsOn a missing unit": {
			units: []Unit{{ID: "apps", Links: Links{DependsOn: []string{"infra", "deps"}}}},
			want:  []problemKey{{ProblemMissingUnit, "apps", ""}, {ProblemMissingUnit, "apps", ""}},
			text:  []string{`apps: dependsOn "infra", which is not a unit`, `apps: dependsOn "deps"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Build(tc.units, Options{})
			var be *BuildError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want *BuildError", err)
			}
			if diff := cmp.Diff(tc.want, problemKeys(be.Problems)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			for _, s := range tc.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// TestInferenceNeverContradictsDeclared: an explicit dependsOn against the
// CRD edge wins; the CRD edge is left out and reported, and there is no
// cycle. Only declared edges make a cycle, and its error gives every edge
// with its reason.
func TestInferenceNeverContradictsDeclared(t *testing.T) {
	units := []Unit{
		{ID: "crds", Links: Links{DependsOn: []string{"issuers"}}, Objects: []Object{certManagerCRD}},
		{ID: "issuers", Objects: []Object{issuer}},
	}
	g, err := Build(units, Options{})
	if err != nil {
		t.Fatal(err)
	}
	order, err := g.Sort()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"issuers", "crds"}, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]problemKey{{ProblemDroppedEdge, "issuers", ""}}, problemKeys(Check(units, Options{}))); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	want := "issuers: not ordered by crd: issuers depends on crds (crd: clusterissuers.cert-manager.io) would close a cycle with the declared dependencies [dropped-edge]"
	if diff := cmp.Diff(want, g.Problems[0].String()); diff != "" {
		t.Errorf("problem (-want +got):\n%s", diff)
	}

	declared := []Unit{
		{ID: "a", Links: Links{DependsOn: []string{"b"}}},
		{ID: "b", Links: Links{DependsOn: []string{"a"}}, Objects: []Object{withDeps(obj("", "ConfigMap", "x", "c"), ObjectRef{Kind: "Secret", Namespace: "x", Name: "s"})}},
		{ID: "c", Objects: []Object{obj("", "Secret", "x", "s")}},
	}
	g, err = Build(declared, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Sort()
	var ce *CycleError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CycleError", err)
	}
	wantErr := "dependency cycle through 2 nodes: a -> b -> a; b depends on a (dependsOn); a depends on b (dependsOn)"
	if diff := cmp.Diff(wantErr, err.Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

// TestNamespaceHeldByTwoUnits is what real repositories do: a dependency
// unit and an application unit that dependsOn it both render the
// Namespace of their overlay. No cycle, no edge against the dependsOn.
func TestNamespaceHeldByTwoUnits(t *testing.T) {
	tests := map[string]struct {
		units    []Unit
		edges    []Edge
		problems []problemKey
	}{
		"both hold it, the dependent comes after": {
			units: []Unit{
				{ID: "Kustomization/flux-system/dependency", Objects: []Object{ns("bhs-orthweb"), obj("apps", "StatefulSet", "bhs-orthweb", "db")}},
				{ID: "Kustomization/flux-system/application", Links: Links{DependsOn: []string{"Kustomization/flux-system/dependency"}},
					Objects: []Object{ns("bhs-orthweb"), obj("apps", "Deployment", "bhs-orthweb", "web")}},
			},
			edges:    []Edge{{From: "Kustomization/flux-system/dependency", To: "Kustomization/flux-system/application", Reason: ReasonDependsOn}},
			problems: []problemKey{{ProblemDuplicateObject, "", "Namespace/bhs-orthweb"}},
		},
		"only the dependent holds it: the edge is dropped, not a cycle": {
			units: []Unit{
				{ID: "dependency", Objects: []Object{obj("apps", "StatefulSet", "web", "db")}},
				{ID: "application", Links: Links{DependsOn: []string{"dependency"}}, Objects: []Object{ns("web")}},
			},
			edges:    []Edge{{From: "dependency", To: "application", Reason: ReasonDependsOn}},
			problems: []problemKey{{ProblemDroppedEdge, "dependency", ""}},
		},
		"several holders: the ancestor is preferred": {
			units: []Unit{
				{ID: "infra", Objects: []Object{ns("web")}},
				{ID: "other", Objects: []Object{ns("web")}},
				{ID: "app", Links: Links{DependsOn: []string{"base"}}, Objects: []Object{obj("", "ConfigMap", "web", "c")}},
				{ID: "base", Links: Links{Parent: "infra"}},
			},
			edges: []Edge{
				{From: "base", To: "app", Reason: ReasonDependsOn},
				{From: "infra", To: "app", Reason: ReasonNamespace, Detail: "web"},
			},
			problems: []problemKey{{ProblemDuplicateObject, "", "Namespace/web"}},
		},
		"several holders and no ancestor: all of them": {
			units: []Unit{
				{ID: "a", Objects: []Object{ns("web")}},
				{ID: "b", Objects: []Object{ns("web")}},
				{ID: "app", Objects: []Object{obj("", "ConfigMap", "web", "c")}},
			},
			edges: []Edge{
				{From: "a", To: "app", Reason: ReasonNamespace, Detail: "web"},
				{From: "b", To: "app", Reason: ReasonNamespace, Detail: "web"},
			},
			problems: []problemKey{{ProblemDuplicateObject, "", "Namespace/web"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { checkBuild(t, tc.units, Options{}, tc.edges, tc.problems) })
	}
}

// TestReadinessNode: a parent Kustomization health-checks two HelmReleases
// it defines and a Deployment one of them renders; a third unit dependsOn
// the parent and holds a custom resource of a CRD from one release. The
// parent is applied first, the releases after it, the parent's readiness
// after them, and the dependent last.
func TestReadinessNode(t *testing.T) {
	hr := func(name string) ObjectRef {
		return ObjectRef{Group: "helm.toolkit.fluxcd.io", Kind: "HelmRelease", Namespace: "flux-system", Name: name}
	}
	deploy := ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "cert-manager", Name: "cert-manager"}
	units := []Unit{
		{ID: "infra", Objects: []Object{ns("cert-manager"), ns("istio-system")},
			Links: Links{HealthChecks: []ObjectRef{hr("cert-manager"), hr("istio-base"), deploy, {Kind: "ConfigMap", Namespace: "cert-manager", Name: "own"}}}},
		{ID: "cert-manager", Links: Links{Ref: hr("cert-manager"), Parent: "infra"}, Objects: []Object{certManagerCRD, {ObjectRef: deploy}}},
		{ID: "istio-base", Links: Links{Ref: hr("istio-base"), Parent: "infra"}, Objects: []Object{obj("", "ServiceAccount", "istio-system", "istio")}},
		{ID: "issuers", Links: Links{DependsOn: []string{"infra"}}, Objects: []Object{issuer}},
	}
	units[0].Objects = append(units[0].Objects, obj("", "ConfigMap", "cert-manager", "own"))
	g, err := Build(units, Options{})
	if err != nil {
		t.Fatal(err)
	}
	order, err := g.Sort()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"infra", "cert-manager", "istio-base", "infra#ready", "issuers"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	wantR := Readiness{Node: "infra#ready",
		Local:   []ObjectRef{{Kind: "ConfigMap", Namespace: "cert-manager", Name: "own"}},
		Awaited: []ObjectRef{deploy}}
	if diff := cmp.Diff(wantR, g.Readiness("infra")); diff != "" {
		t.Errorf("readiness (-want +got):\n%s", diff)
	}
	if u, ready := g.NodeUnit("infra#ready"); u != "infra" || !ready {
		t.Errorf("NodeUnit = %q, %v", u, ready)
	}
	if diff := cmp.Diff([]string{"cert-manager", "infra", "issuers", "istio-base"}, g.UnitNodes()); diff != "" {
		t.Errorf("UnitNodes (-want +got):\n%s", diff)
	}
	if len(g.Problems) != 0 {
		t.Errorf("problems: %v", g.Problems)
	}
}

func TestReadinessProblems(t *testing.T) {
	ks := func(name string) ObjectRef {
		return ObjectRef{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization", Namespace: "flux-system", Name: name}
	}
	tests := map[string]struct {
		units         []Unit
		unsatisfiable []string
		problems      []problemKey
	}{
		"a check on an object nobody renders": {
			units:    []Unit{{ID: "a", Links: Links{HealthChecks: []ObjectRef{{Group: "apps", Kind: "Deployment", Namespace: "x", Name: "ghost"}}}}},
			problems: []problemKey{{ProblemHealthCheck, "a", "Deployment.apps/x/ghost"}},
		},
		"a check on a unit that waits for this one": {
			units: []Unit{
				{ID: "a", Links: Links{Ref: ks("a"), HealthChecks: []ObjectRef{ks("b")}}},
				{ID: "b", Links: Links{Ref: ks("b"), DependsOn: []string{"a"}}},
			},
			unsatisfiable: []string{"healthChecks names Kustomization.kustomize.toolkit.fluxcd.io/flux-system/b of b, which itself waits for this unit"},
			problems:      []problemKey{{ProblemDroppedEdge, "a", ""}, {ProblemHealthCheck, "a", ""}},
		},
		"a check on the unit itself": {
			units:         []Unit{{ID: "a", Links: Links{Ref: ks("a"), HealthChecks: []ObjectRef{ks("a")}}}},
			unsatisfiable: []string{"healthChecks names Kustomization.kustomize.toolkit.fluxcd.io/flux-system/a, the unit itself"},
			problems:      []problemKey{{ProblemHealthCheck, "a", ""}},
		},
		"wait over a child that dependsOn its parent: that child is not awaited": {
			units: []Unit{
				{ID: "a", Links: Links{AwaitChildren: true}},
				{ID: "b", Links: Links{Parent: "a", DependsOn: []string{"a"}}},
			},
			problems: []problemKey{{ProblemDroppedEdge, "a", ""}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := Build(tc.units, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.unsatisfiable, g.Readiness("a").Unsatisfiable); diff != "" {
				t.Errorf("unsatisfiable (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.problems, problemKeys(g.Problems), cmpEmpty); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if _, err := g.Sort(); err != nil {
				t.Errorf("Sort: %v", err)
			}
		})
	}
}

func TestCheckReportsEverythingAtOnce(t *testing.T) {
	units := []Unit{
		{ID: "a", Links: Links{DependsOn: []string{"b", "ghost"}}, Objects: []Object{obj("", "ConfigMap", "x", "c")}},
		{ID: "b", Links: Links{DependsOn: []string{"a"}}, Objects: []Object{obj("", "ConfigMap", "x", "c"), obj("example.com", "Thing", "x", "t")}},
		{ID: "b"},
	}
	want := []problemKey{
		{ProblemDuplicateObject, "", "ConfigMap/x/c"},
		{ProblemCycle, "a", ""},
		{ProblemMissingUnit, "a", ""},
		{ProblemDuplicateUnit, "b", ""},
		{ProblemMissingCRD, "b", "Thing.example.com/x/t"},
	}
	if diff := cmp.Diff(want, problemKeys(Check(units, Options{}))); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
}

func unstructuredOf(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUnitOf(t *testing.T) {
	crdYAML := `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert-manager.io}
spec:
  group: cert-manager.io
  names: {kind: Certificate, plural: certificates}
  scope: Namespaced
`
	job := `
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: data
  annotations:
    config.kubernetes.io/depends-on: apps/namespaces/data/StatefulSet/postgres,/namespaces/data/Secret/creds
`
	u, err := UnitOf("apps", Links{DependsOn: []string{"infra"}}, []*unstructured.Unstructured{unstructuredOf(t, crdYAML), unstructuredOf(t, job)})
	if err != nil {
		t.Fatal(err)
	}
	want := Unit{ID: "apps", Links: Links{DependsOn: []string{"infra"}}, Objects: []Object{
		{ObjectRef: ObjectRef{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "certificates.cert-manager.io"},
			Defines: &schema.GroupKind{Group: "cert-manager.io", Kind: "Certificate"}},
		{ObjectRef: ObjectRef{Group: "batch", Kind: "Job", Namespace: "data", Name: "migrate"}, DependsOn: []ObjectRef{
			{Group: "apps", Kind: "StatefulSet", Namespace: "data", Name: "postgres"},
			{Kind: "Secret", Namespace: "data", Name: "creds"},
		}},
	}}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Errorf("UnitOf (-want +got):\n%s", diff)
	}

	bad := `
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  namespace: x
  annotations:
    config.kubernetes.io/depends-on: not-a-reference
`
	_, err = UnitOf("apps", Links{}, []*unstructured.Unstructured{unstructuredOf(t, bad)})
	if err == nil || !strings.HasPrefix(err.Error(), "apps: ConfigMap/x/c: annotation config.kubernetes.io/depends-on:") {
		t.Errorf("bad annotation: err = %v", err)
	}
}

func TestObjectGraph(t *testing.T) {
	objs := []Object{
		withDeps(obj("batch", "Job", "data", "migrate"), ObjectRef{Group: "apps", Kind: "StatefulSet", Namespace: "data", Name: "db"}, ObjectRef{Kind: "Secret", Namespace: "elsewhere", Name: "x"}),
		obj("apps", "StatefulSet", "data", "db"),
		ns("data"),
		obj("cert-manager.io", "Certificate", "data", "tls"),
		crd("cert-manager.io", "Certificate", "certificates"),
	}
	g, err := ObjectGraph(objs)
	if err != nil {
		t.Fatal(err)
	}
	order, err := g.Sort()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CustomResourceDefinition.apiextensions.k8s.io/certificates.cert-manager.io",
		"Namespace/data",
		"Certificate.cert-manager.io/data/tls",
		"StatefulSet.apps/data/db",
		"Job.batch/data/migrate",
	}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if _, err := ObjectGraph([]Object{ns("a"), ns("a")}); err == nil || !strings.Contains(err.Error(), "Namespace/a: listed more than once") {
		t.Errorf("duplicate object: err = %v", err)
	}
}
