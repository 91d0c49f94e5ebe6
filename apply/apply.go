package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/jsondiff"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/internal/kubeclient"
	"github.com/gitopskit/gitopskit/inventory"
)

// Annotations gitopskit honours on objects it applies; Flux's own
// equivalents are honoured too.
const (
	// PruneAnnotation set to "disabled" keeps an object when its unit no
	// longer renders it.
	PruneAnnotation     = "gitopskit.dev/prune"
	fluxPruneAnnotation = "kustomize.toolkit.fluxcd.io/prune"
	// ForceAnnotation set to "enabled" lets an object be deleted and
	// recreated when an immutable field changes.
	ForceAnnotation = "gitopskit.dev/force"
)

// ConflictsAnnotation overrides Options.Conflicts for one object.
const ConflictsAnnotation = "gitopskit.dev/conflicts"

// ConflictPolicy is what to do about fields another manager owns.
type ConflictPolicy string

// The conflict policies.
const (
	ConflictForce ConflictPolicy = "force"
	ConflictFail  ConflictPolicy = "fail"
)

// forceSelector matches objects whose annotations ask for recreation.
var forceSelector = map[string]string{ForceAnnotation: "enabled", "kustomize.toolkit.fluxcd.io/force": "Enabled"}

// Options configure an Applier. The zero value works.
type Options struct {
	// FieldManager is the server-side apply field manager (default
	// "gitopskit").
	FieldManager string
	// Concurrency bounds how many units apply at once (default 4).
	Concurrency int
	// Store keeps inventories (default: an in-memory store, which forgets
	// everything with the process — use inventory.ConfigMapStore to prune
	// across runs).
	Store inventory.Store
	// Force recreates objects whose immutable fields changed. Without it,
	// an object annotated gitopskit.dev/force: enabled (or Flux's
	// kustomize.toolkit.fluxcd.io/force: Enabled) is still recreated.
	Force bool
	// Conflicts says what to do when another field manager owns a field
	// gitopskit sets: ConflictForce (the default, as Flux does) takes the
	// field over; ConflictFail stops the unit with an error naming the
	// managers. An object's gitopskit.dev/conflicts annotation (force or
	// fail) overrides it.
	Conflicts ConflictPolicy
	// Timeout bounds a unit's apply and health wait when the unit sets
	// none (default 5 minutes).
	Timeout time.Duration
	// AllowEmpty lets a unit whose render comes back empty prune
	// everything it applied before; without it that is refused.
	AllowEmpty bool
	// Logger receives progress; nil is silent.
	Logger *slog.Logger
	// Events, if set, is called for every event, from the goroutine that
	// applies the unit.
	Events func(Event)
	// Preinstalled lists kinds the cluster serves without a CRD in any unit.
	Preinstalled []dag.GroupKind
	// Uninstall removes the records of the release (Release.Ref) of a unit
	// removed from the repository, once its objects are pruned and before
	// its inventory is deleted; nil leaves them. helmrelease.Uninstall does
	// it for Helm.
	Uninstall func(ctx context.Context, c Clients, ref string) error
	// DeleteHooks reads the delete hooks of the release (Release.Ref) of a
	// unit removed from the repository: its PreHooks run before its
	// objects are pruned, its PostHooks after, before Uninstall; nil runs
	// none. helmrelease.DeleteHooks does it for Helm.
	DeleteHooks func(ctx context.Context, c Clients, ref string) (*Target, error)
	// RetryReleases tries a release again although it failed as often as
	// its Remediation allows (as flux reconcile --force does).
	RetryReleases bool
}

// Unit is what the applier applies: a unit's rendered objects.
type Unit struct {
	ID string
	// Links place the unit among the others: dependsOn, and what its
	// readiness waits for. A health check on an object another unit
	// renders, or naming another unit by its Ref, is checked after that
	// unit is done, without holding it back (dag.Readiness).
	dag.Links
	Objects []*unstructured.Unstructured
	// Timeout bounds the unit's apply and health wait (Options.Timeout
	// when zero).
	Timeout time.Duration
	// Revision is the source revision the objects come from; it is kept
	// with the unit's inventory.
	Revision string
	// Mode says what to do with the unit: apply it (the zero value), hold
	// it, fail it, or remove it.
	Mode Mode
	// Err says why, for Fail and HoldNotReady.
	Err error
	// NoWait does not wait for the unit's objects to become healthy
	// before it is done (Flux's Kustomization default, spec.wait: false);
	// CRDs are still waited for until Established, and HealthChecks are
	// still checked.
	NoWait bool
	// NotEmpty says the unit's render holds more than Objects (it defines
	// other units or sources, which are read, not applied): no Objects is
	// then not an empty render to refuse.
	NotEmpty bool
	// Orphan leaves in the cluster what the unit no longer renders (or,
	// when removed, everything it applied), dropping it from the inventory
	// instead of deleting it — Flux's spec.prune: false. The setting is
	// kept with the inventory, so a unit removed later is treated the
	// same way.
	Orphan bool
	// Identity is the Kubernetes user the unit acts as — applied, dry-run,
	// waited for and pruned as, by impersonation — so the cluster's RBAC
	// bounds what it may do (Flux's spec.serviceAccountName:
	// ServiceAccountUser(namespace, name)). Empty is the Applier's own
	// credentials. It is kept with the inventory: a unit removed later is
	// pruned as the identity that applied it. The inventory itself is
	// always written with the Applier's own credentials.
	Identity string
	// TakeOverFrom lists the field managers the unit takes its objects
	// over from — a previous owner that applied the same fields, such as
	// Helm or Flux's helm-controller for a release gitopskit now applies
	// (helmrelease.PreviousOwners). Their managedFields entries are removed
	// once the unit's objects are applied, so gitopskit alone owns the
	// fields it sets; an object without them costs no request.
	TakeOverFrom []FieldManager
	// Drift says what to do when the unit's Release is unchanged (it
	// matters only with a Release): DriftCorrect (the zero value) applies
	// the objects as always, DriftWarn only reports those that drifted,
	// DriftIgnore leaves them.
	Drift DriftMode
	// DriftIgnore are fields whose drift is neither corrected nor reported
	// (a HelmRelease's spec.driftDetection.ignore): an object a rule
	// selects is compared with what the cluster holds without those paths,
	// and applied, when it differs elsewhere, keeping the live values
	// there (fluxcd/pkg/ssa's DriftIgnoreRules).
	DriftIgnore []jsondiff.IgnoreRule
	// CreateNamespaces are namespaces the unit creates when they are
	// missing, before anything else of it is done, and never changes or
	// deletes (Helm's --create-namespace, a HelmRelease's
	// spec.install.createNamespace). One that exists costs a read.
	CreateNamespaces []string
	// PreHooks run, in order, after the dry run and before the unit's
	// objects are applied; PostHooks once they are healthy and pruned —
	// only when the unit's Release says it changed, so an unchanged pass
	// runs none (Helm's pre- and post-install or -upgrade hooks, in
	// Helm's order: weight, then name).
	PreHooks, PostHooks []Hook
	// Tests run after the post hooks, again only when the Release changed
	// (a HelmRelease's spec.test: the chart's test hooks). A failure fails
	// the unit unless ignored; UnitResult.Tests says how they went.
	Tests *Tests
	// Release, when set, keeps the record of a package manager's release
	// (Helm's, package apply/helmrelease) in step with the unit: begun
	// after the dry run, ended with the unit's outcome; an unchanged
	// release writes nothing.
	Release Release
	// Remediation, with a Release that is Remediable, says how a failed
	// release is set right and how often it is tried again.
	Remediation *Remediation
}

// Mode says what Apply does with a unit. Each mode is one thing a
// reconciler means; the zero value applies the unit.
type Mode int

const (
	// Reconcile applies the unit's objects, waits for them and prunes what
	// it no longer renders.
	Reconcile Mode = iota
	// Hold leaves the unit's objects in the cluster as they are — nothing
	// applied, nothing pruned — while it still takes part in ordering and
	// its objects stay claimed, so no other unit prunes them: a suspended
	// unit, or one not selected for this run. Its dependents go on.
	Hold
	// HoldNotReady is Hold for a unit that is not Ready, whose dependents
	// must wait (as Flux holds back the dependents of a suspended
	// dependency that is not Ready): they are blocked. Err says why.
	HoldNotReady
	// Fail fails the unit without touching the cluster (it did not
	// render, say): its dependents are blocked and the rest go on. Err
	// says why.
	Fail
	// Remove is for a unit that no longer exists (its definition left the
	// source): everything its inventory holds is pruned, as for an empty
	// render but without needing AllowEmpty, and then the inventory itself
	// is deleted when the Store can (inventory.Deleter). Objects must be
	// empty.
	Remove
)

func (m Mode) String() string {
	switch m {
	case Reconcile:
		return "Reconcile"
	case Hold:
		return "Hold"
	case HoldNotReady:
		return "HoldNotReady"
	case Fail:
		return "Fail"
	case Remove:
		return "Remove"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// why is the error of a unit that fails or is held back as not Ready.
func (u *Unit) why() error {
	err := u.Err
	if err == nil {
		err = errors.New(strings.ToLower(u.Mode.String()))
	}
	if !strings.Contains(err.Error(), u.ID) {
		err = fmt.Errorf("%s: %w", u.ID, err)
	}
	return err
}

// objectConcurrency bounds the requests one unit has in flight.
const objectConcurrency = 32

// Applier applies units to one cluster with server-side apply (fluxcd/pkg/
// ssa), in dependency order, waits for health with kstatus (Flux's fork,
// fluxcd/cli-utils — the one lineage used here), and prunes.
type Applier struct {
	opts   Options
	cfg    *rest.Config
	scheme *runtime.Scheme
	mapper meta.RESTMapper
	client client.Client
	rm     *ssa.ResourceManager
	log    *slog.Logger

	// self acts with the Applier's own credentials; actors as the
	// identities units name (Unit.Identity), made once each.
	self     *actor
	actorsMu sync.Mutex
	actors   map[string]*actor

	keyMu sync.Mutex
	key   []byte // the store's key, once read
}

// New returns an Applier for the cluster cfg reaches.
//
// A cfg that sets no QPS, Burst or RateLimiter (as one loaded from a
// kubeconfig) is not throttled client-side when the server runs Priority
// and Fairness, and is held to 50 requests/s with a burst of 300 when it
// does not, as Flux's controllers are; requests say "gitopskit/<version>"
// unless cfg sets a UserAgent.
func New(cfg *rest.Config, opts Options) (*Applier, error) {
	cfg = kubeclient.Config(cfg)
	if opts.FieldManager == "" {
		opts.FieldManager = "gitopskit"
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Store == nil {
		opts.Store = &inventory.MemoryStore{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Applier{opts: opts, cfg: rest.CopyConfig(cfg), scheme: scheme, mapper: mapper, log: log, actors: map[string]*actor{}}
	if a.self, err = a.newActor(cfg, ""); err != nil {
		return nil, err
	}
	a.client, a.rm = a.self.client, a.self.rm
	return a, nil
}

// Result is the outcome of Apply for every unit.
type Result struct {
	Units []UnitResult
	// Warnings are what the order of the units left out or cannot check
	// (see warnings): inferred edges dropped because they contradicted a
	// declared dependsOn, health checks on objects no unit renders,
	// objects claimed by several units.
	Warnings []dag.Problem
}

// warnings picks from a graph's problems those that matter when applying:
// a missing CRD is left to the server to report, which knows what is
// installed.
func warnings(g *dag.UnitGraph) []dag.Problem {
	var out []dag.Problem
	for _, p := range g.Problems {
		switch p.Kind {
		case dag.ProblemMissingCRD, dag.ProblemCRDNotAncestor:
		default:
			out = append(out, p)
		}
	}
	return out
}

// Unit returns one unit's result.
func (r *Result) Unit(id string) (UnitResult, bool) {
	for _, u := range r.Units {
		if u.ID == id {
			return u, true
		}
	}
	return UnitResult{}, false
}

// UnitResult is what happened to one unit.
type UnitResult struct {
	ID    string
	State dag.State
	// Changes lists every object applied, with its action.
	Changes []Change
	// Pruned lists what was deleted because the unit no longer renders it.
	Pruned []inventory.Entry
	// Orphaned lists what the unit no longer renders and left in the
	// cluster, forgotten (Unit.Orphan).
	Orphaned []inventory.Entry
	Err      error
	// BlockedBy is the failed unit that kept this one from starting.
	BlockedBy string
	// Skipped is set for a held unit (Hold, HoldNotReady).
	Skipped bool
	// Tests says how the unit's Tests went, "" when none ran.
	Tests string
	// Drifted lists the objects found changed in the cluster and left so
	// (Unit.Drift DriftWarn).
	Drifted []dag.ObjectRef
	// Remediation says how a failed release was set right ("rolled back
	// to revision 3", "uninstalled"), "" when it was not.
	Remediation string
	// Failures is how many attempts of the unit's release have failed in
	// a row, this pass's included (with a Remediation).
	Failures int
}

// Tests are hooks run to test a unit once it is applied.
type Tests struct {
	Hooks []Hook
	// IgnoreFailures keeps the unit Ready when a test fails.
	IgnoreFailures bool
	// Timeout bounds each test (the unit's timeout when zero).
	Timeout time.Duration
}

// Change is one object's outcome.
type Change struct {
	Object dag.ObjectRef
	Action string // created, configured, unchanged, moved, deleted, skipped
	// From is, for a moved object, the unit whose inventory held it: it
	// is the same object (same UID), now this unit's.
	From string
}

// MovedAction is the Change.Action of an object a unit takes over from
// another unit of the store (it left that unit's render and appears in
// this one): it is applied in place, never deleted and created again.
const MovedAction = "moved"

// Apply applies the units: each as soon as the units it depends on
// (explicitly, or because they hold its CRDs or Namespaces) are applied and
// healthy, at most Concurrency at once. A failed unit blocks its
// dependents; independent units go on. The error is for input that cannot
// be ordered (a cycle, a dependsOn naming no unit); unit failures are in
// the Result.
func (a *Applier) Apply(ctx context.Context, units []Unit) (*Result, error) {
	run, err := a.newRun(units)
	if err != nil {
		return nil, err
	}
	g, byID := run.graph, run.byID
	var mu sync.Mutex
	results := map[string]*UnitResult{}
	walk, err := g.Walk(ctx, a.opts.Concurrency, func(ctx context.Context, node string) error {
		id, ready := g.NodeUnit(node)
		var r *UnitResult
		u := byID[id]
		if err := run.contested[id]; err != nil && u.Mode == Reconcile {
			failed := *u
			failed.Mode, failed.Err = Fail, err
			u = &failed
		}
		if ready {
			r = a.readyUnit(ctx, u, g.Readiness(id))
		} else {
			r = a.applyUnit(ctx, u, g.Readiness(id), run)
		}
		mu.Lock()
		results[node] = r
		mu.Unlock()
		return r.Err
	})
	if err != nil {
		return nil, err
	}
	nodes := map[string]dag.NodeResult{}
	for _, n := range walk {
		nodes[n.ID] = n
	}
	out := &Result{Warnings: warnings(g)}
	for _, id := range g.UnitNodes() {
		n := nodes[id]
		r := results[id]
		if r == nil {
			r = &UnitResult{ID: id}
		}
		// A unit with a readiness node is where that node got to, once
		// the unit itself is applied.
		if rn := g.Readiness(id).Node; rn != "" && n.State == dag.Succeeded {
			n = nodes[rn]
			if rr := results[rn]; rr != nil {
				r.Err = rr.Err
			}
		}
		r.State = n.State
		r.BlockedBy, _ = g.NodeUnit(n.BlockedBy)
		if n.State == dag.Blocked {
			a.emit(Event{Type: UnitBlocked, Unit: id, Message: "blocked by " + r.BlockedBy})
		}
		out.Units = append(out.Units, *r)
	}
	return out, nil
}

// objectOf is an empty object with the identity of an inventory entry, to
// read or delete it by.
func objectOf(e inventory.Entry) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(strings.TrimPrefix(e.Group+"/"+e.Version, "/"))
	obj.SetKind(e.Kind)
	obj.SetNamespace(e.Namespace)
	obj.SetName(e.Name)
	return obj
}

// entryOf makes an inventory entry of an object.
func entryOf(o *unstructured.Unstructured) inventory.Entry {
	gvk := o.GroupVersionKind()
	return inventory.Entry{ObjectRef: dag.RefOf(o), Version: gvk.Version}
}

// saveInventory saves inv unless the store already holds exactly that
// (stored), so an unchanged unit makes no write request.
func (a *Applier) saveInventory(ctx context.Context, stored, inv *inventory.Inventory) error {
	if stored.Meta == inv.Meta && slices.Equal(stored.Entries, inv.Entries) {
		return nil
	}
	return a.opts.Store.Save(ctx, inv)
}

// metaRef is the reference of an object ssa names in a change set.
func metaRef(m object.ObjMetadata) dag.ObjectRef {
	return dag.ObjectRef{Group: m.GroupKind.Group, Kind: m.GroupKind.Kind, Namespace: m.Namespace, Name: m.Name}
}

func (a *Applier) emit(e Event) {
	a.log.Debug(string(e.Type), "unit", e.Unit, "object", e.Object, "action", e.Action, "err", e.Err)
	if a.opts.Events != nil {
		a.opts.Events(e)
	}
}

// run is what Apply and Plan know about a set of units.
type run struct {
	graph *dag.UnitGraph
	byID  map[string]*Unit
	// claims maps an object ID to the unit applying it in this run.
	claims map[string]string
	// contested says, per unit, which of its objects another unit renders
	// differently: applying both would flip the object on every pass.
	contested map[string]error
	dunits    []dag.Unit
	// owners finds the unit an object moves from.
	owners *owners
}

func (a *Applier) newRun(units []Unit) (*run, error) {
	r := &run{byID: map[string]*Unit{}, claims: map[string]string{}, contested: map[string]error{}, owners: newOwners(a.opts.Store)}
	// The first unit to claim each object; only an object claimed again
	// by another unit is digested, to tell an identical copy from a rival.
	type claim struct {
		unit   string
		obj    *unstructured.Unstructured
		digest string
	}
	first := map[string]*claim{}
	msgs := map[string][]string{}
	for i := range units {
		u := &units[i]
		r.byID[u.ID] = u
		for _, o := range u.Objects {
			id := entryOf(o).ID()
			r.claims[id] = u.ID
			prev, seen := first[id]
			if !seen {
				first[id] = &claim{unit: u.ID, obj: o}
				continue
			}
			if prev.unit == u.ID {
				continue
			}
			if prev.digest == "" {
				prev.digest = appliedDigest(prev.obj)
			}
			if prev.digest != appliedDigest(o) {
				msg := fmt.Sprintf("%s is rendered differently by %s and %s; neither is applied, or they would overwrite each other on every pass (render it in one unit, or identically in both)", dag.RefOf(o), prev.unit, u.ID)
				msgs[prev.unit] = append(msgs[prev.unit], msg)
				msgs[u.ID] = append(msgs[u.ID], msg)
			}
		}
	}
	for id, m := range msgs {
		r.contested[id] = errors.New(strings.Join(slices.Compact(m), "; "))
	}
	dunits, err := dagUnits(units)
	if err != nil {
		return nil, err
	}
	r.dunits = dunits
	if r.graph, err = a.build(dunits); err != nil {
		return nil, err
	}
	return r, nil
}

// appliedDigest is digestOf the object as it is applied (a Secret's
// stringData as data).
func appliedDigest(o *unstructured.Unstructured) string {
	c := o.DeepCopy()
	_ = stringDataToData(c)
	return digestOf(c)
}

// Graph is the order Apply and Plan follow for units: their links and the
// edges dag infers from their objects, with readiness nodes. A caller that
// selects units by what they depend on (one unit and its dependencies,
// say) uses it to agree with the applier.
func (a *Applier) Graph(units []Unit) (*dag.UnitGraph, error) {
	dunits, err := dagUnits(units)
	if err != nil {
		return nil, err
	}
	return a.build(dunits)
}

func (a *Applier) build(dunits []dag.Unit) (*dag.UnitGraph, error) {
	return dag.Build(dunits, dag.Options{Preinstalled: a.opts.Preinstalled})
}

func dagUnits(units []Unit) ([]dag.Unit, error) {
	out := make([]dag.Unit, 0, len(units))
	for _, u := range units {
		du, err := dag.UnitOf(u.ID, u.Links, u.Objects)
		if err != nil {
			return nil, err
		}
		out = append(out, du)
	}
	return out, nil
}

// pruneCandidates reads the objects of old that cur no longer holds and
// that no other unit claims: those to delete, those kept by annotation,
// and those that could not be read (kept in the inventory).
func (a *actor) pruneCandidates(ctx context.Context, unit string, old, cur *inventory.Inventory, claims map[string]string) (stale, kept []*unstructured.Unstructured, unreadable []inventory.Entry) {
	for _, e := range inventory.Diff(old, cur) {
		if owner, ok := claims[e.ID()]; ok && owner != unit {
			continue // moved to another unit: not ours to delete
		}
		obj := objectOf(e)
		if err := a.client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			// A kind the server does not serve has no objects to delete.
			if client.IgnoreNotFound(err) != nil && !meta.IsNoMatchError(err) {
				unreadable = append(unreadable, e)
			}
			continue
		}
		if ownedByOther(obj, unit) {
			continue // another unit applies it now: not ours to delete
		}
		an := obj.GetAnnotations()
		if an[PruneAnnotation] == "disabled" || an[fluxPruneAnnotation] == "disabled" {
			kept = append(kept, obj)
			continue
		}
		stale = append(stale, obj)
	}
	return stale, kept, unreadable
}

// deletionLevels groups objects to delete so that each group depends on
// nothing in a later one: the reverse of dag's apply levels.
func deletionLevels(objs []*unstructured.Unstructured) ([][]*unstructured.Unstructured, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	dobjs := make([]dag.Object, len(objs))
	byID := make(map[string]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		d, err := dag.ObjectOf(o)
		if err != nil {
			return nil, err
		}
		dobjs[i] = d
		byID[d.ObjectRef.String()] = o
	}
	g, err := dag.ObjectGraph(dobjs)
	if err != nil {
		return nil, err
	}
	levels, err := g.Levels()
	if err != nil {
		return nil, err
	}
	out := make([][]*unstructured.Unstructured, 0, len(levels))
	for i := len(levels) - 1; i >= 0; i-- {
		var level []*unstructured.Unstructured
		for _, id := range levels[i] {
			level = append(level, byID[id])
		}
		out = append(out, level)
	}
	return out, nil
}
