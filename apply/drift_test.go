package apply

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/inventory"
)

// writeCounter counts the requests that may change something.
type writeCounter struct {
	rt     http.RoundTripper
	writes atomic.Int32
}

func (w *writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		w.writes.Add(1)
	}
	return w.rt.RoundTrip(r)
}

// TestUnchangedAndDrift: re-applying an unchanged unit makes no write
// request (only the inventory's); a field changed behind gitopskit's back is
// put back.
func TestUnchangedAndDrift(t *testing.T) {
	ns := testNS()
	if _, err := mustApply(t, nil, []Unit{{ID: "ns", Objects: objs(t, nsDoc(ns))}}); err != nil {
		t.Fatal(err)
	}
	counter := &writeCounter{}
	cfg := rest.CopyConfig(testenvShared(t).Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.rt = rt; return counter }
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
	counter.writes.Store(0)
	res, err := a.Apply(ctx, unit())
	if err != nil || firstErr(res) != nil {
		t.Fatal(err, firstErr(res))
	}
	if n := counter.writes.Load(); n != 0 {
		t.Errorf("unchanged re-apply made %d write requests", n)
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
			reapplied = append(reapplied, c.Object)
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
