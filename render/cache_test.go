package render

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gitopskit/gitopskit/internal/corpus"
	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/source"
)

func TestCache(t *testing.T) {
	cache := NewCache(0)
	art := fleetArtifact(t)
	values := ValueMap{"ConfigMap/flux-system/vars": {"env": "one"}}
	k := NewKustomize(KustomizeOptions{Cache: cache, Values: values})
	unit := ks(t, "subst", "  path: substitute\n  postBuild:\n    substituteFrom:\n    - {kind: ConfigMap, name: vars}\n")
	first, err := k.Render(context.Background(), art, unit)
	if err != nil {
		t.Fatal(err)
	}
	first.Objects[0].SetName("changed-by-caller")
	second, err := k.Render(context.Background(), art, unit)
	if err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 1 || second.Objects[0].GetName() != "settings" {
		t.Fatalf("cache len %d, first object %s", cache.Len(), second.Objects[0].GetName())
	}
	// A changed input value is a new key.
	values["ConfigMap/flux-system/vars"]["env"] = "two"
	third, err := k.Render(context.Background(), art, unit)
	if err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 2 || bytes.Equal(dump(t, second), dump(t, third)) {
		t.Errorf("changed variable not re-rendered (cache len %d)", cache.Len())
	}
	// Helm shares the cache.
	h := NewHelm(HelmOptions{Cache: cache})
	chart := certsChart(t)
	a, err := h.Render(context.Background(), chart, hrObj(t, "v2", "cm", ""))
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Render(context.Background(), chart, hrObj(t, "v2", "cm", ""))
	if err != nil || !bytes.Equal(dump(t, a), dump(t, b)) || cache.Len() != 3 {
		t.Errorf("helm cache: %v, len %d", err, cache.Len())
	}
	// The size bound evicts the least recently used.
	small := NewCache(1)
	small.put("a", a)
	small.put("b", b)
	if _, ok := small.get("a"); ok || small.Len() != 1 {
		t.Error("size bound not kept")
	}
}

func TestSharedCache(t *testing.T) {
	ctx := context.Background()
	cache := NewSharedCache(0)
	k := NewKustomize(KustomizeOptions{Cache: cache, Values: ValueMap{"ConfigMap/flux-system/vars": {"env": "one"}}})
	art := fleetArtifact(t)
	unit := ks(t, "subst", "  path: substitute\n  postBuild:\n    substituteFrom:\n    - {kind: ConfigMap, name: vars}\n")
	first, err := k.Render(ctx, art, unit)
	if err != nil {
		t.Fatal(err)
	}
	// The Result and its slices are the caller's own.
	first.Warnings = append(first.Warnings, "added by the caller")
	first.Objects[0] = Object{Unstructured: &unstructured.Unstructured{Object: map[string]any{"kind": "Replaced"}}}
	second, err := k.Render(ctx, art, unit)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Warnings) != 0 || second.Objects[0].GetKind() != "ConfigMap" {
		t.Fatalf("a caller's change to its Result reached the cache: warnings %q, first object %s", second.Warnings, second.Objects[0].GetKind())
	}
	// The objects are shared, not copied.
	third, err := k.Render(ctx, art, unit)
	if err != nil {
		t.Fatal(err)
	}
	if third.Objects[0].Unstructured != second.Objects[0].Unstructured {
		t.Error("a shared cache handed out a copy")
	}

	// A chart's CRDs, decoded once per process, are shared between the
	// results of a shared cache and copied for a copying one.
	chart := certsChart(t)
	crd := func(c *Cache, name string) *unstructured.Unstructured {
		t.Helper()
		res, err := NewHelm(HelmOptions{Cache: c}).Render(ctx, chart, hrObj(t, "v2", name, ""))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			if o.GetKind() == "CustomResourceDefinition" {
				return o.Unstructured
			}
		}
		t.Fatalf("%s: no CRD rendered", name)
		return nil
	}
	if crd(cache, "one") != crd(cache, "two") {
		t.Error("the releases of a shared cache do not share the chart's CRDs")
	}
	copying := NewCache(0)
	a, b := crd(copying, "one"), crd(copying, "two")
	if a == b {
		t.Error("the releases of a copying cache share the chart's CRDs")
	}
	a.SetName("changed-by-caller")
	if crd(NewCache(0), "three").GetName() != "clusterissuers.cert-manager.io" {
		t.Error("a caller's change to a CRD reached the next render")
	}
}

// TestLoadConcurrentSharedCache loads the real corpus through one shared
// cache, several loads at once (make test-race runs it under the race
// detector): every load gets the units the first one got, sharing their
// objects, and nothing a load does to its units changes what the cache
// shares.
func TestLoadConcurrentSharedCache(t *testing.T) {
	repo := corpus.FluxExample(t)
	ctx := context.Background()
	art, err := source.NewDir(repo.Tree(), source.DirOptions{}).Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	type unitView struct {
		Objects  []any
		Hooks    []any
		Warnings []string
		Values   any
		Err      string
	}
	// snapshot copies what a graph's units hold (runtime.DeepCopyJSONValue
	// keeps int64s, which a JSON round trip would not).
	snapshot := func(g *Graph) map[string]unitView {
		out := map[string]unitView{}
		for _, u := range g.Units {
			v := unitView{Warnings: slices.Clone(u.Warnings)}
			for _, o := range u.Objects {
				v.Objects = append(v.Objects, runtime.DeepCopyJSONValue(o.Object))
			}
			for _, h := range u.Hooks {
				v.Hooks = append(v.Hooks, runtime.DeepCopyJSONValue(h.Object.Object))
			}
			if u.Release != nil {
				v.Values = runtime.DeepCopyJSONValue(u.Release.Values)
			}
			if u.Err != nil {
				v.Err = u.Err.Error()
			}
			out[u.ID] = v
		}
		return out
	}
	paths := []string{"clusters/staging", "clusters/production"}
	shared := NewSharedCache(0)
	first := map[string]*Graph{}
	want := map[string]map[string]unitView{}
	for _, p := range paths {
		if first[p], err = Load(ctx, art, p, LoadOptions{Mirrors: repo.Mirrors, CacheDir: dir, Cache: shared}); err != nil {
			t.Fatal(err)
		}
		want[p] = snapshot(first[p])
	}
	filled := shared.Len()
	var g errgroup.Group
	graphs := make([]*Graph, 4)
	for i := range graphs {
		g.Go(func() (err error) {
			graphs[i], err = Load(ctx, art, paths[i%2], LoadOptions{Mirrors: repo.Mirrors, CacheDir: dir, Cache: shared})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if shared.Len() != filled {
		t.Errorf("the unchanged loads rendered %d units again", shared.Len()-filled)
	}
	for i, got := range graphs {
		p := paths[i%2]
		if diff := cmp.Diff(want[p], snapshot(got)); diff != "" {
			t.Errorf("%s, load %d (-first +this):\n%s", p, i, diff)
		}
		// The objects are the cache's, not copies (but for sources
		// without a namespace, which Load copies to give one).
		for j, u := range got.Units {
			for k, o := range u.Objects {
				if o.Unstructured != first[p].Units[j].Objects[k].Unstructured && o.GroupVersionKind().Group != SourceGroup && o.GroupVersionKind().Group != ExtensionsGroup {
					t.Errorf("%s: %s was copied", u.ID, objectKey(o.Unstructured))
				}
			}
		}
	}
	for _, p := range paths {
		if diff := cmp.Diff(want[p], snapshot(first[p])); diff != "" {
			t.Errorf("%s changed after later loads (-then +now):\n%s", p, diff)
		}
	}
}

// TestSharedCacheObjectInCRDs: a namespaced object in a chart's crds/
// directory (decoded once per process, and shared by a shared cache's
// results) gets each release's namespace on a copy of its own.
func TestSharedCacheObjectInCRDs(t *testing.T) {
	dir := t.TempDir()
	helmtest.WriteChart(t, dir, "odd", "1.0.0", map[string]string{
		"crds/settings.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: b}\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
	})
	chart, err := source.NewDir(dir+"/odd", source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := NewHelm(HelmOptions{Cache: NewSharedCache(0)})
	for _, ns := range []string{"one", "two", "one"} {
		res, err := h.Render(context.Background(), chart, hrObj(t, "v2", "odd-"+ns, "  targetNamespace: "+ns+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			if o.GetName() == "settings" && o.GetNamespace() != ns {
				t.Errorf("release in %s: crds/settings.yaml's ConfigMap is in %q", ns, o.GetNamespace())
			}
		}
	}
}
