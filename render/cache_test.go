package render

import (
	"bytes"
	"context"
	"testing"
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
