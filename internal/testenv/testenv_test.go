package testenv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

func TestMain(m *testing.M) { Main(m) }

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.gitopskit.dev
spec:
  group: example.gitopskit.dev
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`

const widget = `
apiVersion: example.gitopskit.dev/v1
kind: Widget
metadata:
  name: w1
  namespace: default
spec:
  size: 3
`

func decode(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestControlPlane exercises the real API server: server version, a CRD
// applied server-side and Established, and a custom resource of it.
func TestControlPlane(t *testing.T) {
	env := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != KubernetesVersion {
		t.Errorf("server version = %q, want %q", v.GitVersion, KubernetesVersion)
	}
	if _, err := os.Stat(env.Kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}

	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	crd := decode(t, widgetCRD)
	apply := metav1.ApplyOptions{FieldManager: "gitopskit-test", Force: true}
	if _, err := dyn.Resource(crdGVR).Apply(ctx, crd.GetName(), crd, apply); err != nil {
		t.Fatalf("apply CRD: %v", err)
	}
	for {
		got, err := dyn.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if established(got) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("CRD %s not Established: %v", crd.GetName(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}

	gvr := schema.GroupVersionResource{Group: "example.gitopskit.dev", Version: "v1", Resource: "widgets"}
	w := decode(t, widget)
	if _, err := dyn.Resource(gvr).Namespace("default").Apply(ctx, "w1", w, apply); err != nil {
		t.Fatalf("apply Widget: %v", err)
	}
	got, err := dyn.Resource(gvr).Namespace("default").Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size")
	if diff := cmp.Diff(int64(3), size); diff != "" {
		t.Errorf("Widget spec.size (-want +got):\n%s", diff)
	}
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// TestVersionsMatchModule keeps the constants in step with binaries/go.mod.
func TestVersionsMatchModule(t *testing.T) {
	src, err := moduleDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for mod, want := range map[string]string{"k8s.io/kubernetes": KubernetesVersion, "go.etcd.io/etcd/server/v3": EtcdVersion} {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(mod) + `\s+(\S+)`).FindSubmatch(b)
		if m == nil || string(m[1]) != want {
			t.Errorf("binaries/go.mod requires %s %s, want %s", mod, m, want)
		}
	}
}

// writeModule writes a small module with the two main packages build expects.
func writeModule(t *testing.T, gomod string) string {
	t.Helper()
	src := t.TempDir()
	files := map[string]string{
		"go.mod":                 gomod,
		"kube-apiserver/main.go": "package main\n\nfunc main() {}\n",
		"etcd/main.go":           "package main\n\nfunc main() {}\n",
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBuildConcurrentOnce starts several builders of the same module at once:
// one builds, the others wait on the lock and reuse its result.
func TestBuildConcurrentOnce(t *testing.T) {
	src := writeModule(t, "module example.com/cp\n\ngo 1.26.0\n")
	root := t.TempDir()
	var out syncBuffer
	const n = 4
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = build(context.Background(), src, root, &out) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("builder %d: %v", i, errs[i])
		}
		if dirs[i] != dirs[0] {
			t.Errorf("builder %d got %s, builder 0 got %s", i, dirs[i], dirs[0])
		}
	}
	if c := strings.Count(out.String(), "gitopskit: building"); c != 1 {
		t.Errorf("built %d times, want once; output:\n%s", c, out.String())
	}
	if err := checkBinaries(dirs[0]); err != nil {
		t.Error(err)
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary build directory left behind: %s", e.Name())
		}
	}
}

// TestBuildFailsClearly breaks the module (an unknown version) and checks the
// error says what failed and leaves no build in the cache.
func TestBuildFailsClearly(t *testing.T) {
	src := writeModule(t, "module example.com/cp\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v1.37.999\n")
	if err := os.WriteFile(filepath.Join(src, "etcd", "main.go"),
		[]byte("package main\n\nimport _ \"k8s.io/kubernetes/cmd/kube-apiserver/app\"\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	_, err := build(context.Background(), src, root, nil)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *BuildError", err)
	}
	for _, want := range []string{"building the test control plane", src, "k8s.io/kubernetes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("failed build left %s in the cache", e.Name())
		}
	}
}

// TestAssetsEnv uses ready-made binaries and rejects a directory without them.
func TestAssetsEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(AssetsEnv, dir)
	if _, err := Binaries(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "missing kube-apiserver") {
		t.Fatalf("err = %v, want missing kube-apiserver", err)
	}
	for _, n := range binaryNames {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Binaries(context.Background(), nil)
	if err != nil || got != dir {
		t.Fatalf("Binaries = %q, %v; want %q", got, err, dir)
	}
}
