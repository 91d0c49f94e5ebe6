// Package corpus opens the real-repository corpus kept beside the checkout
// (../shared/corpus): public Flux repositories nobody here wrote, with the
// charts they use and what Flux, Helm and kustomize produce for them
// (expected.json). Tests compare gitopskit's output with it.
package corpus

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gitopskit/gitopskit/source"
)

// DirEnv overrides where the corpus is (default: shared/corpus beside the
// checkout).
const DirEnv = "GITOPSKIT_CORPUS"

// Repo is one repository of the corpus.
type Repo struct {
	// Dir is the repository's corpus folder.
	Dir string
	// Expected is its expected.json.
	Expected Expected
	// Mirrors serve every chart it uses from the corpus.
	Mirrors source.Mirrors
}

// Tree is the repository's files, as a working tree.
func (r *Repo) Tree() string { return filepath.Join(r.Dir, "fixture", "repo") }

// Expected is what Flux produces for a repository, per cluster path.
type Expected struct {
	Clusters map[string]Cluster `json:"clusters"`
}

// Cluster is the expected outcome of one cluster path.
type Cluster struct {
	RootPath string    `json:"root_path"`
	Units    []Unit    `json:"units"`
	CRDEdges []CRDEdge `json:"crd_edges"`
	Edges    []Edge    `json:"edges"`
}

// Unit is one expected unit.
type Unit struct {
	ID      string  `json:"id"`
	Type    string  `json:"type"`
	Objects []Ident `json:"objects"`
	// Hooks are the install/upgrade hooks (test hooks are not scored:
	// their names are random).
	Hooks []Ident `json:"hooks"`
	// ResolvedChartVersion is the chart version a HelmRelease renders.
	ResolvedChartVersion string   `json:"resolved_chart_version"`
	DependsOn            []string `json:"dependsOn"`

	// Path is a Kustomization's spec.path; Source.ResolvedPathInRepo is
	// where it lands in the repository when its source is generated.
	Path string `json:"path"`
	// GeneratedKustomizationResources is the resources list of the
	// kustomization.yaml Flux generates for a path that has none.
	GeneratedKustomizationResources []string `json:"generated_kustomization_resources"`
	Source                          struct {
		ResolvedPathInRepo string `json:"resolved_path_in_repo"`
	} `json:"source"`
	// ReleaseName, ReleaseNamespace and ChartTgz (relative to the corpus
	// folder) are what `helm template` is given for a HelmRelease.
	ReleaseName      string `json:"releaseName"`
	ReleaseNamespace string `json:"release_namespace"`
	ChartTgz         string `json:"chart_tgz"`
}

// Ident is an object's identity; Namespace is empty for cluster-scoped
// objects.
type Ident struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
}

func (i Ident) String() string {
	return fmt.Sprintf("%s %s %s/%s", i.APIVersion, i.Kind, i.Namespace, i.Name)
}

// CRDEdge says that Consumer has objects of a kind whose CRD Producer
// renders.
type CRDEdge struct {
	Kind     string `json:"kind"`
	Producer string `json:"producer"`
	Consumer string `json:"consumer"`
	Self     bool   `json:"self"`
}

// Edge is one expected edge between units; Type is "dependsOn", "parent
// (…)", "source (…)" or "crd (…)".
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Type string `json:"type"`
}

// Root returns the corpus folder: $GITOPSKIT_CORPUS, or shared/corpus
// beside the checkout.
func Root() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("corpus: cannot locate the checkout; set %s", DirEnv)
	}
	// internal/corpus/corpus.go → the checkout → its parent.
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus"), nil
}

// FluxExample opens flux2-kustomize-helm-example, Flux's official example
// in its Flux 2.7 layout. The corpus is part of the test suite: a missing
// corpus fails the test, it never skips.
func FluxExample(t testing.TB) *Repo {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "flux2-kustomize-helm-example")
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatalf("the real-repository corpus is required (set %s to its folder): %v", DirEnv, err)
	}
	r := &Repo{Dir: dir}
	if err := json.Unmarshal(b, &r.Expected); err != nil {
		t.Fatalf("%s: %v", filepath.Join(dir, "expected.json"), err)
	}
	r.Mirrors = FluxExampleMirrors(dir)
	return r
}

// FluxExampleMirrors serves the charts flux2-kustomize-helm-example uses
// from its corpus folder dir.
func FluxExampleMirrors(dir string) source.Mirrors {
	charts := filepath.Join(dir, "fixture", "charts")
	return source.Mirrors{
		"https://stefanprodan.github.io/podinfo": "file://" + filepath.Join(charts, "podinfo"),
		"oci://quay.io/jetstack/charts":          "file://" + filepath.Join(charts, "jetstack-oci"),
		"oci://docker.io/envoyproxy":             "file://" + filepath.Join(charts, "envoyproxy-oci"),
	}
}
