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

// TestQuickstart runs README's main command end to end on a local control
// plane of its own, as a newcomer would.
func TestQuickstart(t *testing.T) {
	if os.Getenv(testenv.SkipEnv) == "1" {
		t.Skipf("%s=1", testenv.SkipEnv)
	}
	ctrllog.SetLogger(logr.Discard())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, "", &out)
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
		"stopping the local control plane",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestQuickstartKubeconfig runs it against an existing cluster given by
// -kubeconfig, the way a user points it at kind or a cloud cluster. That
// cluster's own controllers make workloads healthy; here the test plays
// that part, since its control plane has none.
func TestQuickstartKubeconfig(t *testing.T) {
	if os.Getenv(testenv.SkipEnv) == "1" {
		t.Skipf("%s=1", testenv.SkipEnv)
	}
	ctrllog.SetLogger(logr.Discard())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env, err := testenv.Start(ctx, testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	wctx, stopWorkloads := context.WithCancel(ctx)
	defer stopWorkloads()
	go func() { _ = testenv.RunWorkloadStatus(wctx, env.Config) }()

	var out bytes.Buffer
	err = run(ctx, env.Kubeconfig, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(from " + env.Kubeconfig + ")", "Every unit is Ready"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "starting a local control plane") {
		t.Error("started a control plane although -kubeconfig was given")
	}
}
