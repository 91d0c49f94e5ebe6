package render

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/source"
)

// HelmOptions configure the Helm renderer. The zero value works.
type HelmOptions struct {
	// KubeVersion is .Capabilities.KubeVersion (e.g. "v1.37.2"); empty
	// means DefaultKubeVersion.
	KubeVersion string
	// ClusterAPIVersions are the APIs the target cluster serves, as
	// "group/version" and "group/version/Kind" strings (what discovery
	// says); nil means BuiltinAPIVersions, a default server of
	// DefaultKubeVersion.
	ClusterAPIVersions []string
	// APIVersions are added to .Capabilities.APIVersions — typically the
	// kinds that CRDs elsewhere in the same graph provide, so charts that
	// test for them render as they will once those CRDs are applied.
	APIVersions []string
	// Cache, if set, keeps rendered units: an unchanged release (same
	// chart digest, spec, resolved values and capabilities) is not
	// rendered again.
	Cache *Cache
	// Values resolves valuesFrom references. Nil means every reference is
	// missing (an error unless it is optional).
	Values ValueSource
	// Releases, when set, tells what the cluster records of each release,
	// so it renders as an install or an upgrade at the right revision, as
	// Helm would; nil renders every release as a first install.
	Releases ReleaseHistory
	// Mirrors rewrite the URLs of the documents a chart's
	// values.schema.json refers to ($ref); a reference no mirror maps is
	// an error, as gitopskit fetches nothing from the network but sources.
	Mirrors source.Mirrors
	// IgnoreUnimplemented renders a HelmRelease that uses a field
	// gitopskit does not implement and that would change where it is
	// applied (spec.kubeConfig), with a warning, instead of failing it.
	IgnoreUnimplemented bool
}

// Helm renders Flux HelmReleases with the Helm SDK, as `helm template`
// would with the release's name, namespace and values: the release name
// defaults to [<targetNamespace>-]<name> (shortened past 53 characters as
// Flux does); values are valuesFrom in order, each at its targetPath if it
// has one, then spec.values on top; CRDs from crds/ are included unless the
// install CRD policy is Skip; hooks are returned apart from the objects,
// with their phases and weights; kustomize post-renderers are applied.
// Output order is Helm's install order and is stable.
//
// Render is safe for concurrent use; each call has its own Helm action
// configuration.
type Helm struct {
	opts HelmOptions
}

// NewHelm returns a Helm renderer.
func NewHelm(opts HelmOptions) *Helm { return &Helm{opts: opts} }

// Render renders the HelmRelease hr with the chart artifact. Errors name
// the unit and, for template errors, the template.
func (h *Helm) Render(ctx context.Context, chartArt *source.Artifact, hr *unstructured.Unstructured) (*Result, error) {
	unit := UnitID(hr)
	fail := func(format string, args ...any) (*Result, error) {
		return nil, fmt.Errorf("%s: "+format, append([]any{unit}, args...)...)
	}
	spec, unimplemented, err := helmReleaseSpec(hr)
	if err != nil {
		return fail("%w", err)
	}
	warnings, err := refuseUnimplemented(unimplemented, h.opts.IgnoreUnimplemented)
	if err != nil {
		return fail("%w", err)
	}
	values, err := h.values(ctx, hr.GetNamespace(), spec)
	if err != nil {
		return fail("%w", err)
	}
	kubeVersion := h.opts.KubeVersion
	if kubeVersion == "" {
		kubeVersion = DefaultKubeVersion
	}
	apis := capabilityAPIs(h.opts.ClusterAPIVersions, h.opts.APIVersions)
	config := configDigest(chartArt.Digest, values)
	revision, upgrade := 1, false
	if h.opts.Releases != nil {
		revs, err := h.opts.Releases.Revisions(ctx, spec.StorageNamespace, spec.ReleaseName)
		if err != nil {
			return fail("release %s/%s: %w", spec.StorageNamespace, spec.ReleaseName, err)
		}
		revision, upgrade = revisionFor(revs, config)
	}
	key := cacheKey("helm", chartArt.Digest, chartArt.Revision, unit, hr.Object["spec"], values, kubeVersion, apis, h.opts.Mirrors, revision, upgrade)
	if res, ok := h.opts.Cache.get(key); ok {
		return res, nil
	}
	ch, err := loader.LoadDir(chartArt.Path)
	if err != nil {
		return fail("chart %s: %w", chartArt.URL, err)
	}

	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return fail("kube version %q: %w", kubeVersion, err)
	}
	// Not Helm's client-only mode, which always adds every API version the
	// client libraries know, long-removed ones included: the capabilities
	// are exactly the target cluster's, and nothing is sent anywhere.
	caps := &chartutil.Capabilities{KubeVersion: *kv, APIVersions: chartutil.VersionSet(apis),
		HelmVersion: chartutil.DefaultCapabilities.HelmVersion}
	prov := Provenance{Unit: unit, Revision: chartArt.Revision, Chart: ch.Name() + "-" + ch.Metadata.Version, ChartDigest: chartArt.Digest}
	userValues, _ := copyTree(values).(map[string]any)
	out, err := renderChart(ctx, ch, values, chartRelease{
		Name: spec.ReleaseName, Namespace: spec.Namespace, Capabilities: caps, Revision: revision, IsUpgrade: upgrade,
		IncludeCRDs: spec.CRDs != "Skip", SkipSchemaCheck: upgrade && spec.DisableUpgradeSchemaValidation || !upgrade && spec.DisableSchemaValidation,
		Mirrors: h.opts.Mirrors, Provenance: prov, ReadOnly: h.opts.Cache.readOnly(),
	})
	if err != nil {
		return fail("chart %s-%s: %w", ch.Name(), ch.Metadata.Version, err)
	}
	res := &Result{Unit: unit, Warnings: append(warnings, out.Warnings...), Hooks: out.Hooks}
	objs := out.Objects
	if len(spec.PostRenderers) > 0 {
		if objs, err = postRender(objs, spec.PostRenderers); err != nil {
			return fail("post-render: %w", err)
		}
	}
	seen := map[string]bool{}
	for i, o := range objs {
		if o.GetNamespace() == "" && namespaced(o.Unstructured, objs) {
			if inCRDsDir(o.Provenance.File) {
				// Decoded once per process and, with a shared cache,
				// shared by every release of the chart: the namespace
				// goes on this release's copy.
				o.Unstructured = o.DeepCopy()
				objs[i] = o
			}
			o.SetNamespace(spec.Namespace)
		}
		key := objectKey(o.Unstructured)
		if seen[key] {
			return fail("%s: object %s appears twice", o.Provenance.File, key)
		}
		seen[key] = true
	}
	for _, hk := range res.Hooks {
		if hk.GetNamespace() == "" && namespaced(hk.Unstructured, objs) {
			hk.SetNamespace(spec.Namespace)
		}
	}
	res.Objects = objs
	rel, err := releaseInfo(spec, ch, userValues, objs, res.Hooks)
	if err != nil {
		return fail("%w", err)
	}
	rel.ConfigDigest, rel.Revision, rel.IsUpgrade = config, revision, upgrade
	rel.CreateNamespace, rel.DriftMode, rel.DriftIgnore = spec.CreateNamespace, spec.DriftMode, spec.DriftIgnore
	rel.DisableHooks = upgrade && spec.DisableUpgradeHooks || !upgrade && spec.DisableInstallHooks
	rel.Remediation = spec.InstallRemediation
	if upgrade {
		rel.Remediation = spec.UpgradeRemediation
	}
	res.Warnings = append(res.Warnings, spec.Unimplemented...)
	res.Release = rel
	// What Helm marks every object of a release with (not the CRDs of
	// crds/, nor hooks), so the Helm CLI takes the objects as the
	// release's: helm upgrade and rollback refuse objects without it.
	for _, o := range objs {
		if !inCRDsDir(o.Provenance.File) {
			MarkHelmOwned(o.Unstructured, spec.ReleaseName, spec.Namespace)
		}
	}
	h.opts.Cache.put(key, res)
	return res, nil
}

// MarkHelmOwned puts on an object what Helm puts on each object of the
// release name in namespace (app.kubernetes.io/managed-by: Helm and the
// meta.helm.sh/release-name and release-namespace annotations), so the Helm
// CLI takes it as the release's: helm upgrade and rollback refuse objects
// without it.
func MarkHelmOwned(o *unstructured.Unstructured, name, namespace string) {
	labels := o.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[helmManagedByLabel] = "Helm"
	o.SetLabels(labels)
	ann := o.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[helmReleaseNameAnnotation], ann[helmReleaseNamespaceAnnotation] = name, namespace
	o.SetAnnotations(ann)
}

// The ownership metadata Helm puts on a release's objects.
const (
	helmManagedByLabel             = "app.kubernetes.io/managed-by"
	helmReleaseNameAnnotation      = "meta.helm.sh/release-name"
	helmReleaseNamespaceAnnotation = "meta.helm.sh/release-namespace"
)

// releaseInfo is what Helm records of the rendered release: the manifest
// of the templates' objects (not the CRDs of crds/ directories, which Helm
// installs apart, nor hooks) and the hooks, each as Helm writes them.
func releaseInfo(spec helmRelease, ch *chart.Chart, values map[string]any, objs []Object, hooks []Hook) (*ReleaseInfo, error) {
	var b strings.Builder
	for _, o := range objs {
		if inCRDsDir(o.Provenance.File) {
			continue
		}
		y, err := MarshalYAML(o.Object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Provenance.File, err)
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s", o.Provenance.File, y)
	}
	rel := &ReleaseInfo{Name: spec.ReleaseName, Namespace: spec.Namespace, StorageNamespace: spec.StorageNamespace,
		MaxHistory: spec.MaxHistory, KeepHistory: spec.KeepHistory, DisableUninstallHooks: spec.DisableUninstallHooks, Tests: spec.Test, Chart: ch, Values: values, Manifest: b.String()}
	for _, h := range hooks {
		y, err := MarshalYAML(h.Object.Object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Provenance.File, err)
		}
		rh := &release.Hook{Name: h.GetName(), Kind: h.GetKind(), Path: h.Provenance.File, Manifest: string(y), Weight: h.Weight}
		for _, e := range h.Events {
			rh.Events = append(rh.Events, release.HookEvent(e))
		}
		for _, p := range h.DeletePolicies {
			rh.DeletePolicies = append(rh.DeletePolicies, release.HookDeletePolicy(p))
		}
		rel.Hooks = append(rel.Hooks, rh)
	}
	return rel, nil
}

// inCRDsDir says whether a chart file is in the crds/ directory of the
// chart or of one of its sub-charts ("app/crds/x.yaml",
// "app/charts/sub/crds/x.yaml").
func inCRDsDir(file string) bool {
	parts := strings.Split(file, "/")
	for i := 1; i < len(parts)-1; i++ {
		if parts[i] == "crds" && (i == 1 || parts[i-2] == "charts") {
			return true
		}
	}
	return false
}

// values merges valuesFrom (in order, each at its targetPath if any) and
// then spec.values, as the helm-controller does.
func (h *Helm) values(ctx context.Context, namespace string, spec helmRelease) (map[string]any, error) {
	result := map[string]any{}
	for _, ref := range spec.ValuesFrom {
		if ref.Kind != "ConfigMap" && ref.Kind != "Secret" {
			return nil, fmt.Errorf("valuesFrom: kind %q is not ConfigMap or Secret", ref.Kind)
		}
		key := ref.ValuesKey
		if key == "" {
			key = "values.yaml"
		}
		var data map[string]string
		err := ErrNotFound
		if h.opts.Values != nil {
			data, err = h.opts.Values.Data(ctx, ref.Kind, namespace, ref.Name)
		}
		where := fmt.Sprintf("valuesFrom %s/%s/%s", ref.Kind, namespace, ref.Name)
		if err != nil {
			if errors.Is(err, ErrNotFound) && ref.Optional || errors.Is(err, errTreatedAsEmpty) {
				continue
			}
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		raw, ok := data[key]
		if !ok {
			if ref.Optional {
				continue
			}
			return nil, fmt.Errorf("%s: no key %q", where, key)
		}
		if ref.TargetPath != "" {
			// The value goes in at the path as helm --set would put it.
			if err := strvals.ParseInto(ref.TargetPath+"="+raw, result); err != nil {
				return nil, fmt.Errorf("%s: targetPath %q: %w", where, ref.TargetPath, err)
			}
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("%s: key %q is not a YAML map of values: %w", where, key, err)
		}
		result = chartutil.MergeTables(m, result)
	}
	// MergeTables merges into its first argument: the spec is shared
	// (decodedSpecs), so its values are copied first.
	specValues := spec.Values
	if specValues != nil {
		specValues, _ = copyTree(spec.Values).(map[string]any)
	}
	return chartutil.MergeTables(specValues, result), nil
}
