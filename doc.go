// Package gitopskit embeds GitOps reconciliation in Go programs: command-line
// tools, custom Kubernetes controllers, and the test suites that check a
// deployment repository in CI. It does what Flux's source-, kustomize- and
// helm-controllers do together, as packages you call, and reads existing Flux
// repositories as they are.
//
// # Organization
//
// The work flows through five packages, each usable on its own:
//
//   - source fetches a revision of something (a Git repository, a local
//     directory or working tree, a Helm chart over HTTP or OCI) into a
//     read-only, digested Artifact, and caches it.
//   - render turns an artifact and a spec into Kubernetes objects (Kustomize,
//     Helm), and a Flux repository into a graph of units, each object
//     carrying its provenance.
//   - dag orders units and objects: explicit dependsOn, and inferred edges
//     such as a CustomResourceDefinition before its custom resources and a
//     Namespace before what lives in it — never against what is declared —
//     and readiness nodes, so a Kustomization health-checking the
//     HelmReleases it defines is Ready after them without holding them
//     back; it finds cycles, schedules nodes as soon as their own
//     dependencies are done, selects subgraphs and exports DOT and Mermaid.
//     Its ObjectRef names objects for every package, and its Links say how
//     a unit is placed among the others.
//   - apply server-side applies objects in that order, waits for health,
//     computes dry-run plans and prunes what a unit no longer renders.
//   - inventory remembers which objects each unit owns, so pruning deletes
//     only what gitopskit applied.
//
// The root package composes them into a Reconciler: New(Options{Source,
// Path, Config}) and Reconcile(ctx) fetch the source, render the repository
// (render.Load), order the units (dag), apply and prune them (apply, with
// inventories in ConfigMaps), once. Run does the same on an interval with
// jitter and whenever Trigger asks; ReconcileUnit takes one unit, with or
// without what it depends on; Suspend and Resume hold a unit back; Status
// and Watch report every unit as `flux get` does, as data; Plan is `flux
// diff`; Observe reads the state a Reconciler in another process left;
// Teardown removes everything. Unchanged units make no write request, a
// failing unit only holds back what depends on it, and a source that cannot
// be fetched leaves the last applied state in place.
//
// Security: a unit with spec.serviceAccountName (or
// Options.DefaultServiceAccount) is applied, waited for and pruned as that
// ServiceAccount by impersonation, so the cluster's RBAC bounds each
// tenant; SOPS-encrypted Secrets are decrypted in memory only, and
// ciphertext is never applied; credentials and Secret values appear in no
// URL, error, plan, event or inventory. The README's "Security model" says
// it in full.
//
// Around them: gitopstest checks a repository from a team's own go test
// (renders, cycles, CRDs, shared objects, references, policies, golden
// files) with no cluster; dag/dagsvg draws the unit graph as SVG; statuspage
// serves a live page of a Reconciler (Graph, Health, Watch) as an
// http.Handler; apply/helmrelease keeps Helm's release records — revisions,
// hooks, tests, remediation — for HelmRelease units.
//
// A CI test may use source, render and dag with no cluster at all; a
// controller may use source and apply alone, or the Reconciler (see
// examples/controller).
package gitopskit
