package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

// runQuickstart runs the program with kubeconfig, checks that it ends with
// every unit Ready and the removed object gone, and returns its output.
func runQuickstart(t *testing.T, ctx context.Context, kubeconfig string) string {
	t.Helper()
	var out bytes.Buffer
	err := run(ctx, kubeconfig, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Applied in this order",
		"NAME ", fleet.WidgetOperator, fleet.Application,
		"ConfigMap/web-dev/feature-flags pruned",
		"ConfigMap web-dev/feature-flags is gone from the cluster.",
		"Every unit is Ready",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	return out.String()
}

func setup(t *testing.T) context.Context {
	t.Helper()
	if os.Getenv(testenv.SkipEnv) == "1" {
		t.Skipf("%s=1", testenv.SkipEnv)
	}
	ctrllog.SetLogger(logr.Discard())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestQuickstart runs README's main command end to end on a local control
// plane of its own, as a newcomer would.
func TestQuickstart(t *testing.T) {
	out := runQuickstart(t, setup(t), "")
	if !strings.Contains(out, "stopping the local control plane") {
		t.Error("the local control plane was not stopped")
	}
}

// TestQuickstartKubeconfig runs it against an existing cluster given by
// -kubeconfig, the way a user points it at kind or a cloud cluster. That
// cluster's own controllers make workloads healthy; here the test plays
// that part, since its control plane has none.
func TestQuickstartKubeconfig(t *testing.T) {
	ctx := setup(t)
	env, err := testenv.Start(ctx, testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	wctx, stopWorkloads := context.WithCancel(ctx)
	defer stopWorkloads()
	go func() { _ = testenv.RunWorkloadStatus(wctx, env.Config) }()

	out := runQuickstart(t, ctx, env.Kubeconfig)
	if !strings.Contains(out, "(from "+env.Kubeconfig+")") || strings.Contains(out, "starting a local control plane") {
		t.Error("-kubeconfig was not used as the cluster")
	}
}
