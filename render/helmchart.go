package render

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/memo"
	"github.com/gitopskit/gitopskit/source"
)

// chartRelease says what a chart is rendered as: the release's name and
// namespace, the capabilities of the cluster it goes to, and whether the
// release is installed or upgraded (.Release.IsInstall, .Release.Revision).
type chartRelease struct {
	Name, Namespace string
	Capabilities    *chartutil.Capabilities
	Revision        int
	IsUpgrade       bool
	IncludeCRDs     bool
	SkipSchemaCheck bool
	// Mirrors resolve the documents values.schema.json refers to.
	Mirrors source.Mirrors
	// Provenance is every object's, with File set to its template.
	Provenance Provenance
	// ReadOnly says the output will not be changed (it is rendered for a
	// shared Cache): the CRDs of crds/ decoded once per process are handed
	// out themselves instead of copies.
	ReadOnly bool
}

func (r chartRelease) provenance(file string) Provenance {
	p := r.Provenance
	p.File = file
	return p
}

// chartOutput is a rendered chart: its objects (CRDs from crds/ first, then
// the templates' in Helm's install order) and its hooks (in Helm's order of
// kinds, stable), each decoded once, and warnings for documents Helm would
// skip.
type chartOutput struct {
	Objects  []Object
	Hooks    []Hook
	Warnings []string
}

// renderChart renders a chart as Helm's install action does for a release
// that is not yet stored (dependency conditions and import-values, the
// chart's kubeVersion constraint, values checked against
// values.schema.json, the template engine, NOTES.txt and partials dropped,
// hooks told apart by their helm.sh/hook annotation), without the action's
// release bookkeeping and with every manifest parsed once: the action
// parses each document for its head and gitopskit would parse it again
// for the object, which on charts with large CRDs was a third of the time
// of a cold load.
func renderChart(ctx context.Context, ch *chart.Chart, values map[string]any, rel chartRelease) (*chartOutput, error) {
	if err := chartutil.ValidateReleaseName(rel.Name); err != nil {
		return nil, fmt.Errorf("release name %q: %w", rel.Name, err)
	}
	if ch.Metadata.Type == "library" {
		return nil, fmt.Errorf("chart %s is a library chart, which cannot be installed", ch.Name())
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, values); err != nil {
		return nil, err
	}
	caps := rel.Capabilities
	if ch.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", ch.Metadata.KubeVersion, caps.KubeVersion.String())
	}
	revision := max(rel.Revision, 1)
	opts := chartutil.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, Revision: revision, IsInstall: !rel.IsUpgrade, IsUpgrade: rel.IsUpgrade}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, values, opts, caps, true)
	if err != nil {
		return nil, err
	}
	var schemaWarnings []string
	if !rel.SkipSchemaCheck {
		coalesced, _ := top["Values"].(chartutil.Values)
		if schemaWarnings, err = validateValues(ctx, ch, coalesced.AsMap(), rel.Mirrors); err != nil {
			return nil, err
		}
	}
	files, err := engine.Engine{}.Render(ch, top)
	if err != nil {
		return nil, err
	}

	// Every document is split out first and then decoded, on all CPUs
	// when there is much of it: a chart's CRDs can be megabytes of YAML.
	// The files in crds/ are not templates: the same file is decoded once
	// per process (a copy handed out each time, unless rel.ReadOnly).
	var docs []document
	type crdFile struct {
		sum        [sha256.Size]byte
		from, to   int
		size       int
		remembered bool
	}
	var crdFiles []crdFile
	if rel.IncludeCRDs {
		for _, crd := range ch.CRDObjects() {
			f := crdFile{sum: sha256.Sum256(crd.File.Data), from: len(docs), size: len(crd.File.Data)}
			if objs, ok := decodedCRDs.Get(f.sum); ok {
				for _, o := range objs {
					if !rel.ReadOnly {
						o = o.DeepCopy()
					}
					docs = append(docs, document{file: crd.Filename, crd: true, obj: o})
				}
				f.to, f.remembered = len(docs), true
				crdFiles = append(crdFiles, f)
				continue
			}
			split, err := splitYAML(crd.File.Data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", crd.Filename, err)
			}
			for _, d := range split {
				docs = append(docs, document{file: crd.Filename, data: d, crd: true})
			}
			f.to = len(docs)
			crdFiles = append(crdFiles, f)
		}
	}
	names := make([]string, 0, len(files))
	for name, content := range files {
		// NOTES.txt is text for people, partials are used while
		// rendering only, and empty files are nothing.
		if strings.HasSuffix(name, "NOTES.txt") || strings.HasPrefix(path.Base(name), "_") || strings.TrimSpace(content) == "" {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, d := range helmDocuments(files[name]) {
			docs = append(docs, document{file: name, data: []byte(d)})
		}
	}
	objs, err := decodeDocuments(docs)
	if err != nil {
		return nil, err
	}
	for _, f := range crdFiles {
		if !f.remembered {
			kept := make([]*unstructured.Unstructured, 0, f.to-f.from)
			for _, u := range objs[f.from:f.to] {
				if len(u.Object) > 0 {
					if !rel.ReadOnly {
						u = u.DeepCopy()
					}
					kept = append(kept, u)
				}
			}
			decodedCRDs.PutWeighted(f.sum, kept, f.size)
		}
	}

	out := &chartOutput{Warnings: schemaWarnings}
	crds := 0
	for i, u := range objs {
		d := docs[i]
		if len(u.Object) == 0 {
			continue
		}
		o := Object{Unstructured: u, Provenance: rel.provenance(d.file)}
		if d.crd {
			out.Objects = append(out.Objects, o)
			crds++
			continue
		}
		hook, ok, warn := hookOf(u)
		switch {
		case warn != "":
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %s", d.file, warn))
		case ok:
			hook.Object = o
			out.Hooks = append(out.Hooks, hook)
		default:
			out.Objects = append(out.Objects, o)
		}
	}
	order := kindOrder(releaseutil.InstallOrder)
	slices.SortStableFunc(out.Objects[crds:], func(a, b Object) int { return order(a.GetKind(), b.GetKind()) })
	slices.SortStableFunc(out.Hooks, func(a, b Hook) int { return order(a.GetKind(), b.GetKind()) })
	return out, nil
}

// hookOf tells a Helm hook by its helm.sh/hook annotation, with its
// events, weight and delete policies as Helm reads them. A document whose
// annotation names an event Helm does not know is skipped by Helm; warn
// says so.
func hookOf(u *unstructured.Unstructured) (h Hook, ok bool, warn string) {
	ann := u.GetAnnotations()
	events, ok := ann[release.HookAnnotation]
	if !ok {
		return Hook{}, false, ""
	}
	for _, e := range strings.Split(events, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		ev, known := hookEvents[e]
		if !known {
			return Hook{}, false, fmt.Sprintf("%s %s: unknown hook %q is skipped, as Helm skips it", u.GetKind(), u.GetName(), events)
		}
		h.Events = append(h.Events, ev)
	}
	h.Weight, _ = strconv.Atoi(ann[release.HookWeightAnnotation])
	if dp, ok := ann[release.HookDeleteAnnotation]; ok {
		for _, p := range strings.Split(dp, ",") {
			h.DeletePolicies = append(h.DeletePolicies, strings.ToLower(strings.TrimSpace(p)))
		}
	}
	return h, true, ""
}

// hookEvents are the helm.sh/hook values Helm knows, and the event each
// means ("test-success" is the old name of "test").
var hookEvents = func() map[string]string {
	m := map[string]string{"test-success": string(release.HookTest)}
	for _, e := range []release.HookEvent{release.HookPreInstall, release.HookPostInstall, release.HookPreDelete,
		release.HookPostDelete, release.HookPreUpgrade, release.HookPostUpgrade, release.HookPreRollback,
		release.HookPostRollback, release.HookTest} {
		m[string(e)] = string(e)
	}
	return m
}()

// kindOrder compares kinds as Helm orders them: kinds in the list by
// their place in it, then kinds not in it, alphabetically.
func kindOrder(list releaseutil.KindSortOrder) func(a, b string) int {
	rank := make(map[string]int, len(list))
	for i, k := range list {
		rank[k] = i
	}
	return func(a, b string) int {
		ra, aok := rank[a]
		rb, bok := rank[b]
		switch {
		case aok && bok:
			return ra - rb
		case aok:
			return -1
		case bok:
			return 1
		default:
			return strings.Compare(a, b)
		}
	}
}

// helmDocuments splits a rendered template into documents exactly as
// Helm's SplitManifests does (a line that begins with "---" starts a new
// document, and what follows the dashes on that line belongs to it; each
// document trimmed; empty ones dropped), without its regular expression.
func helmDocuments(s string) []string {
	var docs []string
	add := func(d string) {
		if d = strings.TrimSpace(d); d != "" {
			docs = append(docs, d)
		}
	}
	s = strings.TrimSpace(s)
	start := 0
	if strings.HasPrefix(s, "---") {
		start = 3
	}
	for i := start; ; {
		j := strings.Index(s[i:], "\n---")
		if j < 0 {
			add(s[start:])
			return docs
		}
		add(s[start : i+j])
		start = i + j + 4
		i = start
	}
}

// document is one YAML document of a rendered chart: from a template, or
// from a file in crds/.
type document struct {
	file string
	data []byte
	crd  bool
	// obj, when set, is the document already decoded.
	obj *unstructured.Unstructured
}

// decodedCRDs keeps the objects of chart crds/ files by the digest of the
// file, up to 32 MiB of YAML: a chart rendered again (another release, a
// changed value, another cluster path) does not decode its CRDs again.
// What is kept is never handed out, only copies.
var decodedCRDs = memo.New[[sha256.Size]byte, []*unstructured.Unstructured](32 << 20)

// parallelDecodeBytes is how much YAML makes decodeDocuments use more
// than one goroutine.
const parallelDecodeBytes = 256 << 10

// decodeDocuments decodes docs in order, using up to GOMAXPROCS goroutines
// when they are large. The error is that of the first document that fails,
// naming its file.
func decodeDocuments(docs []document) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, len(docs))
	errs := make([]error, len(docs))
	decode := func(i int) {
		if docs[i].obj != nil {
			out[i] = docs[i].obj
			return
		}
		out[i], errs[i] = decodeObject(docs[i].data)
	}
	size := 0
	for _, d := range docs {
		size += len(d.data)
	}
	if workers := runtime.GOMAXPROCS(0); size < parallelDecodeBytes || workers == 1 {
		for i := range docs {
			decode(i)
			if errs[i] != nil {
				break
			}
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(docs); i = int(next.Add(1) - 1) {
					decode(i)
				}
			})
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		if docs[i].crd {
			return nil, fmt.Errorf("%s: %w", docs[i].file, err)
		}
		return nil, fmt.Errorf("YAML parse error on %s: %w", docs[i].file, err)
	}
	return out, nil
}
