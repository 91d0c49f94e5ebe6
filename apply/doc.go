// Package apply reconciles rendered units with a cluster. It is the stage
// after dag: New returns an Applier (server-side apply through
// fluxcd/pkg/ssa, health through Flux's kstatus fork fluxcd/cli-utils — the
// one kstatus lineage gitopskit uses); Apply takes units with their
// objects, orders them with dag (explicit dependsOn plus the CRD,
// Namespace and depends-on annotation edges it infers), and applies each
// as soon as what it depends on is applied and healthy, with bounded
// concurrency. Within a unit, CRDs and Namespaces go first and CRDs are
// waited for until Established; the REST mapping learns new kinds lazily.
//
// Every unit's objects are recorded in an inventory.Store. Before applying,
// the store gets old ∪ new, so a crash never forgets an object; after the
// unit is healthy, what it applied before and no longer renders is deleted
// — never an object another unit now claims, nor one annotated
// gitopskit.dev/prune: disabled (or Flux's kustomize.toolkit.fluxcd.io/
// prune: disabled) — and the inventory shrinks to what is left. A failed
// delete stays in the inventory. A unit whose render comes back empty is
// refused unless Options.AllowEmpty is set.
//
// A unit is Ready when its objects are healthy (unless NoWait) and its
// HealthChecks pass. Health checks are Flux's spec.healthChecks and keep
// Flux's meaning: one that names another unit (by its Ref, e.g. the
// HelmRelease a parent Kustomization defines) or an object another unit
// renders is checked at the unit's readiness node (dag.Readiness), after
// that unit is done — the unit itself is applied and pruned first, so the
// units it defines are never held back by it — and units that dependsOn it
// wait for that node. AwaitChildren does the same for every unit it
// defines (Flux's wait: true). A check that can never pass fails the unit
// before anything is applied: one naming an object no unit renders and the
// cluster does not have, the unit itself, or a unit that waits for this
// one. A wait that times out names the objects still not ready with
// kstatus's word for each ("Deployment.apps/cert-manager/cert-manager:
// InProgress: Available: 0/1 replicas").
//
// Objects are named by dag.ObjectRef everywhere: in changes, events, plans
// and inventory entries, printed Kind[.group]/[namespace/]name.
//
// A Unit's Mode says what a reconciler means by it: Reconcile (the
// default), Hold (suspended or not selected: left as it is, its objects
// still claimed and its dependents going on), HoldNotReady (held, and its
// dependents blocked), Fail (did not render: nothing touched, dependents
// blocked; Err says why) or Remove (gone from the source: everything it
// applied is pruned and its inventory deleted). Orphan (Flux's prune:
// false: what it stops rendering is forgotten, not deleted), NoWait (Flux's
// wait: false) and Revision (kept with the inventory) refine Reconcile.
// Health reads a unit's inventory and checks its objects with kstatus, for
// status displays in other processes.
//
// Before a unit's inventory is written, its objects are checked: a kind the
// server does not serve (and no CRD of the unit defines) or an impossible
// name fails the unit untouched, and so does an object another unit of the
// same Apply renders differently (both units fail; identical copies are
// fine). NotEmpty tells an empty Objects from an empty render.
//
// Results are data: per unit its state, the change set and what was
// pruned; an Events callback reports progress as it happens; logging goes
// only to an injected *slog.Logger.
//
// Plan dry-runs the same units server-side and reports per object what
// applying would do (create, configure, unchanged, prune, skip), with a
// unified diff; an object whose CRD or Namespace an earlier unit creates is
// "unverifiable until … is applied" instead of an error.
//
// Conflicts with other field managers are taken over by default (as Flux
// does) or stop the unit (Options.Conflicts, or the gitopskit.dev/conflicts
// annotation per object); immutable-field changes recreate the object only
// when forced (Options.Force, or gitopskit.dev/force: enabled).
//
// Requests are few: every object gets one server-side apply (changed CRDs
// and Namespaces go through ssa, which stages and waits for them), or none
// when the inventory's digest of what was last applied matches and the live
// object — read with one LIST per kind, or a GET each for a kind with only a
// few objects — still holds every field gitopskit sets (drift is
// re-applied). See BENCHMARKS.md.
//
// A unit that is a package manager's release (a Flux HelmRelease is a Helm
// release) carries a Release, which keeps that manager's own records in
// step — package apply/helmrelease writes Helm's — begun after the dry run
// and ended with the unit's outcome; an unchanged release writes nothing.
// Around a release that changed, PreHooks run before its objects are
// applied and PostHooks after they are healthy and pruned (Helm's order,
// waits and delete policies), then Tests; hooks are never in the
// inventory. Drift says what an unchanged release does about objects
// changed in the cluster: correct them (the default), report them
// (DriftWarn) or leave them (DriftIgnore). TakeOverFrom removes another
// field manager's entries from objects the unit took over (Helm's, Flux's
// helm-controller's), and CreateNamespaces creates missing namespaces
// first, never deleting them. DriftIgnore names fields whose drift is
// neither corrected nor reported.
//
// A Remediation on a unit whose Release is Remediable says what happens
// when the release fails to apply, become healthy or pass its tests: one
// attempt per Apply; while retries remain the failure is remediated — a
// rollback to the Target revision (its objects applied, what the failed
// one added pruned, its hooks run) or an uninstall (the unit's CRDs stay)
// — and recorded by the Release; once they are spent the unit fails with
// ErrNoRetriesLeft and nothing is written until the release changes or
// Options.RetryReleases. A unit removed from the repository runs the
// delete hooks Options.DeleteHooks gives around its prune.
package apply
