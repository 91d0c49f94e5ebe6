// Package render turns a source artifact and a unit's spec into Kubernetes
// objects, following Flux's semantics, and is the stage between source and
// dag. Every rendered object carries its Provenance: the unit, the file (or
// chart template) it came from, the source revision, and for Helm the chart
// and its digest.
//
// Kustomize renders Flux Kustomizations (kustomize.toolkit.fluxcd.io v1 and
// v1beta2) with krusty over the artifact in place: a path without a
// kustomization.yaml gets one generated as Flux generates it; the spec's
// targetNamespace, namePrefix, nameSuffix, patches, images and components
// are written into the kustomization (replacing the kustomization's own
// prefix, as in Flux); commonMetadata and postBuild substitution
// (${var}, ${var:=default}, substituteFrom, the substitute: disabled
// opt-out) are applied afterwards. Nothing outside the artifact root is
// read.
//
// Helm renders Flux HelmReleases (helm.toolkit.fluxcd.io v2, v2beta2,
// v2beta1) with the Helm SDK: release name and namespace defaulted as Flux
// does, values from valuesFrom and spec.values, .Capabilities with a chosen
// Kubernetes version and extra API versions (such as those CRDs elsewhere in
// the graph provide), the CRD policy, hooks apart from regular objects, and
// kustomize post-renderers.
//
// Both are safe for concurrent use: kustomize's process-wide OpenAPI schema
// is shared by all builds except those of artifacts that set a custom one,
// which run alone. A Cache shared by both keeps rendered units keyed by
// artifact digest, spec and resolved values, so an unchanged unit is not
// rendered twice. NewCache copies what it hands out; NewSharedCache hands
// out read-only results, which spares the copies (most of an unchanged
// load's cost) and lets results share what a renderer decodes once per
// process, such as a chart's CRDs.
//
// Charts render for DefaultKubeVersion unless told otherwise, with
// .Capabilities.APIVersions holding exactly the built-in APIs of a default
// server of that version (BuiltinAPIVersions, read off the real one) or the
// cluster's own (LoadOptions.APIVersions), plus every CRD in the graph.
//
// Load renders a whole Flux repository into a Graph of units, as Flux
// would reconcile it but offline: the root path becomes the root
// Kustomization, every Kustomization and HelmRelease in its output becomes a
// unit rendered in turn (in parallel, bounded), sources named by sourceRef
// resolve to the loaded artifact itself (the flux-system GitRepository, or
// LoadOptions.Self), to fetches through the mirror map made once per load,
// or — for an ExternalArtifact (Flux 2.7) — to the artifact an
// ArtifactGenerator rendered anywhere in the graph builds from its own
// sources (source.Generated). substituteFrom and valuesFrom resolve against ConfigMaps and
// Secrets rendered anywhere in the graph, or supplied values. A unit that
// fails carries its error, units depending on it are marked blocked, and
// the rest still render. Unit.Applied is what a unit puts in the cluster
// (its objects and install/upgrade hooks); Graph.DagUnits hands that to dag,
// with FluxKinds as the kinds to treat as served.
//
// Load reads each unit's Flux semantics once into its Spec — dependsOn,
// suspend, prune, wait, timeout, intervals, healthChecks, service account,
// target namespace — so later stages never read the object again; a value
// that does not parse fails that unit, naming the field. Unit.Ref (the
// Flux object itself), Parent and AwaitsChildren (wait: true) give dag what
// it needs to model readiness: a health check naming a HelmRelease is
// satisfied by that unit being Ready.
//
// Unknown fields in Flux specs are errors; fields that affect rendering and
// are not implemented (SOPS decryption, remote kubeConfig) are reported as
// warnings on the Result. ValueSource supplies the ConfigMaps and Secrets
// that substituteFrom and valuesFrom name, from anywhere: objects rendered
// elsewhere in the graph, a caller's values, or a cluster.
package render
