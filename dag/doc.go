// Package dag orders gitopskit's units and objects. It knows objects only by
// group, kind, namespace and name, and nothing of clients or clusters.
//
// The core is Graph: nodes by ID, edges with a Reason, a deterministic
// topological order (Sort, ReverseSort for deletion), Levels, FindCycle
// returning a *CycleError with every edge of the loop, selection (Select,
// Ancestors, Descendants) and export (WriteDOT, WriteMermaid; byte-identical
// for the same input).
//
// Build makes a UnitGraph from units and their objects, inferring edges
// that Flux needs written by hand:
//
//   - dependsOn between units, as Flux has it;
//   - a config.kubernetes.io/depends-on annotation on an object (the
//     cli-utils format, parsed with cli-utils' own parser);
//   - a CustomResourceDefinition before every object of its kind, across
//     units — so a cert-manager ClusterIssuer is ordered after the Helm
//     release whose chart ships its CRD, with no dependsOn written. Flux does
//     not do this; Options.ExplicitOnly turns it off and makes Check report
//     what Flux itself would trip on;
//   - a Namespace before every object in it, across units.
//
// Inference never contradicts what is declared (dependsOn and depends-on
// annotations): a unit that holds a CRD or Namespace itself needs no edge
// for it, several holders are narrowed to the unit's ancestors (declared
// dependencies and parents) when any holds it, and an inferred edge that
// would close a cycle is left out and reported as a ProblemDroppedEdge — so
// two units that both render the Namespace of their overlay, one
// dependsOn the other, order as declared. Only declared edges make a
// cycle.
//
// Readiness is modelled in the graph too. A unit whose health checks name
// other units (Unit.Ref) or objects they render, or that awaits the units
// it defines (Flux's wait: true), gets a readiness node "<unit>#ready":
// after the unit and after those units, and before every unit that
// dependsOn it; units that need its CRDs or Namespaces follow the unit
// node. So a parent Kustomization that health-checks the HelmReleases it
// defines is applied first, the releases next, and its dependents after
// both are Ready — Flux's meaning, without a deadlock. UnitGraph.Readiness
// and NodeUnit tell an applier which node is which.
//
// Kinds the API server serves itself, and those a caller lists as
// pre-installed, need no producer; a custom resource whose CRD nothing
// produces is reported. ObjectGraph applies the same rules to the objects of
// one unit.
//
// Scheduler and Walk hand out each node as soon as its own dependencies have
// succeeded (not level by level), with bounded concurrency; a failure blocks
// its dependents and lets independent nodes go on. Check runs the static
// checks a CI test wants and reports every problem at once.
package dag
