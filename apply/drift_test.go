package apply

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/inventory"
)

// TestUnchangedAndDrift: re-applying an unchanged unit makes no write
// request (only the inventory's); a field changed behind gitopskit's back is
// put back.
func TestUnchangedAndDrift(t *testing.T) {
	ns := testNS()
	if _, err := mustApply(t, nil, []Unit{{ID: "ns", Objects: objs(t, nsDoc(ns))}}); err != nil {
		t.Fatal(err)
	}
	cfg, counter := testenv.CountWrites(testenvShared(t).Config)
	a, err := New(cfg, Options{Store: &inventory.MemoryStore{}})
	if err != nil {
		t.Fatal(err)
	}
	unit := func() []Unit {
		return []Unit{{ID: "app", Objects: objs(t, cmDoc(ns, "one"), cmDoc(ns, "two"), cmDoc(ns, "three"))}}
	}
	ctx := context.Background()
	if res, err := a.Apply(ctx, unit()); err != nil || firstErr(res) != nil {
		t.Fatal(err, firstErr(res))
	}
	counter.Take()
	res, err := a.Apply(ctx, unit())
	if err != nil || firstErr(res) != nil {
		t.Fatal(err, firstErr(res))
	}
	if w := counter.Take(); len(w) != 0 {
		t.Errorf("unchanged re-apply made write requests: %v", w)
	}
	for _, c := range res.Units[0].Changes {
		if c.Action != "unchanged" {
			t.Errorf("%s: %s", c.Object, c.Action)
		}
	}

	// Someone edits a field gitopskit set.
	dyn := dynamic.NewForConfigOrDie(testenvShared(t).Config)
	cm, err := dyn.Resource(cmGVR).Namespace(ns).Get(ctx, "two", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(cm.Object, "edited", "data", "k")
	if _, err := dyn.Resource(cmGVR).Namespace(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = a.Apply(ctx, unit())
	if err != nil || firstErr(res) != nil {
		t.Fatal(err, firstErr(res))
	}
	var reapplied []string
	for _, c := range res.Units[0].Changes {
		if c.Action != "unchanged" {
			reapplied = append(reapplied, c.Object.String())
		}
	}
	if strings.Join(reapplied, ",") != "ConfigMap/"+ns+"/two" {
		t.Errorf("re-applied %v, want only the drifted object", reapplied)
	}
	cm, _ = dyn.Resource(cmGVR).Namespace(ns).Get(ctx, "two", metav1.GetOptions{})
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "k"); v != "v" {
		t.Errorf("drift not corrected: %q", v)
	}
}

// TestSecretDigestKeyed: the inventory's digest of a Secret is keyed with
// the store's key, so it cannot be matched against guesses of the value;
// an unchanged Secret still makes no write.
func TestSecretDigestKeyed(t *testing.T) {
	ns := testNS()
	ctx := context.Background()
	a, store := newMemoryApplier(t)
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: pin, namespace: " + ns + "}\nstringData: {pin: \"1234\"}\n"
	unit := func() []Unit { return []Unit{{ID: "s", Objects: objs(t, nsDoc(ns), secret)}} }
	applyOK(t, a, unit()...)
	inv, err := store.Load(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	guess := objs(t, secret)[0]
	if err := stringDataToData(guess); err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Entries {
		if e.Kind == "Secret" && (e.Digest == "" || e.Digest == digestOf(guess)) {
			t.Errorf("the Secret's digest %q is empty or the plain one", e.Digest)
		}
	}
	res := applyOK(t, a, unit()...)
	for _, c := range res.Units[0].Changes {
		if c.Action != "unchanged" {
			t.Errorf("%s: %s", c.Object, c.Action)
		}
	}
}
