package gitopstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

// Options say which repository to load and what the checks allow.
type Options struct {
	// Dir is the repository's directory (a working tree: nothing needs
	// to be committed) and Path the root path Flux reconciles, e.g.
	// "clusters/prod". Both are required.
	Dir, Path string
	// Mirrors point the repository's Git, Helm and OCI sources at local
	// copies, so the load needs no network (source.Mirrors).
	Mirrors source.Mirrors
	// KubeVersion is the Kubernetes version charts render for
	// (render.DefaultKubeVersion when empty).
	KubeVersion string
	// Preinstalled are kinds the cluster serves without a CRD any unit
	// applies (installed out of band); Flux's own kinds always are.
	Preinstalled []dag.GroupKind
	// AllowWarnings are substrings of unit warnings that are expected;
	// CheckRenders reports every other warning.
	AllowWarnings []string
	// AllowShared lists objects (as dag.ObjectRef prints them:
	// "ConfigMap/default/shared") that several units may render.
	AllowShared []string
	// StrictSharing reports every object two units render; without it
	// only those they render differently, which would change back and
	// forth at every reconcile (the same Namespace held by two overlays is
	// fine).
	StrictSharing bool
	// Load sets further render options (values from outside the
	// repository, decryption keys, ...); Mirrors and KubeVersion above
	// take precedence.
	Load render.LoadOptions
}

// Repo is a repository rendered offline, ready to check. It is read-only:
// its methods may run in parallel tests.
type Repo struct {
	// Graph is every unit as rendered; Units the same for package dag.
	Graph *render.Graph
	Units []dag.Unit
	opts  Options
	// defined is the file that defines each unit (its Flux object's).
	defined map[string]string
	// file is the file each unit's objects come from, by unit and object.
	file map[string]map[dag.ObjectRef]string
}

// Load renders the repository Options name, failing the test when it
// cannot be loaded at all (a unit that does not render is CheckRenders'
// to report). It uses t's context.
func Load(t testing.TB, opts Options) *Repo {
	t.Helper()
	r, err := New(t.Context(), opts)
	if err != nil {
		t.Fatalf("gitopstest: %v", err)
	}
	return r
}

// New renders the repository Options name: Load without a test, to load
// once for many (e.g. in TestMain or a sync.OnceValues).
func New(ctx context.Context, opts Options) (*Repo, error) {
	if opts.Dir == "" || opts.Path == "" {
		return nil, errors.New("Options.Dir and Options.Path are required")
	}
	art, err := source.NewDir(opts.Dir, source.DirOptions{}).Fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", opts.Dir, err)
	}
	lo := opts.Load
	if opts.Mirrors != nil {
		lo.Mirrors = opts.Mirrors
	}
	if opts.KubeVersion != "" {
		lo.KubeVersion = opts.KubeVersion
	}
	g, err := render.Load(ctx, art, opts.Path, lo)
	if err != nil {
		return nil, fmt.Errorf("rendering %s of %s: %w", opts.Path, opts.Dir, err)
	}
	units, err := g.DagUnits()
	if err != nil {
		return nil, err
	}
	r := &Repo{Graph: g, Units: units, opts: opts, defined: map[string]string{}, file: map[string]map[dag.ObjectRef]string{}}
	refs := map[dag.ObjectRef]string{}
	for _, u := range g.Units {
		refs[u.Ref] = u.ID
		files := map[dag.ObjectRef]string{}
		for _, o := range u.Objects {
			files[dag.RefOf(o.Unstructured)] = o.Provenance.File
		}
		r.file[u.ID] = files
	}
	// A unit is defined by its Flux object, which its parent rendered.
	for _, u := range g.Units {
		for ref, f := range r.file[u.ID] {
			if id, ok := refs[ref]; ok && f != "" {
				r.defined[id] = f
			}
		}
	}
	if root := g.Unit(render.RootID); root != nil {
		r.defined[root.ID] = opts.Path
	}
	return r, nil
}

// unitName is how a report names a unit: its ID and the file that defines
// it.
func (r *Repo) unitName(id string) string {
	if f := r.defined[id]; f != "" {
		return fmt.Sprintf("%s (%s)", id, f)
	}
	return id
}

// objectName is how a report names an object of a unit: its reference and
// the file it comes from.
func (r *Repo) objectName(unit string, ref dag.ObjectRef) string {
	if f := r.file[unit][ref]; f != "" {
		return fmt.Sprintf("%s (%s)", ref, f)
	}
	return ref.String()
}

// dagOptions are the ordering options the checks use: Flux's kinds and
// Options.Preinstalled are served without a CRD.
func (r *Repo) dagOptions() dag.Options {
	return dag.Options{Preinstalled: append(render.FluxKinds(), r.opts.Preinstalled...)}
}

// CheckRenders reports every unit that did not render, and every warning
// of a unit that Options.AllowWarnings does not allow.
func (r *Repo) CheckRenders(t testing.TB) {
	t.Helper()
	for _, u := range r.Graph.Units {
		if u.Err != nil {
			t.Errorf("%s: does not render: %v", r.unitName(u.ID), u.Err)
		}
		for _, w := range u.Warnings {
			if !slices.ContainsFunc(r.opts.AllowWarnings, func(a string) bool { return strings.Contains(w, a) }) {
				t.Errorf("%s: warning: %s (allow it with Options.AllowWarnings if it is expected)", r.unitName(u.ID), w)
			}
		}
	}
}

// CheckNoCycles reports a dependency cycle, with every edge of it.
func (r *Repo) CheckNoCycles(t testing.TB) {
	t.Helper()
	for _, p := range dag.Check(r.Units, r.dagOptions()) {
		if p.Kind == dag.ProblemCycle {
			t.Errorf("%s: %s", r.unitName(p.Unit), p.Message)
		}
	}
}

// CheckCRDs reports every custom resource whose kind neither the cluster
// serves already (Flux's kinds, Options.Preinstalled) nor a CRD of its own
// unit or of a unit applied before it defines — explicitly through
// dependsOn, or through the CRD-before-custom-resource order gitopskit
// infers.
func (r *Repo) CheckCRDs(t testing.TB) {
	t.Helper()
	// A dependsOn that names no unit is CheckReferences' to report; it
	// changes no order here.
	known := map[string]bool{}
	for _, u := range r.Units {
		known[u.ID] = true
	}
	units := slices.Clone(r.Units)
	for i := range units {
		units[i].DependsOn = slices.DeleteFunc(slices.Clone(units[i].DependsOn), func(d string) bool { return !known[d] })
	}
	g, err := dag.Build(units, r.dagOptions())
	if err != nil {
		t.Errorf("gitopstest: the units do not order, so CRDs cannot be checked: %v", err)
		return
	}
	producers := map[dag.GroupKind][]string{}
	for _, u := range r.Units {
		for _, o := range u.Objects {
			if o.Defines != nil {
				producers[*o.Defines] = append(producers[*o.Defines], u.ID)
			}
		}
	}
	for _, p := range g.Problems {
		if p.Kind == dag.ProblemMissingCRD {
			t.Errorf("%s: %s: %s", r.unitName(p.Unit), r.objectName(p.Unit, refOfProblem(r.Units, p)), p.Message)
		}
	}
	for _, u := range r.Units {
		ancestors := g.Ancestors(u.ID)
		for _, o := range u.Objects {
			ps := producers[o.GroupKind()]
			if len(ps) == 0 || slices.Contains(ps, u.ID) || slices.ContainsFunc(ps, func(p string) bool { return slices.Contains(ancestors, p) }) {
				continue
			}
			t.Errorf("%s: %s: its CRD comes from %s, which is not applied before it", r.unitName(u.ID), r.objectName(u.ID, o.ObjectRef), strings.Join(ps, ", "))
		}
	}
}

// refOfProblem finds the object a dag problem names in its unit.
func refOfProblem(units []dag.Unit, p dag.Problem) dag.ObjectRef {
	for _, u := range units {
		if u.ID != p.Unit {
			continue
		}
		for _, o := range u.Objects {
			if o.ObjectRef.String() == p.Object {
				return o.ObjectRef
			}
		}
	}
	return dag.ObjectRef{Kind: p.Object}
}

// CheckNoSharedObjects reports objects several units render — those they
// render differently, or with Options.StrictSharing all of them — unless
// Options.AllowShared lists them.
func (r *Repo) CheckNoSharedObjects(t testing.TB) {
	t.Helper()
	type claim struct {
		unit string
		obj  render.Object
	}
	claims := map[dag.ObjectRef][]claim{}
	var order []dag.ObjectRef
	for _, u := range r.Graph.Units {
		for _, o := range u.Objects {
			ref := dag.RefOf(o.Unstructured)
			if len(claims[ref]) == 0 {
				order = append(order, ref)
			}
			claims[ref] = append(claims[ref], claim{u.ID, o})
		}
	}
	for _, ref := range order {
		cs := claims[ref]
		if len(cs) < 2 || slices.Contains(r.opts.AllowShared, ref.String()) {
			continue
		}
		differ := false
		for _, c := range cs[1:] {
			if !equalObjects(cs[0].obj, c.obj) {
				differ = true
			}
		}
		if !differ && !r.opts.StrictSharing {
			continue
		}
		var by []string
		for _, c := range cs {
			by = append(by, fmt.Sprintf("%s from %s", r.unitName(c.unit), orUnknown(c.obj.Provenance.File)))
		}
		how := "the same"
		if differ {
			how = "differently (each reconcile would change it back and forth)"
		}
		t.Errorf("%s is rendered %s by %d units: %s (allow it with Options.AllowShared)", ref, how, len(cs), strings.Join(by, "; "))
	}
}

func orUnknown(file string) string {
	if file == "" {
		return "a generator"
	}
	return file
}

// CheckReferences reports every dependsOn naming no unit, every health
// check naming an object no unit renders (or that can never be
// satisfied), and every unit whose sourceRef, chartRef or chart sourceRef
// names a source the repository does not define.
func (r *Repo) CheckReferences(t testing.TB) {
	t.Helper()
	for _, p := range dag.Check(r.Units, r.dagOptions()) {
		switch p.Kind {
		case dag.ProblemMissingUnit, dag.ProblemHealthCheck, dag.ProblemUnknownObject:
			t.Errorf("%s: %s", r.unitName(p.Unit), p.Message)
		}
	}
	for _, u := range r.Graph.Units {
		if errors.Is(u.Err, render.ErrNoSource) {
			t.Errorf("%s: %v", r.unitName(u.ID), u.Err)
		}
	}
}

// Policy is a rule of the caller's over each object a unit renders: a
// non-nil error is a violation, reported with the unit and the object.
type Policy func(u *render.Unit, o render.Object) error

// CheckPolicy runs each policy over every object of every unit.
func (r *Repo) CheckPolicy(t testing.TB, policies ...Policy) {
	t.Helper()
	for _, u := range r.Graph.Units {
		for _, o := range u.Objects {
			for _, p := range policies {
				if err := p(u, o); err != nil {
					t.Errorf("%s: %s: %v", r.unitName(u.ID), r.objectName(u.ID, dag.RefOf(o.Unstructured)), err)
				}
			}
		}
	}
}

// CheckAll runs every check, and the policies given.
func (r *Repo) CheckAll(t testing.TB, policies ...Policy) {
	t.Helper()
	r.CheckRenders(t)
	r.CheckNoCycles(t)
	r.CheckCRDs(t)
	r.CheckNoSharedObjects(t)
	r.CheckReferences(t)
	r.CheckPolicy(t, policies...)
}
