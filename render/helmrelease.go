package render

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	helmv2beta1 "github.com/fluxcd/helm-controller/api/v2beta1"
	helmv2beta2 "github.com/fluxcd/helm-controller/api/v2beta2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// HelmGroup is the API group of Flux HelmReleases.
const HelmGroup = "helm.toolkit.fluxcd.io"

// valuesRef is a HelmRelease valuesFrom entry, whatever the version.
type valuesRef struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	ValuesKey  string `json:"valuesKey,omitempty"`
	TargetPath string `json:"targetPath,omitempty"`
	Optional   bool   `json:"optional,omitempty"`
}

// kustomizePostRenderer is a HelmRelease postRenderers[].kustomize entry.
type kustomizePostRenderer struct {
	Patches               []json.RawMessage `json:"patches,omitempty"`
	PatchesStrategicMerge []json.RawMessage `json:"patchesStrategicMerge,omitempty"`
	PatchesJSON6902       []json.RawMessage `json:"patchesJson6902,omitempty"`
	Images                []json.RawMessage `json:"images,omitempty"`
}

// helmRelease is what rendering needs of a Flux HelmRelease.
type helmRelease struct {
	ReleaseName, Namespace string
	Values                 map[string]any
	ValuesFrom             []valuesRef
	// CRDs is the install policy: Skip, Create or CreateReplace.
	CRDs          string
	PostRenderers []kustomizePostRenderer
	// StorageNamespace is where Helm keeps the release's records
	// (spec.storageNamespace, default the HelmRelease's namespace);
	// MaxHistory how many it keeps (Flux's default, 0 for all).
	StorageNamespace string
	MaxHistory       int
	// KeepHistory is spec.uninstall.keepHistory: the records stay, marked
	// uninstalled, when the release is removed.
	KeepHistory bool
	// DisableUninstallHooks is spec.uninstall.disableHooks: no delete
	// hooks run when the release is removed.
	DisableUninstallHooks bool
	// Test is spec.test, nil when tests are not enabled.
	Test *ReleaseTests
	// DriftMode is spec.driftDetection.mode: enabled, warn or disabled;
	// "" when the field is absent.
	DriftMode string
	// DriftIgnore is spec.driftDetection.ignore.
	DriftIgnore []DriftIgnoreRule
	// CreateNamespace is spec.install.createNamespace: the release's
	// namespace is created when missing (never changed or deleted).
	CreateNamespace bool
	// DisableInstallHooks and DisableUpgradeHooks are
	// spec.install/upgrade.disableHooks.
	DisableInstallHooks, DisableUpgradeHooks bool
	// InstallRemediation and UpgradeRemediation are what is done when an
	// install or an upgrade fails, with Flux's defaults.
	InstallRemediation, UpgradeRemediation ReleaseRemediation
	// Unimplemented are the fields used that gitopskit does not implement
	// yet and that change only what happens when the release fails or
	// drifts: warnings on the unit.
	Unimplemented []string
	// DisableUpgradeSchemaValidation is
	// spec.upgrade.disableSchemaValidation, for a release rendered as an
	// upgrade.
	DisableUpgradeSchemaValidation bool
	// DisableSchemaValidation is spec.install.disableSchemaValidation:
	// the values are not checked against values.schema.json.
	DisableSchemaValidation bool
}

// ReleaseRemediation is what is done when a HelmRelease's install or
// upgrade fails: spec.install.remediation or spec.upgrade.remediation,
// spec.install/upgrade.strategy and spec.rollback, with Flux's defaults.
type ReleaseRemediation struct {
	// Retries is how often a failed release is tried again (negative:
	// without end); 0 by default, so a failed release is not tried again
	// until it changes.
	Retries int
	// Strategy is "rollback" (an upgrade's default), "uninstall" (always
	// an install's), or "retry" for Flux's RetryOnFailure strategy: tried
	// again without end and never remediated.
	Strategy string
	// RemediateLastFailure remediates also the failure after which no
	// retry is left: false by default for installs, Retries > 0 for
	// upgrades.
	RemediateLastFailure bool
	// IgnoreTestFailures: a failed test does not fail the release
	// (default spec.test.ignoreFailures).
	IgnoreTestFailures bool
	// RollbackDisableWait and RollbackDisableHooks are
	// spec.rollback.disableWait and disableHooks; RollbackTimeout is
	// spec.rollback.timeout (0: the release's).
	RollbackDisableWait, RollbackDisableHooks bool
	RollbackTimeout                           time.Duration
}

// ReleaseTests is a HelmRelease's spec.test when enabled: the chart's test
// hooks run after each install or upgrade.
type ReleaseTests struct {
	// IgnoreFailures keeps a release whose tests fail Ready.
	IgnoreFailures bool
	// Timeout bounds each test (0: the release's timeout).
	Timeout time.Duration
	// Only, when set, are the only tests run (by hook name); Exclude are
	// never run (spec.test.filters).
	Only, Exclude []string
}

// Runs says whether the test hook named name runs.
func (t *ReleaseTests) Runs(name string) bool {
	return (len(t.Only) == 0 || slices.Contains(t.Only, name)) && !slices.Contains(t.Exclude, name)
}

// helmReleaseSpec reads a Flux HelmRelease (v2, v2beta2 or v2beta1)
// strictly: unknown fields are errors. It returns the fields used that
// gitopskit does not implement, as kustomizationSpec does.
func helmReleaseSpec(u *unstructured.Unstructured) (helmRelease, []string, error) {
	return specOnce(u, decodeHelmReleaseSpec)
}

func decodeHelmReleaseSpec(u *unstructured.Unstructured, b []byte) (helmRelease, []string, error) {
	gvk := u.GroupVersionKind()
	if gvk.Group != HelmGroup || gvk.Kind != "HelmRelease" {
		return helmRelease{}, nil, fmt.Errorf("not a Flux HelmRelease: %s/%s", u.GetAPIVersion(), u.GetKind())
	}
	var (
		out           helmRelease
		unimplemented []string
		typed         interface {
			GetReleaseName() string
			GetReleaseNamespace() string
			GetStorageNamespace() string
			GetMaxHistory() int
		}
		spec any
	)
	switch gvk.Version {
	case "v2":
		var hr helmv2.HelmRelease
		typed, spec = &hr, &hr.Spec
		if err := decodeStrictJSON(u, b, &hr); err != nil {
			return out, nil, err
		}
		if hr.Spec.KubeConfig != nil {
			unimplemented = append(unimplemented, "spec.kubeConfig is not implemented: the release would be applied to the reconciler's cluster")
		}
	case "v2beta2":
		var hr helmv2beta2.HelmRelease
		typed, spec = &hr, &hr.Spec
		if err := decodeStrictJSON(u, b, &hr); err != nil {
			return out, nil, err
		}
	case "v2beta1":
		var hr helmv2beta1.HelmRelease
		typed, spec = &hr, &hr.Spec
		if err := decodeStrictJSON(u, b, &hr); err != nil {
			return out, nil, err
		}
	default:
		return out, nil, fmt.Errorf("unsupported version %s of HelmRelease (v2, v2beta2 and v2beta1 are read)", u.GetAPIVersion())
	}
	out.ReleaseName, out.Namespace = typed.GetReleaseName(), typed.GetReleaseNamespace()
	out.StorageNamespace, out.MaxHistory = typed.GetStorageNamespace(), typed.GetMaxHistory()
	// The fields rendering needs have the same shape in every version.
	var common struct {
		Install *struct {
			CRDs                    string           `json:"crds,omitempty"`
			SkipCRDs                bool             `json:"skipCRDs,omitempty"` // v2beta1
			DisableSchemaValidation bool             `json:"disableSchemaValidation,omitempty"`
			CreateNamespace         bool             `json:"createNamespace,omitempty"`
			DisableHooks            bool             `json:"disableHooks,omitempty"`
			Remediation             *remediationSpec `json:"remediation,omitempty"`
			Strategy                *strategySpec    `json:"strategy,omitempty"`
		} `json:"install,omitempty"`
		Upgrade *struct {
			DisableHooks            bool             `json:"disableHooks,omitempty"`
			DisableSchemaValidation bool             `json:"disableSchemaValidation,omitempty"`
			Remediation             *remediationSpec `json:"remediation,omitempty"`
			Strategy                *strategySpec    `json:"strategy,omitempty"`
		} `json:"upgrade,omitempty"`
		Rollback *struct {
			Timeout       *metav1.Duration `json:"timeout,omitempty"`
			DisableWait   bool             `json:"disableWait,omitempty"`
			DisableHooks  bool             `json:"disableHooks,omitempty"`
			Recreate      bool             `json:"recreate,omitempty"`
			Force         bool             `json:"force,omitempty"`
			CleanupOnFail bool             `json:"cleanupOnFail,omitempty"`
		} `json:"rollback,omitempty"`
		DriftDetection *struct {
			Mode   string            `json:"mode,omitempty"`
			Ignore []DriftIgnoreRule `json:"ignore,omitempty"`
		} `json:"driftDetection,omitempty"`
		Uninstall *struct {
			KeepHistory  bool `json:"keepHistory,omitempty"`
			DisableHooks bool `json:"disableHooks,omitempty"`
		} `json:"uninstall,omitempty"`
		Test *struct {
			Enable         bool            `json:"enable,omitempty"`
			IgnoreFailures bool            `json:"ignoreFailures,omitempty"`
			Timeout        metav1.Duration `json:"timeout,omitempty"`
			Filters        []struct {
				Name    string `json:"name"`
				Exclude bool   `json:"exclude,omitempty"`
			} `json:"filters,omitempty"`
		} `json:"test,omitempty"`
		Values        map[string]any `json:"values,omitempty"`
		ValuesFrom    []valuesRef    `json:"valuesFrom,omitempty"`
		PostRenderers []struct {
			Kustomize *kustomizePostRenderer `json:"kustomize,omitempty"`
		} `json:"postRenderers,omitempty"`
	}
	if err := convert(spec, &common); err != nil {
		return out, nil, err
	}
	out.Values, out.ValuesFrom = common.Values, common.ValuesFrom
	out.KeepHistory = common.Uninstall != nil && common.Uninstall.KeepHistory
	out.DisableUninstallHooks = common.Uninstall != nil && common.Uninstall.DisableHooks
	if t := common.Test; t != nil && t.Enable {
		out.Test = &ReleaseTests{IgnoreFailures: t.IgnoreFailures, Timeout: t.Timeout.Duration}
		for _, f := range t.Filters {
			if f.Exclude {
				out.Test.Exclude = append(out.Test.Exclude, f.Name)
			} else {
				out.Test.Only = append(out.Test.Only, f.Name)
			}
		}
	}
	out.CRDs = "Create" // Flux's default on install
	ignoreTests := out.Test != nil && out.Test.IgnoreFailures
	out.InstallRemediation = ReleaseRemediation{Strategy: "uninstall", IgnoreTestFailures: ignoreTests}
	out.UpgradeRemediation = ReleaseRemediation{Strategy: "rollback", IgnoreTestFailures: ignoreTests}
	if up := common.Upgrade; up != nil {
		out.DisableUpgradeHooks, out.DisableUpgradeSchemaValidation = up.DisableHooks, up.DisableSchemaValidation
		if err := up.Remediation.apply(&out.UpgradeRemediation, true); err != nil {
			return out, nil, fmt.Errorf("spec.upgrade.remediation: %w", err)
		}
		out.Unimplemented = append(out.Unimplemented, up.Strategy.apply(&out.UpgradeRemediation, "upgrade")...)
	}
	if rb := common.Rollback; rb != nil {
		for _, rem := range []*ReleaseRemediation{&out.InstallRemediation, &out.UpgradeRemediation} {
			rem.RollbackDisableWait, rem.RollbackDisableHooks = rb.DisableWait, rb.DisableHooks
			if rb.Timeout != nil {
				rem.RollbackTimeout = rb.Timeout.Duration
			}
		}
		if rb.Recreate {
			out.Unimplemented = append(out.Unimplemented, "spec.rollback.recreate is not implemented: a rollback does not restart Pods")
		}
	}
	if d := common.DriftDetection; d != nil {
		if d.Mode != "" {
			out.DriftMode = d.Mode
		}
		for i, rule := range d.Ignore {
			for _, p := range rule.Paths {
				if p != "" && !strings.HasPrefix(p, "/") {
					return out, nil, fmt.Errorf("spec.driftDetection.ignore[%d]: %q is not a JSON pointer (RFC 6901: \"/spec/replicas\")", i, p)
				}
			}
		}
		out.DriftIgnore = d.Ignore
	}
	if in := common.Install; in != nil {
		out.DisableSchemaValidation = in.DisableSchemaValidation
		out.CreateNamespace = in.CreateNamespace
		out.DisableInstallHooks = in.DisableHooks
		if err := in.Remediation.apply(&out.InstallRemediation, false); err != nil {
			return out, nil, fmt.Errorf("spec.install.remediation: %w", err)
		}
		out.Unimplemented = append(out.Unimplemented, in.Strategy.apply(&out.InstallRemediation, "install")...)
		if in.CRDs != "" {
			out.CRDs = in.CRDs
		} else if in.SkipCRDs {
			out.CRDs = "Skip"
		}
	}
	for _, pr := range common.PostRenderers {
		if pr.Kustomize != nil {
			out.PostRenderers = append(out.PostRenderers, *pr.Kustomize)
		}
	}
	out.ReleaseName = shortenReleaseName(out.ReleaseName)
	return out, unimplemented, nil
}

// shortenReleaseName keeps release names within Helm's 53 characters the
// way Flux does: the first 40 characters, a hyphen, and the first 12 hex
// digits of the name's SHA-256.
func shortenReleaseName(name string) string {
	if len(name) <= 53 {
		return name
	}
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))
	return name[:40] + "-" + sum[:12]
}

// remediationSpec is spec.install.remediation or spec.upgrade.remediation.
type remediationSpec struct {
	Retries              int     `json:"retries,omitempty"`
	IgnoreTestFailures   *bool   `json:"ignoreTestFailures,omitempty"`
	RemediateLastFailure *bool   `json:"remediateLastFailure,omitempty"`
	Strategy             *string `json:"strategy,omitempty"` // upgrade only
}

// apply sets what the spec says over Flux's defaults.
func (r *remediationSpec) apply(to *ReleaseRemediation, upgrade bool) error {
	if r == nil {
		return nil
	}
	to.Retries = r.Retries
	if r.IgnoreTestFailures != nil {
		to.IgnoreTestFailures = *r.IgnoreTestFailures
	}
	// Flux: an upgrade's last failure is remediated by default when it
	// has retries, an install's never.
	to.RemediateLastFailure = upgrade && r.Retries > 0
	if r.RemediateLastFailure != nil {
		to.RemediateLastFailure = *r.RemediateLastFailure
	}
	if r.Strategy != nil {
		switch *r.Strategy {
		case "rollback", "uninstall":
			to.Strategy = *r.Strategy
		default:
			return fmt.Errorf("strategy %q is not rollback or uninstall", *r.Strategy)
		}
	}
	return nil
}

// strategySpec is spec.install.strategy or spec.upgrade.strategy.
type strategySpec struct {
	Name          string           `json:"name"`
	RetryInterval *metav1.Duration `json:"retryInterval,omitempty"`
}

// apply sets Flux's RetryOnFailure strategy (tried again at each
// reconcile, never remediated); it returns what is not implemented.
func (s *strategySpec) apply(to *ReleaseRemediation, action string) []string {
	if s == nil || s.Name != "RetryOnFailure" {
		return nil
	}
	to.Strategy, to.Retries = "retry", -1
	if s.RetryInterval != nil {
		return []string{fmt.Sprintf("spec.%s.strategy.retryInterval is not implemented: a failed release is tried again at the next reconcile", action)}
	}
	return nil
}

// DriftIgnoreRule is one of a HelmRelease's spec.driftDetection.ignore
// rules: the fields at Paths (JSON pointers; "" is the whole object) of
// the objects Target selects (all when nil) are neither reported nor
// corrected when they drift.
type DriftIgnoreRule struct {
	Paths  []string        `json:"paths"`
	Target *ObjectSelector `json:"target,omitempty"`
}

// ObjectSelector selects objects as Flux's selectors do: each of Group,
// Version, Kind, Name and Namespace is a regular expression, the label and
// annotation selectors are Kubernetes selector expressions.
type ObjectSelector struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Name               string `json:"name,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
}
