package apply

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopskit/gitopskit/inventory"
)

// The second step of a crash test runs in a child process that is killed
// in the middle of applying.
const (
	helperEnv     = "GITOPSKIT_APPLY_CRASH_HELPER"
	helperNSEnv   = "GITOPSKIT_APPLY_CRASH_NS"
	helperConfEnv = "GITOPSKIT_APPLY_CRASH_KUBECONFIG"
)

// crashUnits is the unit "app" holding ConfigMaps of the given names.
func crashUnits(ns string, names ...string) []Unit {
	var out []*unstructured.Unstructured
	for _, n := range names {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetNamespace(ns)
		u.SetName(n)
		out = append(out, u)
	}
	return []Unit{{ID: "app", Objects: out}}
}

func inventoryNames(t *testing.T, store inventory.Store) []string {
	t.Helper()
	inv, err := store.Load(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range inv.Entries {
		out = append(out, e.Name)
	}
	slices.Sort(out)
	return out
}

// runCrashHelper is the child: it applies {a, c} and hangs once the first
// object is applied, until it is killed.
func runCrashHelper() {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv(helperConfEnv))
	if err != nil {
		os.Exit(3)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	ns := os.Getenv(helperNSEnv)
	a, err := New(cfg, Options{
		Store: inventory.NewConfigMapStore(client, ns, "crash"),
		Events: func(e Event) {
			if e.Type == ObjectApplied {
				select {}
			}
		},
	})
	if err != nil {
		os.Exit(4)
	}
	_, _ = a.Apply(context.Background(), crashUnits(ns, "a", "c"))
	os.Exit(5) // not reached: the parent kills the process first
}

// TestCrashSafety stops an apply mid-way — by cancellation, and by killing
// the process — and shows the next run converges: nothing the stopped run
// applied is forgotten, and what the unit dropped is pruned then.
func TestCrashSafety(t *testing.T) {
	env := testenvShared(t)
	client := kubernetes.NewForConfigOrDie(env.Config)
	ctx := context.Background()

	for _, mode := range []string{"cancel", "kill"} {
		t.Run(mode, func(t *testing.T) {
			ns := testNS()
			if _, err := mustApply(t, nil, []Unit{{ID: "ns", Objects: objs(t, nsDoc(ns))}}); err != nil {
				t.Fatal(err)
			}
			store := inventory.NewConfigMapStore(client, ns, "crash")
			// Run 1 applies {a, b}.
			if _, err := mustApply(t, store, crashUnits(ns, "a", "b")); err != nil {
				t.Fatal(err)
			}
			// Run 2 wants {a, c} and is stopped after its first object.
			switch mode {
			case "cancel":
				cctx, cancel := context.WithCancel(ctx)
				a, err := New(env.Config, Options{Store: store, Events: func(e Event) {
					if e.Type == ObjectApplied {
						cancel()
					}
				}})
				if err != nil {
					t.Fatal(err)
				}
				res, err := a.Apply(cctx, crashUnits(ns, "a", "c"))
				if err != nil {
					t.Fatal(err)
				}
				if u, _ := res.Unit("app"); u.Err == nil {
					t.Fatal("the canceled run reported success")
				}
			case "kill":
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), helperEnv+"=1", helperNSEnv+"="+ns, helperConfEnv+"="+env.Kubeconfig)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(time.Minute)
				for !slices.Contains(inventoryNames(t, store), "c") {
					if time.Now().After(deadline) {
						cmd.Process.Kill()
						t.Fatal("the child never recorded its objects")
					}
					time.Sleep(50 * time.Millisecond)
				}
				cmd.Process.Kill()
				cmd.Wait()
			}
			// Nothing is forgotten: b (still to prune) and c (maybe applied) are both recorded.
			if got := inventoryNames(t, store); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("inventory after the stopped run = %v, want [a b c]", got)
			}
			// Run 3 converges.
			res, err := mustApply(t, store, crashUnits(ns, "a", "c"))
			if err != nil {
				t.Fatal(err)
			}
			if got := inventoryNames(t, store); !slices.Equal(got, []string{"a", "c"}) {
				t.Errorf("inventory after converging = %v", got)
			}
			if exists(t, cmGVR, ns, "b") || !exists(t, cmGVR, ns, "a") || !exists(t, cmGVR, ns, "c") {
				t.Errorf("cluster did not converge: %+v", res)
			}
		})
	}
}

func mustApply(t *testing.T, store inventory.Store, units []Unit) (*Result, error) {
	t.Helper()
	a, err := New(testenvShared(t).Config, Options{Store: store})
	if err != nil {
		return nil, err
	}
	res, err := a.Apply(context.Background(), units)
	if err != nil {
		return nil, err
	}
	return res, firstErr(res)
}
