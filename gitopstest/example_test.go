package gitopstest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/render"
)

// update is the -update flag Golden reads; the package defines it only
// when asked.
var update = gitopstest.RegisterUpdateFlag()

// A team's CI test of its repository: every check, and golden files of
// what each unit applies, refreshed with go test -update.
func Example() {
	// In a _test.go file of the repository:
	_ = func(t *testing.T) {
		repo := gitopstest.Load(t, gitopstest.Options{Dir: "..", Path: "clusters/prod"})
		repo.CheckAll(t)
		repo.Golden(t, "testdata/golden", *update)
	}
}

// printer reports what a check finds on standard output, as go test would
// print it, for the runnable examples below.
type printer struct{ testing.TB }

func (printer) Helper()                           {}
func (printer) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func mistakes() *gitopstest.Repo {
	repo, err := gitopstest.New(context.Background(), gitopstest.Options{Dir: "testdata/mistakes", Path: "clusters/dev"})
	if err != nil {
		panic(err)
	}
	return repo
}

func ExampleRepo_CheckNoCycles() {
	mistakes().CheckNoCycles(printer{})
	// Output:
	// Kustomization/flux-system/a (clusters/dev/units.yaml): dependency cycle through 2 nodes: Kustomization/flux-system/a -> Kustomization/flux-system/b -> Kustomization/flux-system/a; Kustomization/flux-system/b depends on Kustomization/flux-system/a (dependsOn); Kustomization/flux-system/a depends on Kustomization/flux-system/b (dependsOn)
}

func ExampleRepo_CheckCRDs() {
	mistakes().CheckCRDs(printer{})
	// Output:
	// Kustomization/flux-system/b (clusters/dev/units.yaml): ClusterIssuer.cert-manager.io/letsencrypt (b/cm.yaml): no unit produces the CRD of ClusterIssuer.cert-manager.io and it is not pre-installed
}

func ExampleRepo_CheckPolicy() {
	// Every object names its team.
	team := func(u *render.Unit, o render.Object) error {
		if o.GetLabels()["team"] == "" && o.GetKind() == "ConfigMap" {
			return errors.New("no team label")
		}
		return nil
	}
	mistakes().CheckPolicy(printer{}, team)
	// Output:
	// Kustomization/flux-system/a (clusters/dev/units.yaml): ConfigMap/team/shared (a/cm.yaml): no team label
	// Kustomization/flux-system/b (clusters/dev/units.yaml): ConfigMap/team/shared (b/cm.yaml): no team label
	// Kustomization/flux-system/w (clusters/dev/other.yaml): ConfigMap/default/legacy (wbase/cm.yaml): no team label
}

func ExampleRepo_CheckReferences() {
	mistakes().CheckReferences(printer{})
	// Output:
	// Kustomization/flux-system/b (clusters/dev/units.yaml): dependsOn "Kustomization/flux-system/gone", which is not a unit
	// Kustomization/flux-system/d (clusters/dev/other.yaml): healthChecks names an object no unit renders; it must already be in the cluster
	// Kustomization/flux-system/c (clusters/dev/other.yaml): sourceRef GitRepository/flux-system/elsewhere: no such source in the repository
}
