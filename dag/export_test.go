package dag

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// seedUnits is the shape of the seed repository: infrastructure releases,
// custom resources of their CRDs, and applications.
func seedUnits() []Unit {
	return []Unit{
		{ID: "Kustomization/flux-system/infrastructure", Objects: []Object{
			ns("istio-system"), ns("cert-manager"), ns("database"),
			obj("source.toolkit.fluxcd.io", "HelmRepository", "flux-system", "jetstack"),
		}},
		{ID: "HelmRelease/cert-manager/cert-manager", Links: Links{DependsOn: []string{"Kustomization/flux-system/infrastructure"}}, Objects: []Object{
			crd("cert-manager.io", "ClusterIssuer", "clusterissuers"), crd("cert-manager.io", "Certificate", "certificates"),
			obj("apps", "Deployment", "cert-manager", "cert-manager"),
		}},
		{ID: "HelmRelease/istio-system/istio-base", Objects: []Object{crd("networking.istio.io", "Gateway", "gateways")}},
		{ID: "HelmRelease/istio-system/istio-ingress", Links: Links{DependsOn: []string{"HelmRelease/istio-system/istio-base"}}, Objects: []Object{
			obj("apps", "Deployment", "istio-system", "istio-ingress"),
		}},
		{ID: "HelmRelease/database/postgresql", Objects: []Object{obj("apps", "StatefulSet", "database", "postgresql")}},
		{ID: "Kustomization/flux-system/dependency", Links: Links{DependsOn: []string{"Kustomization/flux-system/infrastructure"}}, Objects: []Object{
			issuer, obj("cert-manager.io", "Certificate", "istio-system", "gateway-tls"),
			obj("networking.istio.io", "Gateway", "istio-system", "public"),
		}},
		{ID: "Kustomization/flux-system/application", Links: Links{DependsOn: []string{"Kustomization/flux-system/dependency"}}, Objects: []Object{
			ns("app"), obj("apps", "Deployment", "app", "web"),
			withDeps(obj("batch", "Job", "app", "migrate"), ObjectRef{Group: "apps", Kind: "StatefulSet", Namespace: "database", Name: "postgresql"}),
		}},
	}
}

func TestExportGolden(t *testing.T) {
	g, err := Build(seedUnits(), Options{Preinstalled: []GroupKind{{Group: "source.toolkit.fluxcd.io", Kind: "HelmRepository"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Problems) > 0 {
		t.Fatalf("problems: %v", g.Problems)
	}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"seed.dot": func(b *bytes.Buffer) error { return g.WriteDOT(b) },
		"seed.mmd": func(b *bytes.Buffer) error { return g.WriteMermaid(b) },
	} {
		t.Run(name, func(t *testing.T) {
			var first, second bytes.Buffer
			if err := write(&first); err != nil {
				t.Fatal(err)
			}
			// The same input built again writes the same bytes.
			g2, _ := Build(seedUnits(), Options{Preinstalled: []GroupKind{{Group: "source.toolkit.fluxcd.io", Kind: "HelmRepository"}}})
			if name == "seed.dot" {
				err = g2.WriteDOT(&second)
			} else {
				err = g2.WriteMermaid(&second)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), second.Bytes()) {
				t.Fatal("two exports of the same input differ")
			}
			golden(t, filepath.Join("testdata", name), first.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestSeedOrder(t *testing.T) {
	g, err := Build(seedUnits(), Options{Preinstalled: []GroupKind{{Group: "source.toolkit.fluxcd.io", Kind: "HelmRepository"}}})
	if err != nil {
		t.Fatal(err)
	}
	levels, err := g.Levels()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"HelmRelease/istio-system/istio-base", "Kustomization/flux-system/infrastructure"},
		{"HelmRelease/cert-manager/cert-manager", "HelmRelease/database/postgresql", "HelmRelease/istio-system/istio-ingress"},
		{"Kustomization/flux-system/dependency"},
		{"Kustomization/flux-system/application"},
	}
	if diff := cmp.Diff(want, levels); diff != "" {
		t.Errorf("levels (-want +got):\n%s", diff)
	}
}
