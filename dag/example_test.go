package dag_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/gitopskit/gitopskit/dag"
)

// A ClusterIssuer in one unit and the cert-manager release that installs its
// CRD in another: no dependsOn is written, yet the release goes first.
func ExampleBuild() {
	crd := dag.Object{
		ObjectRef: dag.ObjectRef{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "clusterissuers.cert-manager.io"},
		Defines:   &dag.GroupKind{Group: "cert-manager.io", Kind: "ClusterIssuer"},
	}
	issuer := dag.Object{ObjectRef: dag.ObjectRef{Group: "cert-manager.io", Kind: "ClusterIssuer", Name: "letsencrypt"}}
	units := []dag.Unit{
		{ID: "Kustomization/flux-system/issuers", Objects: []dag.Object{issuer}},
		{ID: "HelmRelease/cert-manager/cert-manager", Objects: []dag.Object{crd}},
		{ID: "Kustomization/flux-system/apps", Links: dag.Links{DependsOn: []string{"Kustomization/flux-system/issuers"}}},
	}
	g, err := dag.Build(units, dag.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	order, _ := g.Sort()
	for _, id := range order {
		fmt.Println(id)
	}
	for _, e := range g.Edges() {
		fmt.Println(e)
	}
	_ = g.WriteMermaid(os.Stdout)
	// Output:
	// HelmRelease/cert-manager/cert-manager
	// Kustomization/flux-system/issuers
	// Kustomization/flux-system/apps
	// Kustomization/flux-system/issuers depends on HelmRelease/cert-manager/cert-manager (crd: clusterissuers.cert-manager.io)
	// Kustomization/flux-system/apps depends on Kustomization/flux-system/issuers (dependsOn)
	// flowchart LR
	//   n0["HelmRelease/cert-manager/cert-manager"]
	//   n1["Kustomization/flux-system/apps"]
	//   n2["Kustomization/flux-system/issuers"]
	//   n0 -->|crd| n2
	//   n2 -->|dependsOn| n1
}

// Walk runs each node as soon as its own dependencies are done; a failure
// blocks only what depends on it.
func ExampleGraph_Walk() {
	g := dag.New()
	for _, id := range []string{"infra", "apps", "monitoring"} {
		_ = g.AddNode(id)
	}
	_ = g.AddEdge(dag.Edge{From: "infra", To: "apps", Reason: dag.ReasonDependsOn})
	res, _ := g.Walk(context.Background(), 4, func(ctx context.Context, id string) error {
		if id == "infra" {
			return fmt.Errorf("health check timed out")
		}
		return nil
	})
	for _, n := range res {
		fmt.Println(strings.TrimSpace(fmt.Sprint(n.ID, " ", n.State, " ", n.BlockedBy)))
	}
	// Output:
	// apps Blocked infra
	// infra Failed
	// monitoring Succeeded
}
