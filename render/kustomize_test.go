package render

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/source"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func fleetArtifact(t testing.TB) *source.Artifact {
	t.Helper()
	a, err := source.NewDir("testdata/fleet", source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func obj(t testing.TB, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func ks(t testing.TB, name, spec string) *unstructured.Unstructured {
	return obj(t, fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: %s
  namespace: flux-system
spec:
  interval: 10m
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
%s`, name, spec))
}

// dump writes the objects as YAML with their provenance, for golden files.
func dump(t testing.TB, res *Result) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range res.Objects {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "# %s from %q\n---\n%s", objectKey(o.Unstructured), o.Provenance.File, y)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", p, diff)
	}
}

// TestKustomizeOverlay renders the dev overlay — resources, bases,
// prefixes, generators, patches of every kind, images, replacements, vars,
// configurations, transformers, components, openapi — with the Flux spec
// fields on top.
func TestKustomizeOverlay(t *testing.T) {
	k := NewKustomize(KustomizeOptions{})
	res, err := k.Render(context.Background(), fleetArtifact(t), ks(t, "apps-dev", `
  path: ./apps/dev
  targetNamespace: apps
  namePrefix: flux-
  images:
  - name: nginx
    newName: registry.local/nginx
  patches:
  - target: {kind: Service}
    patch: |
      - op: add
        path: /metadata/labels
        value: {exposed: "true"}
  commonMetadata:
    labels: {owner: team-a}
    annotations: {gitops: gitopskit}
`))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "apps-dev.yaml", dump(t, res))
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "'patchesStrategicMerge' is deprecated") {
		t.Errorf("warnings %q do not report the deprecated field", res.Warnings)
	}
	// The nameReference configuration renamed the generated ConfigMap in the HelmRelease.
	for _, o := range res.Objects {
		if o.GetKind() == "HelmRelease" {
			vf, _, _ := unstructured.NestedSlice(o.Object, "spec", "valuesFrom")
			name := vf[0].(map[string]any)["name"].(string)
			// spec.namePrefix replaces the overlay's own prefix, as in Flux.
			if !strings.HasPrefix(name, "flux-db-values-v1-") {
				t.Errorf("HelmRelease valuesFrom name = %s, want the generated ConfigMap's", name)
			}
		}
		if o.Provenance.Unit != "Kustomization/flux-system/apps-dev" || o.Provenance.Revision == "" {
			t.Errorf("%s: provenance %+v", objectKey(o.Unstructured), o.Provenance)
		}
		if _, ok := o.GetAnnotations()[originAnnotation]; ok {
			t.Errorf("%s keeps the origin annotation", objectKey(o.Unstructured))
		}
	}
}

// TestKustomizeGenerated: a path with no kustomization.yaml gets one from
// its manifests and sub-directories, as Flux generates it.
// TestKustomizeOpenAPI: a custom schema makes a strategic-merge patch merge
// list items by key.
func TestKustomizeOpenAPI(t *testing.T) {
	res, err := NewKustomize(KustomizeOptions{}).Render(context.Background(), fleetArtifact(t), ks(t, "schema", "  path: apps/schema\n"))
	if err != nil {
		t.Fatal(err)
	}
	comps, _, _ := unstructured.NestedSlice(res.Objects[0].Object, "spec", "components")
	if len(comps) != 2 {
		t.Fatalf("components = %v, want a and b merged by name", comps)
	}
}

func TestKustomizeGenerated(t *testing.T) {
	res, err := NewKustomize(KustomizeOptions{}).Render(context.Background(), fleetArtifact(t), ks(t, "plain", "  path: plain\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range res.Objects {
		got = append(got, o.GetName()+" "+o.Provenance.File)
	}
	sort.Strings(got)
	want := []string{"a plain/a.yaml", "b plain/b.yml", "c plain/b.yml", "sub-d plain/sub/d.yaml"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

func TestKustomizeSubstitution(t *testing.T) {
	values := ValueMap{
		"ConfigMap/flux-system/cluster-vars": {"cluster_name": "dev-1", "env": "from-configmap"},
		"Secret/flux-system/cluster-secrets": {"env": "from-secret"},
	}
	tests := map[string]struct {
		postBuild string
		strict    bool
		want      map[string]any // settings data
		wantErr   string
	}{
		"inline values and defaults": {
			postBuild: "    substitute: {cluster_name: c1, env: prod}\n",
			want:      map[string]any{"cluster": "c1", "region": "eu-west-1", "env": "prod"},
		},
		"substituteFrom in order, inline wins": {
			postBuild: "    substitute: {cluster_name: inline}\n    substituteFrom:\n    - {kind: ConfigMap, name: cluster-vars}\n    - {kind: Secret, name: cluster-secrets}\n",
			want:      map[string]any{"cluster": "inline", "region": "eu-west-1", "env": "from-secret"},
		},
		"optional reference missing": {
			postBuild: "    substitute: {cluster_name: c1}\n    substituteFrom:\n    - {kind: ConfigMap, name: absent, optional: true}\n",
			// As in Flux, an unset variable becomes empty, which YAML reads as null.
			want: map[string]any{"cluster": "c1", "region": "eu-west-1", "env": nil},
		},
		"required reference missing": {
			postBuild: "    substituteFrom:\n    - {kind: ConfigMap, name: absent}\n",
			wantErr:   "postBuild.substituteFrom ConfigMap/flux-system/absent: not found",
		},
		"strict: a variable with no value": {
			postBuild: "    substitute: {cluster_name: c1}\n",
			strict:    true,
			wantErr:   "ConfigMap/settings (substitute/objects.yaml): variable env has no value and no default",
		},
		"invalid variable name": {
			postBuild: "    substitute: {bad-name: x}\n",
			wantErr:   `variable name "bad-name" is invalid`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			k := NewKustomize(KustomizeOptions{Values: values, StrictSubstitution: tc.strict})
			res, err := k.Render(context.Background(), fleetArtifact(t), ks(t, "subst", "  path: substitute\n  postBuild:\n"+tc.postBuild))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "Kustomization/flux-system/subst: ") {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Objects {
				data, _, _ := unstructured.NestedMap(o.Object, "data")
				switch o.GetName() {
				case "settings":
					if diff := cmp.Diff(tc.want, data); diff != "" {
						t.Errorf("settings (-want +got):\n%s", diff)
					}
				case "raw":
					if data["script"] != any("echo ${HOME}") {
						t.Errorf("opted-out object was substituted: %q", data["script"])
					}
				}
			}
		})
	}
}

func TestKustomizeBadInput(t *testing.T) {
	tests := map[string]struct {
		spec string
		want []string
	}{
		"YAML syntax error, with file and line": {spec: "  path: broken/yaml\n", want: []string{"broken/yaml/bad.yaml: MalformedYAMLError: yaml: line 5"}},
		"unknown field in the spec":             {spec: "  path: plain\n  targetNamespce: x\n", want: []string{`unknown field "targetNamespce"`}},
		"missing path":                          {spec: "  path: ./nope\n", want: []string{`path "./nope" not found`}},
		"path outside the source":               {spec: "  path: ../../etc\n", want: []string{`path "../../etc" leaves the source`}},
		"load restrictor":                       {spec: "  path: broken/escape\n", want: []string{"is not in or below"}},
		"duplicate objects in one unit":         {spec: "  path: broken/dupe\n", want: []string{"already registered id: ConfigMap.v1.[noGrp]/a"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewKustomize(KustomizeOptions{}).Render(context.Background(), fleetArtifact(t), ks(t, "broken", tc.spec))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "Kustomization/flux-system/broken: ") {
				t.Errorf("error does not name the unit: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestKustomizeConcurrentFirstBuilds builds units at once in a process
// whose kustomize schema is not parsed yet, as the first units of a
// process's first Load are: kyaml parses its schema when a build first
// needs it (a strategic merge patch, here) and looks up the scope of a
// custom resource (base's HelmRelease) in it without a lock, so make
// test's race detector catches builds that do not wait for it to be
// parsed. Readers build base over and over while the first dev build
// parses the schema.
func TestKustomizeConcurrentFirstBuilds(t *testing.T) {
	// The fleet without apps/schema: an artifact with a kustomization that
	// sets its own schema has all its builds run alone.
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/fleet")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "apps", "schema")); err != nil {
		t.Fatal(err)
	}
	art, err := source.NewDir(dir, source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dev, base := ks(t, "dev", "  path: apps/dev\n"), ks(t, "base", "  path: apps/base\n")
	// The race needs one interleaving in a million, so the order is
	// checked first: a shared build parses the schema before kustomize
	// runs, and a build with a schema of its own leaves the default one
	// parsed again for the builds after it.
	parsed := func() bool {
		schemaLock.RLock()
		defer schemaLock.RUnlock()
		return schemaParsed
	}
	schemaLock.Lock()
	openapi.ResetOpenAPI()
	schemaParsed = false
	schemaLock.Unlock()
	if _, err := NewKustomize(KustomizeOptions{}).Render(context.Background(), art, base); err != nil || !parsed() {
		t.Fatalf("after a first build: schema parsed %v, %v", parsed(), err)
	}
	if _, err := NewKustomize(KustomizeOptions{}).Render(context.Background(), fleetArtifact(t), ks(t, "schema", "  path: apps/schema\n")); err != nil || !parsed() {
		t.Fatalf("after a build with its own schema: default schema parsed %v, %v", parsed(), err)
	}
	for range 3 {
		schemaLock.Lock()
		openapi.ResetOpenAPI()
		schemaParsed = false
		schemaLock.Unlock()
		var done atomic.Bool
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range 2 {
			wg.Go(func() {
				for !done.Load() && errs[i] == nil {
					_, errs[i] = NewKustomize(KustomizeOptions{}).Render(context.Background(), art, base)
				}
			})
		}
		_, errs[2] = NewKustomize(KustomizeOptions{}).Render(context.Background(), art, dev)
		done.Store(true)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestKustomizeConcurrent renders several units at once, one of them with a
// custom openapi schema; run under the race detector by make test.
func TestKustomizeConcurrent(t *testing.T) {
	art := fleetArtifact(t)
	k := NewKustomize(KustomizeOptions{})
	units := []*unstructured.Unstructured{
		ks(t, "dev", "  path: apps/dev\n"),
		ks(t, "base", "  path: apps/base\n"),
		ks(t, "plain", "  path: plain\n"),
		ks(t, "schema", "  path: apps/schema\n"),
		ks(t, "subst", "  path: substitute\n  postBuild:\n    substitute: {env: x}\n"),
	}
	want := make([][]byte, len(units))
	for i, u := range units {
		res, err := k.Render(context.Background(), art, u)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = dump(t, res)
	}
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Go(func() {
			u := units[i%len(units)]
			res, err := k.Render(context.Background(), art, u)
			if err != nil {
				errs[i] = err
				return
			}
			if got := dump(t, res); !bytes.Equal(got, want[i%len(units)]) {
				errs[i] = fmt.Errorf("%s rendered differently under concurrency", UnitID(u))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
