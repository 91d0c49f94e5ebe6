// Command controller is a Kubernetes controller built with
// controller-runtime and gitopskit: it reconciles Fleet custom resources
// (examples.gitopskit.dev/v1alpha1), each naming a Git repository URL and a
// path, into the cluster it runs in — the Reconciler of package gitopskit
// doing the work, the controller adding what a long-running service needs:
//
//   - leader election, so replicas of one shard never reconcile at once;
//
//   - sharding by the gitopskit.dev/shard label: a replica started with
//     -shard=a watches (and caches) only Fleets labelled
//     gitopskit.dev/shard=a; one with no -shard takes the Fleets without
//     the label. Several shards, each with its own leader, split the work
//     once one process is not enough;
//
//   - a finalizer that prunes everything a Fleet applied when it is
//     deleted, and status conditions kubectl can show.
//
//     go run ./examples/controller -install-crd            # all unlabelled Fleets
//     go run ./examples/controller -shard=a                # only shard a
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/apply"
)

// Config configures a controller process.
type Config struct {
	// Shard is the value of ShardLabel this replica serves ("" serves
	// Fleets without the label).
	Shard string
	// LeaderElection makes replicas of a shard take turns; the lease is
	// gitopskit-fleet-<shard> in LeaderElectionNamespace.
	LeaderElection          bool
	LeaderElectionNamespace string
	// LeaseDuration is how long a lost leader's lease blocks the others
	// (default 15s); renewals happen at a third of it.
	LeaseDuration time.Duration
	// CacheDir holds fetched sources.
	CacheDir string
	// Listen, when set, is where run serves a status page per Fleet.
	Listen string
}

func main() {
	fs := flag.NewFlagSet("controller", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: in-cluster, $KUBECONFIG or ~/.kube/config)")
	var c Config
	fs.StringVar(&c.Shard, "shard", "", "serve Fleets labelled "+ShardLabel+"=<shard> (empty: Fleets without the label)")
	fs.BoolVar(&c.LeaderElection, "leader-elect", true, "elect a leader among the replicas of a shard")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "default", "namespace of the leader election lease")
	installCRD := fs.Bool("install-crd", false, "create or update the Fleet CRD before starting")
	fs.StringVar(&c.Listen, "listen", "", "serve a live status page per Fleet at this address, e.g. :8080 (none when empty)")
	_ = fs.Parse(os.Args[1:])

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kubeconfig, c, *installCRD); err != nil {
		log.Error("controller", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig string, c Config, installCRD bool) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return err
	}
	if installCRD {
		if err := InstallCRD(ctx, cfg); err != nil {
			return err
		}
	}
	mgr, r, err := NewManager(cfg, c)
	if err != nil {
		return err
	}
	if c.Listen != "" {
		ln, err := net.Listen("tcp", c.Listen)
		if err != nil {
			return fmt.Errorf("status pages: %w", err)
		}
		srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	return mgr.Start(ctx)
}

// InstallCRD creates or updates the Fleet CRD and waits until it is served.
func InstallCRD(ctx context.Context, cfg *rest.Config) error {
	a, err := apply.New(cfg, apply.Options{FieldManager: "gitopskit-fleet-controller"})
	if err != nil {
		return err
	}
	crd := newFleet() // any Unstructured will do to decode into
	if err := yaml.Unmarshal(crdYAML, &crd.Object); err != nil {
		return err
	}
	res, err := a.Apply(ctx, []apply.Unit{{ID: "fleet-crd", Objects: []*unstructured.Unstructured{crd}}})
	if err != nil {
		return err
	}
	if u := res.Units[0]; u.Err != nil {
		return u.Err
	}
	return nil
}

// NewManager returns a manager running the Fleet controller for one shard.
func NewManager(cfg *rest.Config, c Config) (ctrl.Manager, *FleetReconciler, error) {
	var sel labels.Selector
	if c.Shard == "" {
		req, err := labels.NewRequirement(ShardLabel, selection.DoesNotExist, nil)
		if err != nil {
			return nil, nil, err
		}
		sel = labels.NewSelector().Add(*req)
	} else {
		req, err := labels.NewRequirement(ShardLabel, selection.Equals, []string{c.Shard})
		if err != nil {
			return nil, nil, err
		}
		sel = labels.NewSelector().Add(*req)
	}
	lease := c.LeaseDuration
	if lease <= 0 {
		lease = 15 * time.Second
	}
	renew, retry := lease*2/3, lease/5
	id := "gitopskit-fleet"
	if c.Shard != "" {
		id += "-" + c.Shard
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			newFleet(): {Label: sel}, // each shard caches only its own Fleets
		}},
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		LeaderElection:                c.LeaderElection,
		LeaderElectionID:              id,
		LeaderElectionNamespace:       c.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &lease,
		RenewDeadline:                 &renew,
		RetryPeriod:                   &retry,
	})
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	r := &FleetReconciler{Client: mgr.GetClient(), Config: cfg, Clientset: cs, CacheDir: c.CacheDir}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("fleet").
		// Several managers may run in one process (the tests run replicas
		// side by side); the name is only used for metrics.
		WithOptions(controller.Options{SkipNameValidation: ptr.To(true)}).
		For(newFleet(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Complete(r)
	if err != nil {
		return nil, nil, fmt.Errorf("fleet controller: %w", err)
	}
	return mgr, r, nil
}
