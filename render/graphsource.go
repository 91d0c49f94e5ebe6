package render

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/source"
)

// errNotYet marks a unit whose source no unit rendered so far defines; it
// waits for the next wave.
var errNotYet = errors.New("source not rendered yet")

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// render renders one unit with its source resolved.
func (l *graphLoader) render(ctx context.Context, u *Unit, apiVersions []string, final bool) (*Result, error) {
	values := ValueSource(&graphValues{l: l})
	var missing []string
	if final && l.opts.MissingValuesEmpty {
		values = &emptyWhenMissing{inner: values, missing: &missing}
	}
	gvk := u.Object.GroupVersionKind()
	var (
		res            *Result
		art            *source.Artifact
		err            error
		sourceWarnings []string
	)
	switch gvk.Group {
	case KustomizeGroup:
		kind, _, _ := unstructured.NestedString(u.Object.Object, "spec", "sourceRef", "kind")
		name, _, _ := unstructured.NestedString(u.Object.Object, "spec", "sourceRef", "name")
		ns, _, _ := unstructured.NestedString(u.Object.Object, "spec", "sourceRef", "namespace")
		if ns == "" {
			ns = u.Object.GetNamespace()
		}
		if art, err = l.sourceArtifact(ctx, kind, ns, name, final, &sourceWarnings); err != nil {
			return nil, err
		}
		res, err = l.kustomize.withValues(values).Render(ctx, art, u.Object)
	case HelmGroup:
		if art, err = l.chartArtifact(ctx, u.Object, final, &sourceWarnings); err != nil {
			return nil, err
		}
		h := NewHelm(HelmOptions{Values: values, Cache: l.opts.Cache, Mirrors: l.opts.Mirrors, Releases: l.opts.Releases, KubeVersion: l.opts.KubeVersion, ClusterAPIVersions: l.opts.APIVersions, APIVersions: apiVersions, IgnoreUnimplemented: l.opts.IgnoreUnimplemented})
		res, err = h.Render(ctx, art, u.Object)
	default:
		return nil, fmt.Errorf("%s: not a Flux Kustomization or HelmRelease", u.ID)
	}
	if err != nil {
		return nil, err
	}
	u.Revision = art.Revision
	res.Warnings = append(res.Warnings, sourceWarnings...)
	for _, m := range missing {
		res.Warnings = append(res.Warnings, m+" was not found and was treated as empty")
	}
	return res, nil
}

// errTreatedAsEmpty says a reference is missing and is to be skipped as if
// it were optional.
// ErrNoSource is wrapped by the error of a unit whose sourceRef (or
// chartRef, or a chart's sourceRef) names a source the repository does not
// define.
var ErrNoSource = errors.New("no such source in the repository")

var errTreatedAsEmpty = fmt.Errorf("treated as empty: %w", ErrNotFound)

// emptyWhenMissing answers a missing ConfigMap or Secret with
// errTreatedAsEmpty, and remembers it.
type emptyWhenMissing struct {
	inner   ValueSource
	missing *[]string
}

func (e *emptyWhenMissing) Data(ctx context.Context, kind, namespace, name string) (map[string]string, error) {
	d, err := e.inner.Data(ctx, kind, namespace, name)
	if errors.Is(err, ErrNotFound) {
		*e.missing = append(*e.missing, kind+"/"+namespace+"/"+name)
		return nil, errTreatedAsEmpty
	}
	return d, err
}

// lookupSource finds a Flux source object rendered so far. A source that
// did not validate is an error naming its file.
func (l *graphLoader) lookupSource(kind, namespace, name string, final bool, warn *[]string) (*unstructured.Unstructured, error) {
	l.mu.Lock()
	e, ok := l.sources[kind+"/"+namespace+"/"+name]
	l.mu.Unlock()
	if ok {
		if e.err != nil {
			return nil, fmt.Errorf("%s: %w", e.file, e.err)
		}
		*warn = append(*warn, e.warnings...)
		return e.obj, nil
	}
	if !final {
		return nil, errNotYet
	}
	return nil, fmt.Errorf("sourceRef %s/%s/%s: %w", kind, namespace, name, ErrNoSource)
}

// isSelf reports whether a GitRepository is the repository being loaded.
func (l *graphLoader) isSelf(namespace, name, url string) bool {
	if len(l.opts.Self) == 0 {
		return namespace == "flux-system" && name == "flux-system"
	}
	for _, s := range l.opts.Self {
		if strings.TrimSuffix(s, ".git") == strings.TrimSuffix(url, ".git") {
			return true
		}
	}
	return false
}

// fetchOnce fetches a source once per load, however many units use it.
func (l *graphLoader) fetchOnce(ctx context.Context, key string, src source.Source) (*source.Artifact, error) {
	l.mu.Lock()
	f, ok := l.fetches[key]
	if !ok {
		f = &fetchResult{}
		l.fetches[key] = f
	}
	l.mu.Unlock()
	f.once.Do(func() { f.art, f.err = src.Fetch(ctx) })
	return f.art, f.err
}

// sourceArtifact resolves a Kustomization's sourceRef.
func (l *graphLoader) sourceArtifact(ctx context.Context, kind, namespace, name string, final bool, warn *[]string) (*source.Artifact, error) {
	return l.resolveSource(ctx, kind, namespace, name, final, warn, nil)
}

// resolveSource is sourceArtifact within the ExternalArtifacts being built
// (chain).
func (l *graphLoader) resolveSource(ctx context.Context, kind, namespace, name string, final bool, warn *[]string, chain []string) (*source.Artifact, error) {
	if kind == "" {
		kind = "GitRepository"
	}
	if kind == "ExternalArtifact" {
		return l.externalArtifact(ctx, namespace, name, final, warn, chain)
	}
	if kind == "GitRepository" && namespace == "flux-system" && name == "flux-system" && len(l.opts.Self) == 0 {
		return l.art, nil // the root's own source, even before gotk-sync.yaml is rendered
	}
	if kind == "OCIRepository" {
		obj, err := l.lookupSource(kind, namespace, name, final, warn)
		if err != nil {
			return nil, err
		}
		url, _, _ := unstructured.NestedString(obj.Object, "spec", "url")
		ref := source.OCIRef{}
		ref.Tag, _, _ = unstructured.NestedString(obj.Object, "spec", "ref", "tag")
		ref.SemVer, _, _ = unstructured.NestedString(obj.Object, "spec", "ref", "semver")
		ref.Digest, _, _ = unstructured.NestedString(obj.Object, "spec", "ref", "digest")
		mediaType, _, _ := unstructured.NestedString(obj.Object, "spec", "layerSelector", "mediaType")
		auth, timeout, err := l.helmAccess(ctx, obj, url)
		if err != nil {
			return nil, err
		}
		src := source.NewOCI(l.opts.Mirrors.Rewrite(url), source.OCIOptions{Ref: ref, MediaType: mediaType,
			Auth: auth, CacheDir: cacheSub(l.opts.CacheDir, "oci"), Timeout: timeout})
		return l.fetchOnce(ctx, "OCIRepository/"+namespace+"/"+name, src)
	}
	if kind != "GitRepository" {
		return nil, fmt.Errorf("sourceRef %s/%s/%s: %s sources are not implemented (GitRepository, OCIRepository and ExternalArtifact are)", kind, namespace, name, kind)
	}
	obj, err := l.lookupSource(kind, namespace, name, final, warn)
	if err != nil {
		return nil, err
	}
	url, _, _ := unstructured.NestedString(obj.Object, "spec", "url")
	if l.isSelf(namespace, name, url) {
		return l.art, nil
	}
	if !l.opts.AllowLocalGit && !remoteGitURL(url) {
		return nil, fmt.Errorf("GitRepository %s/%s: url %q is not an http, https or ssh URL; Flux refuses it, and so does a load unless LoadOptions.AllowLocalGit (mirror it to a local path instead)", namespace, name, source.RedactURL(url))
	}
	ref := source.GitRef{}
	ref.Branch, _, _ = unstructured.NestedString(obj.Object, "spec", "ref", "branch")
	ref.Tag, _, _ = unstructured.NestedString(obj.Object, "spec", "ref", "tag")
	ref.SemVer, _, _ = unstructured.NestedString(obj.Object, "spec", "ref", "semver")
	ref.Name, _, _ = unstructured.NestedString(obj.Object, "spec", "ref", "name")
	ref.Commit, _, _ = unstructured.NestedString(obj.Object, "spec", "ref", "commit")
	if ref == (source.GitRef{}) {
		ref.Branch = "master" // Flux's default when spec.ref is empty
	}
	ignore, _, _ := unstructured.NestedString(obj.Object, "spec", "ignore")
	timeout, err := sourceTimeout(obj)
	if err != nil {
		return nil, err
	}
	auth, err := l.gitAuth(ctx, obj)
	if err != nil {
		return nil, err
	}
	g := source.NewGit(l.opts.Mirrors.Rewrite(url), source.GitOptions{Ref: ref, Ignore: ignore, CacheDir: cacheSub(l.opts.CacheDir, "git"), Timeout: timeout, Auth: auth})
	return l.fetchOnce(ctx, "GitRepository/"+namespace+"/"+name, g)
}

// sourceTimeout is a Flux source's spec.timeout, zero when unset (the
// source package's DefaultTimeout, Flux's default too).
func sourceTimeout(obj *unstructured.Unstructured) (time.Duration, error) {
	raw, _, _ := unstructured.NestedString(obj.Object, "spec", "timeout")
	if raw == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %s/%s: spec.timeout %q is not a positive duration", obj.GetKind(), obj.GetNamespace(), obj.GetName(), raw)
	}
	return d, nil
}

func cacheSub(dir, sub string) string {
	if dir == "" {
		return ""
	}
	return path.Join(dir, sub)
}

// chartArtifact resolves a HelmRelease's chart: chart.spec with a
// HelmRepository (HTTP or OCI) or GitRepository source, or chartRef to an
// OCIRepository.
func (l *graphLoader) chartArtifact(ctx context.Context, hr *unstructured.Unstructured, final bool, warn *[]string) (*source.Artifact, error) {
	ns := hr.GetNamespace()
	if ref, ok, _ := unstructured.NestedMap(hr.Object, "spec", "chartRef"); ok {
		kind, _ := ref["kind"].(string)
		name, _ := ref["name"].(string)
		if n, _ := ref["namespace"].(string); n != "" {
			ns = n
		}
		if kind == "ExternalArtifact" {
			art, err := l.externalArtifact(ctx, ns, name, final, warn, nil)
			if err != nil {
				return nil, err
			}
			dir, err := chartRoot(art)
			if err != nil {
				return nil, fmt.Errorf("chartRef ExternalArtifact/%s/%s: %w", ns, name, err)
			}
			src := source.NewLocalChart(art, dir, source.ChartOptions{Mirrors: l.opts.Mirrors, Helm: source.HelmOptions{CacheDir: cacheSub(l.opts.CacheDir, "helm")}})
			return l.fetchOnce(ctx, "ExternalArtifact/"+ns+"/"+name+"#chart", src)
		}
		if kind == "HelmChart" {
			obj, err := l.lookupSource(kind, ns, name, final, warn)
			if err != nil {
				return nil, err
			}
			spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
			return l.chartFromSpec(ctx, spec, ns, final, warn)
		}
		if kind != "OCIRepository" {
			return nil, fmt.Errorf("chartRef %s/%s/%s: chart references to %s are not implemented (OCIRepository, HelmChart and ExternalArtifact are)", kind, ns, name, kind)
		}
		obj, err := l.lookupSource(kind, ns, name, final, warn)
		if err != nil {
			return nil, err
		}
		url, _, _ := unstructured.NestedString(obj.Object, "spec", "url")
		version := ociChartVersion(obj)
		repo, chart := path.Dir(strings.TrimPrefix(url, "oci://")), path.Base(url)
		auth, timeout, err := l.helmAccess(ctx, obj, url)
		if err != nil {
			return nil, err
		}
		src := source.NewHelmChart(l.opts.Mirrors.Rewrite("oci://"+repo), chart, version,
			source.HelmOptions{CacheDir: cacheSub(l.opts.CacheDir, "helm"), Auth: auth, Timeout: timeout})
		return l.fetchOnce(ctx, "OCIRepository/"+ns+"/"+name+"@"+version, src)
	}
	spec, ok, _ := unstructured.NestedMap(hr.Object, "spec", "chart", "spec")
	if !ok {
		return nil, errors.New("spec.chart.spec or spec.chartRef is required")
	}
	return l.chartFromSpec(ctx, spec, ns, final, warn)
}

// chartFromSpec resolves a chart template (a HelmRelease's chart.spec, or a
// HelmChart's spec): chart, version and a sourceRef.
func (l *graphLoader) chartFromSpec(ctx context.Context, spec map[string]any, ns string, final bool, warn *[]string) (*source.Artifact, error) {
	chart, _ := spec["chart"].(string)
	version, _ := spec["version"].(string)
	sref, _ := spec["sourceRef"].(map[string]any)
	kind, _ := sref["kind"].(string)
	name, _ := sref["name"].(string)
	if n, _ := sref["namespace"].(string); n != "" {
		ns = n
	}
	switch kind {
	case "HelmRepository":
		obj, err := l.lookupSource(kind, ns, name, final, warn)
		if err != nil {
			return nil, err
		}
		url, _, _ := unstructured.NestedString(obj.Object, "spec", "url")
		typ, _, _ := unstructured.NestedString(obj.Object, "spec", "type")
		if typ == "oci" && !strings.HasPrefix(url, "oci://") {
			url = "oci://" + strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://")
		}
		auth, timeout, err := l.helmAccess(ctx, obj, url)
		if err != nil {
			return nil, err
		}
		src := source.NewHelmChart(l.opts.Mirrors.Rewrite(url), chart, version,
			source.HelmOptions{CacheDir: cacheSub(l.opts.CacheDir, "helm"), Auth: auth, Timeout: timeout})
		return l.fetchOnce(ctx, "HelmRepository/"+ns+"/"+name+"/"+chart+"@"+version, src)
	case "GitRepository":
		art, err := l.sourceArtifact(ctx, kind, ns, name, final, warn)
		if err != nil {
			return nil, err
		}
		src := source.NewLocalChart(art, chart, source.ChartOptions{Mirrors: l.opts.Mirrors, Helm: source.HelmOptions{CacheDir: cacheSub(l.opts.CacheDir, "helm")}})
		return l.fetchOnce(ctx, "GitRepository/"+ns+"/"+name+"#"+chart, src)
	}
	return nil, fmt.Errorf("chart sourceRef kind %q is not implemented (HelmRepository and GitRepository are)", kind)
}

// ociChartVersion is what an OCIRepository selects a chart by, in Flux's
// order: ref.digest, then ref.semver, then ref.tag ("" is the highest
// stable version).
func ociChartVersion(obj *unstructured.Unstructured) string {
	for _, f := range []string{"digest", "semver", "tag"} {
		if v, _, _ := unstructured.NestedString(obj.Object, "spec", "ref", f); v != "" {
			return v
		}
	}
	return ""
}

// remoteGitURL reports whether a GitRepository URL is one Flux accepts:
// http, https or ssh (including scp-like user@host:path), never a local
// path or file:// URL that would read another repository of this machine.
func remoteGitURL(u string) bool {
	lower := strings.ToLower(u)
	for _, p := range []string{"http://", "https://", "ssh://"} {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	// scp-like: user@host:path, with no scheme and no leading slash.
	at, colon := strings.Index(u, "@"), strings.Index(u, ":")
	return !strings.Contains(u, "://") && at > 0 && colon > at && !strings.HasPrefix(u, "/")
}
