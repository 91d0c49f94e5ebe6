package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/source"
)

// SourceGroup is the API group of Flux sources.
const SourceGroup = "source.toolkit.fluxcd.io"

// LoadOptions configure Load. The zero value works for a repository whose
// Kustomizations all use the repository being loaded and whose charts come
// from reachable repositories.
type LoadOptions struct {
	// Mirrors rewrite Git and Helm repository URLs, so a load can run with
	// no network.
	Mirrors source.Mirrors
	// Self lists URLs of the repository being loaded: a GitRepository with
	// one of them resolves to the loaded artifact itself. With none given,
	// the GitRepository flux-system/flux-system (what flux bootstrap
	// writes) does.
	Self []string
	// Values supplies ConfigMaps and Secrets that substituteFrom and
	// valuesFrom name and that no unit renders (e.g. created out of band).
	Values ValueSource
	// Releases, when set, tells what the cluster records of each Helm
	// release, so charts render as the install or upgrade (and revision)
	// Helm would render there; nil renders every release as a first
	// install (HelmOptions.Releases).
	Releases ReleaseHistory
	// StrictSubstitution makes a postBuild ${var} with no value and no
	// default an error on its unit, as kustomize-controller's
	// --feature-gates=StrictPostBuildSubstitutions does.
	StrictSubstitution bool
	// AllowRemoteBases lets kustomize fetch remote bases; without it a
	// load makes no network access but through its sources and mirrors.
	AllowRemoteBases bool
	// IgnoreUnimplemented renders units and sources that use Flux fields
	// gitopskit does not implement and that would change what is applied
	// or where — a Kustomization's decryption or kubeConfig, a
	// HelmRelease's kubeConfig, a source's verify, include or
	// recurseSubmodules — with a warning, instead of failing them.
	IgnoreUnimplemented bool
	// DecryptionKeys are SOPS keys for units with spec.decryption, added
	// to those of the Secret it names (KustomizeOptions.DecryptionKeys).
	DecryptionKeys map[string][]byte
	// Decryptor decrypts SOPS files (KustomizeOptions.Decryptor):
	// render/sops.Decryptor{}. A Reconciler sets it when it is nil.
	Decryptor Decryptor
	// NoCrossNamespaceRefs refuses, as Flux's --no-cross-namespace-refs
	// lockdown does, a unit that refers to an object in another namespace:
	// a sourceRef, chartRef, chart sourceRef or dependsOn naming another
	// namespace fails the unit, naming the reference.
	NoCrossNamespaceRefs bool
	// RemoteBasesTimeout bounds each build that may fetch remote bases
	// (KustomizeOptions.RemoteTimeout).
	RemoteBasesTimeout time.Duration
	// AllowLocalGit lets a GitRepository name a local path or file:// URL
	// (Flux accepts only http, https and ssh); a mirror may always point
	// at one.
	AllowLocalGit bool
	// MissingValuesEmpty treats a reference that nothing resolves as empty
	// instead of failing the unit; each one is still reported as a
	// warning.
	MissingValuesEmpty bool
	// Concurrency bounds how many units render at once (default: GOMAXPROCS).
	Concurrency int
	// KubeVersion is Helm's .Capabilities.KubeVersion (default
	// DefaultKubeVersion).
	KubeVersion string
	// APIVersions are the APIs the target cluster serves, as discovery
	// lists them ("group/version" and "group/version/Kind"); nil means
	// BuiltinAPIVersions. Helm's .Capabilities.APIVersions holds these
	// plus what every CRD in the graph serves.
	APIVersions []string
	// CacheDir is where fetched sources are cached (default: the user
	// cache directory).
	CacheDir string
	// Cache keeps rendered units between loads. With a shared one
	// (NewSharedCache) the graph's objects are the cache's: read them, or
	// copy one before changing it.
	Cache *Cache
}

// Unit is one Flux Kustomization or HelmRelease of a repository, rendered.
type Unit struct {
	// ID is Kind/namespace/name.
	ID string
	// Object is the Flux object itself.
	Object *unstructured.Unstructured
	// Spec is the Flux semantics read from Object, with its Links; Parent
	// is the unit whose output held Object ("" for the root).
	Spec
	// Revision is the source revision rendered; SpecHash a digest of the
	// spec, so a change to either is visible.
	Revision, SpecHash string
	Objects            []Object
	Hooks              []Hook
	Warnings           []string
	// Release is, for a HelmRelease, what Helm records of it.
	Release *ReleaseInfo
	// Err is why the unit did not render (or why its spec does not
	// parse); BlockedBy names the failed unit it depends on, directly or
	// not, when it was not rendered for that reason.
	Err       error
	BlockedBy string
}

// Graph is a whole repository: every unit, sorted by ID.
type Graph struct {
	Units []*Unit
}

// Unit returns the unit with the given ID, or nil.
func (g *Graph) Unit(id string) *Unit {
	for _, u := range g.Units {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// RootID is the ID Load gives the root unit it makes for the root path.
const RootID = "Kustomization/flux-system/flux-system"

// Load renders a repository as Flux would reconcile it: it renders rootPath
// of art as the root Kustomization (flux-system/flux-system, as flux
// bootstrap names it), and every Kustomization and HelmRelease found in the
// output becomes a unit, rendered in turn, until nothing new appears. Units
// render in parallel, each once its source is known and the ConfigMaps and
// Secrets it reads (from anywhere in the graph, or opts.Values) have been
// rendered. A unit that fails to render carries its error; the rest of the
// graph still renders, and units that depend on a failed one are marked
// blocked. Load fails only when the root cannot be rendered.
func Load(ctx context.Context, art *source.Artifact, rootPath string, opts LoadOptions) (*Graph, error) {
	root := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata":   map[string]any{"name": "flux-system", "namespace": "flux-system"},
		"spec": map[string]any{
			"interval":  "10m",
			"path":      rootPath,
			"prune":     true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"},
		},
	}}
	return LoadKustomization(ctx, art, root, opts)
}

// LoadKustomization is Load starting from a root Flux Kustomization object
// (e.g. a cluster's flux-system Kustomization as found in the repository)
// instead of a path; its sourceRef must name the loaded artifact (the
// flux-system GitRepository, or one of LoadOptions.Self).
func LoadKustomization(ctx context.Context, art *source.Artifact, root *unstructured.Unstructured, opts LoadOptions) (*Graph, error) {
	l := newLoader(art, opts)
	root = root.DeepCopy()
	l.add(root, "")
	if err := l.run(ctx); err != nil {
		return nil, err
	}
	// Units that failed because the load was canceled did not fail.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g := l.graph()
	if u := g.Unit(UnitID(root)); u != nil && u.Err != nil {
		return g, u.Err
	}
	return g, nil
}

type graphLoader struct {
	art     *source.Artifact
	opts    LoadOptions
	mu      sync.Mutex
	units   map[string]*Unit
	pending []*Unit
	objects map[string]Object // every rendered object by Kind/namespace/name
	sources map[string]*sourceEntry
	// generated maps "namespace/name" of an ExternalArtifact to the
	// ArtifactGenerators that produce it.
	generated map[string][]generatedArtifact
	fetches   map[string]*fetchResult
	// kustomize is shared by every unit, so each artifact is scanned once.
	kustomize *Kustomize
}

// sourceEntry is a Flux source object found in some unit's output.
type sourceEntry struct {
	obj      *unstructured.Unstructured
	file     string
	warnings []string
	err      error
}

type fetchResult struct {
	once sync.Once
	art  *source.Artifact
	err  error
}

func newLoader(art *source.Artifact, opts LoadOptions) *graphLoader {
	l := &graphLoader{art: art, opts: opts, units: map[string]*Unit{}, objects: map[string]Object{},
		sources: map[string]*sourceEntry{}, fetches: map[string]*fetchResult{}, generated: map[string][]generatedArtifact{},
		kustomize: NewKustomize(KustomizeOptions{Cache: opts.Cache, StrictSubstitution: opts.StrictSubstitution, AllowRemoteBases: opts.AllowRemoteBases, RemoteTimeout: opts.RemoteBasesTimeout, IgnoreUnimplemented: opts.IgnoreUnimplemented, DecryptionKeys: opts.DecryptionKeys, Decryptor: opts.Decryptor})}
	return l
}

// add records a Flux unit object found in parent's output.
func (l *graphLoader) add(obj *unstructured.Unstructured, parent string) {
	if obj.GetNamespace() == "" {
		obj.SetNamespace("flux-system")
	}
	id := UnitID(obj)
	if _, ok := l.units[id]; ok {
		return
	}
	raw, _ := json.Marshal(obj.Object["spec"])
	sum := sha256.Sum256(raw)
	u := &Unit{ID: id, Object: obj, SpecHash: "sha256:" + hex.EncodeToString(sum[:])}
	spec, err := specOf(obj)
	u.Spec, u.Parent = spec, parent
	if err == nil && l.opts.NoCrossNamespaceRefs {
		err = sameNamespaceRefs(obj)
	}
	if err != nil {
		u.Err = fmt.Errorf("%s: %w", id, err)
		l.units[id] = u // failed: never rendered
		return
	}
	l.units[id] = u
	l.pending = append(l.pending, u)
}

// reject records a unit whose object in parent's output could not be read:
// it fails, and so holds back what depends on it and any removal.
func (l *graphLoader) reject(r RejectedUnit, parent string) {
	obj := r.Object.DeepCopy()
	if obj.GetNamespace() == "" {
		obj.SetNamespace("flux-system")
	}
	id := UnitID(obj)
	if _, ok := l.units[id]; ok {
		return
	}
	u := &Unit{ID: id, Object: obj, Err: fmt.Errorf("%s: %w", id, r.Err)}
	u.Parent = parent
	l.units[id] = u
}

// sameNamespaceRefs refuses a reference of a unit object to another
// namespace (LoadOptions.NoCrossNamespaceRefs).
func sameNamespaceRefs(obj *unstructured.Unstructured) error {
	ns := obj.GetNamespace()
	var errs []error
	check := func(field string, ref map[string]any) {
		other, _ := ref["namespace"].(string)
		if other != "" && other != ns {
			kind, _ := ref["kind"].(string)
			name, _ := ref["name"].(string)
			errs = append(errs, fmt.Errorf("%s names %s %s/%s in another namespace; cross-namespace references are refused (LoadOptions.NoCrossNamespaceRefs, Flux's --no-cross-namespace-refs)", field, kind, other, name))
		}
	}
	for _, field := range [][]string{{"spec", "sourceRef"}, {"spec", "chartRef"}, {"spec", "chart", "spec", "sourceRef"}} {
		if ref, ok, _ := unstructured.NestedMap(obj.Object, field...); ok {
			check(strings.Join(field, "."), ref)
		}
	}
	deps, _, _ := unstructured.NestedSlice(obj.Object, "spec", "dependsOn")
	for i, d := range deps {
		if ref, ok := d.(map[string]any); ok {
			if _, has := ref["kind"]; !has {
				ref = maps.Clone(ref)
				ref["kind"] = obj.GetKind()
			}
			check(fmt.Sprintf("spec.dependsOn[%d]", i), ref)
		}
	}
	return errors.Join(errs...)
}

// run renders pending units in waves until no unit can make progress.
func (l *graphLoader) run(ctx context.Context) error {
	limit := l.opts.Concurrency
	if limit <= 0 {
		limit = runtime.GOMAXPROCS(0)
	}
	final := false // the last wave renders even with unresolved values
	for len(l.pending) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		wave := l.pending
		l.pending = nil
		slices.SortFunc(wave, func(a, b *Unit) int { return strings.Compare(a.ID, b.ID) })
		apiVersions := l.crdAPIVersions()
		var deferred []*Unit
		var g errgroup.Group
		g.SetLimit(limit)
		results := make([]*Result, len(wave))
		errs := make([]error, len(wave))
		ready := make([]bool, len(wave))
		for i, u := range wave {
			if !final && !l.valuesReady(u) {
				deferred = append(deferred, u)
				continue
			}
			ready[i] = true
			g.Go(func() error {
				results[i], errs[i] = l.render(ctx, u, apiVersions, final)
				return nil
			})
		}
		g.Wait()
		progress := false
		for i, u := range wave {
			if !ready[i] {
				continue
			}
			if errors.Is(errs[i], errNotYet) {
				deferred = append(deferred, u)
				continue
			}
			progress = true
			if errs[i] != nil {
				u.Err = errs[i]
				continue
			}
			l.absorb(u, results[i])
		}
		l.pending = append(l.pending, deferred...)
		final = !progress && len(deferred) > 0
	}
	return nil
}

// absorb takes a rendered unit's output into the graph: its objects, the
// sources it defines, and the units it applies.
func (l *graphLoader) absorb(u *Unit, res *Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u.Objects, u.Hooks, u.Release = res.Objects, res.Hooks, res.Release
	u.Warnings = append(u.Warnings, res.Warnings...)
	for _, r := range res.Rejected {
		l.reject(r, u.ID)
	}
	for i, o := range res.Objects {
		gvk := o.GroupVersionKind()
		if o.GetNamespace() == "" && (gvk.Group == SourceGroup || gvk.Group == ExtensionsGroup && gvk.Kind == "ArtifactGenerator") {
			// A source without a namespace is flux-system's. The object
			// may be shared with a Cache (NewSharedCache), so the unit
			// gets a copy with the namespace set (u.Objects is
			// res.Objects, a slice of the unit's own).
			o.Unstructured = o.DeepCopy()
			o.SetNamespace("flux-system")
			res.Objects[i] = o
		}
		key := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
		l.objects[key] = o
		switch {
		case gvk.Group == SourceGroup:
			warnings, err := checkSource(o.Unstructured, l.opts.IgnoreUnimplemented)
			l.sources[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = &sourceEntry{obj: o.Unstructured, file: o.Provenance.File, warnings: warnings, err: err}
		case gvk.Group == ExtensionsGroup && gvk.Kind == "ArtifactGenerator":
			for ea, ga := range generatedArtifacts(o.Unstructured, o.Provenance.File) {
				l.generated[ea] = append(l.generated[ea], ga)
			}
		case (gvk.Group == KustomizeGroup && gvk.Kind == "Kustomization") || (gvk.Group == HelmGroup && gvk.Kind == "HelmRelease"):
			l.add(o.DeepCopy(), u.ID)
		}
	}
}

// crdAPIVersions lists group/version and group/version/Kind for every CRD
// rendered so far, for Helm's .Capabilities.
func (l *graphLoader) crdAPIVersions() []string {
	var out []string
	for _, o := range l.objects {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		for _, v := range versions {
			m, _ := v.(map[string]any)
			name, _ := m["name"].(string)
			out = append(out, group+"/"+name, group+"/"+name+"/"+kind)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// valuesReady reports whether every ConfigMap and Secret the unit reads is
// known (rendered, or supplied), so rendering now gives the final answer.
func (l *graphLoader) valuesReady(u *Unit) bool {
	for _, ref := range valueRefs(u.Object) {
		if _, ok := l.objects[ref]; ok {
			continue
		}
		if l.opts.Values != nil {
			parts := strings.SplitN(ref, "/", 3)
			if _, err := l.opts.Values.Data(context.Background(), parts[0], parts[1], parts[2]); err == nil {
				continue
			}
		}
		return false
	}
	return true
}

// valueRefs lists "Kind/namespace/name" of the ConfigMaps and Secrets a
// unit's substituteFrom or valuesFrom names.
func valueRefs(obj *unstructured.Unstructured) []string {
	var refs []any
	if r, ok, _ := unstructured.NestedSlice(obj.Object, "spec", "postBuild", "substituteFrom"); ok {
		refs = append(refs, r...)
	}
	if r, ok, _ := unstructured.NestedSlice(obj.Object, "spec", "valuesFrom"); ok {
		refs = append(refs, r...)
	}
	var out []string
	for _, r := range refs {
		m, _ := r.(map[string]any)
		kind, _ := m["kind"].(string)
		name, _ := m["name"].(string)
		out = append(out, kind+"/"+obj.GetNamespace()+"/"+name)
	}
	return out
}

func (l *graphLoader) graph() *Graph {
	g := &Graph{}
	for _, u := range l.units {
		g.Units = append(g.Units, u)
	}
	slices.SortFunc(g.Units, func(a, b *Unit) int { return strings.Compare(a.ID, b.ID) })
	// Units that depend on a failed or blocked unit are blocked.
	failedRoot := map[string]string{}
	var blockedBy func(id string, seen map[string]bool) string
	blockedBy = func(id string, seen map[string]bool) string {
		if r, ok := failedRoot[id]; ok {
			return r
		}
		u := l.units[id]
		if u == nil || seen[id] {
			return ""
		}
		seen[id] = true
		if u.Err != nil && u.BlockedBy == "" {
			failedRoot[id] = id
			return id
		}
		for _, d := range u.DependsOn {
			if r := blockedBy(d, seen); r != "" {
				failedRoot[id] = r
				return r
			}
		}
		failedRoot[id] = ""
		return ""
	}
	for _, u := range g.Units {
		if u.Err != nil {
			continue
		}
		for _, d := range u.DependsOn {
			if r := blockedBy(d, map[string]bool{}); r != "" {
				u.BlockedBy = r
				break
			}
		}
	}
	return g
}

// graphValues resolves ConfigMaps and Secrets from the objects rendered so
// far, then from the caller's values.
type graphValues struct{ l *graphLoader }

func (v *graphValues) Data(ctx context.Context, kind, namespace, name string) (map[string]string, error) {
	v.l.mu.Lock()
	o, ok := v.l.objects[kind+"/"+namespace+"/"+name]
	v.l.mu.Unlock()
	if ok {
		return objectData(o.Unstructured)
	}
	if v.l.opts.Values != nil {
		return v.l.opts.Values.Data(ctx, kind, namespace, name)
	}
	return nil, ErrNotFound
}

// objectData reads a ConfigMap's data and binaryData, or a Secret's data
// (decoded) and stringData.
func objectData(u *unstructured.Unstructured) (map[string]string, error) {
	out := map[string]string{}
	switch u.GetKind() {
	case "ConfigMap":
		d, _, _ := unstructured.NestedStringMap(u.Object, "data")
		for k, v := range d {
			out[k] = v
		}
	case "Secret":
		d, _, _ := unstructured.NestedStringMap(u.Object, "data")
		for k, v := range d {
			b, err := decodeBase64(v)
			if err != nil {
				return nil, fmt.Errorf("Secret %s/%s: data[%s] is not base64", u.GetNamespace(), u.GetName(), k)
			}
			out[k] = string(b)
		}
		sd, _, _ := unstructured.NestedStringMap(u.Object, "stringData")
		for k, v := range sd {
			out[k] = v
		}
	default:
		return nil, errors.New("not a ConfigMap or Secret")
	}
	return out, nil
}

// FluxKinds are the kinds of Flux's own objects, which Load reads as units
// and sources rather than objects to apply. A graph's root unit renders
// them, and no unit holds their CRDs: pass them as dag.Options.Preinstalled
// when ordering or checking a Graph's DagUnits.
func FluxKinds() []dag.GroupKind {
	return []dag.GroupKind{
		{Group: KustomizeGroup, Kind: "Kustomization"}, {Group: HelmGroup, Kind: "HelmRelease"},
		{Group: SourceGroup, Kind: "GitRepository"}, {Group: SourceGroup, Kind: "HelmRepository"},
		{Group: SourceGroup, Kind: "OCIRepository"}, {Group: SourceGroup, Kind: "HelmChart"},
		{Group: SourceGroup, Kind: "Bucket"}, {Group: SourceGroup, Kind: "ExternalArtifact"},
		{Group: ExtensionsGroup, Kind: "ArtifactGenerator"},
	}
}

// Applied is what applying the unit puts in the cluster: its objects,
// then the hooks that run on install or upgrade — the phases a reconcile
// stands for. Test, rollback and delete hooks are left out.
func (u *Unit) Applied() []Object {
	out := make([]Object, 0, len(u.Objects)+len(u.Hooks))
	out = append(out, u.Objects...)
	for _, h := range u.Hooks {
		for _, e := range h.Events {
			if strings.HasSuffix(e, "-install") || strings.HasSuffix(e, "-upgrade") {
				out = append(out, h.Object)
				break
			}
		}
	}
	return out
}

// DagUnits returns the graph's units for package dag, each with its
// dependsOn and what it applies (Unit.Applied: objects and install/upgrade
// hooks), so the graph can be ordered and checked. Units that did not render have
// no objects.
func (g *Graph) DagUnits() ([]dag.Unit, error) {
	out := make([]dag.Unit, 0, len(g.Units))
	var errs []error
	for _, u := range g.Units {
		var objs []*unstructured.Unstructured
		for _, o := range u.Applied() {
			objs = append(objs, o.Unstructured)
		}
		du, err := dag.UnitOf(u.ID, u.Links, objs)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, du)
	}
	return out, errors.Join(errs...)
}
