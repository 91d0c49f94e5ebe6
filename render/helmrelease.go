package render

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
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
	// Test is spec.test, nil when tests are not enabled.
	Test *ReleaseTests
	// DriftMode is spec.driftDetection.mode: enabled, warn or disabled;
	// "" when the field is absent.
	DriftMode string
	// CreateNamespace is spec.install.createNamespace: the release's
	// namespace is created when missing (never changed or deleted).
	CreateNamespace bool
	// DisableInstallHooks and DisableUpgradeHooks are
	// spec.install/upgrade.disableHooks.
	DisableInstallHooks, DisableUpgradeHooks bool
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
		if err := decodeStrict(u, &hr); err != nil {
			return out, nil, err
		}
		if hr.Spec.KubeConfig != nil {
			unimplemented = append(unimplemented, "spec.kubeConfig is not implemented: the release would be applied to the reconciler's cluster")
		}
	case "v2beta2":
		var hr helmv2beta2.HelmRelease
		typed, spec = &hr, &hr.Spec
		if err := decodeStrict(u, &hr); err != nil {
			return out, nil, err
		}
	case "v2beta1":
		var hr helmv2beta1.HelmRelease
		typed, spec = &hr, &hr.Spec
		if err := decodeStrict(u, &hr); err != nil {
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
			CRDs                    string          `json:"crds,omitempty"`
			SkipCRDs                bool            `json:"skipCRDs,omitempty"` // v2beta1
			DisableSchemaValidation bool            `json:"disableSchemaValidation,omitempty"`
			CreateNamespace         bool            `json:"createNamespace,omitempty"`
			DisableHooks            bool            `json:"disableHooks,omitempty"`
			Remediation             json.RawMessage `json:"remediation,omitempty"`
		} `json:"install,omitempty"`
		Upgrade *struct {
			DisableHooks            bool            `json:"disableHooks,omitempty"`
			DisableSchemaValidation bool            `json:"disableSchemaValidation,omitempty"`
			Remediation             json.RawMessage `json:"remediation,omitempty"`
		} `json:"upgrade,omitempty"`
		Rollback       json.RawMessage `json:"rollback,omitempty"`
		DriftDetection *struct {
			Mode   string            `json:"mode,omitempty"`
			Ignore []json.RawMessage `json:"ignore,omitempty"`
		} `json:"driftDetection,omitempty"`
		Uninstall *struct {
			KeepHistory bool `json:"keepHistory,omitempty"`
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
	if up := common.Upgrade; up != nil {
		out.DisableUpgradeHooks, out.DisableUpgradeSchemaValidation = up.DisableHooks, up.DisableSchemaValidation
		if len(up.Remediation) > 0 {
			out.Unimplemented = append(out.Unimplemented, "spec.upgrade.remediation is not implemented yet: a failed upgrade is not retried or rolled back")
		}
	}
	if len(common.Rollback) > 0 {
		out.Unimplemented = append(out.Unimplemented, "spec.rollback is not implemented yet: nothing is rolled back")
	}
	if d := common.DriftDetection; d != nil {
		if d.Mode != "" {
			out.DriftMode = d.Mode
		}
		if len(d.Ignore) > 0 {
			out.Unimplemented = append(out.Unimplemented, "spec.driftDetection.ignore is not implemented yet: drift of those fields is treated as any other")
		}
	}
	if in := common.Install; in != nil {
		out.DisableSchemaValidation = in.DisableSchemaValidation
		out.CreateNamespace = in.CreateNamespace
		out.DisableInstallHooks = in.DisableHooks
		if len(in.Remediation) > 0 {
			out.Unimplemented = append(out.Unimplemented, "spec.install.remediation is not implemented yet: a failed install is not retried or uninstalled")
		}
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
