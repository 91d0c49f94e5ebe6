package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) != "" {
		main()
		return
	}
	ctrllog.SetLogger(logr.Discard())
	testenv.Main(m)
}

// TestCLI drives every command against the example fleet in a working tree
// and the real control plane.
var updatePicture = flag.Bool("update", false, "rewrite examples/fleet-graph.svg")

func TestCLI(t *testing.T) {
	ctx := context.Background()
	env := testenv.Shared(t)
	wctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go func() { _ = testenv.RunWorkloadStatus(wctx, env.Config) }()

	dir, charts := t.TempDir(), t.TempDir()
	if err := fleet.Write(dir, fleet.Repo()); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Write(charts, fleet.Charts()); err != nil {
		t.Fatal(err)
	}
	common := []string{"-dir", dir, "-path", fleet.Path, "-mirror", fleet.ChartsURL + "=file://" + charts}
	cluster := append([]string{"-kubeconfig", env.Kubeconfig}, common...)
	cli := func(t *testing.T, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, args, &out); err != nil {
			t.Fatalf("cli %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	contains := func(t *testing.T, out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}

	t.Run("render", func(t *testing.T) {
		out := cli(t, append([]string{"render"}, common...)...)
		contains(t, out, "# unit "+fleet.Dependency, "kind: ClusterWidget", "# source: widget-operator/templates/deployment.yaml", "<masked:hmac-sha256:")
		if strings.Contains(out, "change-me") {
			t.Error("a Secret value was printed")
		}
		out = cli(t, append([]string{"render", "-unit", fleet.Application}, common...)...)
		if strings.Contains(out, "ClusterWidget") {
			t.Error("-unit printed other units")
		}
	})
	t.Run("graph", func(t *testing.T) {
		contains(t, cli(t, append([]string{"graph"}, common...)...), "flowchart", fleet.WidgetOperator)
		contains(t, cli(t, append([]string{"graph", "-format", "dot"}, common...)...), "digraph", fleet.Dependency)
		contains(t, cli(t, append([]string{"graph", "-format", "json"}, common...)...), `"order"`)
		svg := cli(t, append([]string{"graph", "-format", "svg"}, common...)...)
		contains(t, svg, "<svg", `id="unit:`+graphvizText(fleet.Dependency)+`"`, "kind&#45;helmrelease", "reason&#45;crd")
		// The README shows this picture: kept current here.
		const picture = "../fleet-graph.svg"
		if *updatePicture {
			if err := os.WriteFile(picture, []byte(svg), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if b, err := os.ReadFile(picture); err != nil || string(b) != svg {
			t.Errorf("%s is not the fleet's graph as cli graph -format svg draws it (%v); run go test ./examples/cli -run TestCLI/graph -update", picture, err)
		}
	})
	t.Run("plan", func(t *testing.T) {
		contains(t, cli(t, append([]string{"plan"}, cluster...)...), "ClusterWidget.widgets.gitopskit.dev/default", "create")
	})
	t.Run("reconcile one unit", func(t *testing.T) {
		out := cli(t, append([]string{"reconcile", "-unit", fleet.Infrastructure}, cluster...)...)
		contains(t, out, "Namespace/widgets-system created")
		if strings.Contains(out, "ClusterWidget") {
			t.Errorf("other units were reconciled:\n%s", out)
		}
	})
	t.Run("reconcile", func(t *testing.T) {
		out := cli(t, append([]string{"reconcile"}, cluster...)...)
		contains(t, out, "ClusterWidget.widgets.gitopskit.dev/default created", fleet.Application+" ready")
	})
	t.Run("status", func(t *testing.T) {
		svg := cli(t, append([]string{"status", "-format", "svg"}, cluster...)...)
		contains(t, svg, "<svg", `id="unit:`+graphvizText(fleet.Application)+`" class="node unit kind&#45;kustomization state&#45;ready"`)
		out := cli(t, append([]string{"status"}, cluster...)...)
		contains(t, out, "NAME", fleet.Application)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			if f := strings.Fields(line); len(f) < 2 || f[1] != "True" {
				t.Errorf("not ready: %s", line)
			}
		}
	})
	t.Run("reconcile prunes", func(t *testing.T) {
		if err := fleet.Write(dir, fleet.RemoveFeatureFlags()); err != nil {
			t.Fatal(err)
		}
		contains(t, cli(t, append([]string{"reconcile"}, cluster...)...), "ConfigMap/web-dev/feature-flags pruned")
	})
	t.Run("run", func(t *testing.T) {
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		var buf bytes.Buffer
		out := &syncWriter{w: &buf} // run writes through it; read under its lock
		printed := func() string { out.mu.Lock(); defer out.mu.Unlock(); return buf.String() }
		done := make(chan error, 1)
		go func() {
			done <- run(rctx, append([]string{"run", "-interval", "1h", "-listen", "127.0.0.1:0"}, cluster...), out)
		}()
		deadline := time.Now().Add(2 * time.Minute)
		for !strings.Contains(printed(), "True    "+fleet.Application) {
			if time.Now().After(deadline) {
				t.Fatalf("no Ready line for %s:\n%s", fleet.Application, printed())
			}
			time.Sleep(100 * time.Millisecond)
		}
		// -listen serves the status page while it runs.
		_, rest, ok := strings.Cut(printed(), "status page: ")
		if !ok {
			t.Fatalf("no status page address:\n%s", printed())
		}
		page, err := http.Get(strings.Fields(rest)[0])
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(page.Body)
		page.Body.Close()
		if !strings.Contains(string(body), `data-unit="`+fleet.Application+`" class="state-ready"`) {
			t.Errorf("the status page:\n%.2000s", body)
		}
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		tests := map[string]struct {
			args []string
			want string
		}{
			"no command":      {nil, "no command"},
			"unknown command": {[]string{"deploy"}, `unknown command "deploy"`},
			"unknown unit":    {append([]string{"render", "-unit", "Kustomization/x/y"}, common...), "no unit Kustomization/x/y"},
			"unknown format":  {append([]string{"graph", "-format", "png"}, common...), `unknown format "png"`},
			"two sources":     {[]string{"render", "-dir", dir, "-git", "https://example.com/x.git"}, "not both"},
			"bad kubeconfig":  {[]string{"status", "-kubeconfig", dir + "/none", "-dir", dir}, "none"},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				var out bytes.Buffer
				err := run(ctx, tc.args, &out)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want one containing %q", err, tc.want)
				}
			})
		}
	})
}

// graphvizText is text as Graphviz writes it into SVG ("-" as "&#45;").
func graphvizText(s string) string { return strings.ReplaceAll(s, "-", "&#45;") }
