package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/dag"
)

// Remedy is how a failed release is set right.
type Remedy string

const (
	// RemedyRollback returns to the last revision that was deployed: its
	// objects are applied again and what the failed revision added is
	// pruned (Helm's rollback). With no such revision (a failed install)
	// it uninstalls.
	RemedyRollback Remedy = "rollback"
	// RemedyUninstall removes the release's objects (its CRDs stay).
	RemedyUninstall Remedy = "uninstall"
	// RemedyNone leaves a failed release as it is, to be tried again
	// (Flux's RetryOnFailure strategy).
	RemedyNone Remedy = "none"
)

// Remediation says what is done when a unit's changed Release fails to
// apply, become healthy or pass its tests — Flux's HelmRelease
// spec.install.remediation or spec.upgrade.remediation, whichever this
// change is. Each reconcile makes one attempt; a failure is remediated
// while retries remain (and, with RemediateLastFailure, also when none
// does), and the next reconcile tries again. Once the release has failed
// Retries+1 times it is not tried again until it changes, or until
// Options.RetryReleases asks for it.
//
// It needs a Release that is Remediable; a unit without Remediation keeps
// trying at every reconcile and is never remediated.
type Remediation struct {
	// Retries is how many times a failed release is tried again; a
	// negative number retries without end.
	Retries int
	// Strategy is how a failure is remediated (RemedyRollback when
	// empty).
	Strategy Remedy
	// RemediateLastFailure remediates the failure after which no retry is
	// left too; without it that last failure stays as it is.
	RemediateLastFailure bool
	// DisableWait does not wait for a rollback's objects to become
	// healthy; DisableHooks runs no rollback hooks (Flux's
	// spec.rollback.disableWait and disableHooks).
	DisableWait, DisableHooks bool
	// Timeout bounds the remediation (the unit's Timeout when zero).
	Timeout time.Duration
}

// ErrNoRetriesLeft is wrapped by the error of a unit whose release failed
// as often as its Remediation allows.
var ErrNoRetriesLeft = errors.New("no retries left")

// Remediable is a Release that counts its failures and records
// remediations, so that a Unit's Remediation can be carried out.
type Remediable interface {
	// Failures is how many attempts of the release, as it is now, have
	// failed in a row: 0 when its records hold another release or it was
	// deployed.
	Failures(ctx context.Context, c Clients) (int, error)
	// Target is what a rollback returns to, after End recorded a failed
	// upgrade: the last deployed revision. Nil when there is none.
	Target(ctx context.Context, c Clients) (*Target, error)
	// Remediated records the remediation of the failure End recorded:
	// how it was done (a rollback to target, or an uninstall), and err
	// when it failed.
	Remediated(ctx context.Context, c Clients, how Remedy, target *Target, err error) error
}

// Target is a release revision a rollback returns to.
type Target struct {
	Revision int
	// Namespace is where objects of namespaced kinds that name no
	// namespace go (the release's).
	Namespace string
	Objects   []*unstructured.Unstructured
	// PreHooks and PostHooks run before and after its objects are
	// applied (Helm's pre- and post-rollback hooks, in order).
	PreHooks, PostHooks []Hook
}

// remediable is the unit's Release as a Remediable, when the unit asks for
// remediation and its Release can do it.
func remediable(u *Unit) (Remediable, bool) {
	if u.Remediation == nil || u.Release == nil || u.Mode != Reconcile {
		return nil, false
	}
	rem, ok := u.Release.(Remediable)
	return rem, ok
}

// retriesLeft says whether a release that failed failures times may be
// tried again.
func (r *Remediation) retriesLeft(failures int) bool {
	return r.Retries < 0 || failures <= r.Retries
}

// remediate sets right a unit whose release failed (failures times in a
// row, this one included) as its Remediation says, and returns what it did
// for the unit's status ("" when nothing). The unit's objects are then
// those of the rollback target (plus its CRDs), or only its CRDs.
func (a *Applier) remediate(ctx context.Context, act *actor, u *Unit, rem Remediable, failures int, r *run) (string, error) {
	pol := u.Remediation
	retry := pol.retriesLeft(failures)
	if !retry && !pol.RemediateLastFailure {
		return "", nil
	}
	how := pol.Strategy
	switch how {
	case "":
		how = RemedyRollback
	case RemedyNone:
		return "", nil
	}
	var (
		target *Target
		err    error
	)
	if how == RemedyRollback {
		t, err := rem.Target(ctx, act.clients)
		if err != nil {
			return "", fmt.Errorf("finding the revision to roll back to: %w", err)
		}
		if target = t; target == nil {
			how = RemedyUninstall // nothing was ever deployed
		}
	}
	// The CRDs of the unit stay whatever is done: deleting a CRD deletes
	// every custom resource of its kind, in every namespace.
	var keep []*unstructured.Unstructured
	for _, o := range u.Objects {
		if o.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) {
			keep = append(keep, o)
		}
	}
	ru := &Unit{ID: u.ID, Links: u.Links, Timeout: u.Timeout, Revision: u.Revision, NoWait: true, NotEmpty: true,
		Identity: u.Identity, TakeOverFrom: u.TakeOverFrom, Release: u.Release} // named in the inventory; never begun
	if pol.Timeout > 0 {
		ru.Timeout = pol.Timeout
	}
	switch how {
	case RemedyRollback:
		objs, err := act.defaultNamespaces(target.Objects, target.Namespace)
		if err != nil {
			return "", fmt.Errorf("rollback to revision %d: %w", target.Revision, err)
		}
		ru.Objects = append(keep, objs...)
		ru.NoWait = pol.DisableWait
		if !pol.DisableHooks {
			if ru.PreHooks, err = act.defaultHookNamespaces(target.PreHooks, target.Namespace); err != nil {
				return "", fmt.Errorf("rollback to revision %d: %w", target.Revision, err)
			}
			if ru.PostHooks, err = act.defaultHookNamespaces(target.PostHooks, target.Namespace); err != nil {
				return "", fmt.Errorf("rollback to revision %d: %w", target.Revision, err)
			}
		}
	case RemedyUninstall:
		ru.Objects = keep
	default:
		return "", fmt.Errorf("unknown remediation strategy %q", how)
	}
	err = a.applyPlain(ctx, act, ru, r)
	what := "uninstalled"
	if how == RemedyRollback {
		what = fmt.Sprintf("rolled back to revision %d", target.Revision)
	}
	if rerr := rem.Remediated(ctx, act.clients, how, target, err); rerr != nil {
		err = errors.Join(err, fmt.Errorf("recording the remediation: %w", rerr))
	}
	if err != nil {
		return what + " failed", fmt.Errorf("remediation (%s): %w", how, err)
	}
	a.emit(Event{Type: UnitRemediated, Unit: u.ID, Message: what})
	return what, nil
}

// applyPlain applies a unit that is no release — a remediation's set of
// objects — with its hooks around it: dry run, apply, wait, prune, as for
// any unit.
func (a *Applier) applyPlain(ctx context.Context, act *actor, u *Unit, r *run) error {
	run := &unitRun{u: u, res: &UnitResult{ID: u.ID}, timeout: a.unitTimeout(u), identity: u.Identity}
	if err := act.begin(ctx, run); err != nil {
		return err
	}
	if err := act.runHooks(ctx, u.ID, u.PreHooks, run.timeout); err != nil {
		return err
	}
	if err := act.converge(ctx, run, r, nil); err != nil {
		return err
	}
	return act.runHooks(ctx, u.ID, u.PostHooks, run.timeout)
}

// defaultNamespaces gives the objects of namespaced kinds that name no
// namespace the one given, as Helm does with a release's manifest.
func (a *actor) defaultNamespaces(objs []*unstructured.Unstructured, namespace string) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o
		if o.GetNamespace() != "" {
			continue
		}
		gvk := o.GroupVersionKind()
		m, err := a.client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dag.RefOf(o), err)
		}
		if m.Scope.Name() == "namespace" {
			out[i] = o.DeepCopy()
			out[i].SetNamespace(namespace)
		}
	}
	return out, nil
}

// describe says where a release that failed failures times stands, for
// the unit's error: "attempt 2 of 3, rolled back to revision 4; tried
// again at the next reconcile".
func (r *Remediation) describe(failures int, what string) string {
	of := "retried without end"
	if r.Retries >= 0 {
		of = fmt.Sprintf("attempt %d of %d", failures, r.Retries+1)
	}
	if what == "" {
		what = "not remediated"
	}
	next := "tried again at the next reconcile"
	if !r.retriesLeft(failures) {
		next = "no retries left"
	}
	return of + ", " + what + "; " + next
}

func (a *actor) defaultHookNamespaces(hooks []Hook, namespace string) ([]Hook, error) {
	objs := make([]*unstructured.Unstructured, len(hooks))
	for i, h := range hooks {
		objs[i] = h.Object
	}
	objs, err := a.defaultNamespaces(objs, namespace)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(hooks)
	for i := range out {
		out[i].Object = objs[i]
	}
	return out, nil
}
