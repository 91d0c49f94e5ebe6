package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testfs"
	"github.com/gitopskit/gitopskit/source"
)

// The checks catch the mistakes they are for: a repository with a cycle,
// a custom resource without its CRD and an object in two units.
func TestChecksCatchMistakes(t *testing.T) {
	dir := t.TempDir()
	ks := func(name, path, dep string) string {
		s := "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: " + name + ", namespace: flux-system}\nspec:\n  interval: 1m\n  path: " + path + "\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
		if dep != "" {
			s += "  dependsOn: [{name: " + dep + "}]\n"
		}
		return s
	}
	testfs.Write(t, dir, map[string]string{
		"clusters/dev/a.yaml": ks("a", "./a", "b"),
		"clusters/dev/b.yaml": ks("b", "./b", "a"),
		"a/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\n",
		"b/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\n",
		"b/issuer.yaml":       "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt}\n",
	})
	var out bytes.Buffer
	n, err := check(context.Background(), dir, "clusters/dev", nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cycle", "ClusterIssuer", "ConfigMap/default/shared"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check missed %q:\n%s", want, out.String())
		}
	}
	if n < 3 {
		t.Errorf("%d problems, want at least 3:\n%s", n, out.String())
	}
}

// The fleet's ClusterWidget is exactly what Flux alone would get wrong.
func TestFluxWouldTrip(t *testing.T) {
	var out bytes.Buffer
	charts, _ := filepath.Abs(chartsDir)
	n, err := check(context.Background(), repoDir, rootPath, source.Mirrors{chartsURL: "file://" + charts}, &out)
	if err != nil || n != 0 {
		t.Fatalf("%d problems, %v:\n%s", n, err, out.String())
	}
	if !strings.Contains(out.String(), "note: ") || !strings.Contains(out.String(), "ClusterWidget") {
		t.Errorf("no note about the ClusterWidget Flux would apply before its CRD:\n%s", out.String())
	}
}

// TestCopiedElsewhere: citest_test.go is what a team copies into its own
// repository, so a copy must build and pass in a module of its own that
// requires gitopskit like any other dependency (a replace to this
// checkout stands in for the published version), with nothing but the
// public packages — offline, from the module cache this module's build
// filled.
func TestCopiedElsewhere(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	// The library's own requirements pin the versions the module cache
	// holds, so the copy resolves with no network.
	body := strings.Replace(string(gomod), "module github.com/gitopskit/gitopskit", "module example.com/fleetci", 1) +
		"\nrequire github.com/gitopskit/gitopskit v0.0.0-00010101000000-000000000000\n\nreplace github.com/gitopskit/gitopskit => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	test, err := os.ReadFile("citest_test.go")
	if err != nil {
		t.Fatal(err)
	}
	// Where the copy finds the repository and its chart mirror.
	copied := strings.Replace(string(test), "package main", "package fleetci", 1)
	for _, p := range []string{repoDir, chartsDir} {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(copied, `"`+p+`"`) {
			t.Fatalf("citest_test.go no longer names %s", p)
		}
		copied = strings.Replace(copied, `"`+p+`"`, `"`+abs+`"`, 1)
	}
	files := map[string]string{"go.mod": body, "go.sum": string(sum), "fleet_test.go": copied}
	golden, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, g := range golden {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.ToSlash(g)] = string(b)
	}
	testfs.Write(t, mod, files)
	cmd := exec.Command("go", "test", "-count=1", "./...")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the copy in its own module: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok  \texample.com/fleetci") {
		t.Errorf("the copy ran no test:\n%s", out)
	}
}
