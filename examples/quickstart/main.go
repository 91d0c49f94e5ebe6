// Command quickstart is gitopskit's main job in one program. With no
// -kubeconfig it starts a local control plane (a real kube-apiserver and
// etcd, built from Go modules on first use) and connects to it; with
// -kubeconfig it connects to that cluster instead.
//
// Until the Reconciler lands it checks the connection: it prints the server
// version and, for the local control plane, the kubeconfig path, then stops
// the control plane cleanly.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

func main() {
	// A FlagSet of its own: controller-runtime registers -kubeconfig on the
	// global one when it is imported.
	fs := flag.NewFlagSet("quickstart", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster to use; empty starts a local control plane")
	_ = fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig string) (err error) {
	var cfg *rest.Config
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return err
		}
		fmt.Printf("cluster: %s (from %s)\n", cfg.Host, kubeconfig)
	} else {
		fmt.Println("starting a local control plane (kube-apiserver + etcd)...")
		env, err := testenv.Start(ctx, testenv.Options{Out: os.Stderr})
		if err != nil {
			return err
		}
		defer func() {
			fmt.Println("stopping the local control plane")
			if serr := env.Stop(); serr != nil && err == nil {
				err = serr
			}
		}()
		cfg = env.Config
		fmt.Printf("cluster: %s\nkubeconfig: %s\n", cfg.Host, env.Kubeconfig)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return fmt.Errorf("server version: %w", err)
	}
	fmt.Printf("server version: %s\n", v.GitVersion)
	return nil
}
