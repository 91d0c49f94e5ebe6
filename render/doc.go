// Package render turns a source artifact and a unit's spec into Kubernetes
// objects, with Kustomize and Helm, following Flux's semantics; and loads a
// whole Flux repository (Kustomizations and HelmReleases that produce more of
// them) into a graph of units. Every object carries its provenance. Its
// output feeds dag and apply.
package render
