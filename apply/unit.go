package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/inventory"
)

// waitInterval is how often waits poll.
const waitInterval = 200 * time.Millisecond

// unitRun is one unit being applied: what it renders now, what its
// inventory held, and what the pass has done so far.
type unitRun struct {
	u       *Unit
	res     *UnitResult
	objs    []*unstructured.Unstructured // copies, Secrets' stringData folded into data
	old     *inventory.Inventory         // as loaded
	cur     *inventory.Inventory         // what the unit renders now
	pending *inventory.Inventory         // old ∪ cur, saved before touching the cluster
	digests digests
	timeout time.Duration
	// identity is who the unit acts as ("" for the Applier's own), kept
	// with its inventory.
	identity string
	// live is the live state of the objects that may be unchanged (nil
	// for the others); existed says which objects the cluster has, as
	// read or as the dry run found; deferred are the objects the dry run
	// could not judge before the unit's CRDs and Namespaces are applied.
	live     []*unstructured.Unstructured
	existed  []bool
	deferred []int
	// ignore are the unit's DriftIgnore rules, compiled.
	ignore ignoreRules
	// postDelete are the hooks of a removed release to run once its
	// objects are gone.
	postDelete []Hook
}

// applyUnit applies one unit: apply its objects, wait for them and for its
// own health checks, prune what it no longer renders, save its inventory.
// A unit with a readiness node is Ready only once readyUnit has run.
func (a *Applier) applyUnit(ctx context.Context, u *Unit, rd dag.Readiness, r *run) *UnitResult {
	res := &UnitResult{ID: u.ID}
	switch u.Mode {
	case Hold:
		res.Skipped = true
		a.emit(Event{Type: UnitSkipped, Unit: u.ID})
		return res
	case HoldNotReady:
		res.Skipped, res.Err = true, u.why()
		a.emit(Event{Type: UnitSkipped, Unit: u.ID})
		return res
	case Fail:
		res.Err = u.why()
		a.emit(Event{Type: UnitFailed, Unit: u.ID, Err: res.Err})
		return res
	}
	a.emit(Event{Type: UnitStarted, Unit: u.ID})
	identity := u.Identity
	// A release begun is ended however the unit ends, with a context of
	// its own: the unit's may be what timed out.
	var (
		act      *actor
		released bool
	)
	endRelease := func(ctx context.Context, unitErr error) error {
		if !released {
			return nil
		}
		released = false
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := u.Release.End(ctx, act.clients, unitErr); err != nil {
			return fmt.Errorf("recording release %s: %w", u.Release.Ref(), err)
		}
		return nil
	}
	outer := ctx
	rem, remediates := remediable(u)
	failures := 0 // of the release as it is now, before this pass
	fail := func(err error) *UnitResult {
		begun := released
		err = errors.Join(err, endRelease(ctx, err))
		if begun && remediates && outer.Err() == nil {
			// The unit's own time may be what ran out: the remediation
			// has time of its own.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(outer), a.unitTimeout(u))
			res.Failures = failures + 1
			what, rerr := a.remediate(rctx, act, u, rem, res.Failures, r)
			cancel()
			res.Remediation = what
			err = errors.Join(err, rerr)
			err = fmt.Errorf("%w (%s)", err, u.Remediation.describe(res.Failures, what))
		}
		if identity != "" {
			res.Err = fmt.Errorf("%s (acting as %s): %w", u.ID, identity, err)
		} else {
			res.Err = fmt.Errorf("%s: %w", u.ID, err)
		}
		a.emit(Event{Type: UnitFailed, Unit: u.ID, Err: res.Err})
		return res
	}
	if len(rd.Unsatisfiable) > 0 {
		return fail(errors.New(strings.Join(rd.Unsatisfiable, "; ")))
	}
	run := &unitRun{u: u, res: res, timeout: a.unitTimeout(u)}
	ctx, cancel := context.WithTimeout(ctx, run.timeout)
	defer cancel()
	identity, err := a.identityOf(ctx, u)
	if err != nil {
		return fail(err)
	}
	act, err = a.actorFor(identity)
	if err != nil {
		return fail(err)
	}
	run.identity = identity
	if err := act.checkExternal(ctx, u, rd.Local); err != nil {
		return fail(err)
	}
	// A release left as it is when unchanged: its objects are looked at
	// (DriftWarn) or not at all (DriftIgnore), never applied.
	if u.Mode == Reconcile && u.Release != nil && u.Drift != DriftCorrect {
		changed, err := u.Release.Changed(ctx, act.clients)
		if err != nil {
			return fail(fmt.Errorf("release %s: %w", u.Release.Ref(), err))
		}
		if !changed {
			if u.Drift == DriftWarn {
				if err := act.reportDrift(ctx, run); err != nil {
					return fail(err)
				}
			}
			if rd.Node == "" {
				a.emit(Event{Type: UnitReady, Unit: u.ID})
			}
			return res
		}
	}
	if u.Mode == Reconcile {
		for _, ns := range u.CreateNamespaces {
			if err := act.ensureNamespace(ctx, ns); err != nil {
				return fail(fmt.Errorf("creating namespace %s: %w", ns, err))
			}
		}
	}
	if remediates {
		n, err := rem.Failures(ctx, act.clients)
		if err != nil {
			return fail(fmt.Errorf("release %s: %w", u.Release.Ref(), err))
		}
		failures = n
		if n > 0 && !u.Remediation.retriesLeft(n) && !a.opts.RetryReleases {
			res.Failures = n
			return fail(fmt.Errorf("release %s: %w: it failed %d times and remediation allows %d retries; change the release, or retry it with apply.Options.RetryReleases (cli -retry-releases)",
				u.Release.Ref(), ErrNoRetriesLeft, n, u.Remediation.Retries))
		}
	}
	if err := act.begin(ctx, run); err != nil {
		return fail(err)
	}
	if u.Mode == Remove && run.old.Release != "" && a.opts.DeleteHooks != nil {
		t, err := a.opts.DeleteHooks(ctx, act.clients, run.old.Release)
		if err != nil {
			return fail(fmt.Errorf("release %s: reading its delete hooks: %w", run.old.Release, err))
		}
		if t != nil {
			pre, err := act.defaultHookNamespaces(t.PreHooks, t.Namespace)
			if err != nil {
				return fail(err)
			}
			if run.postDelete, err = act.defaultHookNamespaces(t.PostHooks, t.Namespace); err != nil {
				return fail(err)
			}
			if err := act.runHooks(ctx, u.ID, pre, run.timeout); err != nil {
				return fail(fmt.Errorf("pre-delete: %w", err))
			}
		}
	}
	if u.Release != nil && u.Mode == Reconcile {
		changed, err := u.Release.Begin(ctx, act.clients)
		if err != nil {
			return fail(fmt.Errorf("release %s: %w", u.Release.Ref(), err))
		}
		released = changed
	}
	if released {
		if err := act.runHooks(ctx, u.ID, u.PreHooks, run.timeout); err != nil {
			return fail(err)
		}
	}
	if err := act.converge(ctx, run, r, rd.Local); err != nil {
		return fail(err)
	}
	if released {
		if err := act.runHooks(ctx, u.ID, u.PostHooks, run.timeout); err != nil {
			return fail(err)
		}
	}
	// Tests run before the release is recorded: a failed test is a failed
	// release (remediated as any other failure) unless ignored.
	if released && u.Tests != nil && len(u.Tests.Hooks) > 0 {
		timeout := u.Tests.Timeout
		if timeout <= 0 {
			timeout = run.timeout
		}
		err := act.runHooks(ctx, u.ID, u.Tests.Hooks, timeout)
		switch {
		case err == nil:
			res.Tests = fmt.Sprintf("%d passed", len(u.Tests.Hooks))
		case u.Tests.IgnoreFailures:
			res.Tests = "failed, ignored: " + err.Error()
		default:
			res.Tests = "failed"
			return fail(fmt.Errorf("tests: %w", err))
		}
	}
	if err := endRelease(ctx, nil); err != nil {
		return fail(err)
	}
	if rd.Node == "" {
		a.emit(Event{Type: UnitReady, Unit: u.ID})
	}
	return res
}

// converge applies a begun run's objects, waits for them to be healthy
// (unless the unit says not to) and for the health checks given, and
// prunes what the unit no longer renders: the steps every applied set
// goes through, a unit's or a remediation's.
func (a *actor) converge(ctx context.Context, run *unitRun, r *run, checks []dag.ObjectRef) error {
	waitFor, err := a.applySet(ctx, run, r.owners)
	if err != nil {
		return err
	}
	if !run.u.NoWait {
		if err := a.waitHealthy(ctx, waitFor, run.timeout); err != nil {
			return fmt.Errorf("health check: %w", err)
		}
	}
	if err := a.waitHealthy(ctx, refsToMeta(checks), run.timeout); err != nil {
		return fmt.Errorf("healthChecks: %w", err)
	}
	return a.prune(ctx, run, r.claims, r.owners)
}

// reportDrift finds the unit's objects that no longer hold what was
// applied (by the inventory's digests and the live objects) and reports
// them, changing nothing.
func (a *actor) reportDrift(ctx context.Context, run *unitRun) error {
	if err := a.prepare(ctx, run); err != nil {
		return err
	}
	live := a.liveOf(ctx, run.objs, run.digests)
	for i, o := range run.objs {
		if !run.unchanged(o, live[i]) {
			ref := dag.RefOf(o)
			run.res.Drifted = append(run.res.Drifted, ref)
			a.emit(Event{Type: ObjectDrifted, Unit: run.u.ID, Object: ref})
		}
	}
	return nil
}

// ensureNamespace creates a namespace unless it exists, labelled as Helm
// labels the namespaces it creates.
func (a *actor) ensureNamespace(ctx context.Context, name string) error {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	err := a.client.Get(ctx, client.ObjectKey{Name: name}, ns)
	if err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	ns.SetName(name)
	ns.SetLabels(map[string]string{"name": name})
	err = a.client.Create(ctx, ns, client.FieldOwner(a.opts.FieldManager))
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// releaseTimeout bounds recording how a release ended.
const releaseTimeout = 30 * time.Second

// readyUnit runs at a unit's readiness node, after the unit and every unit
// its readiness waits for are done: it checks the health checks that name
// objects of those units.
func (a *Applier) readyUnit(ctx context.Context, u *Unit, rd dag.Readiness) *UnitResult {
	res := &UnitResult{ID: u.ID}
	if u.Mode != Reconcile {
		return res // applyUnit reported it
	}
	timeout := a.unitTimeout(u)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	act, err := a.actorFor(u.Identity)
	if err != nil {
		res.Err = fmt.Errorf("%s: %w", u.ID, err)
		a.emit(Event{Type: UnitFailed, Unit: u.ID, Err: res.Err})
		return res
	}
	if err := act.waitHealthy(ctx, refsToMeta(rd.Awaited), timeout); err != nil {
		res.Err = fmt.Errorf("%s: healthChecks: %w", u.ID, err)
		a.emit(Event{Type: UnitFailed, Unit: u.ID, Err: res.Err})
		return res
	}
	a.emit(Event{Type: UnitReady, Unit: u.ID})
	return res
}

// identityOf is who the unit acts as: Unit.Identity, or for a removed unit
// that names none, the identity its inventory recorded — it is pruned as
// whoever applied it.
func (a *Applier) identityOf(ctx context.Context, u *Unit) (string, error) {
	if u.Identity != "" || u.Mode != Remove {
		return u.Identity, nil
	}
	old, err := a.opts.Store.Load(ctx, u.ID)
	if errors.Is(err, inventory.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return old.Identity, nil
}

func (a *Applier) unitTimeout(u *Unit) time.Duration {
	if u.Timeout > 0 {
		return u.Timeout
	}
	return a.opts.Timeout
}

// checkExternal fails fast when a health check names an object that no
// unit renders and the cluster does not have: it could never pass.
func (a *actor) checkExternal(ctx context.Context, u *Unit, checks []dag.ObjectRef) error {
	own := map[dag.ObjectRef]bool{}
	for _, o := range u.Objects {
		own[dag.RefOf(o)] = true
	}
	var objs []*unstructured.Unstructured
	for _, c := range checks {
		if !own[c] {
			objs = append(objs, a.objectOfRef(c))
		}
	}
	if len(objs) == 0 {
		return nil
	}
	live, err := a.readLive(ctx, objs, func(int) bool { return true })
	if err != nil {
		return fmt.Errorf("healthChecks: %w", err)
	}
	var missing []string
	for i, o := range objs {
		if live[i] == nil {
			missing = append(missing, dag.RefOf(o).String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("healthChecks: %s: not in the cluster and no unit renders it, so it can never be ready", strings.Join(missing, ", "))
	}
	return nil
}

// objectOfRef is an empty object with a reference's identity, its version
// the one the cluster prefers.
func (a *Applier) objectOfRef(r dag.ObjectRef) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	version := "v1"
	if m, err := a.client.RESTMapper().RESTMapping(schema.GroupKind{Group: r.Group, Kind: r.Kind}); err == nil {
		version = m.GroupVersionKind.Version
	}
	obj.SetAPIVersion(schema.GroupVersion{Group: r.Group, Version: version}.String())
	obj.SetKind(r.Kind)
	obj.SetNamespace(r.Namespace)
	obj.SetName(r.Name)
	return obj
}

func refsToMeta(refs []dag.ObjectRef) object.ObjMetadataSet {
	out := make(object.ObjMetadataSet, 0, len(refs))
	for _, r := range refs {
		out = append(out, object.ObjMetadata{GroupKind: r.GroupKind(), Namespace: r.Namespace, Name: r.Name})
	}
	return out
}

// prepare loads the unit's inventory and makes its objects as they are
// applied — owner label set, a Secret's stringData as data — with the
// digests of what was applied last and of what is applied now.
func (a *actor) prepare(ctx context.Context, run *unitRun) error {
	u := run.u
	old, err := a.opts.Store.Load(ctx, u.ID)
	if errors.Is(err, inventory.ErrNotFound) {
		old, err = inventory.New(u.ID), nil
	}
	if err != nil {
		return err
	}
	run.old = old
	if run.ignore, err = compileIgnore(u.DriftIgnore); err != nil {
		return err
	}
	key, err := a.storeKey(ctx, u)
	if err != nil {
		return err
	}
	run.objs = make([]*unstructured.Unstructured, len(u.Objects))
	run.digests = digests{last: make(map[string]string, len(old.Entries)), now: make(map[string]string, len(u.Objects))}
	for _, e := range old.Entries {
		run.digests.last[e.ID()] = e.Digest
	}
	for i, o := range u.Objects {
		run.objs[i] = o.DeepCopy()
		withOwner(run.objs[i], u.ID)
		// A Secret's stringData is applied as data (as Flux does), so the
		// live Secret, which only ever has data, compares equal.
		if err := stringDataToData(run.objs[i]); err != nil {
			return fmt.Errorf("%s: %w", dag.RefOf(run.objs[i]), err)
		}
		run.digests.now[entryOf(run.objs[i]).ID()] = storedDigest(key, run.objs[i])
	}
	return nil
}

// begin loads the unit's inventory, works out what it renders now, and
// records old ∪ new before anything touches the cluster, so a crash from
// here on never forgets an object.
func (a *actor) begin(ctx context.Context, run *unitRun) error {
	u := run.u
	if err := a.prepare(ctx, run); err != nil {
		return err
	}
	old := run.old
	entries := make([]inventory.Entry, 0, len(run.objs))
	for _, o := range run.objs {
		e := entryOf(o)
		e.Digest = run.digests.now[e.ID()]
		entries = append(entries, e)
	}
	run.cur = inventory.New(u.ID, entries...)
	run.cur.Meta = inventory.Meta{Revision: u.Revision, Orphan: u.Orphan, Parent: u.Parent, Identity: run.identity}
	if u.Release != nil {
		run.cur.Meta.Release = u.Release.Ref()
	}
	if u.Mode == Remove && len(u.Objects) > 0 {
		return errors.New("a removed unit cannot have objects")
	}
	if len(run.cur.Entries) == 0 && len(old.Entries) > 0 && !a.opts.AllowEmpty && !u.NotEmpty && u.Mode != Remove {
		return fmt.Errorf("the render is empty and %d objects would be pruned; refusing (set Options.AllowEmpty, cli -allow-empty, if that is meant)", len(old.Entries))
	}
	if err := a.checkObjects(run); err != nil {
		return err
	}
	run.live = a.liveOf(ctx, run.objs, run.digests)
	run.existed = make([]bool, len(run.objs))
	var changed []int
	for i, o := range run.objs {
		run.existed[i] = run.live[i] != nil
		if !run.unchanged(o, run.live[i]) {
			changed = append(changed, i)
		}
	}
	deferred, err := a.dryRun(ctx, run, changed)
	if err != nil {
		return err
	}
	run.deferred = deferred
	// The revision changes only once applied.
	run.pending = inventory.Union(old, run.cur)
	run.pending.Meta = old.Meta
	return a.saveInventory(ctx, old, run.pending)
}

// applySet applies the unit's objects — CRDs and Namespaces first, through
// ssa, which waits for CRDs to be Established; the rest on the
// request-saving path — recording every change, and returns the objects
// that are not Current yet. An object new to the unit that another unit's
// inventory holds is recorded as moved from there.
func (a *actor) applySet(ctx context.Context, run *unitRun, owners *owners) (object.ObjMetadataSet, error) {
	record := func(i int, action ssa.Action) {
		o := run.objs[i]
		ref := dag.RefOf(o)
		change := Change{Object: ref, Action: string(action)}
		if run.existed[i] && !run.old.Has(entryOf(o)) {
			if from := owners.previous(ctx, entryOf(o).ID(), run.u.ID); from != "" {
				change.Action, change.From = MovedAction, from
			}
		}
		run.res.Changes = append(run.res.Changes, change)
		a.emit(Event{Type: ObjectApplied, Unit: run.u.ID, Object: ref, Action: change.Action, Message: movedMessage(change.From)})
	}
	var first, rest []int
	for i, o := range run.objs {
		gk := o.GroupVersionKind().GroupKind()
		if gk == (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) || gk == (schema.GroupKind{Kind: "Namespace"}) {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	// Unchanged CRDs and Namespaces need no request either.
	var staged []*unstructured.Unstructured
	index := map[dag.ObjectRef]int{}
	for _, i := range first {
		if run.unchanged(run.objs[i], run.live[i]) {
			record(i, ssa.UnchangedAction)
			continue
		}
		staged = append(staged, run.objs[i])
		index[dag.RefOf(run.objs[i])] = i
	}
	if len(staged) > 0 {
		opts := ssa.ApplyOptions{Force: a.opts.Force, ForceSelector: forceSelector, WaitInterval: waitInterval, WaitTimeout: run.timeout}
		for _, fm := range run.u.TakeOverFrom {
			ops := []metav1.ManagedFieldsOperationType{metav1.ManagedFieldsOperationType(fm.Operation)}
			if fm.Operation == "" {
				ops = []metav1.ManagedFieldsOperationType{metav1.ManagedFieldsOperationApply, metav1.ManagedFieldsOperationUpdate}
			}
			for _, op := range ops {
				opts.Cleanup.FieldManagers = append(opts.Cleanup.FieldManagers, ssa.FieldManager{Name: fm.Name, OperationType: op})
			}
		}
		cs, err := a.rm.ApplyAllStaged(ctx, staged, opts)
		if cs != nil {
			for _, e := range cs.Entries {
				if i, ok := index[metaRef(e.ObjMetadata)]; ok {
					record(i, e.Action)
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	// What needed the unit's CRDs or Namespaces is dry-run now; any
	// refusal still stops the unit before the rest is applied.
	if len(run.deferred) > 0 {
		again, err := a.dryRun(ctx, run, run.deferred)
		if err != nil {
			return nil, err
		}
		if len(again) > 0 {
			return nil, fmt.Errorf("dry run: %s: not accepted after the unit's CRDs and Namespaces were applied", dag.RefOf(run.objs[again[0]]))
		}
	}
	var waitFor object.ObjMetadataSet
	if len(rest) > 0 {
		out, err := a.applyObjects(ctx, run, rest)
		for j, r := range out {
			if r.obj == nil {
				continue
			}
			i := rest[j]
			record(i, r.action)
			if !current(r.obj) {
				waitFor = append(waitFor, object.UnstructuredToObjMetadata(run.objs[i]))
			}
		}
		if err != nil {
			return nil, err
		}
		for _, r := range out {
			if err := a.dropManagers(ctx, r.obj, run.u.TakeOverFrom); err != nil {
				return nil, fmt.Errorf("%s: taking the fields over: %w", dag.RefOf(r.obj), err)
			}
		}
	}
	return waitFor, nil
}

// waitHealthy waits until every object of set is Current by kstatus. When
// it gives up, the error names the objects still not ready and what
// kstatus says of each, never the poller's own words.
func (a *actor) waitHealthy(ctx context.Context, set object.ObjMetadataSet, timeout time.Duration) error {
	if len(set) == 0 {
		return nil
	}
	// Stop polling a little before the unit's own deadline, so the answer
	// is a list of objects rather than a rate limiter's complaint.
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var c2 context.CancelFunc
		wctx, c2 = context.WithDeadline(wctx, dl.Add(-waitInterval))
		defer c2()
	}
	err := a.rm.WaitForSetWithContext(wctx, set, ssa.WaitOptions{Interval: waitInterval, Timeout: timeout})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err() // canceled from outside, not a timeout
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	notReady, rerr := a.notReady(rctx, set)
	if rerr != nil || len(notReady) == 0 {
		return fmt.Errorf("timed out after %s waiting for %d objects", timeout, len(set))
	}
	return fmt.Errorf("timed out after %s; not ready: %s", timeout, strings.Join(notReady, "; "))
}

// notReady reads the objects of set and says, for each one that is missing
// or not Current, what kstatus says of it: "Deployment cert-manager/cert-manager:
// InProgress: Available: 0/1 replicas".
func (a *actor) notReady(ctx context.Context, set object.ObjMetadataSet) ([]string, error) {
	objs := make([]*unstructured.Unstructured, len(set))
	for i, m := range set {
		objs[i] = a.objectOfRef(dag.ObjectRef{Group: m.GroupKind.Group, Kind: m.GroupKind.Kind, Namespace: m.Namespace, Name: m.Name})
	}
	live, err := a.readLive(ctx, objs, func(int) bool { return true })
	if err != nil {
		return nil, err
	}
	var out []string
	for i, o := range objs {
		if msg := statusProblem(live[i]); msg != "" {
			out = append(out, dag.RefOf(o).String()+": "+msg)
		}
	}
	return out, nil
}

// statusProblem says why a live object is not Current, "" when it is.
func statusProblem(live *unstructured.Unstructured) string {
	if live == nil {
		return "not found"
	}
	res, err := status.Compute(live)
	if err != nil {
		return err.Error()
	}
	if res.Status == status.CurrentStatus {
		return ""
	}
	return fmt.Sprintf("%s: %s", res.Status, res.Message)
}

// prune deletes (or, for Orphan, forgets) what the unit applied before and
// renders no more, unless another unit claims it now or it is marked to be
// kept; then saves the final inventory (or deletes it, for a removed unit).
func (a *actor) prune(ctx context.Context, run *unitRun, claims map[string]string, owners *owners) error {
	u, old, cur, res := run.u, run.old, run.cur, run.res
	for _, e := range inventory.Diff(old, cur) {
		if owner, ok := claims[e.ID()]; ok && owner != u.ID {
			owners.release(e.ID(), u.ID) // moved: it leaves this inventory now
		}
	}
	orphan := u.Orphan || (u.Mode == Remove && old.Orphan)
	var stale []*unstructured.Unstructured
	var unreadable []inventory.Entry
	if orphan {
		res.Orphaned = inventory.Diff(old, cur)
	} else {
		stale, _, unreadable = a.pruneCandidates(ctx, u.ID, old, cur, claims)
	}
	keep := slices.Clone(unreadable)
	save := func(inv *inventory.Inventory) {
		inv.Meta = cur.Meta
	}
	// Delete in reverse dependency order — custom resources before their
	// CRD, objects before their Namespace — one level at a time, waiting
	// for each level to be gone.
	levels, err := deletionLevels(stale)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	for li, level := range levels {
		cs, err := a.rm.DeleteAll(ctx, level, ssa.DefaultDeleteOptions())
		deleted := map[dag.ObjectRef]bool{}
		if cs != nil {
			for _, e := range cs.Entries {
				// ssa lists an object whose delete failed too (unknown).
				if e.Action == ssa.DeletedAction {
					deleted[metaRef(e.ObjMetadata)] = true
				}
			}
		}
		if err != nil {
			err = a.goneAnyway(ctx, level, deleted, err)
		}
		for _, o := range level {
			e := entryOf(o)
			if err != nil && !deleted[e.ObjectRef] {
				keep = append(keep, e) // a failed delete stays in the inventory
				continue
			}
			res.Pruned = append(res.Pruned, e)
			a.emit(Event{Type: ObjectPruned, Unit: u.ID, Object: e.ObjectRef})
		}
		if err != nil {
			for _, later := range levels[li+1:] { // not attempted: still ours
				for _, o := range later {
					keep = append(keep, entryOf(o))
				}
			}
			left := inventory.New(u.ID, append(cur.Entries, keep...)...)
			save(left)
			_ = a.opts.Store.Save(ctx, left)
			return fmt.Errorf("prune: %w", err)
		}
		// Namespaces are deleted, not waited for: the cluster's namespace
		// controller finalizes them, which can take minutes, and they are
		// always in the last level, so nothing waits on them.
		var wait []*unstructured.Unstructured
		for _, o := range level {
			if gvk := o.GroupVersionKind(); !(gvk.Group == "" && gvk.Kind == "Namespace") {
				wait = append(wait, o)
			}
		}
		if err := a.rm.WaitForTermination(wait, ssa.WaitOptions{Interval: waitInterval, Timeout: run.timeout}); err != nil {
			return fmt.Errorf("prune: waiting for deletion: %w", err)
		}
	}
	final := inventory.New(u.ID, append(cur.Entries, keep...)...)
	save(final)
	// A removed unit's release records go with its last object, before
	// its inventory, which is what names them.
	if u.Mode == Remove && len(final.Entries) == 0 && len(run.postDelete) > 0 {
		// Kept in the inventory until they succeed: the next pass runs
		// them again.
		if err := a.runHooks(ctx, u.ID, run.postDelete, run.timeout); err != nil {
			return fmt.Errorf("post-delete: %w", err)
		}
	}
	if u.Mode == Remove && len(final.Entries) == 0 && run.old.Release != "" && a.opts.Uninstall != nil {
		if err := a.opts.Uninstall(ctx, a.clients, run.old.Release); err != nil {
			return fmt.Errorf("uninstalling release %s: %w", run.old.Release, err)
		}
	}
	if d, ok := a.opts.Store.(inventory.Deleter); ok && u.Mode == Remove && len(final.Entries) == 0 {
		if err := d.Delete(ctx, u.ID); err != nil {
			return err
		}
	} else if err := a.saveInventory(ctx, run.pending, final); err != nil {
		return err
	}
	if len(unreadable) > 0 {
		return fmt.Errorf("prune: could not read %d objects to delete, kept in the inventory (first: %s)", len(unreadable), unreadable[0])
	}
	return nil
}

// goneAnyway settles a failed DeleteAll: an object that is not in the
// cluster any more (deleted meanwhile, e.g. with its CRD or by another
// unit's prune) counts as deleted. It returns err when some object is
// still there or cannot be read, nil when all are gone.
func (a *actor) goneAnyway(ctx context.Context, level []*unstructured.Unstructured, deleted map[dag.ObjectRef]bool, err error) error {
	var left []int
	for i, o := range level {
		if !deleted[dag.RefOf(o)] {
			left = append(left, i)
		}
	}
	live, rerr := a.readLive(ctx, level, func(i int) bool { return slices.Contains(left, i) })
	if rerr != nil {
		return err
	}
	still := false
	for _, i := range left {
		if live[i] == nil {
			deleted[dag.RefOf(level[i])] = true
		} else {
			still = true
		}
	}
	if still {
		return err
	}
	return nil
}

// checkObjects refuses, before anything is written to the inventory, what
// the server can never take: a name or namespace no object may have, or a
// kind the server does not serve and no CRD in the unit defines. So a typo
// fails the unit once, and leaves no entry behind to trip later passes.
func (a *Applier) checkObjects(run *unitRun) error {
	defined := map[schema.GroupKind]bool{}
	for _, o := range run.objs {
		if o.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) {
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			defined[schema.GroupKind{Group: group, Kind: kind}] = true
		}
	}
	var errs []error
	for _, o := range run.objs {
		ref := dag.RefOf(o)
		if msgs := path.IsValidPathSegmentName(o.GetName()); o.GetName() == "" || len(msgs) > 0 {
			why := "a name is required"
			if len(msgs) > 0 {
				why = strings.Join(msgs, "; ")
			}
			errs = append(errs, fmt.Errorf("%s: the name %q is not valid: %s", ref, o.GetName(), why))
			continue
		}
		if ns := o.GetNamespace(); ns != "" {
			if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
				errs = append(errs, fmt.Errorf("%s: the namespace %q is not valid: %s", ref, ns, strings.Join(msgs, "; ")))
				continue
			}
		}
		gvk := o.GroupVersionKind()
		if defined[gvk.GroupKind()] {
			continue
		}
		if _, err := a.client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); meta.IsNoMatchError(err) {
			errs = append(errs, fmt.Errorf("%s: the server has no kind %s in %s, and no CRD in this unit defines it", ref, gvk.Kind, gvk.GroupVersion()))
		}
	}
	return errors.Join(errs...)
}

// storeKey is the store's key (inventory.Keyer) for the digests of
// Secrets, read once per Applier — when the unit has a Secret at all.
func (a *Applier) storeKey(ctx context.Context, u *Unit) ([]byte, error) {
	k, ok := a.opts.Store.(inventory.Keyer)
	if !ok || !slices.ContainsFunc(u.Objects, func(o *unstructured.Unstructured) bool {
		gvk := o.GroupVersionKind()
		return gvk.Group == "" && gvk.Kind == "Secret"
	}) {
		return nil, nil
	}
	a.keyMu.Lock()
	defer a.keyMu.Unlock()
	if a.key == nil {
		key, err := k.Key(ctx)
		if err != nil {
			return nil, err
		}
		a.key = key
	}
	return a.key, nil
}
