// Command quickstart is gitopskit's main job in one program: it creates a
// local Git repository holding a Flux fleet (an operator chart that installs
// a CRD and its controller, a database chart, a custom resource of that CRD,
// and an application as a Kustomize base with a dev overlay), reconciles it
// into a cluster showing each step, prints the order units were applied in
// and the status table, then commits a change that removes an object,
// reconciles again and shows the prune.
//
// With no -kubeconfig it starts a local control plane (a real kube-apiserver
// and etcd, built from Go modules on first use) and, since that control
// plane runs no controllers or kubelets, a stand-in that marks Deployments
// and StatefulSets available the way their controllers would. With
// -kubeconfig it uses that cluster, where real controllers do that work.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

func main() {
	// A FlagSet of its own: controller-runtime registers -kubeconfig on the
	// global one when it is imported.
	fs := flag.NewFlagSet("quickstart", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster to use; empty starts a local control plane")
	_ = fs.Parse(os.Args[1:])
	// controller-runtime's client (inside apply) warns when no logger is set.
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard()) // client-go's own log lines
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kubeconfig, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig string, out io.Writer) (err error) {
	cfg, stop, err := connect(ctx, kubeconfig, out)
	if err != nil {
		return err
	}
	defer func() {
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
	}()

	work, err := os.MkdirTemp("", "gitopskit-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	repoDir, chartsDir := filepath.Join(work, "fleet"), filepath.Join(work, "charts")
	if err := fleet.Write(chartsDir, fleet.Charts()); err != nil {
		return err
	}
	repo, err := git.PlainInitWithOptions(repoDir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		return err
	}
	head, err := commit(repo, repoDir, fleet.Repo(), "fleet: infrastructure, dependency, application")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Git repository %s, commit %s, root path %s\n", repoDir, head[:12], fleet.Path)
	fmt.Fprintf(out, "   Helm repository %s mirrored from %s\n", fleet.ChartsURL, chartsDir)

	p := &progress{out: out}
	r, err := gitopskit.New(gitopskit.Options{
		Name:   "quickstart",
		Source: source.NewGit(repoDir, source.GitOptions{CacheDir: filepath.Join(work, "cache", "git")}),
		Path:   fleet.Path,
		Config: cfg,
		Load: render.LoadOptions{
			Mirrors:  source.Mirrors{fleet.ChartsURL: "file://" + chartsDir},
			CacheDir: filepath.Join(work, "cache"),
		},
		Apply: apply.Options{Events: p.event, Timeout: 5 * time.Minute},
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== Reconcile 1\n")
	res, err := r.Reconcile(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nApplied in this order (each unit once what it needs was ready):\n")
	for i, id := range p.takeOrder() {
		fmt.Fprintf(out, "  %d. %s\n", i+1, id)
	}
	fmt.Fprintf(out, "\n%s", r.Status())
	if err := res.Err(); err != nil {
		return err
	}

	head, err = commit(repo, repoDir, fleet.RemoveFeatureFlags(), "apps/dev: drop the feature-flags ConfigMap")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Commit %s removes %s; reconcile 2\n", head[:12], fleet.FeatureFlags)
	res, err = r.Reconcile(ctx)
	if err != nil {
		return err
	}
	p.takeOrder()
	fmt.Fprintf(out, "\n%s", r.Status())
	if err := res.Err(); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().ConfigMaps("web-dev").Get(ctx, "feature-flags", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("ConfigMap web-dev/feature-flags should be gone from the cluster (get: %v)", err)
	}
	fmt.Fprintf(out, "\nConfigMap web-dev/feature-flags is gone from the cluster.\n")
	for _, s := range r.Status() {
		if s.Ready != gitopskit.ReadyTrue {
			return fmt.Errorf("%s is not Ready: %s", s.ID, s.Message)
		}
	}
	fmt.Fprintf(out, "Every unit is Ready at %s.\n", head[:12])
	return nil
}

// connect returns the cluster to use: the kubeconfig's, or a local control
// plane started here with a stand-in for workload controllers.
func connect(ctx context.Context, kubeconfig string, out io.Writer) (*rest.Config, func() error, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(out, "cluster: %s (from %s)\n", cfg.Host, kubeconfig)
		return cfg, func() error { return nil }, nil
	}
	fmt.Fprintln(out, "starting a local control plane (kube-apiserver + etcd; the first run builds them from Go modules, ~10 min)...")
	env, err := testenv.Start(ctx, testenv.Options{Out: os.Stderr})
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "cluster: %s (kubeconfig %s)\n", env.Config.Host, env.Kubeconfig)
	fmt.Fprintln(out, "note: this control plane runs no kubelet or controllers; a stand-in marks Deployments and StatefulSets available as their controllers would")
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = testenv.RunWorkloadStatus(wctx, env.Config)
	}()
	return env.Config, func() error {
		cancel()
		wg.Wait()
		fmt.Fprintln(out, "stopping the local control plane")
		return env.Stop()
	}, nil
}

// commit writes files into the work tree (an empty content deletes the
// file) and commits everything.
func commit(repo *git.Repository, dir string, files map[string]string, msg string) (string, error) {
	if err := fleet.Write(dir, files); err != nil {
		return "", err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return "", err
	}
	h, err := wt.Commit(msg, &git.CommitOptions{
		All:    true,
		Author: &object.Signature{Name: "quickstart", Email: "quickstart@gitopskit.dev", When: time.Now()},
	})
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// progress prints apply events as they happen and remembers the order in
// which units became ready.
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	order []string
}

func (p *progress) event(e apply.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case e.Type == apply.ObjectApplied && e.Action == "unchanged":
	case e.Type == apply.ObjectApplied || e.Type == apply.ObjectPruned:
		fmt.Fprintf(p.out, "    %s\n", e)
	default:
		fmt.Fprintln(p.out, e)
	}
	if e.Type == apply.UnitReady {
		p.order = append(p.order, e.Unit)
	}
}

func (p *progress) takeOrder() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := slices.Clone(p.order)
	p.order = nil
	return o
}
