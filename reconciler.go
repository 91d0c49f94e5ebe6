package gitopskit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"helm.sh/helm/v3/pkg/action"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/apply/helmrelease"
	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/internal/kubeclient"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/render/sops"
	"github.com/gitopskit/gitopskit/source"
)

// DefaultNamespace is where a Reconciler keeps its inventories when
// Options.Apply.Store is not set.
const DefaultNamespace = "gitopskit-system"

// Options configure a Reconciler. Source and Config are required; the rest
// have working defaults.
type Options struct {
	// Source fetches the repository: source.NewGit for a remote,
	// source.NewDir for a working tree.
	Source source.Source
	// Name tells Reconcilers that share a cluster apart (default
	// "gitopskit"): it names the default inventory store, and a unit whose
	// inventory is in the store but that is no longer in the repository is
	// pruned — so two Reconcilers of different repositories or paths must
	// not share a Name.
	Name string
	// Path is the root path in the repository, as in a flux bootstrap
	// (e.g. "clusters/dev"); empty is the repository root.
	Path string
	// Config reaches the cluster. One that sets no QPS, Burst or
	// RateLimiter (as a kubeconfig gives it) is not throttled client-side
	// when the server runs Priority and Fairness, and gets Flux's 50/300
	// otherwise; requests carry a "gitopskit/<version>" user agent.
	Config *rest.Config
	// Interval is how often Run reconciles (default 10 minutes), with up
	// to a tenth of it added at random so replicas do not move in step.
	Interval time.Duration
	// Load configures rendering (mirrors, values, caches). ConfigMaps and
	// Secrets that no unit renders and Values lacks (valuesFrom,
	// substituteFrom, a source's secretRef) are read from the cluster, as
	// Flux reads them. Its Cache defaults to a shared one kept by the Reconciler
	// (render.NewSharedCache: the Reconciler only reads rendered
	// objects), so unchanged units are not rendered or copied again; its KubeVersion and APIVersions default to the
	// cluster's (read once, when the first pass renders).
	Load render.LoadOptions
	// Apply configures applying. Its Store defaults to a ConfigMapStore
	// named after Name in DefaultNamespace (created when missing), so
	// pruning works across restarts. Apply.Events still receives every
	// apply event.
	Apply apply.Options
	// Ignore, if set, leaves out of every unit the rendered objects for
	// which it returns true: they are not applied, as if the unit did not
	// render them (so one an earlier run applied is pruned, like anything
	// a unit stops rendering). IgnoreFluxInstall is one for flux
	// bootstrap's gotk-components.yaml. The object it is given is only to
	// be read: it is shared with the render cache.
	Ignore func(render.Object) bool
	// TakeOver lets this Reconciler use a store that another source or
	// root path reconciled into (a repository that moved, say): that one's
	// units this repository lacks are then pruned as removed. Without it
	// such a store is refused and nothing is applied or pruned.
	TakeOver bool
	// DefaultServiceAccount is the ServiceAccount (in the unit's own
	// namespace) a unit that names none in spec.serviceAccountName is
	// applied as, as Flux's --default-service-account lockdown does; empty
	// applies such units with Config's own credentials. The root unit is
	// the Reconciler's own unless it names a service account itself (as
	// flux bootstrap runs flux-system as the controller). Either way a unit
	// that names one is applied, dry-run, waited for and pruned as it
	// (impersonated), so the cluster's RBAC bounds what its path may do.
	// The inventory is always written with Config's credentials.
	DefaultServiceAccount string
	// Logger receives progress; nil is silent.
	Logger *slog.Logger
}

// Reconciler runs the whole GitOps loop: fetch the source, render the
// repository into units (render.Load), order them (dag) and apply them
// (apply), pruning with the inventory. One Reconciler serves one source
// path and one cluster; it is safe for concurrent use, and reconciles one
// pass at a time.
type Reconciler struct {
	opts    Options
	applier *apply.Applier
	log     *slog.Logger

	pass sync.Mutex // one reconcile at a time

	versionOnce sync.Once
	kubeVersion string   // the cluster's, for Helm's .Capabilities
	clusterAPIs []string // what the cluster served when first asked

	mu        sync.Mutex
	last      *source.Artifact // the last artifact fetched
	graph     *render.Graph    // the last graph loaded
	units     []apply.Unit     // what the last full pass applied, for Graph
	status    map[string]UnitStatus
	suspended map[string]bool // suspended by call, not by spec
	watchers  []*watcher
	pending   map[string]Depth // units Trigger asked for ("" is all)
	kick      chan struct{}
}

// New returns a Reconciler. It makes no request until the first reconcile.
func New(opts Options) (*Reconciler, error) {
	if opts.Source == nil {
		return nil, errors.New("gitopskit: Options.Source is required")
	}
	if opts.Config == nil {
		return nil, errors.New("gitopskit: Options.Config is required")
	}
	// Unthrottled against a server with Priority and Fairness, Flux's
	// limits otherwise, when the config sets none (apply.New).
	opts.Config = kubeclient.Config(opts.Config)
	if opts.Name == "" {
		opts.Name = "gitopskit"
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Minute
	}
	if opts.Load.Cache == nil {
		opts.Load.Cache = render.NewSharedCache(0)
	}
	if opts.Load.Decryptor == nil {
		opts.Load.Decryptor = sops.Decryptor{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Apply.Logger == nil {
		opts.Apply.Logger = opts.Logger
	}
	r := &Reconciler{
		opts:      opts,
		log:       log,
		status:    map[string]UnitStatus{},
		suspended: map[string]bool{},
		pending:   map[string]Depth{},
		kick:      make(chan struct{}, 1),
	}
	userEvents := opts.Apply.Events
	applyOpts := opts.Apply
	if applyOpts.Uninstall == nil {
		applyOpts.Uninstall = helmrelease.Uninstall
	}
	if applyOpts.DeleteHooks == nil {
		applyOpts.DeleteHooks = helmrelease.DeleteHooks
	}
	applyOpts.Events = func(e apply.Event) {
		r.onEvent(e)
		if userEvents != nil {
			userEvents(e)
		}
	}
	cs, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return nil, err
	}
	// ConfigMaps and Secrets no unit renders are read from the cluster,
	// after the caller's own values.
	if opts.Load.Values != nil {
		r.opts.Load.Values = chainValues{opts.Load.Values, clusterValues{cs}}
	} else {
		r.opts.Load.Values = clusterValues{cs}
	}
	// Charts render as the install or upgrade the cluster's Helm records
	// call for.
	if r.opts.Load.Releases == nil {
		meta, err := metadata.NewForConfig(opts.Config)
		if err != nil {
			return nil, err
		}
		r.opts.Load.Releases = helmrelease.History{Metadata: meta}
	}
	if applyOpts.Store == nil {
		applyOpts.Store = &lazyNamespaceStore{
			ConfigMapStore: inventory.NewConfigMapStore(cs, DefaultNamespace, opts.Name),
			client:         cs,
		}
	}
	a, err := apply.New(opts.Config, applyOpts)
	if err != nil {
		return nil, err
	}
	r.applier = a
	r.opts.Apply = applyOpts
	return r, nil
}

// Depth says whether reconciling one unit takes what it depends on along.
type Depth int

const (
	// UnitOnly reconciles the unit alone, taking what it depends on as it
	// is in the cluster (the cure for "cannot run one Kustomization at a
	// time").
	UnitOnly Depth = iota
	// WithDependencies reconciles the unit and everything it depends on,
	// explicitly or through the CRDs and Namespaces it needs.
	WithDependencies
)

// Result is the outcome of one reconcile: the applier's result for every
// unit (units skipped because they are suspended or were not selected are
// marked Skipped), with the revision and the graph it came from.
type Result struct {
	apply.Result
	// Revision is the source revision that was reconciled; after a failed
	// fetch it is the last one fetched.
	Revision string
	// SourceErr is why the source could not be fetched this time; the
	// last revision fetched was reconciled instead.
	SourceErr error
	// Graph is the repository as rendered. Its objects are shared with
	// the render cache (render.NewSharedCache, the default): read them,
	// or copy one before changing it.
	Graph *render.Graph
}

// Err joins the errors of the source and of every failed unit; nil means
// everything selected is applied and healthy.
func (r *Result) Err() error {
	var errs []error
	if r.SourceErr != nil {
		errs = append(errs, r.SourceErr)
	}
	for _, u := range r.Units {
		if u.Err != nil {
			errs = append(errs, u.Err)
		} else if u.BlockedBy != "" {
			errs = append(errs, fmt.Errorf("%s: blocked by %s", u.ID, u.BlockedBy))
		}
	}
	return errors.Join(errs...)
}

// Reconcile runs one pass over the whole repository: fetch, render, apply
// every unit that is not suspended, prune, and remove what units that left
// the repository applied. Units whose revision and spec did not change are
// not rendered again and, unless their objects drifted, make no write
// request.
//
// If the source cannot be fetched, the last revision fetched is reconciled
// instead (so drift is still corrected and nothing is pruned for want of a
// source) and the returned error says so, alongside a Result. The error is
// also set when the repository root does not render. Failures of single
// units are in the Result, not the error.
func (r *Reconciler) Reconcile(ctx context.Context) (*Result, error) {
	return r.reconcile(ctx, "", WithDependencies)
}

// ReconcileUnit reconciles one unit, by ID (Kind/namespace/name, as in
// Status), alone or with what it depends on; every other unit is left as it
// is. Like `flux reconcile kustomization <name> --with-source`, it fetches
// the source first.
func (r *Reconciler) ReconcileUnit(ctx context.Context, id string, depth Depth) (*Result, error) {
	if id == "" {
		return nil, errors.New("gitopskit: ReconcileUnit needs a unit ID")
	}
	return r.reconcile(ctx, id, depth)
}

func (r *Reconciler) reconcile(ctx context.Context, only string, depth Depth) (*Result, error) {
	r.pass.Lock()
	defer r.pass.Unlock()
	res, units, err := r.prepare(ctx, only, depth)
	if err != nil {
		return nil, err
	}
	if err := r.claim(ctx); err != nil {
		return nil, errors.Join(err, res.SourceErr)
	}
	out, err := r.applier.Apply(ctx, units)
	if err != nil {
		return nil, errors.Join(err, res.SourceErr)
	}
	res.Result = *out
	for _, w := range out.Warnings {
		r.log.Warn("ordering", "problem", w.String())
	}
	r.record(res.Graph, units, out, res.SourceErr)
	if only == "" {
		r.mu.Lock()
		r.units = units
		r.mu.Unlock()
	}
	return res, res.SourceErr
}

// Graph is the order of the units as the last full reconcile applied
// them: their dependsOn and the edges gitopskit inferred (CRDs before
// custom resources, Namespaces before their objects, readiness). Nil
// before the first reconcile. Draw it with package dag/dagsvg.
func (r *Reconciler) Graph() (*dag.UnitGraph, error) {
	r.mu.Lock()
	units := r.units
	r.mu.Unlock()
	if units == nil {
		return nil, nil
	}
	return r.applier.Graph(units)
}

// Health is what the cluster says, now, of each object a unit last applied
// (its inventory, checked with kstatus): for a dashboard or a status
// command. A unit never applied gives an error wrapping
// inventory.ErrNotFound.
func (r *Reconciler) Health(ctx context.Context, unit string) (*apply.Health, error) {
	return r.applier.Health(ctx, unit)
}

// prepare fetches the source (falling back to the last artifact), renders
// the repository and turns it into the applier's units.
func (r *Reconciler) prepare(ctx context.Context, only string, depth Depth) (*Result, []apply.Unit, error) {
	res := &Result{}
	art, fetchErr := r.opts.Source.Fetch(ctx)
	if ctx.Err() != nil {
		return nil, nil, ctx.Err() // canceled: not a source failure
	}
	r.mu.Lock()
	switch {
	case fetchErr == nil:
		r.last = art
	case r.last != nil:
		art = r.last
		res.SourceErr = fmt.Errorf("source unavailable, reconciling last fetched revision %s: %w", art.Revision, fetchErr)
	}
	r.mu.Unlock()
	if art == nil {
		err := fmt.Errorf("source: %w", fetchErr)
		r.markAll(func(s *UnitStatus) { s.Ready, s.Message = ReadyFalse, "source unavailable: "+fetchErr.Error() })
		return nil, nil, err
	}
	res.Revision = art.Revision
	r.log.Info("fetched", "revision", art.Revision)

	loadOpts := r.opts.Load
	if loadOpts.KubeVersion == "" || loadOpts.APIVersions == nil {
		// Unknown (the cluster unreachable) leaves render's defaults.
		r.versionOnce.Do(func() { r.kubeVersion, r.clusterAPIs, _ = clusterCapabilities(r.opts.Config) })
		if loadOpts.KubeVersion == "" {
			loadOpts.KubeVersion = r.kubeVersion
		}
		if loadOpts.APIVersions == nil {
			loadOpts.APIVersions = r.clusterAPIs
		}
	}
	graph, err := render.Load(ctx, art, r.opts.Path, loadOpts)
	if err != nil {
		err = fmt.Errorf("render %s at %s: %w", r.opts.Path, art.Revision, err)
		r.markAll(func(s *UnitStatus) { s.Ready, s.Message = ReadyFalse, err.Error() })
		return nil, nil, errors.Join(err, res.SourceErr)
	}
	res.Graph = graph
	r.mu.Lock()
	r.graph = graph
	r.mu.Unlock()
	r.log.Info("rendered", "revision", art.Revision, "units", len(graph.Units))

	units, err := r.applyUnits(ctx, graph, only, depth)
	if err != nil {
		return nil, nil, errors.Join(err, res.SourceErr)
	}
	return res, units, nil
}

// Plan is `flux diff`: it fetches and renders the repository as Reconcile
// would and dry-runs every unit that is not suspended against the
// cluster, reporting per object what a reconcile would do (create,
// configure, prune, …) with a diff. Nothing is changed.
func (r *Reconciler) Plan(ctx context.Context) (*apply.Plan, error) {
	_, units, err := r.prepare(ctx, "", WithDependencies)
	if err != nil {
		return nil, err
	}
	return r.applier.Plan(ctx, units)
}

// Observe is `flux get` from another process: it renders the repository
// to know its units, and reads from the cluster what each last applied
// (its inventory and revision) and whether those objects are there and
// Current now. It changes nothing and does not touch Status. A unit never
// applied is Unknown.
func (r *Reconciler) Observe(ctx context.Context) (Status, error) {
	res, units, err := r.prepare(ctx, "", WithDependencies)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	suspended := maps.Clone(r.suspended)
	r.mu.Unlock()
	var out Status
	for _, u := range units {
		s := UnitStatus{ID: u.ID, Ready: ReadyUnknown}
		if ru := res.Graph.Unit(u.ID); ru != nil {
			s.Suspended = ru.Suspended || suspended[u.ID]
		}
		h, err := r.applier.Health(ctx, u.ID)
		switch {
		case errors.Is(err, inventory.ErrNotFound):
			s.Message = "not applied yet"
		case err != nil:
			return nil, err
		case u.Mode == apply.Remove:
			s.Ready, s.Revision, s.Message = ReadyFalse, h.Revision, "no longer in the repository; the next reconcile prunes "+fmt.Sprint(h.Objects)+" objects"
		case h.Ready():
			s.Ready, s.Revision, s.Message = ReadyTrue, h.Revision, "Applied revision: "+h.Revision
		default:
			s.Ready, s.Revision, s.Message = ReadyFalse, h.Revision, h.String()
		}
		if u.Mode == apply.Fail {
			s.Ready, s.Message = ReadyFalse, u.Err.Error()
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b UnitStatus) int { return strings.Compare(a.ID, b.ID) })
	return out, res.SourceErr
}

// lazyNamespaceStore is the default inventory store: it makes sure its
// namespace exists before the first write.
type lazyNamespaceStore struct {
	*inventory.ConfigMapStore
	client kubernetes.Interface
	mu     sync.Mutex
	ready  bool // the namespace exists
}

func (s *lazyNamespaceStore) Save(ctx context.Context, inv *inventory.Inventory) error {
	if err := s.ensureNamespace(ctx); err != nil {
		return err
	}
	return s.ConfigMapStore.Save(ctx, inv)
}

func (s *lazyNamespaceStore) Key(ctx context.Context) ([]byte, error) {
	if err := s.ensureNamespace(ctx); err != nil {
		return nil, err
	}
	return s.ConfigMapStore.Key(ctx)
}

func (s *lazyNamespaceStore) Claim(ctx context.Context, owner string, takeOver bool) error {
	if err := s.ensureNamespace(ctx); err != nil {
		return err
	}
	return s.ConfigMapStore.Claim(ctx, owner, takeOver)
}

func (s *lazyNamespaceStore) ensureNamespace(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	// Read first: a Reconciler starting against a cluster that has the
	// namespace makes no write for it.
	_, err := s.client.CoreV1().Namespaces().Get(ctx, DefaultNamespace, metav1.GetOptions{})
	if err != nil { // not found, or not readable by these credentials: create it
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultNamespace}}
		_, err = s.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: "gitopskit"})
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s for inventories: %w", DefaultNamespace, err)
	}
	s.ready = true
	return nil
}

// claim records this Reconciler's source and root path as the owner of its
// inventory store (inventory.Claimer), and refuses a store another source
// or path holds, unless Options.TakeOver. Before any source was fetched the
// owner is unknown and nothing is checked.
func (r *Reconciler) claim(ctx context.Context) error {
	c, ok := r.opts.Apply.Store.(inventory.Claimer)
	r.mu.Lock()
	last := r.last
	r.mu.Unlock()
	if !ok || last == nil {
		return nil
	}
	if err := c.Claim(ctx, last.URL+"#"+path.Clean("/"+r.opts.Path), r.opts.TakeOver); err != nil {
		var ce *inventory.ClaimedError
		if errors.As(err, &ce) {
			return fmt.Errorf("%w (Options.TakeOver, cli -take-over, to take it over)", err)
		}
		return err
	}
	return nil
}

func clusterCapabilities(cfg *rest.Config) (string, []string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", nil, err
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return "", nil, err
	}
	apis, err := action.GetVersionSet(cs.Discovery())
	if err != nil {
		return v.GitVersion, nil, err
	}
	return v.GitVersion, apis, nil
}

// Teardown deletes everything the Reconciler's units applied, as deleting
// a Flux Kustomization with prune enabled does: every unit in the
// inventory store is pruned (custom resources before their CRDs, objects
// before their Namespaces, within each unit; objects annotated
// gitopskit.dev/prune: disabled are kept) and its inventory removed. The
// source is not read. The store must be able to list its units
// (inventory.Lister), as the default one can.
func (r *Reconciler) Teardown(ctx context.Context) (*Result, error) {
	r.pass.Lock()
	defer r.pass.Unlock()
	lister, ok := r.opts.Apply.Store.(inventory.Lister)
	if !ok {
		return nil, errors.New("gitopskit: Teardown needs an inventory store that can list its units")
	}
	if err := r.claim(ctx); err != nil {
		return nil, err
	}
	ids, err := lister.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list inventories: %w", err)
	}
	units := make([]apply.Unit, len(ids))
	for i, id := range ids {
		units[i] = apply.Unit{ID: id, Mode: apply.Remove}
	}
	out, err := r.applier.Apply(ctx, units)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	for _, u := range out.Units {
		if u.Err == nil {
			r.removeStatus(u.ID)
		}
	}
	r.mu.Unlock()
	return &Result{Result: *out}, nil
}
