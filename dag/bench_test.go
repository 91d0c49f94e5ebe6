package dag

import (
	"fmt"
	"testing"
)

// fleet generates units in the seed's shape at scale: every 100th unit is
// infrastructure with a CRD and a Namespace; the others hold custom
// resources of those CRDs, objects in those namespaces, and dependsOn on an
// earlier unit. Ten objects per unit.
func fleet(units int) []Unit {
	out := make([]Unit, units)
	for i := range out {
		u := Unit{ID: fmt.Sprintf("Kustomization/flux-system/u%05d", i)}
		if i%100 == 0 {
			g := fmt.Sprintf("g%d.example.com", i)
			u.Objects = append(u.Objects, crd(g, "Thing", "things"), ns(fmt.Sprintf("ns%d", i)))
			for j := range 8 {
				u.Objects = append(u.Objects, obj("apps", "Deployment", fmt.Sprintf("ns%d", i), fmt.Sprintf("d%d", j)))
			}
		} else {
			infra := (i / 100) * 100
			space := fmt.Sprintf("ns%d", infra)
			u.DependsOn = []string{fmt.Sprintf("Kustomization/flux-system/u%05d", i-1)}
			u.Objects = append(u.Objects, obj(fmt.Sprintf("g%d.example.com", infra), "Thing", space, fmt.Sprintf("t%d", i)))
			for j := range 9 {
				u.Objects = append(u.Objects, obj("", "ConfigMap", space, fmt.Sprintf("c%d-%d", i, j)))
			}
		}
		out[i] = u
	}
	return out
}

// BenchmarkBuildAndSort builds and orders 10,000 units holding 100,000
// objects. Recorded results are in dag/BENCHMARKS.md.
func BenchmarkBuildAndSort(b *testing.B) {
	units := fleet(10_000)
	b.ReportAllocs()
	for b.Loop() {
		g, err := Build(units, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.Sort(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObjectGraph orders 100,000 objects of one set.
func BenchmarkObjectGraph(b *testing.B) {
	var objs []Object
	for _, u := range fleet(10_000) {
		objs = append(objs, u.Objects...)
	}
	b.ReportAllocs()
	for b.Loop() {
		g, err := ObjectGraph(objs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.Sort(); err != nil {
			b.Fatal(err)
		}
	}
}
