package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options configure Start. The zero value works.
type Options struct {
	// Out receives progress lines (building, starting). Nil discards them.
	Out io.Writer
	// StartTimeout bounds the start of each server; zero means one minute.
	StartTimeout time.Duration
}

// Environment is a running control plane.
type Environment struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the same user, for
	// tools such as kubectl. It is removed by Stop.
	Kubeconfig string

	env *envtest.Environment
	dir string
}

// Start builds the binaries if needed and starts kube-apiserver and etcd.
// The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Environment, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	bin, err := Binaries(ctx, out)
	if err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	dir, err := os.MkdirTemp("", "gitopskit-testenv-")
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory:    bin,
		ControlPlaneStartTimeout: timeout,
		ControlPlaneStopTimeout:  timeout,
	}
	// Nothing runs Pods here, so no admission webhook could ever answer: a
	// chart's webhook configuration (cert-manager's, say) would make every
	// object it guards fail with "no endpoints". The API server does not
	// call them, as if each webhook allowed everything.
	te.ControlPlane.GetAPIServer().Configure().Append("disable-admission-plugins", "ValidatingAdmissionWebhook,MutatingAdmissionWebhook")
	cfg, err := te.Start()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: start control plane from %s: %w", bin, err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, te.KubeConfig, 0o600); err != nil {
		_ = te.Stop()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: write kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	return &Environment{Config: cfg, Kubeconfig: kubeconfig, env: te, dir: dir}, nil
}

// Stop stops both servers and removes their data and the kubeconfig file.
func (e *Environment) Stop() error {
	err := e.env.Stop()
	os.RemoveAll(e.dir)
	if err != nil {
		return fmt.Errorf("testenv: stop control plane: %w", err)
	}
	return nil
}
