package render

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/corpus"
	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/source"
)

// helmInstalled is what Helm's install action (dry run, the same
// capabilities) makes of a chart, read back the way gitopskit read it
// before it rendered charts itself: the manifest split at "\n---" and
// decoded, and the hooks Helm found with their events, weights and delete
// policies.
func helmInstalled(t *testing.T, ch *chart.Chart, values map[string]any, name, namespace string, caps *chartutil.Capabilities) ([]map[string]any, []Hook) {
	t.Helper()
	cfg := &action.Configuration{
		Releases:     storage.Init(driver.NewMemory()),
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: caps,
		Log:          func(string, ...any) {},
	}
	install := action.NewInstall(cfg)
	install.DryRun = true
	install.DryRunOption = "client"
	install.Replace = true
	install.ReleaseName = name
	install.Namespace = namespace
	install.IncludeCRDs = true
	install.DisableOpenAPIValidation = true
	rel, err := install.Run(ch, values)
	if err != nil {
		t.Fatalf("helm install: %v", err)
	}
	decode := func(manifest string) []map[string]any {
		var out []map[string]any
		for _, part := range strings.Split(manifest, "\n---") {
			u, err := decodeObject([]byte(strings.TrimPrefix(part, "---")))
			if err != nil {
				t.Fatal(err)
			}
			if len(u.Object) > 0 {
				out = append(out, u.Object)
			}
		}
		return out
	}
	var hooks []Hook
	for _, h := range rel.Hooks {
		for _, o := range decode(h.Manifest) {
			hk := Hook{Weight: h.Weight}
			hk.Object.Unstructured = &unstructured.Unstructured{Object: o}
			for _, e := range h.Events {
				hk.Events = append(hk.Events, string(e))
			}
			for _, p := range h.DeletePolicies {
				hk.DeletePolicies = append(hk.DeletePolicies, string(p))
			}
			hooks = append(hooks, hk)
		}
	}
	return decode(rel.Manifest), hooks
}

// TestRenderChartAsHelmInstall: renderChart gives exactly the objects,
// in the same order, and the hooks Helm's install action gives, for the
// corpus's real charts (cert-manager with templated CRDs and a values
// schema, Envoy Gateway with a CRD sub-chart, podinfo) and for a chart
// made of Helm's corner cases: documents split the ways Helm splits them,
// hooks of several kinds and weights with delete policies, an unknown
// hook, partials, NOTES.txt, an empty template, and sub-charts on and off
// by condition, one with crds/.
func TestRenderChartAsHelmInstall(t *testing.T) {
	repo := corpus.FluxExample(t)
	caps := &chartutil.Capabilities{KubeVersion: chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"},
		APIVersions: chartutil.VersionSet(BuiltinAPIVersions()), HelmVersion: chartutil.DefaultCapabilities.HelmVersion}

	type release struct {
		name, namespace string
		load            func() *chart.Chart
		values          map[string]any
		warnings        int
	}
	var releases []release
	for _, u := range repo.Expected.Clusters["clusters/staging"].Units {
		if u.Type != "HelmRelease" {
			continue
		}
		releases = append(releases, release{
			name: u.ReleaseName, namespace: u.ReleaseNamespace,
			load: func() *chart.Chart {
				ch, err := loader.Load(filepath.Join(repo.Dir, u.ChartTgz))
				if err != nil {
					t.Fatal(err)
				}
				return ch
			},
			values: gunzipValues(t, filepath.Join(repo.Dir, "oracle", "staging", "helm-values", u.ReleaseNamespace+"."+u.ReleaseName+".values.yaml.gz")),
		})
	}
	if len(releases) != 3 {
		t.Fatalf("%d corpus releases, want 3", len(releases))
	}

	dir := t.TempDir()
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
	}
	hook := func(kind, name, events, weight, policy string) string {
		s := "apiVersion: v1\nkind: " + kind + "\nmetadata:\n  name: " + name + "\n  annotations:\n    helm.sh/hook: " + events + "\n"
		if weight != "" {
			s += "    helm.sh/hook-weight: \"" + weight + "\"\n"
		}
		if policy != "" {
			s += "    helm.sh/hook-delete-policy: " + policy + "\n"
		}
		return s
	}
	root := helmtest.WriteChart(t, dir, "corner", "1.0.0", map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: corner\nversion: 1.0.0\ndependencies:\n" +
			"- {name: on, version: 1.0.0, condition: on.enabled}\n- {name: off, version: 1.0.0, condition: off.enabled}\n",
		"values.yaml":            "on: {enabled: true}\noff: {enabled: false}\n",
		"templates/_helpers.tpl": "{{- define \"corner.name\" -}}corner{{- end -}}\n",
		"templates/NOTES.txt":    "notes\n---\nnot: an object\n",
		"templates/empty.yaml":   "{{- if false }}\nnever: here\n{{- end }}\n  \n",
		"templates/split.yaml": "---\n" + cm("a") + "--- # a comment after the dashes\n" + cm("b") + "---\n\n---\n" + cm("c") +
			"---" + strings.TrimPrefix(cm("d"), "") + "\n   ---\n",
		"templates/z-secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n",
		"templates/hooks.yaml": hook("Pod", "late", "post-install", "5", "hook-succeeded, Hook-Failed") + "---\n" +
			hook("ConfigMap", "early", "pre-install,PRE-upgrade", "-3", "") + "---\n" +
			hook("ServiceAccount", "sa", "pre-install", "oops", "before-hook-creation") + "---\n" +
			hook("Pod", "test", "test", "", ""),
		"templates/unknown-hook.yaml": hook("ConfigMap", "mystery", "pre-install,someday", "", ""),
	})
	helmtest.WriteChart(t, filepath.Join(root, "charts"), "on", "1.0.0", map[string]string{
		"templates/cm.yaml":   cm("{{ .Release.Name }}-on"),
		"crds/widgets.yaml":   crdYAML("widgets", "example.com", "Widget") + "---\n# between\n---\n" + crdYAML("gadgets", "example.com", "Gadget"),
		"templates/NOTES.txt": "sub notes",
	})
	helmtest.WriteChart(t, filepath.Join(root, "charts"), "off", "1.0.0", map[string]string{
		"templates/cm.yaml":   cm("{{ .Release.Name }}-off"),
		"crds/sprockets.yaml": crdYAML("sprockets", "example.com", "Sprocket"),
	})
	releases = append(releases, release{name: "corner", namespace: "apps", warnings: 1, load: func() *chart.Chart {
		ch, err := loader.LoadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}})

	for _, r := range releases {
		t.Run(r.name, func(t *testing.T) {
			wantObjs, wantHooks := helmInstalled(t, r.load(), copyValues(r.values), r.name, r.namespace, caps)
			out, err := renderChart(context.Background(), r.load(), copyValues(r.values), chartRelease{Name: r.name, Namespace: r.namespace, Capabilities: caps, IncludeCRDs: true})
			if err != nil {
				t.Fatal(err)
			}
			var gotObjs []map[string]any
			for _, o := range out.Objects {
				gotObjs = append(gotObjs, o.Object)
			}
			if diff := cmp.Diff(wantObjs, gotObjs); diff != "" {
				t.Errorf("objects (-helm +gitopskit):\n%s", diff)
			}
			// podinfo's test Pods end in randAlphaNum 5: compare the rest.
			random := regexp.MustCompile(`-test-[a-z0-9]{5}$`)
			for _, hs := range [][]Hook{wantHooks, out.Hooks} {
				for _, h := range hs {
					h.SetName(random.ReplaceAllString(h.GetName(), "-test-?????"))
				}
			}
			hookView := func(hs []Hook) []string {
				var out []string
				for _, h := range hs {
					out = append(out, strings.Join([]string{h.GetKind(), h.GetName(), strings.Join(h.Events, ","),
						strconv.Itoa(h.Weight), strings.Join(h.DeletePolicies, ",")}, " "))
				}
				return out
			}
			if diff := cmp.Diff(hookView(wantHooks), hookView(out.Hooks)); diff != "" {
				t.Errorf("hooks (-helm +gitopskit):\n%s", diff)
			}
			for i := range min(len(wantHooks), len(out.Hooks)) {
				if diff := cmp.Diff(wantHooks[i].Object.Object, out.Hooks[i].Object.Object); diff != "" {
					t.Errorf("hook %d (-helm +gitopskit):\n%s", i, diff)
				}
			}
			if len(out.Warnings) != r.warnings {
				t.Errorf("warnings %q, want %d", out.Warnings, r.warnings)
			}
			if r.name == "corner" {
				if len(gotObjs) < 8 || len(out.Hooks) != 4 {
					t.Errorf("the corner chart rendered %d objects and %d hooks; want at least 8 and 4", len(gotObjs), len(out.Hooks))
				}
				if len(out.Warnings) == 1 && !strings.Contains(out.Warnings[0], "mystery") {
					t.Errorf("warning %q does not name the skipped hook", out.Warnings[0])
				}
			}
		})
	}
}

func crdYAML(plural, group, kind string) string {
	return "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: " + plural + "." + group + "\n" +
		"spec:\n  group: " + group + "\n  names: {kind: " + kind + ", plural: " + plural + "}\n  scope: Namespaced\n" +
		"  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object}}\n"
}

func gunzipValues(t *testing.T, file string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal(gunzip(t, file), &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// gunzip is a gzipped file's contents.
func gunzip(tb testing.TB, file string) []byte {
	tb.Helper()
	f, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	return b
}

// copyValues copies values, which rendering changes (dependency
// conditions are resolved into them).
func copyValues(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// TestCRDsDecodedOnce: a chart's crds/ files are decoded once per process
// and every render gets its own copy: changing one render's CRD leaves
// the next render's as the chart has it.
func TestCRDsDecodedOnce(t *testing.T) {
	caps := &chartutil.Capabilities{KubeVersion: chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"},
		APIVersions: chartutil.VersionSet(BuiltinAPIVersions()), HelmVersion: chartutil.DefaultCapabilities.HelmVersion}
	root := helmtest.WriteChart(t, t.TempDir(), "crds-once", "1.0.0", map[string]string{
		"crds/things.yaml":  crdYAML("things", "once.example.com", "Thing"),
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
	})
	render := func() *chartOutput {
		ch, err := loader.LoadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		out, err := renderChart(context.Background(), ch, map[string]any{}, chartRelease{Name: "r", Namespace: "ns", Capabilities: caps, IncludeCRDs: true})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := render()
	before := decodedCRDs.Len()
	if before == 0 {
		t.Fatal("the CRD file was not remembered")
	}
	first.Objects[0].SetLabels(map[string]string{"changed": "by the caller"})
	second := render()
	if decodedCRDs.Len() != before {
		t.Errorf("the same file was remembered again (%d entries, then %d)", before, decodedCRDs.Len())
	}
	if second.Objects[0].GetKind() != "CustomResourceDefinition" || len(second.Objects[0].GetLabels()) != 0 {
		t.Errorf("the second render's CRD is not the chart's: %v", second.Objects[0].Object["metadata"])
	}
}

// TestSchemaAsHelm: values that break a chart's values.schema.json (the
// real cert-manager's) fail with Helm's own message, word for word, and
// values that meet it render.
func TestSchemaAsHelm(t *testing.T) {
	repo := corpus.FluxExample(t)
	caps := &chartutil.Capabilities{KubeVersion: chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"},
		APIVersions: chartutil.VersionSet(BuiltinAPIVersions()), HelmVersion: chartutil.DefaultCapabilities.HelmVersion}
	load := func() *chart.Chart {
		ch, err := loader.Load(filepath.Join(repo.Dir, "fixture", "charts", "jetstack-oci", "cert-manager-v1.20.3.tgz"))
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	bad := map[string]any{"replicaCount": "many", "webhook": map[string]any{"timeoutSeconds": "soon"}}
	cfg := &action.Configuration{Releases: storage.Init(driver.NewMemory()), KubeClient: &kubefake.PrintingKubeClient{Out: io.Discard}, Capabilities: caps, Log: func(string, ...any) {}}
	install := action.NewInstall(cfg)
	install.DryRun, install.DryRunOption, install.ReleaseName, install.Namespace = true, "client", "cert-manager", "cert-manager"
	_, helmErr := install.Run(load(), copyValues(bad))
	if helmErr == nil {
		t.Fatal("Helm accepted values its schema refuses")
	}
	_, err := renderChart(context.Background(), load(), copyValues(bad), chartRelease{Name: "cert-manager", Namespace: "cert-manager", Capabilities: caps})
	// The validator lists the causes in no fixed order, Helm's too.
	lines := func(err error) []string {
		if err == nil {
			return nil
		}
		l := strings.Split(err.Error(), "\n")
		slices.Sort(l)
		return l
	}
	if err == nil || !slices.Equal(lines(err), lines(helmErr)) {
		t.Errorf("error:\n%v\nHelm's:\n%v", err, helmErr)
	}
	if _, err := renderChart(context.Background(), load(), copyValues(bad), chartRelease{Name: "cert-manager", Namespace: "cert-manager", Capabilities: caps, SkipSchemaCheck: true}); err != nil {
		t.Errorf("with the schema check off: %v", err)
	}
	if _, err := renderChart(context.Background(), load(), map[string]any{"replicaCount": 2}, chartRelease{Name: "cert-manager", Namespace: "cert-manager", Capabilities: caps}); err != nil {
		t.Errorf("good values: %v", err)
	}
}

// TestSchemaReferences: a values.schema.json that $refs another document
// never reaches the network: unmirrored, the render fails at once naming
// the URL and how to mirror it; mirrored to a directory, the referenced
// schema is enforced; a local file reference is refused; and
// spec.install.disableSchemaValidation renders without the schema.
func TestSchemaReferences(t *testing.T) {
	caps := &chartutil.Capabilities{KubeVersion: chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"},
		APIVersions: chartutil.VersionSet(BuiltinAPIVersions()), HelmVersion: chartutil.DefaultCapabilities.HelmVersion}
	chartWith := func(ref string) *chart.Chart {
		root := helmtest.WriteChart(t, t.TempDir(), "refs", "1.0.0", map[string]string{
			"values.schema.json": `{"type": "object", "properties": {"port": {"$ref": "` + ref + `"}}}`,
			"templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {port: '{{ .Values.port }}'}\n",
		})
		ch, err := loader.LoadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	render := func(ch *chart.Chart, port any, mirrors source.Mirrors) error {
		_, err := renderChart(context.Background(), ch, map[string]any{"port": port}, chartRelease{Name: "r", Namespace: "ns", Capabilities: caps, Mirrors: mirrors})
		return err
	}
	const remote = "https://schemas.example.invalid/defs/port.json"
	err := render(chartWith(remote), 80, nil)
	if err == nil || !strings.Contains(err.Error(), remote) || !strings.Contains(err.Error(), "-mirror https://schemas.example.invalid/=file:///") || !strings.Contains(err.Error(), "disableSchemaValidation") {
		t.Errorf("unmirrored reference: %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "defs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "defs", "port.json"), []byte(`{"type": "integer", "minimum": 1, "maximum": 65535}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mirrors := source.Mirrors{"https://schemas.example.invalid": "file://" + dir}
	if err := render(chartWith(remote), 80, mirrors); err != nil {
		t.Errorf("mirrored reference, good value: %v", err)
	}
	if err := render(chartWith(remote), 70000, mirrors); err == nil || !strings.Contains(err.Error(), "values don't meet the specifications") {
		t.Errorf("mirrored reference, value out of range: %v", err)
	}
	if err := render(chartWith("file:///etc/hostname"), 80, nil); err == nil || !strings.Contains(err.Error(), "local file") {
		t.Errorf("local file reference: %v", err)
	}

	// Through a HelmRelease: disableSchemaValidation renders anyway.
	dir = t.TempDir()
	helmtest.WriteChart(t, dir, "certs", "1.0.0", map[string]string{
		"values.schema.json": `{"type": "object", "properties": {"port": {"$ref": "` + remote + `"}}}`,
		"templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
	})
	art, err := source.NewDir(filepath.Join(dir, "certs"), source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := NewHelm(HelmOptions{})
	if _, err := h.Render(context.Background(), art, hrObj(t, "v2", "cert-manager", "")); err == nil || !strings.Contains(err.Error(), remote) {
		t.Errorf("HelmRelease with the schema: %v", err)
	}
	if _, err := h.Render(context.Background(), art, hrObj(t, "v2", "cert-manager", "  install: {disableSchemaValidation: true}\n")); err != nil {
		t.Errorf("HelmRelease with install.disableSchemaValidation: %v", err)
	}
}

// history is a ReleaseHistory that says what it is told, for renders that
// must see a release as already installed.
type history ReleaseRevisions

func (h history) Revisions(context.Context, string, string) (ReleaseRevisions, error) {
	return ReleaseRevisions(h), nil
}

// TestRenderAsUpgrade: with a deployed revision of other values, a
// release renders as the next revision's upgrade (.Release.IsUpgrade,
// .Release.Revision), checks its values against the schema unless
// upgrade.disableSchemaValidation (install's setting does not count for
// an upgrade), and renders as revision 1's install with no history.
func TestRenderAsUpgrade(t *testing.T) {
	dir := t.TempDir()
	helmtest.WriteChart(t, dir, "certs", "1.0.0", map[string]string{
		"values.schema.json": `{"type": "object", "properties": {"port": {"type": "integer"}}}`,
		"templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {upgrade: '{{ .Release.IsUpgrade }}', revision: '{{ .Release.Revision }}'}\n",
	})
	art, err := source.NewDir(filepath.Join(dir, "certs"), source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	render := func(h ReleaseHistory, spec string) (*Result, error) {
		return NewHelm(HelmOptions{Releases: h}).Render(context.Background(), art, hrObj(t, "v2", "cert-manager", spec))
	}
	data := func(res *Result) string {
		d, _, _ := unstructured.NestedStringMap(res.Objects[0].Object, "data")
		return d["upgrade"] + " " + d["revision"]
	}
	res, err := render(nil, "")
	if err != nil || data(res) != "false 1" {
		t.Fatalf("offline: %v %v", err, res)
	}
	deployed := history{Latest: 3, Deployed: 2, DeployedConfig: "other values"}
	if res, err = render(deployed, ""); err != nil || data(res) != "true 4" || !res.Release.IsUpgrade || res.Release.Revision != 4 {
		t.Fatalf("upgrade: %v %v", err, res)
	}
	bad := "  values: {port: eighty}\n"
	if _, err := render(deployed, bad+"  install: {disableSchemaValidation: true}\n"); err == nil || !strings.Contains(err.Error(), "values don't meet") {
		t.Errorf("an upgrade with install.disableSchemaValidation: %v", err)
	}
	if _, err := render(deployed, bad+"  upgrade: {disableSchemaValidation: true}\n"); err != nil {
		t.Errorf("an upgrade with upgrade.disableSchemaValidation: %v", err)
	}
	// The deployed revision's own config renders as that revision again.
	same := history{Latest: 2, Deployed: 2, DeployedConfig: configDigest(art.Digest, map[string]any{})}
	if res, err = render(same, ""); err != nil || data(res) != "true 2" {
		t.Errorf("unchanged: %v %v", err, data(res))
	}
}
