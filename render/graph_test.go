package render

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/internal/testfs"
	"github.com/gitopskit/gitopskit/source"
)

func writeRepo(t testing.TB, dir string, files map[string]string) { testfs.Write(t, dir, files) }

// seedCharts serves the seed's charts from a local Helm repository: certs
// (CRDs and a controller, like cert-manager), gateway (installed twice, like
// Istio's gateways) and postgresql (fed values).
func seedCharts(t testing.TB) *helmtest.Repo {
	out := t.TempDir()
	src := t.TempDir()
	crd := func(kind, plural, scope string) string {
		return "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: " + plural + ".cert-manager.io\nspec:\n  group: cert-manager.io\n  names: {kind: " + kind + ", plural: " + plural + "}\n  scope: " + scope + "\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"
	}
	var archives []string
	archives = append(archives, helmtest.Package(t, helmtest.WriteChart(t, src, "certs", "1.14.0", map[string]string{
		"crds/issuers.yaml":         crd("Issuer", "issuers", "Namespaced"),
		"crds/certificates.yaml":    crd("Certificate", "certificates", "Namespaced"),
		"templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector: {matchLabels: {app: cm}}\n  template:\n    metadata: {labels: {app: cm}}\n    spec: {containers: [{name: c, image: cert-manager:v1}]}\n",
	}), out))
	archives = append(archives, helmtest.Package(t, helmtest.WriteChart(t, src, "gateway", "1.22.0", map[string]string{
		"templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector: {matchLabels: {app: {{ .Release.Name }}}}\n  template:\n    metadata: {labels: {app: {{ .Release.Name }}}}\n    spec: {containers: [{name: c, image: proxy:v1}]}\n",
	}), out))
	archives = append(archives, helmtest.Package(t, helmtest.WriteChart(t, src, "postgresql", "15.5.0", map[string]string{
		"values.yaml":                "auth: {database: postgres}\n",
		"templates/statefulset.yaml": "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {{ .Release.Name }}\n  annotations: {database: {{ .Values.auth.database }}}\nspec:\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c, image: postgres:16}]}\n",
	}), out))
	return helmtest.ServeRepo(t, archives, false)
}

func kustomizationYAML(name, path string, dependsOn ...string) string {
	s := "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: " + name + "\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: " + path + "\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
	if len(dependsOn) > 0 {
		s += "  dependsOn:\n"
		for _, d := range dependsOn {
			s += "  - name: " + d + "\n"
		}
	}
	return s
}

func helmReleaseYAML(name, ns, chart, version string, extra string) string {
	return "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: " + chart + "\n      version: '" + version + "'\n      sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}\n" + extra
}

// seedRepo writes a repository in the seed's shape.
func seedRepo(t testing.TB) string {
	dir := t.TempDir()
	writeRepo(t, dir, map[string]string{
		"clusters/dev/flux-system/gotk-sync.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\nspec:\n  interval: 1m\n  url: https://github.com/acme/fleet\n  ref: {branch: main}\n",
		"clusters/dev/infrastructure.yaml":        kustomizationYAML("infrastructure", "./infrastructure"),
		"clusters/dev/dependency.yaml":            kustomizationYAML("dependency", "./dependency", "infrastructure"),
		"clusters/dev/application.yaml":           kustomizationYAML("application", "./apps/dev", "dependency"),
		"clusters/dev/broken.yaml":                kustomizationYAML("broken", "./nope") + "---\n" + kustomizationYAML("after-broken", "./extra", "broken"),

		"infrastructure/kustomization.yaml":    "resources: [namespaces.yaml, repositories.yaml, cert-manager.yaml, istio.yaml, db]\n",
		"infrastructure/namespaces.yaml":       "apiVersion: v1\nkind: Namespace\nmetadata: {name: cert-manager}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: database}\n",
		"infrastructure/repositories.yaml":     "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: flux-system}\nspec:\n  interval: 1h\n  url: https://charts.example.invalid\n",
		"infrastructure/cert-manager.yaml":     helmReleaseYAML("cert-manager", "cert-manager", "certs", "1.x", ""),
		"infrastructure/istio.yaml":            helmReleaseYAML("istio-ingress", "istio-system", "gateway", "1.22.0", "") + "---\n" + helmReleaseYAML("istio-egress", "istio-system", "gateway", "1.22.0", ""),
		"infrastructure/db/kustomization.yaml": "namespace: database\nresources: [release.yaml]\nconfigMapGenerator:\n- name: db-values\n  files: [values.yaml]\nconfigurations: [nameref.yaml]\n",
		"infrastructure/db/values.yaml":        "auth: {database: app}\n",
		"infrastructure/db/nameref.yaml":       "nameReference:\n- kind: ConfigMap\n  version: v1\n  fieldSpecs:\n  - {path: spec/valuesFrom/name, kind: HelmRelease}\n",
		"infrastructure/db/release.yaml":       helmReleaseYAML("postgresql", "database", "postgresql", "15.x", "  valuesFrom:\n  - {kind: ConfigMap, name: db-values}\n"),

		"dependency/issuer.yaml":      "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: selfsigned, namespace: cert-manager}\nspec: {selfSigned: {}}\n",
		"dependency/certificate.yaml": "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: gateway, namespace: istio-system}\nspec:\n  secretName: gateway-tls\n  issuerRef: {name: selfsigned}\n",

		"apps/base/kustomization.yaml": "resources: [deployment.yaml]\n",
		"apps/base/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: app}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: web:v1}]}\n",
		"apps/dev/kustomization.yaml":  "resources: [../base, namespace.yaml]\nnameSuffix: -dev\n",
		"apps/dev/namespace.yaml":      "apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n",
		"apps/prod/kustomization.yaml": "resources: [../base]\nnameSuffix: -prod\n",
		"extra/cm.yaml":                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: app}\n",
	})
	return dir
}

func TestLoadSeedRepository(t *testing.T) {
	charts := seedCharts(t)
	art, err := source.NewDir(seedRepo(t), source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g, err := Load(context.Background(), art, "./clusters/dev", LoadOptions{
		Mirrors:  source.Mirrors{"https://charts.example.invalid": charts.URL},
		CacheDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range g.Units {
		ids = append(ids, u.ID)
	}
	want := []string{
		"HelmRelease/cert-manager/cert-manager",
		"HelmRelease/database/postgresql",
		"HelmRelease/istio-system/istio-egress",
		"HelmRelease/istio-system/istio-ingress",
		"Kustomization/flux-system/after-broken",
		"Kustomization/flux-system/application",
		"Kustomization/flux-system/broken",
		"Kustomization/flux-system/dependency",
		"Kustomization/flux-system/flux-system",
		"Kustomization/flux-system/infrastructure",
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Fatalf("units (-want +got):\n%s", diff)
	}

	if got := g.Unit("Kustomization/flux-system/application").DependsOn; !cmp.Equal(got, []string{"Kustomization/flux-system/dependency"}) {
		t.Errorf("application dependsOn %v", got)
	}
	// The broken unit fails; its dependent is blocked; siblings rendered.
	if err := g.Unit("Kustomization/flux-system/broken").Err; err == nil || !strings.Contains(err.Error(), `path "./nope" not found`) {
		t.Errorf("broken unit: %v", err)
	}
	if b := g.Unit("Kustomization/flux-system/after-broken").BlockedBy; b != "Kustomization/flux-system/broken" {
		t.Errorf("after-broken blocked by %q", b)
	}

	counts := map[string]int{}
	for _, u := range g.Units {
		if u.Err != nil && u.ID != "Kustomization/flux-system/broken" {
			t.Errorf("%s: %v", u.ID, u.Err)
		}
		for _, o := range u.Objects {
			counts[o.GetKind()]++
		}
	}
	wantCounts := map[string]int{
		"ConfigMap": 2, "CustomResourceDefinition": 2, "Deployment": 4, "GitRepository": 1, "HelmRelease": 4,
		"HelmRepository": 1, "Issuer": 1, "Certificate": 1, "Kustomization": 5, "Namespace": 4, "StatefulSet": 1,
	}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("objects by kind (-want +got):\n%s", diff)
	}

	// valuesFrom resolved against the ConfigMap generated in the parent unit,
	// through the nameReference that renamed it.
	pg := g.Unit("HelmRelease/database/postgresql")
	if len(pg.Objects) != 1 || pg.Objects[0].GetAnnotations()["database"] != "app" {
		t.Errorf("postgresql did not get its values: %+v", pg.Objects)
	}
	if pg.Revision != "15.5.0" || pg.Parent != "Kustomization/flux-system/infrastructure" {
		t.Errorf("postgresql revision %q parent %q", pg.Revision, pg.Parent)
	}
	dep := g.Unit("Kustomization/flux-system/dependency")
	for _, o := range dep.Objects {
		if o.GetKind() == "Issuer" && (o.Provenance.File != "dependency/issuer.yaml" || o.Provenance.Revision != art.Revision) {
			t.Errorf("issuer provenance %+v", o.Provenance)
		}
	}

	// Ordered with dag: the CRD edge puts cert-manager before the issuers.
	units, err := g.DagUnits()
	if err != nil {
		t.Fatal(err)
	}
	dg, err := dag.Build(units, dag.Options{Preinstalled: FluxKinds()})
	if err != nil {
		t.Fatal(err)
	}
	edges := dg.EdgesBetween("HelmRelease/cert-manager/cert-manager", "Kustomization/flux-system/dependency")
	if len(edges) == 0 || edges[0].Reason != dag.ReasonCRD {
		t.Errorf("no CRD edge from cert-manager to dependency: %v", dg.Edges())
	}
	if _, err := dg.Sort(); err != nil {
		t.Error(err)
	}
	var missing []string
	for _, p := range dg.Problems {
		missing = append(missing, p.String())
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("problems: %v", missing)
	}
}

// TestLoadKustomization starts from a root Flux Kustomization object.
func TestLoadKustomization(t *testing.T) {
	charts := seedCharts(t)
	art, err := source.NewDir(seedRepo(t), source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root := ks(t, "dev-cluster", "  path: ./clusters/dev\n")
	g, err := LoadKustomization(context.Background(), art, root, LoadOptions{
		Mirrors: source.Mirrors{"https://charts.example.invalid": charts.URL}, CacheDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if g.Unit("Kustomization/flux-system/dev-cluster") == nil || g.Unit("HelmRelease/database/postgresql") == nil || len(g.Units) != 10 {
		t.Errorf("%d units", len(g.Units))
	}
}

func TestLoadEdgeCases(t *testing.T) {
	charts := seedCharts(t)
	reg := helmtest.ServeRegistry(t, "", "")
	reg.PushArtifact(t, "manifests/extra", "v1.2.0", source.FluxContentType, map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-oci, namespace: default}\n"})
	dir := t.TempDir()
	writeRepo(t, dir, map[string]string{
		"root/units.yaml": kustomizationYAML("infra", "./infra") + "---\n" +
			"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: extra, namespace: flux-system}\nspec:\n  interval: 1h\n  url: oci://" + reg.Host + "/manifests/extra\n  insecure: true\n  ref: {semver: 1.x}\n---\n" +
			strings.Replace(kustomizationYAML("from-oci", "./"), "sourceRef: {kind: GitRepository, name: flux-system}", "sourceRef: {kind: OCIRepository, name: extra}", 1),
		"infra/kustomization.yaml": "resources: [sources.yaml, releases.yaml]\n",
		"infra/sources.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: flux-system}\nspec:\n  interval: 1h\n  url: https://charts.example.invalid\n  secretRef: {name: creds}\n" +
			"---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: typo, namespace: flux-system}\nspec:\n  interval: 1h\n  urll: https://x\n",
		"infra/releases.yaml": helmReleaseYAML("gw", "flux-system", "gateway", "1.x", "") +
			"---\n" + strings.Replace(helmReleaseYAML("bad-source", "flux-system", "gateway", "1.x", ""), "name: charts", "name: typo", 1) +
			"---\n" + helmReleaseYAML("needs-values", "flux-system", "postgresql", "15.x", "  valuesFrom:\n  - {kind: ConfigMap, name: made-elsewhere}\n") +
			"---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: gw-chart, namespace: flux-system}\nspec:\n  interval: 1h\n  chart: gateway\n  version: 1.x\n  sourceRef: {kind: HelmRepository, name: charts}\n" +
			"---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: by-chartref, namespace: flux-system}\nspec:\n  interval: 1m\n  chartRef: {kind: HelmChart, name: gw-chart}\n" +
			"---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: local, namespace: flux-system}\nspec:\n  interval: 1m\n  chart:\n    spec:\n      chart: ./charts/local\n      sourceRef: {kind: GitRepository, name: flux-system}\n",
		"charts/local/Chart.yaml":        "apiVersion: v2\nname: local\nversion: 0.1.0\n",
		"charts/local/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local}\n",
	})
	art, err := source.NewDir(dir, source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	load := func(opts LoadOptions) *Graph {
		opts.Mirrors = source.Mirrors{"https://charts.example.invalid": charts.URL}
		opts.CacheDir = t.TempDir()
		g, err := Load(context.Background(), art, "root", opts)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := load(LoadOptions{})
	// Mirrored, the repository's own secretRef is neither read nor sent.
	if u := g.Unit("HelmRelease/flux-system/gw"); u.Err != nil || strings.Contains(strings.Join(u.Warnings, "\n"), "secretRef") {
		t.Errorf("gw: err %v warnings %v", u.Err, u.Warnings)
	}
	if err := g.Unit("HelmRelease/flux-system/bad-source").Err; err == nil || !strings.Contains(err.Error(), `infra/sources.yaml: HelmRepository flux-system/typo`) || !strings.Contains(err.Error(), `unknown field "urll"`) {
		t.Errorf("bad-source: %v", err)
	}
	if err := g.Unit("HelmRelease/flux-system/needs-values").Err; err == nil || !strings.Contains(err.Error(), "valuesFrom ConfigMap/flux-system/made-elsewhere: not found") {
		t.Errorf("needs-values: %v", err)
	}
	if u := g.Unit("HelmRelease/flux-system/local"); u.Err != nil || len(u.Objects) != 1 || u.Revision != "0.1.0" {
		t.Errorf("chart from the repository itself: %v %+v", u.Err, u.Objects)
	}
	if u := g.Unit("Kustomization/flux-system/from-oci"); u == nil || u.Err != nil || len(u.Objects) != 1 || !strings.HasPrefix(u.Revision, "v1.2.0@sha256:") {
		t.Errorf("Kustomization from an OCIRepository: %v %q", u.Err, u.Revision)
	}
	if u := g.Unit("HelmRelease/flux-system/by-chartref"); u.Err != nil || len(u.Objects) != 1 || u.Revision != "1.22.0" {
		t.Errorf("chartRef to a HelmChart: %v %+v", u.Err, u.Objects)
	}
	// Missing values treated as empty, with a warning; or supplied by the caller.
	g = load(LoadOptions{MissingValuesEmpty: true})
	if u := g.Unit("HelmRelease/flux-system/needs-values"); u.Err != nil || !strings.Contains(strings.Join(u.Warnings, "\n"), "ConfigMap/flux-system/made-elsewhere was not found and was treated as empty") {
		t.Errorf("needs-values (empty): %v %v", u.Err, u.Warnings)
	}
	g = load(LoadOptions{Values: ValueMap{"ConfigMap/flux-system/made-elsewhere": {"values.yaml": "auth: {database: supplied}\n"}}})
	if u := g.Unit("HelmRelease/flux-system/needs-values"); u.Err != nil || u.Objects[0].GetAnnotations()["database"] != "supplied" {
		t.Errorf("needs-values (supplied): %v", u.Err)
	}
}
