// Package helmrelease keeps Helm's own records of the HelmRelease units
// gitopskit applies: the release Secrets (type helm.sh/release.v1, in the
// release's storage namespace) that helm list, helm history, helm get and
// helm rollback read, written with the Helm SDK's storage driver, so they
// are the records Helm and Flux's helm-controller write.
//
// Each applied change is a new revision: pending-install or
// pending-upgrade before its objects are applied, then deployed (the
// revision before it superseded) or failed. An unchanged release writes
// nothing. At most MaxHistory revisions are kept. A release removed from
// the repository has its records removed with its objects (Uninstall).
package helmrelease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	helmtime "helm.sh/helm/v3/pkg/time"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/apply"
)

// PreviousOwners are the field managers of those that apply Helm releases
// — the Helm CLI ("helm") and Flux's helm-controller — for
// apply.Unit.TakeOverFrom: a release installed by either is taken over
// with its objects' fields, not shared with them.
var PreviousOwners = []apply.FieldManager{{Name: "helm"}, {Name: "helm-controller"}}

// Record is one release as gitopskit applies it; it is an apply.Release.
type Record struct {
	// Name and Namespace are the release's; StorageNamespace is where its
	// records are kept (the release's namespace when empty).
	Name, Namespace, StorageNamespace string
	// MaxHistory is how many revisions are kept; 0 keeps all.
	MaxHistory int
	// KeepHistory keeps the records when the release is removed (Helm's
	// uninstall --keep-history): the last revision is marked uninstalled.
	KeepHistory bool
	// Chart, Values, Manifest and Hooks are what the revision records:
	// the chart as rendered, the user-supplied values, the templates'
	// objects as Helm writes them, and the hooks.
	Chart    *chart.Chart
	Values   map[string]any
	Manifest string
	Hooks    []*release.Hook

	// Now is the clock (time.Now when nil).
	Now func() time.Time

	current, previous *release.Release
}

var _ apply.Release = (*Record)(nil)

// refPrefix marks a Helm release in an inventory; keepHistorySuffix one
// whose records stay when it is removed.
const (
	refPrefix         = "helm:"
	keepHistorySuffix = ";keep-history"
)

// Ref is "helm:<storage namespace>/<name>", with ";keep-history" when the
// records are to stay after the release is removed.
func (r *Record) Ref() string {
	ref := refPrefix + r.storageNamespace() + "/" + r.Name
	if r.KeepHistory {
		ref += keepHistorySuffix
	}
	return ref
}

func (r *Record) storageNamespace() string {
	if r.StorageNamespace != "" {
		return r.StorageNamespace
	}
	return r.Namespace
}

func (r *Record) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func storageOf(kube kubernetes.Interface, namespace string, maxHistory int) *storage.Storage {
	d := driver.NewSecrets(kube.CoreV1().Secrets(namespace))
	d.Log = func(string, ...any) {}
	s := storage.Init(d)
	s.Log = func(string, ...any) {}
	s.MaxHistory = maxHistory
	return s
}

// Begin writes the new revision as pending, unless the last revision is
// deployed with this chart version, these values and this manifest.
func (r *Record) Begin(ctx context.Context, kube kubernetes.Interface) (bool, error) {
	s := storageOf(kube, r.storageNamespace(), r.MaxHistory)
	history, err := s.History(r.Name)
	if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return false, fmt.Errorf("reading the release's history: %w", err)
	}
	var last, deployed *release.Release
	for _, h := range history {
		if last == nil || h.Version > last.Version {
			last = h
		}
		if h.Info != nil && h.Info.Status == release.StatusDeployed && (deployed == nil || h.Version > deployed.Version) {
			deployed = h
		}
	}
	if last != nil && last == deployed && r.same(last) {
		return false, nil
	}
	now := r.now()
	rel := &release.Release{
		Name: r.Name, Namespace: r.Namespace, Version: 1, Chart: r.Chart, Config: r.Values,
		Manifest: r.Manifest, Hooks: r.Hooks,
		Info: &release.Info{FirstDeployed: helmtime.Time{Time: now}, LastDeployed: helmtime.Time{Time: now}, Status: release.StatusPendingInstall, Description: "Install underway"},
	}
	if last != nil {
		rel.Version = last.Version + 1
		rel.Info.FirstDeployed = firstDeployed(history, now)
	}
	if deployed != nil {
		rel.Info.Status, rel.Info.Description = release.StatusPendingUpgrade, "Upgrade underway"
	}
	if err := s.Create(rel); err != nil {
		return false, fmt.Errorf("writing revision %d: %w", rel.Version, err)
	}
	r.current, r.previous = rel, deployed
	return true, nil
}

// End marks the revision deployed (and the one it replaces superseded)
// or failed.
func (r *Record) End(ctx context.Context, kube kubernetes.Interface, unitErr error) error {
	rel := r.current
	if rel == nil {
		return errors.New("End without Begin")
	}
	s := storageOf(kube, r.storageNamespace(), r.MaxHistory)
	upgrade := rel.Info.Status == release.StatusPendingUpgrade
	rel.Info.LastDeployed = helmtime.Time{Time: r.now()}
	switch {
	case unitErr != nil && upgrade:
		rel.SetStatus(release.StatusFailed, "Upgrade failed: "+unitErr.Error())
	case unitErr != nil:
		rel.SetStatus(release.StatusFailed, "Install failed: "+unitErr.Error())
	case upgrade:
		rel.SetStatus(release.StatusDeployed, "Upgrade complete")
	default:
		rel.SetStatus(release.StatusDeployed, "Install complete")
	}
	if err := s.Update(rel); err != nil {
		return fmt.Errorf("revision %d: %w", rel.Version, err)
	}
	if unitErr == nil && r.previous != nil {
		r.previous.SetStatus(release.StatusSuperseded, "Superseded by revision "+fmt.Sprint(rel.Version))
		if err := s.Update(r.previous); err != nil {
			return fmt.Errorf("revision %d: %w", r.previous.Version, err)
		}
	}
	r.current, r.previous = nil, nil
	return nil
}

// same says whether a stored revision holds this chart version, these
// values and this manifest.
func (r *Record) same(rel *release.Release) bool {
	if rel.Chart == nil || rel.Chart.Metadata == nil || r.Chart == nil || r.Chart.Metadata == nil ||
		rel.Chart.Metadata.Name != r.Chart.Metadata.Name || rel.Chart.Metadata.Version != r.Chart.Metadata.Version {
		return false
	}
	if rel.Manifest != r.Manifest {
		return false
	}
	// The stored values went through JSON; compare them as JSON.
	a, err1 := json.Marshal(rel.Config)
	b, err2 := json.Marshal(r.Values)
	if err1 != nil || err2 != nil {
		return false
	}
	return normalJSON(a) == normalJSON(b)
}

// normalJSON treats an empty map and no map alike.
func normalJSON(b []byte) string {
	if s := string(b); s != "null" {
		return s
	}
	return "{}"
}

func firstDeployed(history []*release.Release, now time.Time) helmtime.Time {
	first := helmtime.Time{Time: now}
	for _, h := range history {
		if h.Info != nil && !h.Info.FirstDeployed.IsZero() && h.Info.FirstDeployed.Before(first) {
			first = h.Info.FirstDeployed
		}
	}
	return first
}

// Uninstall removes every record of the release ref names (an
// apply.Options.Uninstall), or, for a release that keeps its history,
// marks its last revision uninstalled. A ref that is not a Helm release's
// is left.
func Uninstall(ctx context.Context, kube kubernetes.Interface, ref string) error {
	rest, ok := strings.CutPrefix(ref, refPrefix)
	if !ok {
		return nil
	}
	rest, keep := strings.CutSuffix(rest, keepHistorySuffix)
	namespace, name, ok := strings.Cut(rest, "/")
	if !ok || namespace == "" || name == "" {
		return fmt.Errorf("%q does not name a Helm release", ref)
	}
	s := storageOf(kube, namespace, 0)
	history, err := s.History(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if keep {
		var last *release.Release
		for _, h := range history {
			if last == nil || h.Version > last.Version {
				last = h
			}
		}
		if last.Info.Status == release.StatusUninstalled {
			return nil
		}
		last.Info.Deleted = helmtime.Now()
		last.SetStatus(release.StatusUninstalled, "Uninstallation complete")
		return s.Update(last)
	}
	for _, h := range history {
		if _, err := s.Delete(name, h.Version); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
			return fmt.Errorf("revision %d: %w", h.Version, err)
		}
	}
	return nil
}
