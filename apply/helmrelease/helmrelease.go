// Package helmrelease keeps Helm's own records of the HelmRelease units
// gitopskit applies: the release Secrets (type helm.sh/release.v1, in the
// release's storage namespace) that helm list, helm history, helm get and
// helm rollback read, written with the Helm SDK's storage driver, so they
// are the records Helm and Flux's helm-controller write.
//
// Each applied change is a new revision: pending-install or
// pending-upgrade before its objects are applied, then deployed (the
// revision before it superseded) or failed. An unchanged release writes
// nothing and decodes no record: each record gitopskit writes carries a
// digest of its contents in a label (DigestLabel). At most MaxHistory revisions are kept. A release removed from
// the repository has its records removed with its objects (Uninstall).
package helmrelease

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	helmtime "helm.sh/helm/v3/pkg/time"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/render"
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
	// DisableUninstallHooks runs no delete hooks when the release is
	// removed (Helm's uninstall --no-hooks).
	DisableUninstallHooks bool
	// Chart, Values, Manifest and Hooks are what the revision records:
	// the chart as rendered, the user-supplied values, the templates'
	// objects as Helm writes them, and the hooks.
	Chart    *chart.Chart
	Values   map[string]any
	Manifest string
	Hooks    []*release.Hook
	// ConfigDigest is render.ReleaseInfo's: recorded so that the next
	// render knows whether it renders this revision again.
	ConfigDigest string

	// Now is the clock (time.Now when nil).
	Now func() time.Time

	current, previous *release.Release
	// checked is what Changed or Failures read, for the Begin that
	// follows in the same pass, so the records are listed once.
	checked *check
	// failures is how many attempts of this release had failed in a row
	// before this pass; failed and rollbackTo are what End left for a
	// remediation: the failed revision and the one deployed before it.
	failures           int
	failed, rollbackTo *release.Release
}

type check struct {
	digest  string
	latest  map[string]string
	changed bool
}

var (
	_ apply.Release    = (*Record)(nil)
	_ apply.Remediable = (*Record)(nil)
)

// FailuresLabel, on a record gitopskit writes, counts the attempts of one
// release (one DigestLabel) that failed in a row; RemediatedLabel, on the
// record a remediation leaves (a rollback's revision, an uninstalled one),
// is the DigestLabel of the release whose failure it set right. So the
// count survives the remediation and restarts: a release whose retries
// are spent is not tried again until it changes.
const (
	FailuresLabel   = "gitopskit.dev/failures"
	RemediatedLabel = "gitopskit.dev/remediated"
)

// failuresOf reads, from the labels of the latest record, how many
// attempts of the release with this digest have failed in a row.
func failuresOf(latest map[string]string, digest string) int {
	if latest == nil {
		return 0
	}
	n, _ := strconv.Atoi(latest[FailuresLabel])
	switch {
	case latest[RemediatedLabel] == digest:
		return n
	case latest[DigestLabel] == digest && latest["status"] != string(release.StatusDeployed):
		return n // failed (counted by End), or pending: an attempt a crash cut short
	}
	return 0
}

// refPrefix marks a Helm release in an inventory; keepHistorySuffix one
// whose records stay when it is removed.
const (
	refPrefix         = "helm:"
	keepHistorySuffix = ";keep-history"
	noHooksSuffix     = ";no-hooks"
)

// Ref is "helm:<storage namespace>/<name>", with ";keep-history" when the
// records are to stay after the release is removed and ";no-hooks" when
// no delete hooks are to run then.
func (r *Record) Ref() string {
	ref := refPrefix + r.storageNamespace() + "/" + r.Name
	if r.KeepHistory {
		ref += keepHistorySuffix
	}
	if r.DisableUninstallHooks {
		ref += noHooksSuffix
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

// DigestLabel is the label on each record gitopskit writes that digests
// what the revision holds (chart, values, manifest, hooks), so an
// unchanged release is recognised from the records' labels alone, without
// decoding a record (which holds the whole chart).
const DigestLabel = "gitopskit.dev/release-digest"

// digest is the DigestLabel value of this release (a label value holds at
// most 63 characters: 40 hex digits of a SHA-256).
func (r *Record) digest() (string, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	name, version := "", ""
	if r.Chart != nil && r.Chart.Metadata != nil {
		name, version = r.Chart.Metadata.Name, r.Chart.Metadata.Version
	}
	for _, part := range []any{name, version, r.Values, r.Manifest, r.Hooks} {
		if err := enc.Encode(part); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:40], nil
}

var secretsResource = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// records is what the labels of a release's records say.
type records struct {
	latest, deployed               map[string]string
	latestVersion, deployedVersion int
}

// listRecords reads the labels of a release's records, with one
// metadata-only list.
func listRecords(ctx context.Context, meta metadata.Interface, namespace, name string) (records, error) {
	metas, err := meta.Resource(secretsResource).Namespace(namespace).List(ctx,
		metav1.ListOptions{LabelSelector: labels.Set{"owner": "helm", "name": name}.String()})
	if err != nil {
		return records{}, fmt.Errorf("listing the records of release %s/%s: %w", namespace, name, err)
	}
	var out records
	for _, m := range metas.Items {
		v, err := strconv.Atoi(m.Labels["version"])
		if err != nil {
			continue
		}
		if v > out.latestVersion {
			out.latest, out.latestVersion = m.Labels, v
		}
		if m.Labels["status"] == string(release.StatusDeployed) && v > out.deployedVersion {
			out.deployed, out.deployedVersion = m.Labels, v
		}
	}
	return out, nil
}

// History tells render what the cluster records of each release (a
// render.ReleaseHistory), from the records' labels.
type History struct {
	Metadata metadata.Interface
}

var _ render.ReleaseHistory = History{}

// Revisions reads the release's latest and deployed revisions.
func (h History) Revisions(ctx context.Context, namespace, name string) (render.ReleaseRevisions, error) {
	recs, err := listRecords(ctx, h.Metadata, namespace, name)
	if err != nil {
		return render.ReleaseRevisions{}, err
	}
	return render.ReleaseRevisions{Latest: recs.latestVersion, Deployed: recs.deployedVersion, DeployedConfig: recs.deployed[render.ConfigDigestLabel]}, nil
}

// Changed says whether the last revision is not deployed or holds another
// release than this one, from the records' labels alone.
func (r *Record) Changed(ctx context.Context, c apply.Clients) (bool, error) {
	ck, err := r.check(ctx, c)
	if err != nil {
		return false, err
	}
	return ck.changed, nil
}

// Failures says how many attempts of this release failed in a row, from
// the records' labels alone.
func (r *Record) Failures(ctx context.Context, c apply.Clients) (int, error) {
	ck, err := r.check(ctx, c)
	if err != nil {
		return 0, err
	}
	return failuresOf(ck.latest, ck.digest), nil
}

// check reads the records' labels once per pass: Changed, Failures and
// Begin share what it read.
func (r *Record) check(ctx context.Context, c apply.Clients) (*check, error) {
	if r.checked != nil {
		return r.checked, nil
	}
	digest, latest, changed, err := r.changed(ctx, c)
	if err != nil {
		return nil, err
	}
	r.checked = &check{digest, latest, changed}
	return r.checked, nil
}

func (r *Record) changed(ctx context.Context, c apply.Clients) (digest string, latest map[string]string, changed bool, err error) {
	if digest, err = r.digest(); err != nil {
		return "", nil, false, fmt.Errorf("digesting the release: %w", err)
	}
	recs, err := listRecords(ctx, c.Metadata, r.storageNamespace(), r.Name)
	if err != nil {
		return "", nil, false, err
	}
	latest = recs.latest
	unchanged := latest != nil && latest["status"] == string(release.StatusDeployed) && latest[DigestLabel] == digest
	return digest, latest, !unchanged, nil
}

// Begin writes the new revision as pending, unless the last revision is
// deployed and holds exactly this release — told from the records' labels,
// with one metadata-only list and no record decoded.
func (r *Record) Begin(ctx context.Context, c apply.Clients) (bool, error) {
	var (
		digest  string
		latest  map[string]string
		changed bool
		err     error
	)
	if ck := r.checked; ck != nil {
		digest, latest, changed, r.checked = ck.digest, ck.latest, ck.changed, nil
	} else if digest, latest, changed, err = r.changed(ctx, c); err != nil {
		return false, err
	}
	if !changed {
		return false, nil
	}
	r.failures = failuresOf(latest, digest)

	s := storageOf(c.Kube, r.storageNamespace(), r.MaxHistory)
	var history []*release.Release
	if latest != nil {
		if history, err = s.History(r.Name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
			return false, fmt.Errorf("reading the release's history: %w", err)
		}
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
	now := r.now()
	rel := &release.Release{
		Name: r.Name, Namespace: r.Namespace, Version: 1, Chart: r.Chart, Config: r.Values,
		Manifest: r.Manifest, Hooks: r.Hooks, Labels: map[string]string{DigestLabel: digest, render.ConfigDigestLabel: r.ConfigDigest, FailuresLabel: strconv.Itoa(r.failures)},
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
func (r *Record) End(ctx context.Context, c apply.Clients, unitErr error) error {
	rel := r.current
	if rel == nil {
		return errors.New("End without Begin")
	}
	s := storageOf(c.Kube, r.storageNamespace(), r.MaxHistory)
	upgrade := rel.Info.Status == release.StatusPendingUpgrade
	rel.Info.LastDeployed = helmtime.Time{Time: r.now()}
	if unitErr != nil {
		rel.Labels[FailuresLabel] = strconv.Itoa(r.failures + 1)
		r.failed, r.rollbackTo = rel, r.previous
	} else {
		rel.Labels[FailuresLabel] = "0"
		r.failed, r.rollbackTo = nil, nil
	}
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
		// Helm keeps a superseded revision's description.
		r.previous.Info.Status = release.StatusSuperseded
		if err := s.Update(r.previous); err != nil {
			return fmt.Errorf("revision %d: %w", r.previous.Version, err)
		}
	}
	r.current, r.previous = nil, nil
	return nil
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
func Uninstall(ctx context.Context, c apply.Clients, ref string) error {
	rf, ok, err := parseRef(ref)
	if !ok || err != nil {
		return err
	}
	namespace, name, keep := rf.namespace, rf.name, rf.keepHistory
	s := storageOf(c.Kube, namespace, 0)
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

// ref is what a Ref says.
type ref struct {
	namespace, name      string
	keepHistory, noHooks bool
}

// parseRef reads a Ref; ok is false for a ref that is not a Helm
// release's.
func parseRef(s string) (ref, bool, error) {
	rest, ok := strings.CutPrefix(s, refPrefix)
	if !ok {
		return ref{}, false, nil
	}
	var out ref
	for {
		var cut bool
		if rest, cut = strings.CutSuffix(rest, noHooksSuffix); cut {
			out.noHooks = true
			continue
		}
		if rest, cut = strings.CutSuffix(rest, keepHistorySuffix); cut {
			out.keepHistory = true
			continue
		}
		break
	}
	namespace, name, ok := strings.Cut(rest, "/")
	if !ok || namespace == "" || name == "" {
		return ref{}, true, fmt.Errorf("%q does not name a Helm release", s)
	}
	out.namespace, out.name = namespace, name
	return out, true, nil
}

// DeleteHooks reads the pre- and post-delete hooks of the release ref
// names (an apply.Options.DeleteHooks): those of its last deployed
// revision, in Helm's order. Nil when the ref is not a Helm release's, the
// release says no hooks run on uninstall, or nothing is deployed.
func DeleteHooks(ctx context.Context, c apply.Clients, r string) (*apply.Target, error) {
	rf, ok, err := parseRef(r)
	if !ok || err != nil || rf.noHooks {
		return nil, err
	}
	s := storageOf(c.Kube, rf.namespace, 0)
	history, err := s.History(rf.name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var deployed *release.Release
	for _, h := range history {
		if h.Info != nil && h.Info.Status == release.StatusDeployed && (deployed == nil || h.Version > deployed.Version) {
			deployed = h
		}
	}
	if deployed == nil {
		return nil, nil
	}
	t := &apply.Target{Revision: deployed.Version, Namespace: deployed.Namespace}
	if t.PreHooks, err = hooksOf(deployed, release.HookPreDelete); err != nil {
		return nil, err
	}
	if t.PostHooks, err = hooksOf(deployed, release.HookPostDelete); err != nil {
		return nil, err
	}
	return t, nil
}
