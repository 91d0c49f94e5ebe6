// Command cli is a small gitopskit command line built only on the public
// packages — proof that other Go tools can embed the whole loop:
//
//	cli render    -dir ~/fleet -path clusters/dev [-unit ID]       objects as YAML, by unit (Secrets masked)
//	cli graph     -dir ~/fleet -path clusters/dev [-format mermaid|dot|svg|json]
//	cli plan      -dir ~/fleet -path clusters/dev                  dry-run diff against the cluster (flux diff)
//	cli reconcile -dir ~/fleet -path clusters/dev [-unit ID [-with-dependencies]]
//	cli status    -dir ~/fleet -path clusters/dev [-format svg]    what the cluster holds (flux get); svg: the graph coloured by it
//	cli run       -git https://… -path clusters/dev -interval 5m   reconcile on an interval, printing status changes
//
// -dir reads a working tree as it is (uncommitted changes included);
// -git URL [-branch B] fetches a Git repository instead. -mirror FROM=TO
// (repeatable) rewrites source URLs, e.g. a Helm repository to a local
// directory. The cluster comes from -kubeconfig, or $KUBECONFIG and
// ~/.kube/config as kubectl finds them. Inventories live in the
// gitopskit-system namespace under -name (default "gitopskit"): give each
// repository and path reconciled into one cluster its own name, since units
// in the inventory that are no longer in the repository are pruned.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/render/sops"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/statuspage"
)

const usage = `usage: cli <command> [flags]

commands:
  render     print every rendered object as YAML, by unit (no cluster needed)
  graph      print the unit graph as mermaid, dot, svg or json (no cluster needed)
  plan       dry-run against the cluster and print what would change
  reconcile  apply the repository (or one unit) to the cluster and prune
  status     print each unit's state in the cluster (or -format svg: the graph coloured by it)
  run        reconcile on an interval and print status changes

Run "cli <command> -h" for its flags.
`

func main() {
	// controller-runtime's client (inside apply) warns when no logger is set.
	ctrllog.SetLogger(logr.Discard())
	// client-go's own log lines (throttling notes, say) are not the cli's.
	klog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A render or a wait that does not see the cancellation in time
		// does not keep the process: everything applied is already safe in
		// the inventory (old ∪ new is recorded first).
		<-ctx.Done()
		time.Sleep(5 * time.Second)
		fmt.Fprintln(os.Stderr, "cli: interrupted")
		os.Exit(130)
	}()
	err := run(ctx, os.Args[1:], os.Stdout)
	if err == nil && ctx.Err() != nil {
		err = errors.New("interrupted")
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "cli:", err)
		}
		os.Exit(1)
	}
}

// options are the flags every command shares.
type options struct {
	dir, gitURL, branch, path string
	mirrors                   source.Mirrors
	kubeconfig, name          string
	kubeVersion               string
	allowLocalGit             bool
	strictSubst               bool
	remoteBases               bool
	noCrossNamespace          bool
	ignoreUnimplemented       bool
	decryptionKeys            map[string][]byte
	defaultSA                 string
	// command-specific
	unit, format string
	withDeps     bool
	ignoreFlux   bool
	allowEmpty   bool
	listen       string
	retry        bool
	takeOver     bool
	interval     time.Duration
}

// syncWriter serialises writes: apply events come from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func run(ctx context.Context, args []string, w io.Writer) error {
	out := &syncWriter{w: w}
	if len(args) == 0 {
		fmt.Fprint(out, usage)
		return errors.New("no command")
	}
	cmd := args[0]
	o := options{mirrors: source.Mirrors{}}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.dir, "dir", "", "repository working tree (default: the current directory, unless -git)")
	fs.StringVar(&o.gitURL, "git", "", "Git repository URL to fetch instead of -dir")
	fs.StringVar(&o.branch, "branch", "", "Git branch (default: the remote's HEAD)")
	fs.StringVar(&o.path, "path", "", "path of the root Kustomization in the repository, e.g. clusters/dev")
	fs.Var(o.mirrors, "mirror", "rewrite a source URL prefix, FROM=TO (repeatable)")
	fs.BoolVar(&o.remoteBases, "allow-remote-bases", false, "let kustomize fetch remote bases (refused otherwise: a render makes no network access but through sources and mirrors)")
	fs.BoolVar(&o.strictSubst, "strict-substitution", false, "fail a unit whose postBuild ${var} has no value and no default")
	fs.BoolVar(&o.ignoreUnimplemented, "ignore-unimplemented", false, "render units using Flux fields gitopskit does not implement that change what is applied (decryption, kubeConfig, a source's verify), with a warning, instead of failing them")
	fs.BoolVar(&o.noCrossNamespace, "no-cross-namespace-refs", false, "fail a unit whose sourceRef, chartRef or dependsOn names another namespace (Flux's lockdown flag)")
	fs.BoolVar(&o.allowLocalGit, "allow-local-git", false, "let GitRepositories name local paths or file:// URLs (Flux allows only http, https and ssh)")
	fs.StringVar(&o.kubeVersion, "kube-version", "", "Kubernetes version Helm charts render for (default: the cluster's, or "+render.DefaultKubeVersion+" with no cluster)")
	switch cmd {
	case "render":
		fs.StringVar(&o.unit, "unit", "", "print only this unit (Kind/namespace/name)")
	case "graph":
		fs.StringVar(&o.format, "format", "mermaid", "mermaid, dot, svg or json")
	case "reconcile":
		fs.StringVar(&o.unit, "unit", "", "reconcile only this unit (Kind/namespace/name)")
		fs.BoolVar(&o.withDeps, "with-dependencies", false, "with -unit: also reconcile what the unit depends on")
	case "run":
		fs.DurationVar(&o.interval, "interval", 10*time.Minute, "time between reconciles")
		fs.StringVar(&o.listen, "listen", "", "serve a live status page at this address, e.g. :8080")
	case "status":
		fs.StringVar(&o.format, "format", "text", "text, or svg: the unit graph coloured by each unit's state in the cluster")
	case "plan":
	default:
		fmt.Fprint(out, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if cmd != "render" && cmd != "graph" {
		fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
		fs.BoolVar(&o.ignoreFlux, "ignore-flux-install", false, "leave out flux-system/gotk-components.yaml (Flux's own installation, as flux bootstrap writes it)")
		fs.StringVar(&o.name, "name", "gitopskit", "name of this repository's inventories in the cluster; one per repository and path")
		fs.BoolVar(&o.allowEmpty, "allow-empty", false, "let a unit whose render comes back empty prune everything it applied (refused otherwise)")
		fs.BoolVar(&o.retry, "retry-releases", false, "try again HelmReleases that failed as often as their remediation.retries allow (as flux reconcile --force)")
		fs.BoolVar(&o.takeOver, "take-over", false, "use inventories another repository or path reconciled into under this -name (refused otherwise)")
		fs.StringVar(&o.defaultSA, "default-service-account", "", "apply units without spec.serviceAccountName as this ServiceAccount of their namespace (Flux's lockdown flag); the root stays yours")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %v", cmd, fs.Args())
	}
	src, err := o.source()
	if err != nil {
		return err
	}
	// SOPS age keys, as the sops tool finds them, for units with
	// spec.decryption (added to their decryption Secret's).
	if f := os.Getenv("SOPS_AGE_KEY_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("SOPS_AGE_KEY_FILE: %w", err)
		}
		o.decryptionKeys = map[string][]byte{"SOPS_AGE_KEY_FILE.agekey": b}
	}
	switch cmd {
	case "render", "graph":
		return offline(ctx, cmd, o, src, out)
	}
	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	var ignore func(render.Object) bool
	if o.ignoreFlux {
		ignore = gitopskit.IgnoreFluxInstall
	}
	r, err := gitopskit.New(gitopskit.Options{
		Ignore: ignore, TakeOver: o.takeOver, DefaultServiceAccount: o.defaultSA,
		Source: src, Path: o.path, Config: cfg, Interval: o.interval, Name: o.name,
		Load:  render.LoadOptions{Mirrors: o.mirrors, KubeVersion: o.kubeVersion, AllowLocalGit: o.allowLocalGit, StrictSubstitution: o.strictSubst, AllowRemoteBases: o.remoteBases, NoCrossNamespaceRefs: o.noCrossNamespace, IgnoreUnimplemented: o.ignoreUnimplemented, DecryptionKeys: o.decryptionKeys, Decryptor: sops.Decryptor{}},
		Apply: apply.Options{Events: printEvent(out), AllowEmpty: o.allowEmpty, RetryReleases: o.retry},
	})
	if err != nil {
		return err
	}
	switch cmd {
	case "plan":
		p, err := r.Plan(ctx)
		if err != nil {
			return err
		}
		fmt.Fprint(out, p)
		return nil
	case "status":
		st, err := r.Observe(ctx)
		switch o.format {
		case "text":
			fmt.Fprint(out, st)
			return err
		case "svg":
			if err != nil {
				return err
			}
			g, err := load(ctx, o, src)
			if err != nil {
				return err
			}
			return writeSVG(ctx, out, g, statuspage.States(st))
		}
		return fmt.Errorf("unknown format %q (text or svg)", o.format)
	case "reconcile":
		var res *gitopskit.Result
		if o.unit != "" {
			depth := gitopskit.UnitOnly
			if o.withDeps {
				depth = gitopskit.WithDependencies
			}
			res, err = r.ReconcileUnit(ctx, o.unit, depth)
		} else {
			res, err = r.Reconcile(ctx)
		}
		fmt.Fprintf(out, "\n%s", r.Status())
		if err != nil {
			return err
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(out, "warning: %s\n", w)
		}
		return res.Err()
	case "run":
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		if o.listen != "" {
			ln, err := net.Listen("tcp", o.listen)
			if err != nil {
				return fmt.Errorf("-listen: %w", err)
			}
			srv := &http.Server{Handler: statuspage.Handler(r, statuspage.Options{Title: o.path}), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			fmt.Fprintf(out, "status page: http://%s/\n", ln.Addr())
		}
		printed := make(chan struct{})
		go func() {
			defer close(printed)
			for s := range r.Watch(ctx) {
				fmt.Fprintf(out, "%s  %-7s %s  %s\n", time.Now().Format(time.TimeOnly), s.Ready, s.ID, s.Message)
			}
		}()
		err := r.Run(ctx)
		stop()
		<-printed // the watch ends with ctx; nothing prints after run returns
		return err
	}
	return nil
}

func (o options) source() (source.Source, error) {
	switch {
	case o.gitURL != "" && o.dir != "":
		return nil, errors.New("give -dir or -git, not both")
	case o.gitURL != "":
		return source.NewGit(o.mirrors.Rewrite(o.gitURL), source.GitOptions{Ref: source.GitRef{Branch: o.branch}}), nil
	case o.dir != "":
		return source.NewDir(o.dir, source.DirOptions{}), nil
	}
	return source.NewDir(".", source.DirOptions{}), nil
}

// offline renders the repository with no cluster: render and graph.
func offline(ctx context.Context, cmd string, o options, src source.Source, out io.Writer) error {
	g, err := load(ctx, o, src)
	if err != nil {
		return err
	}
	if cmd == "render" {
		units := g.Units
		if o.unit != "" {
			u := g.Unit(o.unit)
			if u == nil {
				return fmt.Errorf("no unit %s", o.unit)
			}
			units = []*render.Unit{u}
		}
		return printYAML(out, units)
	}
	switch o.format {
	case "json":
		return printGraph(out, g, g.Units)
	case "svg":
		return writeSVG(ctx, out, g, renderStates(g))
	case "mermaid", "dot":
		ug, err := unitGraph(g)
		if err != nil {
			return err
		}
		if o.format == "dot" {
			return ug.WriteDOT(out)
		}
		return ug.WriteMermaid(out)
	}
	return fmt.Errorf("unknown format %q (mermaid, dot, svg or json)", o.format)
}

// load renders the repository offline.
func load(ctx context.Context, o options, src source.Source) (*render.Graph, error) {
	art, err := src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	// The cli only reads what it renders: a shared cache lets the
	// renderers share what they decode once (a chart's CRDs) with the
	// results instead of copying it.
	return render.Load(ctx, art, o.path, render.LoadOptions{Cache: render.NewSharedCache(0), Mirrors: o.mirrors, KubeVersion: o.kubeVersion, AllowLocalGit: o.allowLocalGit, StrictSubstitution: o.strictSubst, AllowRemoteBases: o.remoteBases, NoCrossNamespaceRefs: o.noCrossNamespace, IgnoreUnimplemented: o.ignoreUnimplemented, DecryptionKeys: o.decryptionKeys, Decryptor: sops.Decryptor{}})
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
}

// printEvent prints apply progress as it happens, objects indented under
// their unit (unchanged ones left out).
func printEvent(out io.Writer) func(apply.Event) {
	return func(e apply.Event) {
		switch {
		case e.Type == apply.ObjectApplied && e.Action == "unchanged":
		case e.Type == apply.ObjectApplied || e.Type == apply.ObjectPruned:
			fmt.Fprintf(out, "    %s\n", e)
		default:
			fmt.Fprintln(out, e)
		}
	}
}
