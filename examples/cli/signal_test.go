package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testfs"
)

// mainEnv makes the test binary run the cli's main instead of the tests,
// so a test can signal a real cli process.
const mainEnv = "GITOPSKIT_CLI_MAIN"

// TestSignalDuringRender: SIGTERM while a render waits on the network (a
// Helm repository that never answers) cancels the render: the cli exits 1
// with the cancellation as its error — not 0, and not through the forced
// exit (130) it keeps for a stage that ignores its context.
func TestSignalDuringRender(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{
		"root/charts.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: flux-system}\nspec: {interval: 1h, url: \"" + hang.URL + "\"}\n" +
			"---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: app, namespace: flux-system}\nspec:\n  interval: 1h\n  chart: {spec: {chart: app, sourceRef: {kind: HelmRepository, name: charts}}}\n",
	})
	cmd := exec.Command(os.Args[0], "render", "-dir", dir, "-path", "root")
	cmd.Env = append(os.Environ(), mainEnv+"=1", "HOME="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-arrived // the render is waiting on the repository now
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("exit: %v, stderr:\n%s", err, stderr.String())
	}
}
