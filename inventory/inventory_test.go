package inventory_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/inventory/inventorytest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMemoryStore(t *testing.T) {
	inventorytest.Run(t, func(t *testing.T) inventory.Store { return &inventory.MemoryStore{} })
}

var nsCounter atomic.Int32

// TestConfigMapStore runs the suite against the real API server, each case
// in a namespace of its own.
func TestConfigMapStore(t *testing.T) {
	client, err := kubernetes.NewForConfig(testenv.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	inventorytest.Run(t, func(t *testing.T) inventory.Store {
		ns := fmt.Sprintf("inventory-%d", nsCounter.Add(1))
		_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return inventory.NewConfigMapStore(client, ns, "test")
	})
}

func TestDiffAndUnion(t *testing.T) {
	e := func(kind, name string) inventory.Entry {
		return inventory.Entry{ObjectRef: dag.ObjectRef{Kind: kind, Namespace: "ns", Name: name}, Version: "v1"}
	}
	old := inventory.New("u", e("ConfigMap", "a"), e("ConfigMap", "b"), e("Secret", "c"))
	cur := inventory.New("u", e("ConfigMap", "a"), e("Secret", "d"))
	if diff := cmp.Diff([]inventory.Entry{e("ConfigMap", "b"), e("Secret", "c")}, inventory.Diff(old, cur)); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
	u := inventory.Union(old, cur)
	if len(u.Entries) != 4 || !u.Has(e("Secret", "d")) || !u.Has(e("ConfigMap", "b")) {
		t.Errorf("Union: %v", u.Entries)
	}
	// A new version of the same object is the same entry.
	v2 := e("ConfigMap", "a")
	v2.Version = "v2"
	if len(inventory.Diff(old, inventory.New("u", v2, e("ConfigMap", "b"), e("Secret", "c")))) != 0 {
		t.Error("a version change counted as a different object")
	}
}
