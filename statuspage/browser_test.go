package statuspage_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/statuspage"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	testenv.Main(m)
}

// browser starts Debian's chromium headless for the test, with what keeps
// it off the network this machine does not have. It fails — never skips —
// when chromium is missing: make browser installs it.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the status page is tested in a real browser and chromium is not installed (make browser, or apt-get install chromium): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1400, 900),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// rows reads the units table as the browser shows it: "ID=Ready:state".
const rows = `[...document.querySelectorAll("#units tbody tr")].map(r => r.dataset.unit + "=" + r.querySelector(".ready").textContent + ":" + r.className).join("\n")`

// graphNodes reads the graph's unit nodes: "ID:classes".
const graphNodes = `[...document.querySelectorAll("#graph g.unit")].map(g => g.id.slice(5) + ":" + g.getAttribute("class")).join("\n")`

// do runs actions in the browser, bounded: a selector that never matches
// fails the test, naming the step, instead of waiting for ever.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor evaluates js in the page until check accepts what it returns.
func waitFor(t *testing.T, ctx context.Context, what, js string, check func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var got string
	for {
		do(t, ctx, what, chromedp.Evaluate(js, &got))
		if check(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the page still shows:\n%s", what, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	do(t, ctx, "screenshot "+name, chromedp.FullScreenshot(&png, 100)) // 100: PNG
	file := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
}

// TestInABrowser: the status page of a Reconciler running the fleet,
// mounted under a prefix, in a real headless browser: every unit is in
// the table and the graph, Ready; a change to the repository breaks a unit
// and the page shows it failed — table and graph — without a reload; a
// unit's page lists its objects and their health. Screenshots of each are
// the test's artifacts (go test -artifacts keeps them).
func TestInABrowser(t *testing.T) {
	env := testenv.Shared(t)
	env.RunWorkloads(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	dir, charts := t.TempDir(), t.TempDir()
	if err := fleet.Write(dir, fleet.Repo()); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Write(charts, fleet.Charts()); err != nil {
		t.Fatal(err)
	}
	r, err := gitopskit.New(gitopskit.Options{
		Name: fmt.Sprintf("page-%d", time.Now().UnixNano()%1000000), Source: source.NewDir(dir, source.DirOptions{}), Path: fleet.Path,
		Config: env.Config, Interval: time.Hour,
		Load: render.LoadOptions{Mirrors: source.Mirrors{fleet.ChartsURL: "file://" + charts}, CacheDir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	running := make(chan error, 1)
	go func() { running <- r.Run(ctx) }()
	defer func() {
		cancel()
		<-running
	}()

	mux := http.NewServeMux()
	mux.Handle("/gitops/", http.StripPrefix("/gitops", statuspage.Handler(r, statuspage.Options{Title: "fleet"})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	units := []string{render.RootID, fleet.Infrastructure, fleet.Dependency, fleet.Application, fleet.WidgetOperator, fleet.Database}
	allReady := func(s string) bool {
		for _, u := range units {
			if !strings.Contains(s, u+"=True:state-ready") {
				return false
			}
		}
		return true
	}
	b := browser(t)
	do(t, b, "opening the page", chromedp.Navigate(srv.URL+"/gitops/"))
	// The first pass may still be running when the page loads: the rows
	// come as it goes, over the event stream.
	waitFor(t, b, "every unit Ready in the table", rows, allReady)
	nodes := waitFor(t, b, "every unit in the graph", graphNodes, func(s string) bool {
		for _, u := range units {
			if !strings.Contains(s, u+":") {
				return false
			}
		}
		return true
	})
	waitFor(t, b, "the graph coloured ready", graphNodes, func(s string) bool { return strings.Count(s, "state-ready") == len(units) })
	screenshot(t, b, "1-ready.png")

	// A change to the repository: the application's overlay names a file
	// that is not there, so it no longer renders.
	if err := fleet.Write(dir, map[string]string{"apps/dev/kustomization.yaml": "resources:\n  - ../base\n  - missing.yaml\n"}); err != nil {
		t.Fatal(err)
	}
	r.Trigger("", gitopskit.WithDependencies)
	waitFor(t, b, "the application failed, without a reload", rows, func(s string) bool {
		return strings.Contains(s, fleet.Application+"=False:state-failed")
	})
	waitFor(t, b, "the application failed in the graph", graphNodes, func(s string) bool {
		return strings.Contains(s, fleet.Application+":node unit kind-kustomization state-failed")
	})
	var message string
	do(t, b, "reading the message", chromedp.Text(`tr[data-unit="`+fleet.Application+`"] td.message`, &message))
	if !strings.Contains(message, "missing.yaml") {
		t.Errorf("the failed unit's message: %q", message)
	}
	screenshot(t, b, "2-failed.png")

	// A unit's page, reached by its link (relative, under the prefix).
	var objects string
	do(t, b, "opening a unit's page",
		chromedp.Click(`tr[data-unit="`+fleet.Infrastructure+`"] td.id a`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#objects`),
		chromedp.Evaluate(`[...document.querySelectorAll("#objects tbody tr")].map(r => r.dataset.object + "=" + r.querySelector(".status").textContent).join("\n")`, &objects))
	if !strings.Contains(objects, "Namespace/widgets-system=Current") || !strings.Contains(objects, "Namespace/database=Current") {
		t.Errorf("the infrastructure unit's objects:\n%s", objects)
	}
	var location string
	do(t, b, "reading the location", chromedp.Location(&location))
	if !strings.HasPrefix(location, srv.URL+"/gitops/unit?id=") {
		t.Errorf("the unit page is at %s, not under the prefix", location)
	}
	screenshot(t, b, "3-unit.png")
	_ = nodes
}
