package render

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/source"
)

// certsChart is a chart in the shape of cert-manager: a CRD in crds/, a
// controller Deployment, a hook, a sub-chart, a library chart, and a
// template that renders only when an API is served.
func certsChart(t testing.TB) *source.Artifact {
	t.Helper()
	dir := t.TempDir()
	helmtest.WriteChart(t, dir, "certs", "1.0.0", map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: certs\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 0.1.0\n- name: lib\n  version: 0.1.0\n",
		"values.yaml": "replicas: 1\nimage: controller:v1\nsub:\n  greeting: hello\n",
		"crds/clusterissuers.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterissuers.cert-manager.io
spec:
  group: cert-manager.io
  names: {kind: ClusterIssuer, plural: clusterissuers}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`,
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "lib.fullname" . }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
      - name: controller
        image: {{ .Values.image }}
`,
		"templates/clusterrole.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {{ .Release.Name }}-controller\nrules: []\n",
		"templates/servicemonitor.yaml": `{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .Release.Name }}
spec: {}
{{- end }}
`,
		"templates/hook.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-startupcheck
  annotations:
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-weight: "-5"
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: check, image: check:v1}]
`,
		"charts/sub/Chart.yaml":               "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
		"charts/sub/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-sub\ndata:\n  greeting: {{ .Values.greeting }}\n",
		"charts/lib/Chart.yaml":               "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
		"charts/lib/templates/_helpers.tpl":   "{{- define \"lib.fullname\" -}}{{ .Release.Name }}-controller{{- end -}}\n",
	})
	a, err := source.NewDir(dir+"/certs", source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func hrObj(t testing.TB, version, name, spec string) *unstructured.Unstructured {
	return obj(t, fmt.Sprintf(`apiVersion: helm.toolkit.fluxcd.io/%s
kind: HelmRelease
metadata:
  name: %s
  namespace: cert-manager
spec:
  interval: 10m
  chart:
    spec:
      chart: certs
      sourceRef: {kind: HelmRepository, name: jetstack}
%s`, version, name, spec))
}

func summary(res *Result) []string {
	var out []string
	for _, o := range res.Objects {
		out = append(out, objectKey(o.Unstructured)+" "+o.Provenance.File)
	}
	sort.Strings(out)
	return out
}

func TestHelmRender(t *testing.T) {
	chart := certsChart(t)
	res, err := NewHelm(HelmOptions{}).Render(context.Background(), chart, hrObj(t, "v2", "cert-manager", ""))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ClusterRole.rbac.authorization.k8s.io/cert-manager-controller certs/templates/clusterrole.yaml",
		"ConfigMap/cert-manager/cert-manager-sub certs/charts/sub/templates/configmap.yaml",
		"CustomResourceDefinition.apiextensions.k8s.io/clusterissuers.cert-manager.io certs/crds/clusterissuers.yaml",
		"Deployment.apps/cert-manager/cert-manager-controller certs/templates/deployment.yaml",
	}
	if diff := cmp.Diff(want, summary(res)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if len(res.Hooks) != 1 || res.Hooks[0].GetName() != "cert-manager-startupcheck" ||
		!cmp.Equal(res.Hooks[0].Events, []string{"post-install", "post-upgrade"}) || res.Hooks[0].Weight != -5 {
		t.Errorf("hooks: %+v", res.Hooks)
	}
	p := res.Objects[0].Provenance
	if p.Chart != "certs-1.0.0" || p.ChartDigest != chart.Digest || p.Unit != "HelmRelease/cert-manager/cert-manager" {
		t.Errorf("provenance %+v", p)
	}
	// Deterministic: a second render is the same, byte for byte.
	again, err := NewHelm(HelmOptions{}).Render(context.Background(), chart, hrObj(t, "v2", "cert-manager", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dump(t, res), dump(t, again)) {
		t.Error("two renders differ")
	}
}

func TestHelmReleaseOptions(t *testing.T) {
	chart := certsChart(t)
	long := strings.Repeat("a", 30)
	tests := map[string]struct {
		version, name, spec string
		opts                HelmOptions
		check               func(t *testing.T, res *Result)
	}{
		"targetNamespace names and places the release": {
			version: "v2", name: "certs", spec: "  targetNamespace: security\n",
			check: func(t *testing.T, res *Result) {
				wantObject(t, res, "Deployment.apps/security/security-certs-controller")
			},
		},
		"long names are shortened as Flux does": {
			version: "v2", name: long, spec: "  targetNamespace: " + long + "\n",
			check: func(t *testing.T, res *Result) {
				name := shortenReleaseName(long + "-" + long)
				if len(name) != 53 || !strings.HasPrefix(name, long+"-"+long[:9]+"-") {
					t.Errorf("shortened name %q", name)
				}
				wantObject(t, res, "Deployment.apps/"+long+"/"+name+"-controller")
			},
		},
		"CRD policy Skip": {
			version: "v2", name: "cm", spec: "  install: {crds: Skip}\n",
			check: func(t *testing.T, res *Result) {
				for _, o := range res.Objects {
					if o.GetKind() == "CustomResourceDefinition" {
						t.Error("CRD rendered with policy Skip")
					}
				}
			},
		},
		"v2beta1 skipCRDs": {
			version: "v2beta1", name: "cm", spec: "  install: {skipCRDs: true}\n",
			check: func(t *testing.T, res *Result) {
				for _, o := range res.Objects {
					if o.GetKind() == "CustomResourceDefinition" {
						t.Error("CRD rendered with skipCRDs")
					}
				}
			},
		},
		"API versions from CRDs elsewhere in the graph": {
			version: "v2", name: "cm", opts: HelmOptions{APIVersions: []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"}},
			check: func(t *testing.T, res *Result) {
				wantObject(t, res, "ServiceMonitor.monitoring.coreos.com/cert-manager/cm")
			},
		},
		"post-renderer patches": {
			version: "v2", name: "cm",
			spec: `  postRenderers:
  - kustomize:
      patches:
      - target: {kind: Deployment}
        patch: |
          - op: add
            path: /metadata/labels
            value: {patched: "yes"}
      images:
      - name: controller
        newTag: v2
`,
			check: func(t *testing.T, res *Result) {
				for _, o := range res.Objects {
					if o.GetKind() == "Deployment" {
						img, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
						if o.GetLabels()["patched"] != "yes" || img[0].(map[string]any)["image"] != "controller:v2" {
							t.Errorf("post-renderer not applied: %v", o.Object)
						}
						if o.Provenance.File != "certs/templates/deployment.yaml" {
							t.Errorf("provenance lost: %+v", o.Provenance)
						}
					}
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := NewHelm(tc.opts).Render(context.Background(), chart, hrObj(t, tc.version, tc.name, tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, res)
		})
	}
}

func wantObject(t *testing.T, res *Result, key string) {
	t.Helper()
	for _, o := range res.Objects {
		if objectKey(o.Unstructured) == key {
			return
		}
	}
	t.Errorf("no %s in %v", key, summary(res))
}

// TestHelmSameChartTwice renders one chart under two release names, as the
// seed's Istio ingress and egress gateways do.
func TestHelmSameChartTwice(t *testing.T) {
	chart := certsChart(t)
	h := NewHelm(HelmOptions{})
	in, err := h.Render(context.Background(), chart, hrObj(t, "v2", "istio-ingress", ""))
	if err != nil {
		t.Fatal(err)
	}
	eg, err := h.Render(context.Background(), chart, hrObj(t, "v2", "istio-egress", ""))
	if err != nil {
		t.Fatal(err)
	}
	wantObject(t, in, "Deployment.apps/cert-manager/istio-ingress-controller")
	wantObject(t, eg, "Deployment.apps/cert-manager/istio-egress-controller")
}

func TestHelmValues(t *testing.T) {
	chart := certsChart(t)
	values := ValueMap{
		"ConfigMap/cert-manager/base-values": {"values.yaml": "replicas: 3\nimage: from-configmap:v1\n"},
		"Secret/cert-manager/image":          {"tag": "secret:v9"},
		"ConfigMap/cert-manager/not-a-map":   {"values.yaml": "- a\n- b\n"},
	}
	tests := map[string]struct {
		spec     string
		replicas int64
		image    string
		wantErr  string
	}{
		"valuesFrom, targetPath, then spec.values": {
			spec: `  valuesFrom:
  - {kind: ConfigMap, name: base-values}
  - {kind: Secret, name: image, valuesKey: tag, targetPath: image}
  - {kind: ConfigMap, name: absent, optional: true}
  values:
    replicas: 5
`,
			replicas: 5, image: "secret:v9",
		},
		"valuesFrom alone": {spec: "  valuesFrom:\n  - {kind: ConfigMap, name: base-values}\n", replicas: 3, image: "from-configmap:v1"},
		"missing required": {spec: "  valuesFrom:\n  - {kind: ConfigMap, name: absent}\n", wantErr: "valuesFrom ConfigMap/cert-manager/absent: not found"},
		"missing key":      {spec: "  valuesFrom:\n  - {kind: Secret, name: image}\n", wantErr: `valuesFrom Secret/cert-manager/image: no key "values.yaml"`},
		"values not a map": {spec: "  valuesFrom:\n  - {kind: ConfigMap, name: not-a-map}\n", wantErr: `key "values.yaml" is not a YAML map of values`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := NewHelm(HelmOptions{Values: values}).Render(context.Background(), chart, hrObj(t, "v2", "cm", tc.spec))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "HelmRelease/cert-manager/cm: ") {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Objects {
				if o.GetKind() != "Deployment" {
					continue
				}
				r, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
				c, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				if r != tc.replicas || c[0].(map[string]any)["image"] != tc.image {
					t.Errorf("replicas %d image %v; want %d %s", r, c[0].(map[string]any)["image"], tc.replicas, tc.image)
				}
			}
		})
	}
}

// TestHelmValuesFromChanged renders one HelmRelease twice, its valuesFrom
// ConfigMap changed in between: the second render has the new values only.
// The release's spec is read once per process and shared, so merging
// valuesFrom into its values in place would carry the first values over.
func TestHelmValuesFromChanged(t *testing.T) {
	chart := certsChart(t)
	values := ValueMap{"ConfigMap/cert-manager/base": {"values.yaml": "image: first:v1\n"}}
	hr := hrObj(t, "v2", "cm", "  valuesFrom:\n  - {kind: ConfigMap, name: base}\n  values:\n    replicas: 2\n")
	render := func() map[string]any {
		t.Helper()
		res, err := NewHelm(HelmOptions{Values: values}).Render(context.Background(), chart, hr.DeepCopy())
		if err != nil {
			t.Fatal(err)
		}
		return res.Release.Values
	}
	if got := render(); got["image"] != "first:v1" || fmt.Sprint(got["replicas"]) != "2" {
		t.Fatalf("first values %v", got)
	}
	values["ConfigMap/cert-manager/base"]["values.yaml"] = "sub:\n  greeting: hi\n"
	if got := render(); got["image"] != nil || fmt.Sprint(got["replicas"]) != "2" {
		t.Errorf("second values %v: want replicas 2 and no image", got)
	}
}

func TestHelmBadInput(t *testing.T) {
	dir := t.TempDir()
	helmtest.WriteChart(t, dir, "broken", "0.1.0", map[string]string{
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.missing.field }}\n",
	})
	broken, err := source.NewDir(dir+"/broken", source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		chart *source.Artifact
		hr    *unstructured.Unstructured
		want  string
	}{
		"template error names the template": {chart: broken, hr: hrObj(t, "v2", "x", ""), want: "broken/templates/cm.yaml"},
		"unknown spec field":                {chart: certsChart(t), hr: hrObj(t, "v2", "x", "  valuez: {}\n"), want: `unknown field "valuez"`},
		"not a HelmRelease":                 {chart: certsChart(t), hr: obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: y}\n"), want: "not a Flux HelmRelease"},
		"missing chart":                     {chart: &source.Artifact{URL: "file:///nope", Path: dir + "/nope"}, hr: hrObj(t, "v2", "x", ""), want: "chart file:///nope"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewHelm(HelmOptions{}).Render(context.Background(), tc.chart, tc.hr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRenderConcurrentMixed renders Helm releases and Kustomizations at
// once; make test runs it under the race detector.
func TestRenderConcurrentMixed(t *testing.T) {
	chart := certsChart(t)
	art := fleetArtifact(t)
	h := NewHelm(HelmOptions{})
	k := NewKustomize(KustomizeOptions{})
	errs := make([]error, 16)
	done := make(chan struct{})
	for i := range errs {
		go func() {
			defer func() { done <- struct{}{} }()
			if i%2 == 0 {
				_, errs[i] = h.Render(context.Background(), chart, hrObj(t, "v2", fmt.Sprintf("r%d", i), ""))
			} else {
				_, errs[i] = k.Render(context.Background(), art, ks(t, fmt.Sprintf("k%d", i), "  path: apps/schema\n"))
			}
		}()
	}
	for range errs {
		<-done
	}
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestHelmReleaseInfo: a HelmRelease's render says what Helm records of
// it: the release's name and namespaces, Flux's default history of 5, the
// user-supplied values, a manifest of the templates' objects as Helm
// writes it (not the CRDs of crds/, not hooks), and the hooks; its
// objects carry Helm's ownership metadata. A cached render says the same.
func TestHelmReleaseInfo(t *testing.T) {
	chart := certsChart(t)
	cache := NewCache(0)
	hr := hrObj(t, "v2", "cert-manager", "  targetNamespace: certs\n  storageNamespace: records\n  values: {replicas: 3}\n")
	for _, pass := range []string{"rendered", "cached"} {
		res, err := NewHelm(HelmOptions{Cache: cache}).Render(context.Background(), chart, hr)
		if err != nil {
			t.Fatal(err)
		}
		rel := res.Release
		if rel == nil {
			t.Fatalf("%s: no release", pass)
		}
		if rel.Name != "certs-cert-manager" || rel.Namespace != "certs" || rel.StorageNamespace != "records" || rel.MaxHistory != 5 {
			t.Errorf("%s: release %s/%s, records in %s, history %d", pass, rel.Namespace, rel.Name, rel.StorageNamespace, rel.MaxHistory)
		}
		if fmt.Sprint(rel.Values) != "map[replicas:3]" || rel.Chart.Metadata.Name != "certs" {
			t.Errorf("%s: values %v, chart %s", pass, rel.Values, rel.Chart.Metadata.Name)
		}
		for _, want := range []string{"---\n# Source: certs/templates/deployment.yaml\n", "kind: Deployment", "# Source: certs/charts/sub/templates/configmap.yaml"} {
			if !strings.Contains(rel.Manifest, want) {
				t.Errorf("%s: the manifest lacks %q:\n%s", pass, want, rel.Manifest)
			}
		}
		if strings.Contains(rel.Manifest, "CustomResourceDefinition") || strings.Contains(rel.Manifest, "startupcheck") {
			t.Errorf("%s: the manifest holds a crds/ CRD or a hook:\n%s", pass, rel.Manifest)
		}
		if len(rel.Hooks) != 1 || !strings.HasSuffix(rel.Hooks[0].Name, "-startupcheck") || rel.Hooks[0].Weight != -5 || len(rel.Hooks[0].Events) != 2 {
			t.Errorf("%s: hooks %+v", pass, rel.Hooks)
		}
		for _, o := range res.Objects {
			crd := o.GetKind() == "CustomResourceDefinition"
			marked := o.GetLabels()["app.kubernetes.io/managed-by"] == "Helm" && o.GetAnnotations()["meta.helm.sh/release-name"] == rel.Name &&
				o.GetAnnotations()["meta.helm.sh/release-namespace"] == "certs"
			if marked == crd {
				t.Errorf("%s: %s: Helm's ownership metadata %v (a crds/ CRD has none, every other object has it)", pass, objectKey(o.Unstructured), marked)
			}
		}
		rel.Values["replicas"] = "changed by the caller" // must not reach the cache
	}
	for file, want := range map[string]bool{"app/crds/a.yaml": true, "app/charts/sub/crds/a.yaml": true, "app/charts/crds/crds/a.yaml": true,
		"app/templates/crds/a.yaml": false, "app/charts/crds/templates/a.yaml": false, "crds/a.yaml": false} {
		if inCRDsDir(file) != want {
			t.Errorf("inCRDsDir(%q) = %v", file, !want)
		}
	}
}

// TestCacheKeepsRejected: a cached render keeps the units it rejected, so
// a second load fails them again instead of losing them (which would make
// them look removed).
func TestCacheKeepsRejected(t *testing.T) {
	c := NewCache(0)
	rj := RejectedUnit{Object: obj(t, "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: bad, namespace: flux-system}\n"), File: "bad.yaml", Err: fmt.Errorf("duplicate key")}
	c.put("k", &Result{Unit: "u", Rejected: []RejectedUnit{rj}})
	got, ok := c.get("k")
	if !ok || len(got.Rejected) != 1 || got.Rejected[0].File != "bad.yaml" || got.Rejected[0].Object.GetName() != "bad" {
		t.Fatalf("cached result: %+v", got)
	}
}

// TestHelmReleaseRemediation: remediation, strategy and rollback settings
// are read with Flux's defaults in every HelmRelease version: no retries;
// an install uninstalls and remediates its last failure only when told,
// an upgrade rolls back and remediates its last failure when it has
// retries; ignoreTestFailures defaults to test.ignoreFailures;
// RetryOnFailure retries without end and never remediates. A bad strategy
// or ignore path fails the release; fields with no effect here warn.
func TestHelmReleaseRemediation(t *testing.T) {
	tests := map[string]struct {
		version, spec    string
		install, upgrade ReleaseRemediation
		ignore           []DriftIgnoreRule
		warning, err     string
	}{
		"defaults": {version: "v2",
			install: ReleaseRemediation{Strategy: "uninstall"}, upgrade: ReleaseRemediation{Strategy: "rollback"}},
		"retries": {version: "v2", spec: "  install: {remediation: {retries: 2}}\n  upgrade: {remediation: {retries: 3}}\n",
			install: ReleaseRemediation{Strategy: "uninstall", Retries: 2}, upgrade: ReleaseRemediation{Strategy: "rollback", Retries: 3, RemediateLastFailure: true}},
		"told": {version: "v2beta2", spec: "  install: {remediation: {retries: -1, remediateLastFailure: true}}\n  upgrade: {remediation: {retries: 1, remediateLastFailure: false, strategy: uninstall}}\n",
			install: ReleaseRemediation{Strategy: "uninstall", Retries: -1, RemediateLastFailure: true}, upgrade: ReleaseRemediation{Strategy: "uninstall", Retries: 1}},
		"tests": {version: "v2", spec: "  test: {enable: true, ignoreFailures: true}\n  upgrade: {remediation: {ignoreTestFailures: false}}\n",
			install: ReleaseRemediation{Strategy: "uninstall", IgnoreTestFailures: true}, upgrade: ReleaseRemediation{Strategy: "rollback"}},
		"rollback": {version: "v2", spec: "  rollback: {disableWait: true, disableHooks: true, timeout: 1m, recreate: true}\n",
			install: ReleaseRemediation{Strategy: "uninstall", RollbackDisableWait: true, RollbackDisableHooks: true, RollbackTimeout: time.Minute},
			upgrade: ReleaseRemediation{Strategy: "rollback", RollbackDisableWait: true, RollbackDisableHooks: true, RollbackTimeout: time.Minute},
			warning: "spec.rollback.recreate is not implemented"},
		"retry on failure": {version: "v2", spec: "  upgrade: {strategy: {name: RetryOnFailure, retryInterval: 1m}}\n",
			install: ReleaseRemediation{Strategy: "uninstall"}, upgrade: ReleaseRemediation{Strategy: "retry", Retries: -1},
			warning: "spec.upgrade.strategy.retryInterval is not implemented"},
		"v2beta1": {version: "v2beta1", spec: "  upgrade: {remediation: {retries: 1, strategy: uninstall}}\n",
			install: ReleaseRemediation{Strategy: "uninstall"}, upgrade: ReleaseRemediation{Strategy: "uninstall", Retries: 1, RemediateLastFailure: true}},
		"ignore rules": {version: "v2", spec: "  driftDetection: {mode: enabled, ignore: [{paths: [/spec/replicas], target: {kind: Deployment}}]}\n",
			install: ReleaseRemediation{Strategy: "uninstall"}, upgrade: ReleaseRemediation{Strategy: "rollback"},
			ignore: []DriftIgnoreRule{{Paths: []string{"/spec/replicas"}, Target: &ObjectSelector{Kind: "Deployment"}}}},
		"bad ignore path": {version: "v2", spec: "  driftDetection: {ignore: [{paths: [spec/replicas]}]}\n", err: `"spec/replicas" is not a JSON pointer`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			hr, _, err := helmReleaseSpec(hrObj(t, tc.version, "app", tc.spec))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.install, hr.InstallRemediation); diff != "" {
				t.Errorf("install (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.upgrade, hr.UpgradeRemediation); diff != "" {
				t.Errorf("upgrade (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.ignore, hr.DriftIgnore); diff != "" {
				t.Errorf("ignore (-want +got):\n%s", diff)
			}
			warned := strings.Join(hr.Unimplemented, "\n")
			if tc.warning != "" && !strings.Contains(warned, tc.warning) || tc.warning == "" && warned != "" {
				t.Errorf("warnings %q, want %q", warned, tc.warning)
			}
		})
	}
}
