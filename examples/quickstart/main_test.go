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
