package apply

import (
	"context"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
)

// Clients reach the cluster as the unit's identity, for a Release: a typed
// client, and a metadata-only one to read many objects' labels cheaply.
type Clients struct {
	Kube     kubernetes.Interface
	Metadata metadata.Interface
}

// Release keeps a package manager's own record of a unit that is one of
// its releases — a Flux HelmRelease is a Helm release — so that the
// manager's tools (helm list, history, get, rollback) see what was
// applied. The Applier tells it when the unit is about to be applied and
// how that ended, with a client acting as the unit's identity; package
// apply/helmrelease implements it for Helm.
type Release interface {
	// Ref names the release. It is kept with the unit's inventory, so the
	// release of a unit removed from the repository is found again
	// (Options.Uninstall).
	Ref() string
	// Changed says, without writing, whether the release differs from
	// what the manager's record holds as deployed: a unit whose Drift is
	// not DriftCorrect leaves an unchanged release's objects as they are.
	Changed(ctx context.Context, c Clients) (bool, error)
	// Begin runs after the unit's dry run, before anything of it is
	// applied. Unchanged means the manager's record already holds exactly
	// this release: nothing is written and End is not called.
	Begin(ctx context.Context, c Clients) (changed bool, err error)
	// End records how the unit ended: err is nil when it was applied,
	// became healthy and was pruned.
	End(ctx context.Context, c Clients, err error) error
}

// DriftMode says what a unit does about its objects when its Release is
// unchanged and the cluster no longer holds what was applied (Flux's
// HelmRelease spec.driftDetection.mode).
type DriftMode string

const (
	// DriftCorrect applies the objects again, as for any unit (Flux's
	// "enabled").
	DriftCorrect DriftMode = ""
	// DriftWarn reports the objects that drifted (UnitResult.Drifted,
	// ObjectDrifted events) and changes nothing (Flux's "warn").
	DriftWarn DriftMode = "warn"
	// DriftIgnore neither looks nor corrects (Flux's "disabled", its
	// default).
	DriftIgnore DriftMode = "disabled"
)
