package helmrelease

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	helmtime "helm.sh/helm/v3/pkg/time"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/render"
)

// Target is the revision a rollback of the failed upgrade End recorded
// returns to: the one deployed before it, its objects as its manifest
// holds them, marked as Helm marks a release's objects, and its pre- and
// post-rollback hooks in Helm's order. Nil after a failed install.
func (r *Record) Target(ctx context.Context, c apply.Clients) (*apply.Target, error) {
	to := r.rollbackTo
	if r.failed == nil || to == nil {
		return nil, nil
	}
	objs, err := manifestObjects(to.Manifest)
	if err != nil {
		return nil, fmt.Errorf("the manifest of revision %d: %w", to.Version, err)
	}
	for _, o := range objs {
		render.MarkHelmOwned(o, to.Name, to.Namespace)
	}
	t := &apply.Target{Revision: to.Version, Namespace: to.Namespace, Objects: objs}
	if t.PreHooks, err = hooksOf(to, release.HookPreRollback); err != nil {
		return nil, err
	}
	if t.PostHooks, err = hooksOf(to, release.HookPostRollback); err != nil {
		return nil, err
	}
	return t, nil
}

// Remediated records the remediation of the revision End recorded failed,
// as Helm records it: a rollback is a new revision with the target's
// chart, values and manifest ("Rollback to N"), deployed, with every
// revision deployed before it superseded — or failed, when the rollback
// failed; an uninstall marks the failed revision uninstalled, keeping the
// history so that the failure count survives. Both carry the count and
// the failed release's digest (FailuresLabel, RemediatedLabel).
func (r *Record) Remediated(ctx context.Context, c apply.Clients, how apply.Remedy, target *apply.Target, err error) error {
	failed := r.failed
	if failed == nil {
		return errors.New("Remediated without a failed revision")
	}
	r.failed = nil
	s := storageOf(c.Kube, r.storageNamespace(), r.MaxHistory)
	marks := map[string]string{FailuresLabel: failed.Labels[FailuresLabel], RemediatedLabel: failed.Labels[DigestLabel]}
	now := helmtime.Time{Time: r.now()}
	switch how {
	case apply.RemedyUninstall:
		// Nothing of the release is deployed any more.
		history, herr := s.History(r.Name)
		if herr != nil {
			return fmt.Errorf("reading the release's history: %w", herr)
		}
		for _, h := range history {
			if h.Version != failed.Version && h.Info != nil && h.Info.Status == release.StatusDeployed {
				h.SetStatus(release.StatusSuperseded, h.Info.Description)
				if uerr := s.Update(h); uerr != nil {
					return fmt.Errorf("revision %d: %w", h.Version, uerr)
				}
			}
		}
		for k, v := range marks {
			failed.Labels[k] = v
		}
		failed.Info.Deleted = now
		if err != nil {
			failed.SetStatus(release.StatusFailed, "Uninstall by remediation failed: "+err.Error())
		} else {
			failed.SetStatus(release.StatusUninstalled, "Uninstalled by remediation: "+failed.Info.Description)
		}
		if uerr := s.Update(failed); uerr != nil {
			return fmt.Errorf("revision %d: %w", failed.Version, uerr)
		}
		return nil
	case apply.RemedyRollback:
		to := r.rollbackTo
		if to == nil || target == nil || target.Revision != to.Version {
			return errors.New("Remediated: the rollback target is not the revision Target gave")
		}
		rel := &release.Release{Name: to.Name, Namespace: to.Namespace, Version: failed.Version + 1, Chart: to.Chart, Config: to.Config,
			Manifest: to.Manifest, Hooks: to.Hooks, Labels: map[string]string{},
			Info: &release.Info{FirstDeployed: to.Info.FirstDeployed, LastDeployed: now}}
		for _, k := range []string{DigestLabel, render.ConfigDigestLabel} {
			if v, ok := to.Labels[k]; ok {
				rel.Labels[k] = v
			}
		}
		for k, v := range marks {
			rel.Labels[k] = v
		}
		if err != nil {
			rel.SetStatus(release.StatusFailed, fmt.Sprintf("Rollback %q failed: %s", to.Name, err))
		} else {
			rel.SetStatus(release.StatusDeployed, fmt.Sprintf("Rollback to %d", to.Version))
		}
		if err == nil {
			history, herr := s.History(r.Name)
			if herr != nil {
				return fmt.Errorf("reading the release's history: %w", herr)
			}
			for _, h := range history {
				if h.Info != nil && h.Info.Status == release.StatusDeployed {
					h.SetStatus(release.StatusSuperseded, h.Info.Description)
					if uerr := s.Update(h); uerr != nil {
						return fmt.Errorf("revision %d: %w", h.Version, uerr)
					}
				}
			}
		}
		if cerr := s.Create(rel); cerr != nil {
			return fmt.Errorf("writing revision %d: %w", rel.Version, cerr)
		}
		r.rollbackTo = nil
		return nil
	}
	return fmt.Errorf("unknown remediation %q", how)
}

// manifestObjects decodes a release manifest's objects, in order.
func manifestObjects(manifest string) ([]*unstructured.Unstructured, error) {
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	// SplitManifests names them manifest-0, manifest-1, ...
	slices.SortFunc(keys, func(a, b string) int {
		na, _ := strconv.Atoi(strings.TrimPrefix(a, "manifest-"))
		nb, _ := strconv.Atoi(strings.TrimPrefix(b, "manifest-"))
		return cmp.Compare(na, nb)
	})
	var out []*unstructured.Unstructured
	for _, k := range keys {
		o, err := decode(docs[k])
		if err != nil {
			return nil, err
		}
		if o != nil {
			out = append(out, o)
		}
	}
	return out, nil
}

// decode reads one YAML document as an object; nil when it holds none
// (only comments).
func decode(doc string) (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	o := &unstructured.Unstructured{Object: m}
	if o.GetKind() == "" || o.GetName() == "" {
		return nil, fmt.Errorf("a document with no kind or name: %.80q", doc)
	}
	return o, nil
}

// hooksOf is the release's hooks of one event, by weight then name, as
// Helm runs them.
func hooksOf(rel *release.Release, event release.HookEvent) ([]apply.Hook, error) {
	var hs []*release.Hook
	for _, h := range rel.Hooks {
		if slices.Contains(h.Events, event) {
			hs = append(hs, h)
		}
	}
	slices.SortStableFunc(hs, func(a, b *release.Hook) int {
		if a.Weight != b.Weight {
			return cmp.Compare(a.Weight, b.Weight)
		}
		return strings.Compare(a.Name, b.Name)
	})
	out := make([]apply.Hook, 0, len(hs))
	for _, h := range hs {
		o, err := decode(h.Manifest)
		if err != nil || o == nil {
			return nil, fmt.Errorf("hook %s of revision %d: %v", h.Path, rel.Version, err)
		}
		hook := apply.Hook{Object: o}
		for _, p := range h.DeletePolicies {
			hook.DeletePolicies = append(hook.DeletePolicies, string(p))
		}
		out = append(out, hook)
	}
	return out, nil
}
